"""Tests of neurops.solvers.linear.differentiable: adjoint gradients of linear solves."""

from __future__ import annotations

import pytest
import torch

from neurops.solvers.linear.differentiable import diffusion_solve, linear_solve
from neurops.solvers.linear.diffusion import DiffusionOperator
from neurops.solvers.linear.multigrid import Multigrid
from neurops.solvers.pde.darcy import solve_darcy


def _inputs(shape, seed=0, batch=2):
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(batch, *shape, generator=g, dtype=torch.float64) + 0.5).requires_grad_(True)
    f = torch.randn(batch, *shape, generator=g, dtype=torch.float64).requires_grad_(True)
    return a, f


@pytest.mark.parametrize("boundary,mean", [("dirichlet", "arithmetic"), (("dirichlet", "periodic"), "harmonic")])
def test_gradcheck_coefficient_and_forcing(boundary, mean):
    a, f = _inputs((6, 5))
    fn = lambda a_, f_: diffusion_solve(a_, f_, boundary=boundary, mean=mean, rtol=1e-13)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (a, f), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_gradcheck_3d_plain_cg():
    a, f = _inputs((4, 5, 4), seed=1, batch=1)
    fn = lambda a_, f_: diffusion_solve(a_, f_, rtol=1e-13, multigrid=False)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (a, f), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_linear_solve_gradcheck_and_values():
    a, _ = _inputs((6, 7), batch=1)
    op = DiffusionOperator.from_coefficient(a.detach())
    b = torch.randn(2, *op.shape, dtype=torch.float64, requires_grad=True)
    mg = Multigrid(op, coarse_size=4)
    assert torch.autograd.gradcheck(lambda b_: linear_solve(op, b_, preconditioner=mg, rtol=1e-13), (b,))
    x = linear_solve(op, b, rtol=1e-12)
    torch.testing.assert_close(op.apply(x), b.detach())


def test_matches_darcy_solver_and_loss_decreases_along_gradient():
    a, _ = _inputs((17, 17), seed=2, batch=1)
    f = torch.ones_like(a)
    u = diffusion_solve(a, f, rtol=1e-12)
    ref = solve_darcy(a.detach()[0].numpy(), 1.0, rtol=1e-12)
    torch.testing.assert_close(u.detach()[0], torch.as_tensor(ref), rtol=1e-9, atol=1e-12)
    loss = (u**2).sum()
    (grad,) = torch.autograd.grad(loss, a)
    with torch.no_grad():
        step = 1e-3 * a.norm() / grad.norm()
        lower = (diffusion_solve(a - step * grad, f, rtol=1e-12) ** 2).sum()
    assert lower < loss


def test_bad_inputs():
    a, f = _inputs((6, 5))
    with pytest.raises(ValueError, match="same shape"):
        diffusion_solve(a, f[:, :-1])
    with pytest.raises(TypeError, match="torch tensors"):
        diffusion_solve(a.detach().numpy(), f)
