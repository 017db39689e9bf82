"""Matrix-free variable stencils: (2d+1)-point ("star") and 3^d-point ("full") operators.

A stencil operator holds, for every grid point, its centre coefficient and one coefficient per
neighbour offset; neighbours wrap around periodic axes and fall away at the ends of the
others. Star stencils on CUDA tensors take one Triton kernel (:mod:`neurops.kernels.stencil`),
whose reference is :meth:`StencilOperator.apply` / :meth:`StencilOperator.residual`.

References
----------
.. [1] U. Trottenberg, C. W. Oosterlee, A. Schueller, "Multigrid", Academic Press 2001,
   chapter 2 (stencil notation).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence

import torch

from neurops.errors import DataError
from neurops.kernels.stencil import select_stencil_path, star_stencil
from neurops.solvers.linear.operators import LinearOperator, Offset


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
