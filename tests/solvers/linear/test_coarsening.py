"""Tests of neurops.solvers.linear.coarsening: transfers and coarse operators of the multigrid hierarchy."""

from __future__ import annotations

import pytest
import torch

from neurops.solvers.linear.coarsening import (
    average_coarse_operator,
    galerkin_coarse_operator,
    plan_axis,
    prolong,
    restrict,
)
from neurops.solvers.linear.diffusion import DiffusionOperator
from tests.conftest import two_phase_coefficient

CASES = [(7, "dirichlet"), (8, "dirichlet"), (9, "neumann"), (10, "neumann"), (9, "periodic"),
         (10, "periodic"), (11, "periodic"), (19, "dirichlet")]


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
    a = two_phase_coefficient(shape, seed=1, batch=2)
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
    a = two_phase_coefficient((20,), seed=2, batch=2)  # 18 unknowns, 19 faces: 8 regular coarse faces + one of three
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
