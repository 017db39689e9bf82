"""Tests of neurops.solvers.linear.multigrid: transfers, coarse operators, V-cycle and MG-PCG."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as spla
import torch

from neurops.errors import SolverError
from neurops.solvers.linear.cg import pcg
from neurops.solvers.linear.coarsening import (
    average_coarse_operator,
    galerkin_coarse_operator,
    plan_axis,
    prolong,
    restrict,
)
from neurops.solvers.linear.csr import CSROperator
from neurops.solvers.linear.diffusion import DiffusionOperator
from neurops.solvers.linear.multigrid import Multigrid, multigrid_preconditioner
from neurops.solvers.linear.stencil import StencilOperator
from neurops.solvers.pde.diffusion_fd import diffusion_matrix

CASES = [(7, "dirichlet"), (8, "dirichlet"), (9, "neumann"), (10, "neumann"), (9, "periodic"),
         (10, "periodic"), (11, "periodic"), (19, "dirichlet")]


def _piecewise(shape, seed=0, batch=1, high=12.0, low=3.0):
    """Two-phase coefficient (as FNO's Darcy data): a smooth random field thresholded at 0."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(batch, 1, *[max(2, n // 8) for n in shape], generator=g, dtype=torch.float64)
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(shape)]
    z = torch.nn.functional.interpolate(coarse, size=shape, mode=mode, align_corners=True)[:, 0]
    return torch.where(z > 0, high, low).to(torch.float64)


def _dense_prolongation(plans):
    nc = 1
    for p in plans:
        nc *= p.n_coarse
    eye = torch.eye(nc, dtype=torch.float64).reshape(nc, *[p.n_coarse for p in plans])
    return prolong(eye, plans).reshape(nc, -1).T  # [N_fine, N_coarse]


@pytest.mark.parametrize("n,bc", CASES)
def test_restriction_is_the_transpose_of_prolongation(n, bc):
    plan = plan_axis(n, bc)
    assert plan.coarsened
    c, f = torch.randn(3, plan.n_coarse, dtype=torch.float64), torch.randn(3, n, dtype=torch.float64)
    lhs = (prolong(c, [plan]) * f).sum()
    rhs = (c * restrict(f, [plan])).sum()
    torch.testing.assert_close(lhs, rhs)


@pytest.mark.parametrize("n", [9, 10])
def test_prolongation_interpolates_linear_functions_exactly(n):
    """Neumann keeps the end nodes: a linear function's coarse samples interpolate to its fine samples,
    also over the 3-interval last coarse cell of an odd number of intervals."""
    plan = plan_axis(n, "neumann")
    L = plan.intervals
    m = plan.regular
    pos = [2 * k for k in range(m)] + ([L] if L % 2 else [])
    coarse = torch.tensor(pos, dtype=torch.float64)[None] * 0.7 + 1.0
    fine = torch.arange(n, dtype=torch.float64)[None] * 0.7 + 1.0
    torch.testing.assert_close(prolong(coarse, [plan]), fine)


@pytest.mark.parametrize("shape,bcs", [((9, 8), ("dirichlet", "periodic")), ((10, 11), ("periodic", "neumann")),
                                       ((7, 6, 5), ("dirichlet", "dirichlet", "periodic"))])
def test_galerkin_operator_equals_dense_triple_product(shape, bcs):
    a = _piecewise(shape, seed=1, batch=2)
    op = DiffusionOperator.from_coefficient(a, bcs)
    plans = tuple(plan_axis(n, bc) for n, bc in zip(op.shape, bcs))
    coarse = galerkin_coarse_operator(op, plans)
    P = _dense_prolongation(plans)
    ref = P.T @ op.to_dense() @ P
    torch.testing.assert_close(coarse.to_dense(), ref)
    assert coarse.symmetry_error() < 1e-12


def test_averaged_coarse_operator_combines_faces_in_series_in_1d():
    """1-D: a coarse face's conductance is that of the fine faces it spans in series (the last coarse
    cell of an odd number of intervals spans three)."""
    a = _piecewise((20,), seed=2, batch=2)  # 18 unknowns, 19 faces: 8 regular coarse faces + one of three
    op = DiffusionOperator.from_coefficient(a)
    plans = (plan_axis(op.shape[0], "dirichlet"),)
    w = op.face_weights[0]
    expect = [1 / (1 / w[:, 2 * k] + 1 / w[:, 2 * k + 1]) for k in range(8)]
    expect.append(1 / (1 / w[:, 16] + 1 / w[:, 17] + 1 / w[:, 18]))
    torch.testing.assert_close(average_coarse_operator(op, plans).face_weights[0], torch.stack(expect, dim=1))


