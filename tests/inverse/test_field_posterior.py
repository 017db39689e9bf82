"""The posterior in GRF coefficients on a small Darcy problem: gradients, and chains that agree."""

import numpy as np
import pytest
import torch

from neurops.data.generators.darcy import DarcyConfig, generate_darcy
from neurops.data.reader import read_attrs
from neurops.errors import DataError
from neurops.inverse import (
    DarcyForward,
    FieldPosterior,
    InversionConfig,
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
    with pytest.raises(DataError, match="not a subsample"):
        FieldPosterior(coarse, forward, [obs])
    assert np.isfinite(FieldPosterior(prior, forward, [obs]).potential(torch.zeros(1, 2, prior.dim,
                                                                                   dtype=torch.float64))).all()
