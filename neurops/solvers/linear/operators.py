"""Batched linear operators for the sparse solvers: the interface and its shared helpers.

Every operator acts on a batch of fields ``u : [B, *shape]`` (one scalar unknown per grid
point, ``shape`` the grid of unknowns, 1 to 3 axes) and returns ``A u`` of the same shape.
Operators hold their own batch of coefficients (``batch_size`` B, or 1 to share one operator
by all right-hand sides: it broadcasts). No device is hard-coded: everything follows the
tensors the operator was built from.

* :class:`LinearOperator` -- the interface (this module), with the boundary conditions
  (:func:`normalize_boundary`) and per-sample inner products (:func:`batch_dot`) the solvers share;
* :class:`~neurops.solvers.linear.stencil.StencilOperator` -- a variable (2d+1)-point ("star") or
  3^d-point ("full") stencil, matrix-free, with per-axis periodic wrap-around. Multigrid's
  Galerkin coarse operators are full stencils;
* :class:`~neurops.solvers.linear.diffusion.DiffusionOperator` -- ``-div(a grad u)`` by
  second-order finite differences, from face weights per axis;
* :class:`~neurops.solvers.linear.csr.CSROperator` -- a general sparse matrix through
  ``torch.sparse`` CSR.

References
----------
.. [1] U. Trottenberg, C. W. Oosterlee, A. Schueller, "Multigrid", Academic Press 2001,
   chapter 2 (stencil notation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch

from neurops.errors import ConfigError, DataError

Boundary = Literal["dirichlet", "neumann", "periodic"]
BOUNDARIES: tuple[str, ...] = ("dirichlet", "neumann", "periodic")
Offset = tuple[int, ...]


def normalize_boundary(boundary: str | Sequence[str] | Mapping[str, str], ndim: int) -> tuple[str, ...]:
    """Boundary condition per axis from a string (all axes), a sequence or a ``{dim: bc}`` dict.

    ``"none"`` (the HDF5 schema's word for no condition) is not accepted: a linear solve needs one.
    """
    if isinstance(boundary, str):
        bcs = (boundary,) * ndim
    elif isinstance(boundary, Mapping):
        bcs = tuple(boundary.values())
    else:
        bcs = tuple(boundary)
    if len(bcs) != ndim:
        raise ConfigError(f"{len(bcs)} boundary conditions {bcs} for a {ndim}-D grid; give one per axis "
                         f"or a single string for all axes.")
    for bc in bcs:
        if bc not in BOUNDARIES:
            raise ConfigError(f"boundary condition {bc!r} is unknown; use one of {BOUNDARIES}.")
    return tuple(bcs)


def axis_index(ndim_total: int, axis: int, sl: slice | int) -> tuple[slice | int, ...]:
    """Index tuple selecting ``sl`` along ``axis`` (counted in a tensor of ``ndim_total`` axes)."""
    index: list[slice | int] = [slice(None)] * ndim_total
    index[axis] = sl
    return tuple(index)


def batch_dot(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Per-sample inner products ``sum(u * v)`` over all but the first axis: ``[B, ...] -> [B]``."""
    return torch.einsum("bi,bi->b", u.reshape(u.shape[0], -1), v.reshape(v.shape[0], -1))


class LinearOperator:
    """Base class: a batch of linear maps ``[B, *shape] -> [B, *shape]``.

    Subclasses implement :meth:`apply` and :meth:`diagonal` and set ``shape`` (grid of unknowns),
    ``batch_size``, ``dtype`` and ``device``.
    """

    shape: tuple[int, ...]
    batch_size: int
    dtype: torch.dtype
    device: torch.device
    #: whether the constant fields span the operator's null space (pure Neumann/periodic diffusion), so that
    #: ``A x = b`` has a solution only for ``b`` of zero sum; ``False`` when it is not known (e.g. a CSR matrix)
    constant_null_space: bool = False

    @property
    def ndim(self) -> int:
        """Number of grid axes of the unknowns."""
        return len(self.shape)

    @property
    def numel(self) -> int:
        """Unknowns per sample."""
        n = 1
        for s in self.shape:
            n *= s
        return n

    def apply(self, u: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """``A u`` for ``u : [B, *shape]``."""
        raise NotImplementedError

    def diagonal(self) -> torch.Tensor:  # pragma: no cover - abstract
        """The diagonal of ``A``, ``[batch_size, *shape]``."""
        raise NotImplementedError

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        return self.apply(u)

    def residual(self, u: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        """``f - A u``."""
        return f - self.apply(u)

    def check_input(self, u: torch.Tensor, name: str = "u") -> None:
        """Raise ``ValueError`` unless ``u`` is ``[B, *shape]`` with a batch compatible with the operator."""
        if not isinstance(u, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(u).__name__}.")
        if tuple(u.shape[1:]) != tuple(self.shape):
            raise DataError(f"{name} has shape {tuple(u.shape)} but the operator acts on [B, *{tuple(self.shape)}]; "
                             f"pass the field on the grid of unknowns with a leading batch axis.")
        if self.batch_size not in (1, u.shape[0]):
            raise DataError(f"{name} has batch {u.shape[0]} but the operator holds {self.batch_size} samples; "
                             f"use the same batch size or an operator with batch 1.")

    def to_dense(self) -> torch.Tensor:
        """The matrices ``[batch_size, N, N]`` (columns from applying the operator to unit vectors).

        Only for small grids (tests, coarse-grid solves).
        """
        n = self.numel
        eye = torch.eye(n, dtype=self.dtype, device=self.device).reshape(n, *self.shape)
        cols = [self.select(b).apply(eye).reshape(n, n) for b in range(self.batch_size)]
        return torch.stack([c.transpose(0, 1) for c in cols])

    def select(self, index: int) -> LinearOperator:  # pragma: no cover - abstract
        """The operator of one sample, as a batch of 1."""
        raise NotImplementedError
