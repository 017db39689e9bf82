"""Tests of neurops.solvers.learned.dcdm (tiny grids): solver loop, Ritz vectors, loss.

Training: tests/tasks/test_dcdm.py.
"""

from __future__ import annotations

import pytest
import torch

from neurops.models.dcdm import DCDMNet
from neurops.solvers.learned.dcdm import dcdm_loss, dcdm_solve, ritz_right_hand_sides, ritz_vectors, stencil_features
from neurops.solvers.linear.cg import ConvergenceError, NotSPDError, pcg
from neurops.solvers.linear.diffusion import DiffusionOperator


def _op(n=12, seed=0, batch=1):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(batch, n + 2, n + 2, generator=g, dtype=torch.float64) + 0.5
    return DiffusionOperator.from_coefficient(a)


def test_identity_network_is_conjugate_gradients():
    op = _op()
    b = torch.randn(2, *op.shape, dtype=torch.float64)
    cg = pcg(op, b, rtol=1e-8)
    dc = dcdm_solve(op, b, lambda r: r, rtol=1e-8)
    assert (dc.iterations - cg.iterations).abs().max() <= 1
    torch.testing.assert_close(dc.x, cg.x, rtol=1e-6, atol=1e-9)


def test_exact_inverse_network_converges_in_one_step():
    op = _op(8)
    inv = torch.linalg.inv(op.to_dense()[0])
    net = lambda r: (inv @ r.reshape(r.shape[0], -1).T).T.reshape(r.shape)  # noqa: E731
    b = torch.randn(3, *op.shape, dtype=torch.float64)
    res = dcdm_solve(op, b, net, rtol=1e-10)
    assert res.max_iterations == 1 and res.converged.all()


def test_a_norm_error_never_increases_whatever_the_network():
    """The exact line search makes the A-norm of the error non-increasing even for an untrained network."""
    torch.manual_seed(0)
    op = _op(10)
    b = torch.randn(1, *op.shape, dtype=torch.float64)
    exact = pcg(op, b, rtol=1e-12).x
    net = DCDMNet(2, width=4, fine_blocks=1, coarse_blocks=1).double()
    errors = [float((exact * op.apply(exact)).sum())]
    for k in (1, 5, 20):
        e = dcdm_solve(op, b, net, rtol=1e-6, maxiter=k, check=False).x - exact
        errors.append(float((e * op.apply(e)).sum()))
    assert all(later <= earlier * (1 + 1e-12) for earlier, later in zip(errors, errors[1:]))
    assert errors[-1] < errors[0]


def test_ritz_vectors_are_eigenvectors_when_lanczos_runs_to_the_end():
    op = _op(5)
    values, vectors = ritz_vectors(op, op.numel, seed=1)
    ref = torch.linalg.eigvalsh(op.to_dense()[0])
    torch.testing.assert_close(values, ref, rtol=1e-8, atol=1e-8)
    av = op.apply(vectors)
    torch.testing.assert_close(av, values.reshape(-1, 1, 1) * vectors, rtol=1e-6, atol=1e-6)
    rhs = ritz_right_hand_sides(values, vectors, 7, seed=0)
    torch.testing.assert_close(rhs.reshape(7, -1).norm(dim=1), torch.ones(7, dtype=torch.float64))


def test_loss_is_scale_invariant_and_zero_for_the_inverse():
    op = _op(6)
    inv = torch.linalg.inv(op.to_dense()[0])

    class Inverse(torch.nn.Module):
        def __init__(self, scale: float) -> None:
            super().__init__()
            self.scale = scale

        def forward(self, r):
            return self.scale * (inv @ r.reshape(r.shape[0], -1).T).T.reshape(r.shape)

    b = torch.randn(4, *op.shape, dtype=torch.float64)
    assert float(dcdm_loss(Inverse(1.0), op, b)) < 1e-20
    torch.testing.assert_close(dcdm_loss(torch.nn.Identity(), op, b), dcdm_loss(torch.nn.Identity(), op, 5 * b) / 25)


