"""``-div(a grad u)`` as a batched matrix-free operator, and the face averaging every solver shares.

The flux through the face between nodes ``j`` and ``j+1`` of an axis uses a face coefficient
``a_{j+1/2}`` built from the two neighbouring node values (:func:`face_coefficients`):
``"arithmetic"`` ``(a_j + a_{j+1}) / 2`` or ``"harmonic"`` ``2 a_j a_{j+1} / (a_j + a_{j+1})``. Both
are second order where ``a`` is smooth. The arithmetic mean is the default because it is what
FNO's Darcy data uses [1]_, so data generated here matches the published benchmarks. The
harmonic mean is the exact conductance of two half-cells in series: for a coefficient that
jumps between two nodes it keeps the flux continuous and is the better choice for
high-contrast media [2]_. The scipy assembly (:func:`neurops.solvers.pde.diffusion_fd.diffusion_matrix`),
:class:`DiffusionOperator` and the multigrid hierarchy all call :func:`face_coefficients`, so
every solver discretises the same equation.

:class:`DiffusionOperator` is ``-div(a grad u)`` by second-order finite differences, defined by
its face weights (conductances) per axis, with Dirichlet (``u = 0`` outside), Neumann (no flux
through the boundary) or periodic conditions per axis. :meth:`DiffusionOperator.from_coefficient`
builds it from node values of ``a`` with the same face averaging as the scipy assembly, so both
give the same matrix.

Grids and boundaries (node grid of (0,1)^d, ``R`` nodes per axis including both ends):

* ``"dirichlet"``: the ``R - 2`` interior nodes are unknowns, ``h = 1/(R-1)``; the ``R - 1``
  faces include the two that connect to the (zero) boundary values.
* ``"neumann"``: all ``R`` nodes are unknowns, ``h = 1/(R-1)``; the ``R - 1`` faces between them
  (no flux leaves the domain). Rows are not scaled by half control volumes, which keeps the
  matrix symmetric (scale the right-hand side instead when a vertex-centred Neumann problem is
  meant). The matrix is singular when no axis is Dirichlet (constants are in its kernel).
* ``"periodic"``: ``R`` unknowns on a circle, ``h = 1/R``, ``R`` faces (the last one wraps).

References
----------
.. [1] Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
   Equations", ICLR 2021, arXiv:2010.08895 (``solve_gwf.m`` of the data generator).
.. [2] S. V. Patankar, "Numerical Heat Transfer and Fluid Flow", Hemisphere 1980,
   section 4.2-5 (interface conductivity: the harmonic mean).
.. [3] R. J. LeVeque, "Finite Difference Methods for Ordinary and Partial Differential
   Equations", SIAM 2007, section 2.15 (variable-coefficient diffusion).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, TypeVar

import torch

from neurops.errors import ConfigError, DataError
from neurops.solvers.linear.operators import axis_index, normalize_boundary
from neurops.solvers.linear.stencil import StencilOperator, star_offsets

FaceMean = Literal["arithmetic", "harmonic"]
FACE_MEANS: tuple[str, ...] = ("arithmetic", "harmonic")

ArrayT = TypeVar("ArrayT")  # numpy array or torch tensor


def face_coefficients(a: ArrayT, mean: FaceMean = "arithmetic", *, ndim: int | None = None) -> tuple[ArrayT, ...]:
    """Coefficients on the faces between neighbouring nodes, one array per spatial axis.

    Works on numpy arrays and torch tensors alike (only slicing and arithmetic are used),
    so batched and differentiable solvers reuse it.

    Parameters
    ----------
    a : [..., N_1, .., N_d] node values of the coefficient (any leading batch/channel axes).
    mean : ``"arithmetic"`` ``(a_j + a_{j+1}) / 2`` or ``"harmonic"``
        ``2 a_j a_{j+1} / (a_j + a_{j+1})`` (see the module docstring for the choice).
    ndim : number of trailing spatial axes; ``None`` means all axes of ``a``.

    Returns
    -------
    faces : tuple of d arrays; ``faces[i]`` has shape ``[..., N_1, .., N_i - 1, .., N_d]``,
        entry ``j`` along axis i being the face between nodes ``j`` and ``j + 1``.

    References
    ----------
    .. [1] S. V. Patankar, "Numerical Heat Transfer and Fluid Flow", 1980, section 4.2-5.
    """
    if mean not in FACE_MEANS:
        raise ConfigError(f"face mean {mean!r} is unknown; use one of {FACE_MEANS}.")
    total = len(a.shape)
    ndim = total if ndim is None else int(ndim)
    if not 1 <= ndim <= total:
        raise DataError(f"ndim={ndim} spatial axes do not fit a coefficient of shape {tuple(a.shape)}.")
    faces = []
    for axis in range(total - ndim, total):
        if a.shape[axis] < 2:
            raise DataError(f"coefficient axis {axis} has {a.shape[axis]} node(s); faces need at least 2.")
        left = a[axis_index(total, axis, slice(None, -1))]
        right = a[axis_index(total, axis, slice(1, None))]
        if mean == "arithmetic":
            faces.append((left + right) * 0.5)
        else:
            faces.append(2.0 * left * right / (left + right))
    return tuple(faces)


def num_faces(n: int, bc: str) -> int:
    """Faces along an axis with ``n`` unknowns: ``n+1`` (Dirichlet), ``n-1`` (Neumann), ``n`` (periodic)."""
    return {"dirichlet": n + 1, "neumann": n - 1, "periodic": n}[bc]


def pad_faces(w: torch.Tensor, axis: int, bc: str) -> torch.Tensor:
    """Face weights extended to ``n + 1`` along ``axis`` so entry ``k`` is the face left of unknown ``k``.

    Dirichlet faces already are; Neumann gets zero-flux faces at both ends; periodic repeats the
    wrap-around face in front.
    """
    if bc == "dirichlet":
        return w
    if bc == "neumann":
        zero = torch.zeros_like(w[axis_index(w.ndim, axis, slice(0, 1))])
        return torch.cat([zero, w, zero], dim=axis)
    return torch.cat([w[axis_index(w.ndim, axis, slice(-1, None))], w], dim=axis)


def face_differences(u: torch.Tensor, axis: int, bc: str) -> torch.Tensor:
    """``u_{j+1} - u_j`` across every face along ``axis`` (``u = 0`` beyond Dirichlet ends).

    ``u : [B, *shape]`` -> the face shape (:func:`num_faces` entries along ``axis``).
    """
    if bc == "dirichlet":
        zero = torch.zeros_like(u[axis_index(u.ndim, axis, slice(0, 1))])
        u = torch.cat([zero, u, zero], dim=axis)
    elif bc == "periodic":
        u = torch.cat([u, u[axis_index(u.ndim, axis, slice(0, 1))]], dim=axis)
    return torch.diff(u, dim=axis)


class DiffusionOperator(StencilOperator):
    """``-div(a grad u)`` on a batch of grids, from face weights (conductances) per axis.

    ``(A u)_i = sum_faces w_f (u_i - u_j)`` over the faces ``f`` between node ``i`` and its
    neighbours ``j`` (``u_j = 0`` beyond a Dirichlet end).

    Parameters
    ----------
    face_weights : one tensor per axis; ``face_weights[k] : [B, *shape]`` except along axis ``k``,
        which has :func:`num_faces` entries (``n+1`` Dirichlet, ``n-1`` Neumann, ``n`` periodic;
        entry ``j`` is the face between unknowns ``j-1`` and ``j`` for Dirichlet, ``j`` and ``j+1``
        otherwise). For finite differences ``w = a_face / h^2``. Must be >= 0.
    boundary : condition per axis (``"dirichlet"``, ``"neumann"``, ``"periodic"``) or one for all.

    See Also
    --------
    DiffusionOperator.from_coefficient : build it from node values of ``a``.

    References
    ----------
    .. [1] R. J. LeVeque, "Finite Difference Methods for Ordinary and Partial Differential
       Equations", SIAM 2007, section 2.15.
    """

    def __init__(self, face_weights: Sequence[torch.Tensor], boundary: str | Sequence[str] = "dirichlet") -> None:
        face_weights = list(face_weights)
        ndim = len(face_weights)
        if not 1 <= ndim <= 3:
            raise DataError(f"{ndim} face-weight arrays given; a diffusion operator needs one per axis (1-3 axes).")
        bcs = normalize_boundary(boundary, ndim)
        w0 = face_weights[0]
        if w0.ndim != ndim + 1:
            raise DataError(f"face weights of axis 0 have shape {tuple(w0.shape)}; expected [B, *faces] with "
                             f"{ndim} grid axes.")
        # grid of unknowns: along axis k, inverted from the number of faces of axis k
        unknowns_minus_faces = {"dirichlet": -1, "neumann": 1, "periodic": 0}
        shape = tuple(face_weights[ax].shape[1 + ax] + unknowns_minus_faces[bcs[ax]] for ax in range(ndim))
        for ax, w in enumerate(face_weights):
            expect = list(shape)
            expect[ax] = num_faces(shape[ax], bcs[ax])
            if tuple(w.shape[1:]) != tuple(expect) or w.shape[0] != w0.shape[0]:
                raise DataError(f"face weights of axis {ax} have shape {tuple(w.shape)}, expected "
                                 f"{(w0.shape[0], *expect)} for unknowns {shape} with {bcs}.")
        if min(shape) < 1:
            raise DataError(f"grid of unknowns {shape} is empty; each axis needs at least one unknown.")
        self.face_weights = face_weights
        self.boundary = bcs
        # no Dirichlet axis: the constants are in the kernel (connected grid, positive weights: they span it)
        self.constant_null_space = "dirichlet" not in bcs
        diag = torch.zeros((w0.shape[0], *shape), dtype=w0.dtype, device=w0.device)
        coeffs = []
        for ax, w in enumerate(face_weights):
            wp = pad_faces(w, 1 + ax, bcs[ax])
            left = wp[axis_index(wp.ndim, 1 + ax, slice(0, shape[ax]))]
            right = wp[axis_index(wp.ndim, 1 + ax, slice(1, shape[ax] + 1))]
            diag = diag + left + right
            coeffs += [-left, -right]
        super().__init__(diag, star_offsets(ndim), torch.stack(coeffs, dim=1),
                         [bc == "periodic" for bc in bcs])

    @classmethod
    def from_coefficient(
        cls,
        a: torch.Tensor,
        boundary: str | Sequence[str] | Mapping[str, str] = "dirichlet",
        *,
        mean: FaceMean = "arithmetic",
        spacing: Sequence[float] | None = None,
    ) -> DiffusionOperator:
        """The finite-difference ``-div(a grad .)`` from node values of ``a`` on the full node grid.

        Parameters
        ----------
        a : [B, *R] positive coefficient at all ``R`` nodes per axis (boundary nodes included; for
            a periodic axis the ``R`` nodes of the circle).
        boundary : condition per axis (see the module docstring for the grids).
        mean : face averaging, shared with the scipy assembly
            (:func:`neurops.solvers.linear.diffusion.face_coefficients`).
        spacing : grid spacing per axis; default ``1/(R-1)`` (``1/R`` periodic) on (0,1)^d.

        Returns
        -------
        The operator on the unknowns (``R-2`` per Dirichlet axis, ``R`` otherwise); differentiable
        with respect to ``a``. For Dirichlet on all axes it equals
        :func:`neurops.solvers.pde.diffusion_fd.diffusion_matrix` of each sample.
        """
        bcs = _checked_coefficient(a, boundary, mean)
        ndim = a.ndim - 1
        if spacing is None:
            spacing = [1.0 / (n if bc == "periodic" else n - 1) for n, bc in zip(a.shape[1:], bcs)]
        if len(spacing) != ndim:
            raise DataError(f"{len(spacing)} grid spacings for a {ndim}-D grid; give one per axis.")
        return cls(_face_weights(a, bcs, mean, spacing), bcs)

    def interior(self, field: torch.Tensor) -> torch.Tensor:
        """Node values on the full grid ``[B, *R]`` -> values at the unknowns ``[B, *shape]``."""
        index: list[slice] = [slice(None)]
        for bc in self.boundary:
            index.append(slice(1, -1) if bc == "dirichlet" else slice(None))
        return field[tuple(index)]

    def embed(self, u: torch.Tensor) -> torch.Tensor:
        """Values at the unknowns ``[B, *shape]`` -> the full node grid, zeros on Dirichlet boundaries."""
        pad: list[int] = []
        for bc in reversed(self.boundary):
            pad += [1, 1] if bc == "dirichlet" else [0, 0]
        return torch.nn.functional.pad(u, pad)

    def select(self, index: int) -> DiffusionOperator:
        return DiffusionOperator([w[index:index + 1] for w in self.face_weights], self.boundary)

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> DiffusionOperator:
        return DiffusionOperator([w.to(device=device, dtype=dtype) for w in self.face_weights], self.boundary)

    def face_gradient(self, u: torch.Tensor, v: torch.Tensor) -> list[torch.Tensor]:
        """``d(v^T A u) / d w_f = (u_i - u_j)(v_i - v_j)`` per face, summed over the batch of ``u``, ``v``
        when the operator has batch 1. Used for adjoint gradients w.r.t. the face weights."""
        grads = []
        for ax, bc in enumerate(self.boundary):
            g = face_differences(u, 1 + ax, bc) * face_differences(v, 1 + ax, bc)
            if self.batch_size == 1 and g.shape[0] != 1:
                g = g.sum(0, keepdim=True)
            grads.append(g)
        return grads


def _checked_coefficient(a: torch.Tensor, boundary: str | Sequence[str] | Mapping[str, str],
                         mean: str) -> tuple[str, ...]:
    """The boundary condition per axis of the coefficient ``a`` [B, *R]; one error for a coefficient that
    is not a tensor of 1-3 spatial axes of at least 3 nodes, finite and positive, or an unknown face mean."""
    if not isinstance(a, torch.Tensor):
        raise TypeError(f"coefficient must be a torch.Tensor [B, *spatial], got {type(a).__name__}.")
    if not a.is_floating_point():
        raise DataError(f"the diffusion coefficient must be a real floating-point tensor (the operator and its solves "
                        f"take its dtype), got {a.dtype}; pass a.to(torch.float64).")
    ndim = a.ndim - 1
    if not 1 <= ndim <= 3:
        raise DataError(f"coefficient of shape {tuple(a.shape)}: expected [B, *spatial] with 1-3 spatial axes.")
    if mean not in FACE_MEANS:
        raise ConfigError(f"face mean {mean!r} is unknown; use one of {FACE_MEANS}.")
    if a.shape[0] == 0:
        raise DataError(f"coefficient of shape {tuple(a.shape)} holds no sample (an empty batch); an operator needs "
                        "at least one, so skip the solve when the batch is empty.")
    bcs = normalize_boundary(boundary, ndim)
    for ax, (n, bc) in enumerate(zip(a.shape[1:], bcs)):
        if n < 3:
            raise DataError(f"coefficient axis {ax} has {n} nodes; a {bc} axis needs at least 3.")
    if not torch.isfinite(a).all() or (a <= 0).any():
        raise DataError("the diffusion coefficient must be finite and > 0 at every node "
                         f"(min {float(a.min()):.3g}); check the coefficient field.")
    return bcs


def _face_weights(a: torch.Tensor, bcs: Sequence[str], mean: FaceMean,
                  spacing: Sequence[float]) -> list[torch.Tensor]:
    """``a_face / h^2`` on the faces between unknowns, per axis, from node values ``a`` [B, *R]."""
    ndim = a.ndim - 1
    # periodic axes: append the first node so the wrap-around face is averaged like the others
    a_ext = a
    for ax, bc in enumerate(bcs):
        if bc == "periodic":
            a_ext = torch.cat([a_ext, a_ext[axis_index(a_ext.ndim, 1 + ax, slice(0, 1))]], dim=1 + ax)
    weights = []
    for ax, f in enumerate(face_coefficients(a_ext, mean, ndim=ndim)):
        index: list[slice] = [slice(None)]
        for other, bc in enumerate(bcs):
            if other == ax:
                index.append(slice(None))
            elif bc == "dirichlet":
                index.append(slice(1, -1))
            elif bc == "periodic":
                index.append(slice(0, -1))  # drop the appended copy of node 0
            else:
                index.append(slice(None))
        weights.append(f[tuple(index)] / float(spacing[ax]) ** 2)
    return weights
