"""The posterior in GRF coefficients on a small Darcy problem: gradients, and chains that agree."""

import numpy as np
import pytest
import torch

from neurops.data.generators.darcy import DarcyConfig, generate_darcy
from neurops.data.reader import read_attrs
from neurops.errors import DataError, SolverError
from neurops.inverse import (
    DarcyForward,
    FieldPosterior,
    InversionConfig,
    SurrogateForward,
    invert_fields,
    laplace_reference,
    observations_from_file,
    prior_from_file,
    run_chains,
    split_rhat,
)


@pytest.fixture(scope="module")
def darcy(tmp_path_factory):
    """A lognormal Darcy file on a 17^2 grid and 20 observations of a test solution at 25 dB."""
    path = tmp_path_factory.mktemp("darcy") / "d.h5"
    generate_darcy(DarcyConfig(n_train=2, n_val=8, n_test=2, resolution=17, coefficient="lognormal", seed=1), path,
                   workers=1, progress=False)
    prior = prior_from_file(path, max_wavenumber=4)  # 15 modes keep the test fast
    obs = observations_from_file(path, "test", 0, n_obs=20, snr_db=25, seed=0)
    return path, prior, DarcyForward.from_generator(read_attrs(path)["generator"]), obs


def test_jacobian_matches_finite_differences(darcy):
    _, prior, forward, obs = darcy
    post = FieldPosterior(prior, forward, [obs])
    x = 0.5 * torch.randn(1, prior.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    pred, jac = post.jacobian(x)
    assert torch.allclose(pred, post.predict(x[:, None])[:, 0])
    d = torch.randn(prior.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    eps = 1e-5
    fd = (post.predict((x + eps * d)[:, None]) - post.predict((x - eps * d)[:, None]))[:, 0] / (2 * eps)
    assert torch.allclose(jac[0] @ d, fd[0], rtol=1e-5, atol=1e-10)


def test_chains_from_dispersed_starts_agree_on_darcy(darcy):
    """The reference sampler (gpCN around the Laplace approximation, true solver) from 4 prior draws: R-hat < 1.05."""
    _, prior, forward, obs = darcy
    post = FieldPosterior(prior, forward, [obs])
    chains, x_map, info = run_chains(post, InversionConfig(n_chains=4, n_burn=100, n_samples=400, thin=2, seed=0))
    assert info["sampler"] == "gpcn" and 0.1 < float(chains.acceptance.mean()) < 0.5
    starts_spread = float(chains.samples[0, :, 0].std(0).mean())
    assert starts_spread > 0.05  # the chains are not copies of each other
    draws = chains.samples[0]                                               # [C, S, n]
    fields = prior.field(draws.reshape(-1, prior.dim)).reshape(4, draws.shape[1], -1).numpy()
    assert split_rhat(fields).max() < 1.05
    assert split_rhat(chains.potential[0].numpy()) < 1.05
    # the MAP explains the data better than the prior mean does
    assert float(post.potential(x_map[:, None])) < float(post.potential(torch.zeros(1, 1, prior.dim,
                                                                                        dtype=torch.float64)))


def test_problems_need_matching_observations(darcy):
    path, prior, forward, obs = darcy
    other = observations_from_file(path, "test", 1, n_obs=10, snr_db=25, seed=0)
    with pytest.raises(DataError, match="same number of observations"):
        FieldPosterior(prior, forward, [obs, other])
    coarse = prior_from_file(path, resolution=9)
    with pytest.raises(DataError) as err:
        FieldPosterior(coarse, forward, [obs])
    assert str(err.value) == ("the observations' 17-node grid is not a subsample of the prior's 9 nodes: (17 - 1) "
                              "must divide (9 - 1); use the prior of the data they were made from (--data with that "
                              "file), or one on 17 nodes (--prior '{\"resolution\": 17}').")  # it named no fix
    assert np.isfinite(FieldPosterior(prior, forward, [obs]).potential(torch.zeros(1, 2, prior.dim,
                                                                                   dtype=torch.float64))).all()


class _FailsAwayFrom:
    """The Darcy forward map, raising a SolverError (as CG out of iterations does) for a batch holding a
    coefficient farther than ``radius`` (max norm) from ``a0``."""

    def __init__(self, forward, a0, radius):
        self.forward, self.a0, self.radius, self.calls = forward, a0, radius, 0

    def __call__(self, a):
        self.calls += 1
        if ((a - self.a0).abs().flatten(1).amax(1) > self.radius).any():
            raise SolverError("CG did not reach rtol=1.0e-08 within maxiter=500 iterations; raise maxiter")
        return self.forward(a)


def test_a_failed_solve_gives_nan_predictions_and_an_infinite_potential(darcy):
    _, prior, forward, obs = darcy
    a0 = prior.coefficient_field(torch.zeros(1, prior.dim, dtype=torch.float64))
    post = FieldPosterior(prior, _FailsAwayFrom(forward, a0, 0.5), [obs])
    xi = torch.zeros(1, 4, prior.dim, dtype=torch.float64)
    xi[0, 1, 0] = xi[0, 3, 1] = 5.0  # chains 1 and 3 leave the radius, 0 and 2 stay at a0
    pred = post.predict(xi)
    assert torch.isnan(pred[0, [1, 3]]).all() and post.failed_solves == 2
    exact = FieldPosterior(prior, forward, [obs]).predict(xi[:, [0]])[0, 0]
    assert torch.equal(pred[0, 0], exact) and torch.equal(pred[0, 2], exact)
    phi = post.potential(xi)
    assert torch.isinf(phi[0, [1, 3]]).all() and torch.isfinite(phi[0, [0, 2]]).all()


def test_gauss_newton_rejects_steps_whose_solve_fails(darcy):
    _, prior, forward, obs = darcy
    a0 = prior.coefficient_field(torch.zeros(1, prior.dim, dtype=torch.float64))
    flaky = _FailsAwayFrom(forward, a0, 1e-3)  # only steps of tiny coefficient changes can be solved
    post = FieldPosterior(prior, flaky, [obs])
    reference, history = laplace_reference(post, torch.zeros(1, prior.dim, dtype=torch.float64))
    full = laplace_reference(FieldPosterior(prior, forward, [obs]), torch.zeros(1, prior.dim, dtype=torch.float64))
    assert post.failed_solves > 0 and history["objective"][-1] <= history["objective"][0]
    a_map = prior.coefficient_field(reference.mean)
    assert float((a_map - a0).abs().max()) <= 1e-3 < float((prior.coefficient_field(full[0].mean) - a0).abs().max())


def test_gauss_newton_that_cannot_solve_at_its_start_says_what_to_check(darcy):
    _, prior, forward, obs = darcy
    a0 = prior.coefficient_field(torch.ones(1, prior.dim, dtype=torch.float64))
    post = FieldPosterior(prior, _FailsAwayFrom(forward, a0, 1e-3), [obs])
    with pytest.raises(SolverError) as err:
        laplace_reference(post, torch.zeros(1, prior.dim, dtype=torch.float64))
    assert str(err.value) == (
        "the Gauss-Newton MAP cannot go on: at the coefficients it reached a forward solve failed: the observations "
        "are likely beyond what the prior's coefficients produce, or the prior is too rough; check the data's units "
        "and the forcing (--forcing, --data), or try a smoother or wider prior (--prior with a larger alpha or sigma).")


def test_chains_that_never_reach_a_solvable_coefficient_end_with_advice(darcy):
    _, prior, forward, obs = darcy
    a0 = prior.coefficient_field(torch.zeros(1, prior.dim, dtype=torch.float64))
    # the MAP at the prior mean can be solved, but no chain start or proposal (a prior draw) can
    flaky = _FailsAwayFrom(forward, a0, 1e-6)
    cfg = InversionConfig(n_chains=2, n_burn=2, n_samples=4, thin=1, laplace_iterations=1, n_predictive=0)
    with pytest.raises(SolverError, match=r"^2 of 2 chains never reached a coefficient the forward solver can handle "
                                          r"\(\d+ solves failed\): the observations are likely beyond"):
        invert_fields(prior, flaky, obs, cfg)


def test_gauss_newton_step_that_overflows_says_what_to_check(darcy):
    # forcing 1e300: u ~ 1e298 against data of ~0.05 with noise ~1e-3, so W^T W overflows and the step is NaN
    _, prior, _, obs = darcy
    post = FieldPosterior(prior, DarcyForward(forcing=1e300), [obs])
    with pytest.raises(SolverError, match=r"^the Gauss-Newton MAP cannot go on: at the coefficients it reached the "
                                          r"Gauss-Newton step is not finite \(predictions too far from the "
                                          r"observations for their noise\): the observations are likely beyond"):
        laplace_reference(post, torch.zeros(1, prior.dim, dtype=torch.float64))


def test_a_forward_map_coarser_than_the_observations_grid_is_one_clear_error(darcy):
    """It used to read 'a grid of 17 nodes per axis is not a subsample of the prior's 9 nodes' (the prior is on 17)."""
    _, prior, _, obs = darcy
    post = FieldPosterior(prior, SurrogateForward(lambda x: x, resolution=9), [obs])
    with pytest.raises(DataError) as err:
        post.fields(torch.zeros(2, prior.dim, dtype=torch.float64))
    assert str(err.value) == ("the forward map returns u on a 9-node grid, coarser than the observations' 17-node grid "
                              "it is reported on; evaluate it on that grid or a finer one (SurrogateForward(..., "
                              "resolution=None): the prior's grid).")


def test_a_coefficient_that_over_or_underflows_is_a_failed_solve_not_an_error(darcy):
    """A far Gauss-Newton step (observations at 200 dB) made exp(g) overflow or underflow, and the whole inversion
    ended in 'the diffusion coefficient must be finite and > 0 at every node (min 0); check the coefficient field'."""
    _, prior, forward, obs = darcy
    post = FieldPosterior(prior, forward, [obs])
    xi = torch.zeros(1, 4, prior.dim, dtype=torch.float64)
    xi[0, 1, 0], xi[0, 3, 0] = 1e4, -1e4  # a = inf / 0 at some nodes
    assert not bool(torch.isfinite(prior.coefficient_field(xi[0, [1]])).all() and
                    (prior.coefficient_field(xi[0, [3]]) > 0).all())
    pred = post.predict(xi)
    assert torch.isnan(pred[0, [1, 3]]).all() and post.failed_solves == 2
    exact = FieldPosterior(prior, forward, [obs]).predict(xi[:, [0]])[0, 0]
    assert torch.allclose(pred[0, 0], exact, rtol=1e-6) and torch.allclose(pred[0, 2], exact, rtol=1e-6)
    phi, grad = post.potential_and_grad(xi)
    assert torch.isinf(phi[0, [1, 3]]).all() and torch.isfinite(phi[0, [0, 2]]).all()
    assert torch.isfinite(grad[0, [0, 2]]).all()