def test_stencil_features_are_dimensionless():
    op = DiffusionOperator.from_coefficient(torch.full((1, 9, 9), 7.0, dtype=torch.float64))
    feats = stencil_features(op)
    assert feats.shape == (1, 4, 7, 7)
    torch.testing.assert_close(feats[0, :, 3, 3], torch.full((4,), -0.25, dtype=torch.float64))
    coarse = DiffusionOperator.from_coefficient(torch.full((1, 5, 5), 1.0, dtype=torch.float64))
    torch.testing.assert_close(stencil_features(coarse)[0, :, 1, 1], feats[0, :, 3, 3])


def test_a_conditioned_network_solves_a_batch_of_operators():
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(0)
    a = torch.where(torch.rand(2, 12, 12, generator=g) > 0.5, 12.0, 3.0).double()
    ops = DiffusionOperator.from_coefficient(a)
    net = DCDMNet(2, width=4, fine_blocks=1, coarse_blocks=1, condition_channels=4).double()
    b = torch.ones(2, *ops.shape, dtype=torch.float64)
    res = dcdm_solve(ops, b, net, rtol=1e-6, maxiter=20, check=False)
    assert res.x.shape == b.shape and torch.isfinite(res.x).all() and (res.iterations == 20).all()


def test_errors():
    op = _op(6)
    b = torch.randn(1, *op.shape, dtype=torch.float64)
    negative = DiffusionOperator([-w for w in op.face_weights], op.boundary)
    with pytest.raises(NotSPDError):
        dcdm_solve(negative, b, lambda r: r)
    with pytest.raises(ConvergenceError, match="maxiter=1"):
        dcdm_solve(op, b, lambda r: r, rtol=1e-12, maxiter=1)
    with pytest.raises(ValueError, match="batch 1"):
        ritz_vectors(_op(6, batch=2), 5)
    with pytest.raises(ValueError, match="Lanczos"):
        ritz_vectors(op, 0)
    with pytest.raises(ValueError, match="rtol"):
        dcdm_solve(op, b, lambda r: r, rtol=0.0)
    neumann = DiffusionOperator.from_coefficient(torch.rand(1, 8, 8, dtype=torch.float64) + 0.5, "neumann")
    with pytest.raises(ValueError, match=r"non-zero mean in 1 of 1 samples \(sample 0: mean 3, .* the operator is "
                                         r"singular"):  # no longer NotSPDError, as pcg
        dcdm_solve(neumann, torch.full((1, *neumann.shape), 3.0, dtype=torch.float64), lambda r: r)


def test_huge_right_hand_side_is_solved_not_zeroed():
    # |b|^2 overflows float64: DCDM, like pcg, solves for b scaled by a power of two
    op = _op()
    b = torch.randn(2, *op.shape, dtype=torch.float64)
    cg = pcg(op, b, rtol=1e-8)
    dc = dcdm_solve(op, 1e300 * b, lambda r: r, rtol=1e-8)
    assert dc.converged.all() and (dc.iterations > 0).all()
    torch.testing.assert_close(dc.x, 1e300 * cg.x, rtol=1e-6, atol=0.0)


def test_a_network_that_returns_the_wrong_shape_or_nan_is_named():
    """A network whose output does not have the residual's shape failed in the stencil product ("The size of tensor
    a (10) must match ..."); one returning NaN was reported as "the solution overflows float64"."""
    import re

    from neurops.errors import ModelError

    op = _op(n=6)
    b = torch.ones(1, *op.shape, dtype=torch.float64)
    with pytest.raises(ModelError, match="^" + re.escape(
            "the DCDM network returned (1, 1, 6, 2) for a residual of shape (1, 1, 6, 6) = [B, 1, *shape]; it must "
            "return a direction of the residual's shape (a fully convolutional net with one input and one output "
            "channel).") + "$"):
        dcdm_solve(op, b, lambda r: r[..., :2])
    with pytest.raises(ModelError, match=r"^the DCDM network returned NaN or Inf values for a finite residual"):
        dcdm_solve(op, b, lambda r: r * float("nan"))
    assert dcdm_solve(op, b, lambda r: r, rtol=1e-8).converged.all()  # identity: CG
