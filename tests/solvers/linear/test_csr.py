"""Tests of neurops.solvers.linear.csr: CSR matrices as batched operators."""

from __future__ import annotations

import torch

from neurops.solvers.linear.csr import CSROperator
from neurops.solvers.linear.diffusion import DiffusionOperator


def _coef(shape, seed=0, batch=2):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, *shape, generator=g, dtype=torch.float64) + 0.5


def test_csr_operator_matches_stencil():
    a = _coef((5, 4), seed=4, batch=2)
    op = DiffusionOperator.from_coefficient(a, "neumann")
    csr = CSROperator([op.to_sparse_csr(0), op.to_sparse_csr(1)])
    u = torch.randn(2, op.numel, dtype=torch.float64)
    torch.testing.assert_close(csr.apply(u), op.apply(u.reshape(2, *op.shape)).reshape(2, -1))
    torch.testing.assert_close(csr.diagonal(), op.diagonal().reshape(2, -1))
    single = CSROperator(op.to_sparse_csr(1))
    torch.testing.assert_close(single.apply(u)[1], csr.apply(u)[1])
