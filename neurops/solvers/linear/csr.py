"""General sparse matrices as batched operators (``torch.sparse`` CSR)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch

from neurops.errors import DataError
from neurops.solvers.linear.operators import LinearOperator


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
                                "tensor.to_sparse_csr() or neurops.solvers.linear.adapters.from_scipy().")
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