def test_averaged_coarse_operator_constant_coefficient_2d():
    """For a = 1 the averaged coarse operator is the 5-point Laplacian of the coarse grid, scaled by 2^d
    like P^T A P (restriction is P^T, not full weighting)."""
    op = DiffusionOperator.from_coefficient(torch.ones(1, 17, 17, dtype=torch.float64))
    plans = tuple(plan_axis(n, "dirichlet") for n in op.shape)
    coarse = average_coarse_operator(op, plans)
    ref = DiffusionOperator.from_coefficient(torch.ones(1, 9, 9, dtype=torch.float64))
    torch.testing.assert_close(coarse.to_dense(), 4.0 * ref.to_dense())


@pytest.mark.parametrize("options", [{}, {"smoother": "rbgs", "pre_smooth": 1, "post_smooth": 1},
                                     {"coarse": "galerkin"}, {"dtype": torch.float32}])
def test_vcycle_is_symmetric_positive(options):
    a = _piecewise((21, 18), seed=3)
    op = DiffusionOperator.from_coefficient(a, ("dirichlet", "periodic"))
    mg = Multigrid(op, **options)
    r1, r2 = torch.randn(2, 1, *op.shape, dtype=torch.float64)
    tol = 1e-5 if options.get("dtype") == torch.float32 else 1e-10
    assert abs(float((mg(r1) * r2).sum() - (r1 * mg(r2)).sum())) < tol * float(r1.norm() * r2.norm())
    assert float((mg(r1) * r1).sum()) > 0


@pytest.mark.parametrize("R", [33, 65, 129, 100])
def test_mgpcg_iterations_do_not_grow_with_the_grid(R):
    a = _piecewise((R, R), seed=R)
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
    a = _piecewise(shape, seed=4, batch=2)
    op = DiffusionOperator.from_coefficient(a)
    b = torch.randn(2, *op.shape, dtype=torch.float64)
    res = pcg(op, b, preconditioner=Multigrid(op, coarse_size=8), rtol=1e-11)
    for i in range(2):
        ref = spla.spsolve(diffusion_matrix(a[i].numpy()).tocsc(), b[i].numpy().ravel())
        np.testing.assert_allclose(res.x[i].numpy().ravel(), ref, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("bcs", [("neumann", "neumann"), ("periodic", "periodic"), ("periodic", "neumann")])
def test_singular_problems_with_compatible_rhs(bcs):
    a = _piecewise((24, 21), seed=5)
    op = DiffusionOperator.from_coefficient(a, bcs)
    b = torch.randn(1, *op.shape, dtype=torch.float64)
    b = b - b.mean()
    mg = Multigrid(op, coarse_size=30)
    assert mg.num_levels >= 3
    res = pcg(op, b, preconditioner=mg, rtol=1e-9)
    assert res.max_iterations <= 20


def test_galerkin_multigrid_for_a_general_stencil():
    """A full-stencil SPD operator (Galerkin coarse of a diffusion operator) preconditions itself."""
    a = _piecewise((67, 67), seed=6)
    fine = DiffusionOperator.from_coefficient(a)
    plans = tuple(plan_axis(n, "dirichlet") for n in fine.shape)
    op = galerkin_coarse_operator(fine, plans)
    assert isinstance(op, StencilOperator) and len(op.offsets) == 8
    b = torch.randn(1, *op.shape, dtype=torch.float64)
    res = pcg(op, b, preconditioner=multigrid_preconditioner(op, smoother="rbgs"), rtol=1e-9)
    assert res.max_iterations <= 15


def test_mixed_precision_cycle_reaches_double_precision_tolerance():
    a = _piecewise((65, 65), seed=7, batch=4)
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


def test_darcy_solver_auto_uses_batched_multigrid_and_matches_direct():
    """solve_darcy's default switches to batched MG-PCG from 9,000 interior nodes (here 127^2)."""
    from neurops.solvers.pde.darcy import solve_darcy

    a = _piecewise((129, 129), seed=8, batch=3).numpy()
    u, info = solve_darcy(a, 1.0, return_info=True)
    assert info.methods == ["multigrid"] * 3 and info.max_residual <= 1e-10 and max(info.iterations) <= 15
    direct = solve_darcy(a[1], 1.0, method="direct")
    np.testing.assert_allclose(u[1], direct, rtol=1e-8, atol=1e-12 * np.abs(direct).max())
    assert np.all(u[:, 0] == 0) and np.all(u[:, :, -1] == 0)
