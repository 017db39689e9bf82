"""Batched linear operators for the sparse solvers: stencils, variable-coefficient diffusion, CSR.

Every operator acts on a batch of fields ``u : [B, *shape]`` (one scalar unknown per grid
point, ``shape`` the grid of unknowns, 1 to 3 axes) and returns ``A u`` of the same shape.
Operators hold their own batch of coefficients (``batch_size`` B, or 1 to share one operator
by all right-hand sides: it broadcasts). No device is hard-coded: everything follows the
tensors the operator was built from.

* :class:`StencilOperator` -- a variable (2d+1)-point ("star") or 3^d-point ("full") stencil,
  matrix-free, with per-axis periodic wrap-around. Multigrid's Galerkin coarse operators are
  full stencils.
* :class:`DiffusionOperator` -- ``-div(a grad u)`` by second-order finite differences, defined by
  its face weights (conductances) per axis, with Dirichlet (``u = 0`` outside), Neumann (no flux
  through the boundary) or periodic conditions per axis. :meth:`DiffusionOperator.from_coefficient`
  builds it from node values of ``a`` with the same face averaging as the scipy assembly
  (:func:`neurops.solvers.diffusion_fd.face_coefficients`), so both give the same matrix.
* :class:`CSROperator` -- a general sparse matrix through ``torch.sparse`` CSR.

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
.. [1] R. J. LeVeque, "Finite Difference Methods for Ordinary and Partial Differential
   Equations", SIAM 2007, section 2.15 (variable-coefficient diffusion).
.. [2] U. Trottenberg, C. W. Oosterlee, A. Schueller, "Multigrid", Academic Press 2001,
   chapter 2 (stencil notation).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from typing import Literal

import torch

from neurops.errors import ConfigError, DataError
from neurops.kernels.stencil import select_stencil_path, star_stencil
from neurops.solvers.diffusion_fd import FACE_MEANS, FaceMean, face_coefficients

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


def _shift_pieces(n: int, o: int, periodic: bool) -> list[tuple[slice, slice]]:
    """1-D index pieces ``(rows i, neighbours j = i + o)`` of a shift by ``o`` in {-1, 0, 1}."""
    if o == 0:
        return [(slice(0, n), slice(0, n))]
    if o == 1:
        pieces = [(slice(0, n - 1), slice(1, n))]
        if periodic:
            pieces.append((slice(n - 1, n), slice(0, 1)))
        return pieces
    pieces = [(slice(1, n), slice(0, n - 1))]
    if periodic:
        pieces.append((slice(0, 1), slice(n - 1, n)))
    return pieces


class StencilOperator(LinearOperator):
    """Matrix-free variable stencil ``(A u)_i = d_i u_i + sum_o c_o[i] u_{i+o}``.

    Parameters
    ----------
    diag : [B, *shape] the centre coefficients ``d``.
    offsets : the neighbour offsets ``o``, each a tuple of -1/0/1 per axis (not all 0).
    coeffs : [B, len(offsets), *shape]; ``coeffs[:, k][i]`` couples node ``i`` to ``i + offsets[k]``
        (entries whose neighbour falls outside a non-periodic axis are ignored).
    periodic : per axis, whether neighbours wrap around.

    Notes
    -----
    The operator is symmetric when ``c_o[i] == c_{-o}[i + o]``; :meth:`symmetry_error` measures it.
    Applying it costs one pass over ``u`` per offset (views, no padding copies); star stencils on
    CUDA tensors take one Triton kernel instead (:mod:`neurops.kernels.stencil`) unless a gradient
    flows through them.

    References
    ----------
    .. [1] U. Trottenberg, C. W. Oosterlee, A. Schueller, "Multigrid", Academic Press 2001, 2.1.
    """

    def __init__(self, diag: torch.Tensor, offsets: Sequence[Offset], coeffs: torch.Tensor,
                 periodic: Sequence[bool]) -> None:
        ndim = diag.ndim - 1
        if not 1 <= ndim <= 3:
            raise DataError(f"stencil diagonal of shape {tuple(diag.shape)}: expected [B, *shape] with 1-3 axes.")
        offsets = [tuple(int(v) for v in o) for o in offsets]
        for o in offsets:
            if len(o) != ndim or any(v not in (-1, 0, 1) for v in o) or not any(o):
                raise DataError(f"stencil offset {o} is invalid for a {ndim}-D grid; use tuples of -1/0/1 per axis.")
        if coeffs.shape != (diag.shape[0], len(offsets), *diag.shape[1:]):
            raise DataError(f"stencil coefficients have shape {tuple(coeffs.shape)}, expected "
                             f"{(diag.shape[0], len(offsets), *diag.shape[1:])} = [B, offsets, *shape].")
        if len(periodic) != ndim:
            raise DataError(f"{len(periodic)} periodic flags for a {ndim}-D grid; give one per axis.")
        self.diag = diag
        self.offsets = offsets
        self.coeffs = coeffs
        self.periodic = tuple(bool(p) for p in periodic)
        self.shape = tuple(diag.shape[1:])
        self.batch_size = diag.shape[0]
        self.dtype = diag.dtype
        self.device = diag.device
        for ax, (n, p) in enumerate(zip(self.shape, self.periodic)):
            if p and n < 3:
                raise DataError(f"periodic axis {ax} has {n} points; a periodic stencil needs at least 3.")
        self._pieces = [self._offset_pieces(o) for o in offsets]
        self.star = offsets == star_offsets(ndim)  # the (2d+1)-point stencils the Triton kernel takes

    def _offset_pieces(self, o: Offset) -> list[tuple[tuple[slice, ...], tuple[slice, ...]]]:
        per_axis = [_shift_pieces(n, v, p) for n, v, p in zip(self.shape, o, self.periodic)]
        pieces = []
        for combo in itertools.product(*per_axis):
            rows = (slice(None), *[c[0] for c in combo])
            cols = (slice(None), *[c[1] for c in combo])
            pieces.append((rows, cols))
        return pieces

    def kernel_path(self, u: torch.Tensor) -> str:
        """``"triton"`` or ``"torch"``: the path :meth:`apply` and :meth:`residual` take for ``u``."""
        differentiable = torch.is_grad_enabled() and (u.requires_grad or self.diag.requires_grad
                                                      or self.coeffs.requires_grad)
        return select_stencil_path(u, self.star, differentiable)

    def apply(self, u: torch.Tensor) -> torch.Tensor:
        if self.kernel_path(u) == "triton":
            return star_stencil("apply", self.diag, self.coeffs, self.periodic, u)
        out = self.diag * u
        for k, pieces in enumerate(self._pieces):
            c = self.coeffs[:, k]
            for rows, cols in pieces:
                out[rows].addcmul_(c[rows], u[cols])
        return out

    def residual(self, u: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        if self.kernel_path(u) == "triton":
            return star_stencil("residual", self.diag, self.coeffs, self.periodic, u, f)
        out = torch.addcmul(f, self.diag, u, value=-1.0)
        for k, pieces in enumerate(self._pieces):
            c = self.coeffs[:, k]
            for rows, cols in pieces:
                out[rows].addcmul_(c[rows], u[cols], value=-1.0)
        return out

    def diagonal(self) -> torch.Tensor:
        return self.diag

    def select(self, index: int) -> StencilOperator:
        return StencilOperator(self.diag[index:index + 1], self.offsets, self.coeffs[index:index + 1], self.periodic)

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> StencilOperator:
        """A copy with coefficients cast to ``dtype`` / moved to ``device``."""
        return StencilOperator(self.diag.to(device=device, dtype=dtype), self.offsets,
                               self.coeffs.to(device=device, dtype=dtype), self.periodic)

    def coo(self, index: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(rows, cols, values)`` of sample ``index`` (flat C-order indices of the grid of unknowns)."""
        flat = torch.arange(self.numel, device=self.device).reshape(1, *self.shape)
        rows, cols, vals = [flat.reshape(-1)], [flat.reshape(-1)], [self.diag[index].reshape(-1)]
        for k, pieces in enumerate(self._pieces):
            c = self.coeffs[index:index + 1, k]
            for r, cl in pieces:
                rows.append(flat[r].reshape(-1))
                cols.append(flat[cl].reshape(-1))
                vals.append(c[r].reshape(-1))
        return torch.cat(rows), torch.cat(cols), torch.cat(vals)

    def to_sparse_csr(self, index: int = 0) -> torch.Tensor:
        """Sample ``index`` as a ``torch.sparse_csr_tensor`` ``[N, N]`` (duplicates summed)."""
        r, c, v = self.coo(index)
        n = self.numel
        with warnings.catch_warnings():  # torch flags sparse CSR as beta
            warnings.simplefilter("ignore", UserWarning)
            coo = torch.sparse_coo_tensor(torch.stack([r, c]), v, (n, n), check_invariants=True, device=v.device)
            return coo.coalesce().to_sparse_csr()

    def symmetry_error(self) -> float:
        """``max |A - A^T| / max |A|`` over the batch (0 for a symmetric operator)."""
        worst = 0.0
        for b in range(self.batch_size):
            a = self.to_sparse_csr(b).to_dense() if self.numel <= 4096 else None
            if a is None:
                r, c, v = self.coo(b)
                n = self.numel
                m = torch.sparse_coo_tensor(torch.stack([r, c]), v, (n, n), device=v.device).coalesce()
                d = (m - m.transpose(0, 1)).coalesce().values().abs().max()
                worst = max(worst, float(d / v.abs().max()))
            else:
                worst = max(worst, float((a - a.T).abs().max() / a.abs().max()))
        return worst


