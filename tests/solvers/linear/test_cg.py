"""Tests of neurops.solvers.linear.cg: batched (preconditioned) conjugate gradients."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as spla
import torch

from neurops.solvers.linear.cg import ConvergenceError, NotSPDError, SolveResult, jacobi_preconditioner, pcg
from neurops.solvers.linear.csr import CSROperator
from neurops.solvers.linear.diffusion import DiffusionOperator
from neurops.solvers.pde.diffusion_fd import diffusion_matrix


def _problem(shape=(17, 13), batch=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(batch, *shape, generator=g, dtype=torch.float64) * 4 + 0.5
    op = DiffusionOperator.from_coefficient(a)
    b = torch.randn(batch, *op.shape, generator=g, dtype=torch.float64)
    return a, op, b


def test_matches_spsolve_per_sample():
    a, op, b = _problem()
    res = pcg(op, b, rtol=1e-12)
    assert isinstance(res, SolveResult) and res.converged.all()
    assert (res.residual <= 1e-12).all() and (res.iterations > 0).all()
    for i in range(3):
        ref = spla.spsolve(diffusion_matrix(a[i].numpy()).tocsc(), b[i].numpy().ravel())
        np.testing.assert_allclose(res.x[i].numpy().ravel(), ref, rtol=1e-9, atol=1e-12)


def test_per_sample_iterations_and_history():
    _, op, b = _problem(batch=2)
    b[1] = 0.0  # a zero right-hand side converges at once, the other sample keeps going
    res = pcg(op, b, rtol=1e-10, record_history=True)
    assert res.iterations[1] == 0 and res.iterations[0] > 5
    assert torch.equal(res.x[1], torch.zeros_like(res.x[1]))
    assert len(res.history) == res.max_iterations + 1
    assert res.history[-1][0] <= 1e-10


def test_warm_start_saves_iterations():
    _, op, b = _problem(batch=1)
    cold = pcg(op, b, rtol=1e-10)
    assert pcg(op, b, x0=cold.x, rtol=1e-8).max_iterations == 0
    near = cold.x + 1e-6 * torch.randn_like(cold.x)
    assert pcg(op, b, x0=near, rtol=1e-10).max_iterations < cold.max_iterations


def test_jacobi_preconditioner_helps_high_contrast():
    g = torch.Generator().manual_seed(1)
    a = torch.where(torch.rand(1, 21, 21, generator=g) > 0.5, 100.0, 1.0).double()
    op = DiffusionOperator.from_coefficient(a)
    b = torch.ones(1, *op.shape, dtype=torch.float64)
    plain = pcg(op, b, rtol=1e-8)
    jac = pcg(op, b, rtol=1e-8, preconditioner=jacobi_preconditioner(op))
    assert jac.max_iterations < plain.max_iterations
    torch.testing.assert_close(jac.x, plain.x, rtol=1e-6, atol=1e-9)


def test_shared_operator_many_rhs_and_csr():
    a, op, b = _problem(batch=1)
    rhs = torch.randn(4, *op.shape, dtype=torch.float64)
    res = pcg(op, rhs, rtol=1e-11)
    csr = CSROperator(op.to_sparse_csr(0))
    res_csr = pcg(csr, rhs.reshape(4, -1), rtol=1e-11)
    torch.testing.assert_close(res_csr.x.reshape(rhs.shape), res.x, rtol=1e-8, atol=1e-10)


def test_float32():
    _, op, b = _problem(batch=2)
    res = pcg(op.to(dtype=torch.float32), b.float(), rtol=1e-5)
    assert res.x.dtype == torch.float32 and res.converged.all()


def test_non_convergence_raises_with_result():
    _, op, b = _problem(batch=2)
    with pytest.raises(ConvergenceError, match="maxiter=3") as err:
        pcg(op, b, rtol=1e-12, maxiter=3)
    assert err.value.result.iterations.max() == 3
    partial = pcg(op, b, rtol=1e-12, maxiter=3, check=False)
    assert not partial.converged.any()


def test_not_spd_raises():
    _, op, b = _problem(batch=1)
    negative = DiffusionOperator([-w for w in op.face_weights], op.boundary)
    with pytest.raises(NotSPDError, match="not symmetric positive definite"):
        pcg(negative, b)
    with pytest.raises(NotSPDError, match="preconditioner"):
        pcg(op, b, preconditioner=lambda r: -r)
    with pytest.raises(NotSPDError, match="diagonal"):
        jacobi_preconditioner(negative)


def test_bad_inputs():
    _, op, b = _problem(batch=2)
    with pytest.raises(ValueError, match="shape"):
        pcg(op, b[:, :-1])
    with pytest.raises(ValueError, match="NaN"):
        pcg(op, torch.full_like(b, float("nan")))
    with pytest.raises(ValueError, match="tolerances"):
        pcg(op, b, rtol=0.0)
    with pytest.raises(ValueError, match="x0"):
        pcg(op, b, x0=b[:1])
    with pytest.raises(TypeError, match="floating"):
        pcg(op, b.long())


@pytest.mark.parametrize("magnitude", [1e300, 1e-300])
def test_right_hand_side_near_the_float_range_is_solved_not_zeroed(magnitude):
    # |b|^2 overflows (or underflows) float64: the solve runs on b scaled by a power of two
    a, op, b = _problem(batch=2)
    res = pcg(op, magnitude * b, rtol=1e-10)
    assert res.converged.all() and (res.residual <= 1e-10).all() and res.iterations.min() > 0
    for i in range(2):
        ref = spla.spsolve(diffusion_matrix(a[i].numpy()).tocsc(), b[i].numpy().ravel()) * magnitude
        np.testing.assert_allclose(res.x[i].numpy().ravel(), ref, rtol=1e-8, atol=1e-9 * np.abs(ref).max())


def test_scaling_the_right_hand_side_changes_no_digit_of_an_ordinary_solve():
    # powers of two scale exactly: b and 2^k b give x and 2^k x bit for bit, histories identical
    _, op, b = _problem(batch=2)
    x0 = torch.randn_like(b)
    one = pcg(op, b, x0=x0, atol=1e-9, rtol=1e-11, record_history=True)
    big = pcg(op, 2.0**40 * b, x0=2.0**40 * x0, atol=2.0**40 * 1e-9, rtol=1e-11, record_history=True)
    assert torch.equal(big.x, 2.0**40 * one.x) and torch.equal(big.iterations, one.iterations)
    assert torch.equal(big.residual, one.residual) and all(map(torch.equal, big.history, one.history))


def test_a_solution_beyond_the_float_range_is_not_converged():
    op = DiffusionOperator.from_coefficient(torch.full((1, 9, 9), 1e-20, dtype=torch.float64))
    b = torch.full((1, *op.shape), 1e300, dtype=torch.float64)
    with pytest.raises(ConvergenceError) as err:
        pcg(op, b)
    assert str(err.value) == ("the solution of 1 of 1 samples overflows float64: the right-hand side is too large "
                              "for the operator; rescale the problem (e.g. the units of b or of the coefficient) so "
                              "that the solution fits.")
    assert not pcg(op, b, check=False).converged.any()
