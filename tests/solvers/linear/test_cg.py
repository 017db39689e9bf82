"""Tests of neurops.solvers.linear.cg: batched (preconditioned) conjugate gradients."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as spla
import torch

from neurops.errors import DataError
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


def test_a_tolerance_below_the_dtype_is_named_as_the_reason():
    """float32 solves to diffusion_solve's default rtol=1e-10 ran to maxiter and said "raise maxiter", which cannot
    help; the error now names the precision first (and only when it is the reason)."""
    import re

    from neurops.errors import ConfigError

    _, op, b = _problem(batch=2)
    op32, b32 = op.to(dtype=torch.float32), b.float()
    with pytest.raises(ConvergenceError, match=re.escape(
            "; rtol=1.0e-10 is below what torch.float32 arithmetic reaches (10 x its rounding, 1.2e-06): solve in "
            "float64 (a float64 coefficient or operator and b) or pass rtol >= 1.2e-06; otherwise raise maxiter, use a "
            "multigrid preconditioner, or pass check=False to get the partial result.")):
        pcg(op32, b32, rtol=1e-10, maxiter=50)
    with pytest.raises(ConvergenceError, match=r"\); raise maxiter, use a multigrid preconditioner"):
        pcg(op, b, rtol=1e-10, maxiter=1)  # float64 reaches 1e-10: no precision hint
    with pytest.raises(ConfigError, match=r"^preconditioner must be a map r -> z \(e\.g\. Multigrid\(op\)\) or None, "
                                          r"got int\.$"):
        pcg(op, b, preconditioner=5)  # was "TypeError: 'int' object is not callable" inside the iteration


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
    for dtype in (torch.int64, torch.complex128):
        # a neurops error naming the fix, not a bare TypeError (int) or a deep torch failure (complex)
        with pytest.raises(DataError, match=rf"^right-hand side b must be a real floating-point tensor, got "
                                            rf"{dtype}; pass b.to\(torch.float64\)\.$"):
            pcg(op, b.to(dtype))


def test_a_right_hand_side_of_another_dtype_is_named():
    """pcg(op_float64, b.float()) failed in torch with 'expected scalar type Double but found Float'."""
    from neurops.errors import DataError
    from neurops.solvers.linear.adapters import scipy_solve

    a, op, b = _problem(batch=2)
    with pytest.raises(DataError, match=r"^right-hand side b is torch\.float32 but the operator is torch\.float64; "
                                        r"pass b\.to\(torch\.float64\), or build the operator in torch\.float32 "
                                        r"\(e\.g\. from a coefficient of that dtype\)\.$"):
        pcg(op, b.float())
    with pytest.raises(DataError, match=r"^initial guess x0 is torch\.float16 but the operator is torch\.float64; "
                                        r"pass x0\.to\(torch\.float64\)"):
        pcg(op, b, x0=b.half())
    op32 = DiffusionOperator.from_coefficient(a.float())
    res = pcg(op32, b.float(), rtol=1e-5)  # the fix the message names
    assert res.x.dtype == torch.float32 and res.converged.all()
    assert scipy_solve(op, b.float()).x.dtype == torch.float32  # the scipy bridge solves in float64 whatever b is


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
                              "that the solution fits. Or the matrix is singular and b not in its range (e.g. a pure "
                              "Neumann/periodic operator and b of non-zero mean, or a zero row): then no solution "
                              "exists; make b consistent or the matrix non-singular.")
    assert not pcg(op, b, check=False).converged.any()


def _singular(bc, batch=3, n=17, seed=1):
    g = torch.Generator().manual_seed(seed)
    return DiffusionOperator.from_coefficient(torch.rand(batch, n, n, generator=g, dtype=torch.float64) + 0.5, bc)


@pytest.mark.parametrize("bc", ["neumann", "periodic", ("periodic", "neumann")])
def test_singular_operator_with_a_non_zero_mean_rhs_is_named_up_front(bc):
    """Pure Neumann/periodic operators have the constants in their kernel; a b of non-zero mean has no solution,
    and CG used to break down with 'p^T A p <= 0 ... check that the coefficient is positive'."""
    from neurops.errors import DataError
    from neurops.solvers.linear.multigrid import Multigrid

    op = _singular(bc)
    assert op.constant_null_space
    b = torch.randn(3, *op.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    b -= b.mean(dim=(1, 2), keepdim=True)
    b[1] += 0.25  # only sample 1: constant part 0.25 * 17 / |b_1|
    part = 0.25 * 17 / float(torch.linalg.vector_norm(b[1]))
    for preconditioner in (None, Multigrid(op)):
        with pytest.raises(DataError, match=rf"^the right-hand side b has a non-zero mean in 1 of 3 samples \(sample "
                                            rf"1: mean 0\.25, its constant part {part:.2e} of \|b\|, above the "
                                            r"tolerance 1\.0e-08\), but the operator is singular: with no Dirichlet "
                                            r"axis \(pure Neumann/periodic\) constant fields are in its kernel, so "
                                            r"A x = b has a solution only for b of zero mean; subtract each sample's "
                                            r"mean"):
            pcg(op, b, preconditioner=preconditioner)
    # a constant part below the tolerance is solvable to it (the residual cannot go below it)
    res = pcg(op, b, rtol=1.5 * part, preconditioner=Multigrid(op))
    assert res.converged.all() and res.residual[1] >= part * (1 - 1e-6)
    assert not _singular(("dirichlet", "neumann")).constant_null_space  # one Dirichlet axis: not singular


@pytest.mark.parametrize("bc", ["neumann", "periodic"])
def test_singular_operator_with_a_zero_mean_rhs_solves_to_the_least_squares_solution(bc):
    """A zero-mean b is consistent: PCG's solution equals numpy's minimum-norm least-squares one up to a constant."""
    from neurops.solvers.linear.adapters import to_scipy
    from neurops.solvers.linear.multigrid import Multigrid

    op = _singular(bc, batch=2, n=13)
    b = torch.randn(2, *op.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    b -= b.mean(dim=(1, 2), keepdim=True)
    res = pcg(op, b, rtol=1e-11, preconditioner=Multigrid(op, coarse_size=20))
    assert res.converged.all()
    for i, m in enumerate(to_scipy(op)):
        ref = np.linalg.lstsq(m.toarray(), b[i].numpy().ravel(), rcond=None)[0]
        x = res.x[i].numpy().ravel()
        np.testing.assert_allclose(x - x.mean(), ref - ref.mean(), rtol=0, atol=1e-9 * np.abs(ref).max())


def test_singular_matrix_of_unknown_kind_names_the_possible_cause():
    """A CSR matrix cannot be checked up front; the breakdown message names a singular matrix with b outside its
    range as a cause (the overflow one too: test_a_solution_beyond_the_float_range_is_not_converged)."""
    import scipy.sparse as sp

    from neurops.solvers.linear.adapters import from_scipy, to_scipy

    op = _singular("neumann", batch=1)
    generic = from_scipy(to_scipy(op)[0])
    assert not generic.constant_null_space
    with pytest.raises(NotSPDError, match=r"p\^T A p = .* <= 0 at iteration \d+ \(sample 0\): the operator is not "
                                          r"symmetric positive definite; .* A singular matrix with b not in its range "
                                          r"\(e\.g\. pure Neumann/periodic conditions and b of non-zero mean\) breaks "
                                          r"CG down the same way: then make b consistent \(subtract its mean\)\.$"):
        pcg(generic, torch.ones(1, op.numel, dtype=torch.float64))
    with pytest.raises(ConvergenceError, match="Or the matrix is singular and b not in its range"):
        pcg(from_scipy(sp.diags([1.0] * 49 + [0.0])), torch.ones(1, 50, dtype=torch.float64))


def test_a_non_symmetric_stencil_that_stalls_cg_is_named():
    """A non-symmetric stencil never met p^T A p <= 0 here: CG ran 1000 iterations and advised raising maxiter;
    the documented NotSPDError now names the asymmetry (measured only after the failure)."""
    import re

    from neurops.solvers.linear.stencil import StencilOperator

    ones = torch.ones(1, 5, dtype=torch.float64)
    op = StencilOperator(2 * ones, [(-1,), (1,)], torch.stack([-ones, -0.5 * ones], 1), [False])
    with pytest.raises(NotSPDError, match="^" + re.escape(
            "CG did not reach rtol=1.0e-08 within maxiter=1000 iterations, and the operator is not symmetric "
            "(max |A - A^T| / max |A| = 2.50e-01), which CG needs: check the stencil coefficients (c_o[i] must equal "
            "c_-o[i + o]), or use a solver for non-symmetric systems (e.g. scipy.sparse.linalg.gmres on "
            "to_scipy(op)).") + "$"):
        pcg(op, ones)
    assert not pcg(op, ones, check=False).converged.any()


def test_a_v_cycle_on_a_singular_operator_does_not_break_cg_down():
    """On a periodic grid the V-cycle's output keeps a constant part of rounding size; p^T A p then came out as
    -1e-17 near convergence and pcg raised NotSPDError for a consistent (zero-mean) right-hand side. The
    preconditioned residual is now projected onto zero mean; the solution agrees with the
    pseudo-inverse's."""
    from neurops.solvers.linear.adapters import to_scipy
    from neurops.solvers.linear.multigrid import Multigrid

    g = torch.Generator().manual_seed(2)
    a = torch.rand(1, 64, dtype=torch.float64, generator=g) + 0.5
    op = DiffusionOperator.from_coefficient(a, "periodic")
    b = torch.rand(1, *op.shape, dtype=torch.float64, generator=g)
    b = b - b.mean()
    res = pcg(op, b, preconditioner=Multigrid(op, coarse="galerkin", smoother="rbgs", coarse_size=1), rtol=1e-10)
    assert res.converged.all() and float(res.residual.max()) <= 1e-10
    ref = np.linalg.pinv(to_scipy(op)[0].toarray()) @ b[0].numpy()  # the minimum-norm (zero-mean) solution
    x = res.x[0].numpy()
    np.testing.assert_allclose(x - x.mean(), ref - ref.mean(), atol=1e-9 * np.abs(ref).max())


def test_an_empty_batch_of_right_hand_sides_gives_an_empty_result():
    """b of batch 0 failed in torch ("cannot reshape tensor of 0 elements into shape [0, -1]")."""
    _, op, _ = _problem(batch=1)
    res = pcg(op, torch.zeros(0, *op.shape, dtype=torch.float64))
    assert res.x.shape == (0, *op.shape) and res.iterations.shape == res.residual.shape == res.converged.shape == (0,)
