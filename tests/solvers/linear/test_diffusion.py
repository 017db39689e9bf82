"""Tests of neurops.solvers.linear.diffusion (and the operator interface): -div(a grad u), input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neurops.errors import DataError
from neurops.solvers.linear.csr import CSROperator
from neurops.solvers.linear.diffusion import DiffusionOperator, face_differences
from neurops.solvers.linear.operators import normalize_boundary
from neurops.solvers.linear.stencil import StencilOperator, star_offsets
from neurops.solvers.pde.diffusion_fd import diffusion_matrix


def _coef(shape, seed=0, batch=2):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, *shape, generator=g, dtype=torch.float64) + 0.5


@pytest.mark.parametrize("shape", [(9,), (9, 7), (6, 5, 7)])
@pytest.mark.parametrize("mean", ["arithmetic", "harmonic"])
def test_equals_scipy_assembly(shape, mean):
    """The matrix-free operator is the same matrix as the scipy CSR assembly of diffusion_fd."""
    a = _coef(shape)
    op = DiffusionOperator.from_coefficient(a, mean=mean)
    dense = op.to_dense()
    for b in range(2):
        ref = diffusion_matrix(a[b].numpy(), mean=mean).toarray()
        np.testing.assert_allclose(dense[b].numpy(), ref, rtol=1e-13, atol=1e-10)


@pytest.mark.parametrize("bcs", [("dirichlet", "dirichlet"), ("periodic", "neumann"), ("neumann", "dirichlet"),
                                 ("periodic", "periodic"), ("neumann", "neumann")])
def test_symmetric_semidefinite_and_kernel(bcs):
    a = _coef((6, 7), seed=1, batch=1)
    op = DiffusionOperator.from_coefficient(a, bcs)
    dense = op.to_dense()[0]
    assert torch.allclose(dense, dense.T, atol=1e-12)
    eig = torch.linalg.eigvalsh(dense)
    if "dirichlet" in bcs:
        assert eig[0] > 1e-3  # definite
    else:
        assert abs(eig[0]) < 1e-9 and eig[1] > 1e-3  # constants span the kernel
        ones = torch.ones(1, *op.shape, dtype=torch.float64)
        assert op.apply(ones).abs().max() < 1e-10


def test_unknown_grid_per_boundary():
    a = _coef((9, 8, 7), batch=1)
    op = DiffusionOperator.from_coefficient(a, ("dirichlet", "neumann", "periodic"))
    assert op.shape == (7, 8, 7)
    full = op.embed(torch.ones(1, *op.shape, dtype=torch.float64))
    assert full.shape == (1, 9, 8, 7) and full[0, 0].abs().max() == 0 and full[0, -1].abs().max() == 0
    assert torch.equal(op.interior(full), torch.ones(1, *op.shape, dtype=torch.float64))


def test_periodic_laplacian_of_a_sine():
    """a = 1, periodic: A sin(2 pi k x) = (2/h sin(pi k h))^2 sin(2 pi k x) exactly (discrete eigenvector)."""
    n, k = 32, 3
    x = torch.arange(n, dtype=torch.float64) / n
    u = torch.sin(2 * math.pi * k * x)[None]
    op = DiffusionOperator.from_coefficient(torch.ones(1, n, dtype=torch.float64), "periodic")
    lam = (2 * n * math.sin(math.pi * k / n)) ** 2
    torch.testing.assert_close(op.apply(u), lam * u)


def test_apply_equals_dense_and_batches_broadcast():
    a = _coef((5, 6), seed=2, batch=3)
    op = DiffusionOperator.from_coefficient(a, ("periodic", "dirichlet"))
    u = torch.randn(3, *op.shape, dtype=torch.float64)
    ref = torch.einsum("bij,bj->bi", op.to_dense(), u.reshape(3, -1)).reshape(u.shape)
    torch.testing.assert_close(op.apply(u), ref)
    torch.testing.assert_close(op.residual(u, ref), torch.zeros_like(u))
    shared = op.select(1)
    torch.testing.assert_close(shared.apply(u)[1], op.apply(u)[1])


def test_face_gradient_matches_autograd():
    a = _coef((6, 5), seed=3, batch=1)
    base = DiffusionOperator.from_coefficient(a, ("dirichlet", "periodic"))
    weights = [w.clone().requires_grad_(True) for w in base.face_weights]
    op = DiffusionOperator(weights, base.boundary)
    u, v = torch.randn(2, 1, *op.shape, dtype=torch.float64)
    (v * op.apply(u)).sum().backward()
    for w, g in zip(weights, op.face_gradient(u, v)):
        torch.testing.assert_close(w.grad, g)


def test_face_differences_dirichlet_ends():
    u = torch.tensor([[1.0, 2.0, 4.0]])
    torch.testing.assert_close(face_differences(u, 1, "dirichlet"), torch.tensor([[1.0, 1.0, 2.0, -4.0]]))
    torch.testing.assert_close(face_differences(u, 1, "periodic"), torch.tensor([[1.0, 2.0, -3.0]]))
    torch.testing.assert_close(face_differences(u, 1, "neumann"), torch.tensor([[1.0, 2.0]]))


def test_bad_inputs_raise_clear_errors():
    a = _coef((6, 6), batch=1)
    with pytest.raises(ValueError, match="> 0"):
        DiffusionOperator.from_coefficient(-a)
    with pytest.raises(ValueError, match="unknown"):
        DiffusionOperator.from_coefficient(a, "robin")
    with pytest.raises(ValueError, match="one per axis"):
        normalize_boundary(["dirichlet"], 2)
    with pytest.raises(ValueError, match="at least 3"):
        DiffusionOperator.from_coefficient(_coef((2, 6), batch=1))
    with pytest.raises(TypeError, match="torch.Tensor"):
        DiffusionOperator.from_coefficient(np.ones((1, 5, 5)))
    with pytest.raises(ValueError, match="face mean"):
        DiffusionOperator.from_coefficient(a, mean="geometric")
    with pytest.raises(DataError, match=r"^coefficient of shape \(0, 6, 6\) holds no sample \(an empty batch\); an "
                                        r"operator needs at least one, so skip the solve when the batch is empty\.$"):
        DiffusionOperator.from_coefficient(a[:0])  # failed in torch.stack inside Multigrid's coarse solve
    for dtype in (torch.int64, torch.complex128):
        # an int coefficient was silently made a float32 operator, a complex one failed deep in torch
        with pytest.raises(DataError, match=rf"^the diffusion coefficient must be a real floating-point tensor "
                                            rf"\(the operator and its solves take its dtype\), got {dtype}; "
                                            rf"pass a.to\(torch.float64\)\.$"):
            DiffusionOperator.from_coefficient(a.to(dtype))
    op = DiffusionOperator.from_coefficient(a)
    with pytest.raises(ValueError, match="grid of unknowns"):
        op.check_input(torch.zeros(1, 6, 6, dtype=torch.float64))
    with pytest.raises(ValueError, match="batch"):
        DiffusionOperator.from_coefficient(_coef((6, 6), batch=2)).check_input(torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match="offset"):
        StencilOperator(torch.ones(1, 4), [(2,)], torch.ones(1, 1, 4), [False])
    with pytest.raises(ValueError, match="face weights of axis"):
        DiffusionOperator([torch.ones(1, 5, 4), torch.ones(1, 4, 4)], "dirichlet")
    with pytest.raises(TypeError, match="sparse_csr"):
        CSROperator(torch.eye(3))
    with pytest.raises(ValueError, match="square"):
        CSROperator(torch.ones(2, 3).to_sparse_csr())
    with pytest.raises(ValueError, match="at least one"):
        CSROperator([])
    with pytest.raises(ValueError, match="coefficients have shape"):
        StencilOperator(torch.ones(1, 4), star_offsets(1), torch.ones(1, 1, 4), [False])
    with pytest.raises(ValueError, match="at least 3"):
        StencilOperator(torch.ones(1, 2), star_offsets(1), torch.ones(1, 2, 2), [True])
