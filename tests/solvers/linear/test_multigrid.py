"""Tests of neurops.solvers.linear.multigrid: the V-cycle, MG-PCG and its options."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.sparse.linalg as spla
import torch

from neurops.errors import ConfigError, SolverError
from neurops.solvers.linear.cg import NotSPDError, pcg
from neurops.solvers.linear.coarsening import galerkin_coarse_operator, plan_axis
from neurops.solvers.linear.csr import CSROperator
from neurops.solvers.linear.diffusion import DiffusionOperator
from neurops.solvers.linear.multigrid import Multigrid, multigrid_preconditioner
from neurops.solvers.linear.stencil import StencilOperator
from neurops.solvers.pde.diffusion_fd import diffusion_matrix
from tests.conftest import two_phase_coefficient


@pytest.mark.parametrize("options", [{}, {"smoother": "rbgs", "pre_smooth": 1, "post_smooth": 1},
                                     {"coarse": "galerkin"}, {"dtype": torch.float32}])
def test_vcycle_is_symmetric_positive(options):
    a = two_phase_coefficient((21, 18), seed=3)
    op = DiffusionOperator.from_coefficient(a, ("dirichlet", "periodic"))
    mg = Multigrid(op, **options)
    r1, r2 = torch.randn(2, 1, *op.shape, dtype=torch.float64)
    tol = 1e-5 if options.get("dtype") == torch.float32 else 1e-10
    assert abs(float((mg(r1) * r2).sum() - (r1 * mg(r2)).sum())) < tol * float(r1.norm() * r2.norm())
    assert float((mg(r1) * r1).sum()) > 0


@pytest.mark.parametrize("R", [33, 65, 129, 100])
def test_mgpcg_iterations_do_not_grow_with_the_grid(R):
    a = two_phase_coefficient((R, R), seed=R)
    op = DiffusionOperator.from_coefficient(a)
    b = torch.ones(1, *op.shape, dtype=torch.float64)
    res = pcg(op, b, preconditioner=Multigrid(op), rtol=1e-8)
    assert res.converged.all() and res.max_iterations <= 15
    if R == 65:
        assert pcg(op, b, rtol=1e-8).max_iterations > 5 * res.max_iterations


def test_vcycle_alone_converges_fast():
    op = DiffusionOperator.from_coefficient(torch.ones(1, 65, 65, dtype=torch.float64))
    mg = Multigrid(op)
    b = torch.randn(1, *op.shape, dtype=torch.float64)
    x = torch.zeros_like(b)
    norms = [float(b.norm())]
    for _ in range(5):
        r = op.residual(x, b)
        x = x + mg(r)
        norms.append(float(op.residual(x, b).norm()))
    assert norms[-1] / norms[0] < 0.2 ** 5


@pytest.mark.parametrize("shape", [(40,), (12, 11, 13)])
def test_mgpcg_matches_spsolve_1d_3d(shape):
    a = two_phase_coefficient(shape, seed=4, batch=2)
    op = DiffusionOperator.from_coefficient(a)
    b = torch.randn(2, *op.shape, dtype=torch.float64)
    res = pcg(op, b, preconditioner=Multigrid(op, coarse_size=8), rtol=1e-11)
    for i in range(2):
        ref = spla.spsolve(diffusion_matrix(a[i].numpy()).tocsc(), b[i].numpy().ravel())
        np.testing.assert_allclose(res.x[i].numpy().ravel(), ref, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("bcs", [("neumann", "neumann"), ("periodic", "periodic"), ("periodic", "neumann")])
def test_singular_problems_with_compatible_rhs(bcs):
    a = two_phase_coefficient((24, 21), seed=5)
    op = DiffusionOperator.from_coefficient(a, bcs)
    b = torch.randn(1, *op.shape, dtype=torch.float64)
    b = b - b.mean()
    mg = Multigrid(op, coarse_size=30)
    assert mg.num_levels >= 3
    res = pcg(op, b, preconditioner=mg, rtol=1e-9)
    assert res.max_iterations <= 20


def test_galerkin_multigrid_for_a_general_stencil():
    """A full-stencil SPD operator (Galerkin coarse of a diffusion operator) preconditions itself."""
    a = two_phase_coefficient((67, 67), seed=6)
    fine = DiffusionOperator.from_coefficient(a)
    plans = tuple(plan_axis(n, "dirichlet") for n in fine.shape)
    op = galerkin_coarse_operator(fine, plans)
    assert isinstance(op, StencilOperator) and len(op.offsets) == 8
    b = torch.randn(1, *op.shape, dtype=torch.float64)
    res = pcg(op, b, preconditioner=multigrid_preconditioner(op, smoother="rbgs"), rtol=1e-9)
    assert res.max_iterations <= 15


def test_mixed_precision_cycle_reaches_double_precision_tolerance():
    a = two_phase_coefficient((65, 65), seed=7, batch=4)
    op = DiffusionOperator.from_coefficient(a)
    b = torch.ones(4, *op.shape, dtype=torch.float64)
    res = pcg(op, b, preconditioner=Multigrid(op, dtype=torch.float32), rtol=1e-10)
    assert res.converged.all() and (res.residual <= 1e-10).all()


def test_bad_options_raise():
    op = DiffusionOperator.from_coefficient(torch.ones(1, 9, 9, dtype=torch.float64))
    with pytest.raises(ValueError, match="coarse operator"):
        Multigrid(op, coarse="algebraic")
    with pytest.raises(ValueError, match="smoother"):
        Multigrid(op, smoother="sor")
    with pytest.raises(ValueError, match="sweep"):
        Multigrid(op, pre_smooth=0, post_smooth=0)
    with pytest.raises(ValueError, match="coarse_size"):
        Multigrid(op, coarse_size=0)
    general = StencilOperator(op.diag, op.offsets, op.coeffs, op.periodic)
    with pytest.raises(ValueError, match="galerkin"):
        Multigrid(general, coarse="average")
    with pytest.raises(TypeError, match="StencilOperator"):
        Multigrid(CSROperator(op.to_sparse_csr()))
    negative = DiffusionOperator([-w for w in op.face_weights], op.boundary)
    with pytest.raises(SolverError, match="positive"):
        Multigrid(negative)


def test_omega_max_levels_and_dtype_are_checked_when_built():
    """omega 0, negative or > 2, max_levels=0 were taken (PCG then blamed the smoother's symmetry, or max_levels=0
    acted as 1); float16 failed in linalg.pinv and int32 in torch.finfo."""
    op = DiffusionOperator.from_coefficient(torch.ones(1, 9, 9, dtype=torch.float64))
    general = StencilOperator(op.diag, op.offsets, op.coeffs, op.periodic)
    for bad in (-1, 0, 1.0, 5, 2.0):
        with pytest.raises(ConfigError, match=rf"^omega={bad}: damped Jacobi smooths, and keeps the V-cycle a "
                                              r"positive definite preconditioner, only for 0 < omega < 2 / "
                                              r"lambda_max\(D\^-1 A\); on a diffusion operator lambda_max reaches 2 "
                                              r"\(periodic and fine grids\), so 0 < omega < 1\. Leave omega=None for "
                                              r"the default"):
            Multigrid(op, omega=bad)
    for bad in (0, -0.5, 2, 3.0):
        with pytest.raises(ConfigError, match=r"lambda_max is at least 1, so 0 < omega < 2, and 0 < omega < 1 is the "
                                              r"usual range"):
            Multigrid(general, coarse="galerkin", omega=bad)
    assert Multigrid(general, coarse="galerkin", omega=1.5).omega == 1.5
    for bad in (True, "0.5", float("nan")):
        with pytest.raises(ConfigError, match="omega must be a number, the Jacobi damping"):
            Multigrid(op, omega=bad)
    with pytest.raises(ConfigError, match="smoother='rbgs' takes none: drop omega or use smoother='jacobi'"):
        Multigrid(op, smoother="rbgs", omega=0.5)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match=rf"max_levels must be a whole number >= 1 .* got {bad!r}\.$"):
            Multigrid(op, max_levels=bad)
    assert Multigrid(op, max_levels=1).num_levels == 1
    for bad in (torch.float16, torch.bfloat16, torch.int32, "float32"):
        with pytest.raises(ConfigError, match=rf"^Multigrid runs in float32 or float64 .*, got "
                                              rf"dtype={re.escape(repr(bad))}; pass dtype=torch\.float32 or "
                                              r"dtype=torch\.float64\.$"):
            Multigrid(op, dtype=bad)
    with pytest.raises(ConfigError, match="got an operator of dtype torch.float16"):
        Multigrid(op.to(dtype=torch.float16))
    assert Multigrid(op.to(dtype=torch.float16), dtype=torch.float32).dtype == torch.float32


def test_jacobi_omega_of_one_breaks_the_cycle_on_a_periodic_diffusion_grid():
    """Why omega < 1 on diffusion operators: the checkerboard mode of a constant-coefficient periodic grid has
    lambda(D^-1 A) = 2, which omega = 1 turns into an eigenvalue -1 of the smoother that the coarse grid cannot
    see, so the V-cycle is singular and PCG broke down; 0.9 (just below the limit) solves it."""
    op = DiffusionOperator.from_coefficient(torch.ones(1, 32, 32, dtype=torch.float64), "periodic")
    b = torch.randn(1, *op.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    b -= b.mean()
    mg = Multigrid(op, omega=0.9)
    mg.omega = 1.0  # what omega=1 built before the check
    mg.levels = [type(level)(level.op, level.plans, 1.0, 1.0 / level.op.diagonal()) for level in mg.levels]
    with pytest.raises(NotSPDError, match="preconditioner is not positive definite"):
        pcg(op, b, preconditioner=mg, rtol=1e-8)
    assert pcg(op, b, preconditioner=Multigrid(op, omega=0.9), rtol=1e-8).converged.all()


def test_darcy_solver_auto_uses_batched_multigrid_and_matches_direct():
    """solve_darcy's default switches to batched MG-PCG from 9,000 interior nodes (here 127^2)."""
    from neurops.solvers.pde.darcy import solve_darcy

    a = two_phase_coefficient((129, 129), seed=8, batch=3).numpy()
    u, info = solve_darcy(a, 1.0, return_info=True)
    assert info.methods == ["multigrid"] * 3 and info.max_residual <= 1e-10 and max(info.iterations) <= 15
    direct = solve_darcy(a[1], 1.0, method="direct")
    np.testing.assert_allclose(u[1], direct, rtol=1e-8, atol=1e-12 * np.abs(direct).max())
    assert np.all(u[:, 0] == 0) and np.all(u[:, :, -1] == 0)