def star_offsets(ndim: int) -> list[Offset]:
    """The 2d neighbour offsets of a (2d+1)-point stencil: ``-e_0, +e_0, -e_1, +e_1, ...``."""
    offs = []
    for ax in range(ndim):
        for s in (-1, 1):
            o = [0] * ndim
            o[ax] = s
            offs.append(tuple(o))
    return offs


def full_offsets(ndim: int) -> list[Offset]:
    """All 3^d - 1 neighbour offsets of a full (box) stencil."""
    return [o for o in itertools.product((-1, 0, 1), repeat=ndim) if any(o)]


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
        shape = []
        for ax in range(ndim):
            nf = face_weights[ax].shape[1 + ax]
            shape.append({"dirichlet": nf - 1, "neumann": nf + 1, "periodic": nf}[bcs[ax]])
        shape = tuple(shape)
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
            (:func:`neurops.solvers.diffusion_fd.face_coefficients`).
        spacing : grid spacing per axis; default ``1/(R-1)`` (``1/R`` periodic) on (0,1)^d.

        Returns
        -------
        The operator on the unknowns (``R-2`` per Dirichlet axis, ``R`` otherwise); differentiable
        with respect to ``a``. For Dirichlet on all axes it equals
        :func:`neurops.solvers.diffusion_fd.diffusion_matrix` of each sample.
        """
        if not isinstance(a, torch.Tensor):
            raise TypeError(f"coefficient must be a torch.Tensor [B, *spatial], got {type(a).__name__}.")
        ndim = a.ndim - 1
        if not 1 <= ndim <= 3:
            raise DataError(f"coefficient of shape {tuple(a.shape)}: expected [B, *spatial] with 1-3 spatial axes.")
        if mean not in FACE_MEANS:
            raise ConfigError(f"face mean {mean!r} is unknown; use one of {FACE_MEANS}.")
        bcs = normalize_boundary(boundary, ndim)
        for ax, (n, bc) in enumerate(zip(a.shape[1:], bcs)):
            if n < 3:
                raise DataError(f"coefficient axis {ax} has {n} nodes; a {bc} axis needs at least 3.")
        if not torch.isfinite(a).all() or (a <= 0).any():
            raise DataError("the diffusion coefficient must be finite and > 0 at every node "
                             f"(min {float(a.min()):.3g}); check the coefficient field.")
        if spacing is None:
            spacing = [1.0 / (n if bc == "periodic" else n - 1) for n, bc in zip(a.shape[1:], bcs)]
        if len(spacing) != ndim:
            raise DataError(f"{len(spacing)} grid spacings for a {ndim}-D grid; give one per axis.")
        # periodic axes: append the first node so the wrap-around face is averaged like the others
        a_ext = a
        for ax, bc in enumerate(bcs):
            if bc == "periodic":
                a_ext = torch.cat([a_ext, a_ext[axis_index(a_ext.ndim, 1 + ax, slice(0, 1))]], dim=1 + ax)
        faces = face_coefficients(a_ext, mean, ndim=ndim)
        weights = []
        for ax, f in enumerate(faces):
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
        return cls(weights, bcs)

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


class CSROperator(LinearOperator):
    """A general sparse matrix ``[N, N]`` (``torch.sparse_csr_tensor``) applied to ``u : [B, N]``.

    Parameters
    ----------
    matrix : a ``torch.sparse_csr_tensor`` ``[N, N]`` shared by every right-hand side, or a list of
        ``B`` of them (one per sample; stored block-diagonally).

    Notes
    -----
    Any sparse pattern is accepted; solvers that need symmetry (CG) check positive curvature as
    they go. The grid of unknowns is flat: ``shape == (N,)``.
    """

    def __init__(self, matrix: torch.Tensor | Sequence[torch.Tensor]) -> None:
        mats = [matrix] if isinstance(matrix, torch.Tensor) else list(matrix)
        if not mats:
            raise DataError("CSROperator needs at least one matrix.")
        for m in mats:
            if not isinstance(m, torch.Tensor) or m.layout != torch.sparse_csr:
                raise TypeError("CSROperator takes torch.sparse_csr_tensor matrices; convert with "
                                "tensor.to_sparse_csr() or neurops.solvers.adapters.from_scipy().")
            if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape != mats[0].shape:
                raise DataError(f"CSR matrices must be square and of one size, got {[tuple(x.shape) for x in mats]}.")
        n = mats[0].shape[0]
        self.shape = (n,)
        self.batch_size = len(mats)
        self.dtype = mats[0].dtype
        self.device = mats[0].device
        self.matrices = mats
        if len(mats) == 1:
            self.matrix = mats[0]
        else:  # block-diagonal: one sparse matmul for the whole batch
            crow, col, val = [], [], []
            nnz = 0
            for b, m in enumerate(mats):
                cr = m.crow_indices()
                crow.append(cr[:-1] + nnz if b < len(mats) - 1 else cr + nnz)
                col.append(m.col_indices() + b * n)
                val.append(m.values())
                nnz += int(cr[-1])
            self.matrix = csr_tensor(torch.cat(crow), torch.cat(col), torch.cat(val), (n * len(mats), n * len(mats)))
        self._diag = torch.stack([_csr_diagonal(m) for m in mats])

    def apply(self, u: torch.Tensor) -> torch.Tensor:
        if self.batch_size == 1:
            return (self.matrix @ u.transpose(0, 1)).transpose(0, 1)
        return (self.matrix @ u.reshape(-1, 1)).reshape(u.shape)

    def diagonal(self) -> torch.Tensor:
        return self._diag

    def select(self, index: int) -> CSROperator:
        return CSROperator(self.matrices[index])


def csr_tensor(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``torch.sparse_csr_tensor`` with its invariants checked (and torch's beta warning silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, size, check_invariants=True, device=values.device)


def _csr_diagonal(m: torch.Tensor) -> torch.Tensor:
    crow, col, val = m.crow_indices(), m.col_indices(), m.values()
    rows = torch.repeat_interleave(torch.arange(m.shape[0], device=m.device), crow[1:] - crow[:-1])
    on_diag = rows == col
    return torch.zeros(m.shape[0], dtype=m.dtype, device=m.device).index_add_(0, rows[on_diag], val[on_diag])
