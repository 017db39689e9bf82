import json

import h5py
import numpy as np
import pytest
import torch

from neurops.errors import ConfigError, DataError
from neurops.inverse import (
    InversionConfig,
    band_coverage,
    field_relative_l2,
    invert,
    make_observations,
    mala,
    map_estimate,
    write_posterior,
)
from neurops.models import build


class GaussianTarget:
    """exp(-U) = N(m, diag(s^2)): the interface mala/map_estimate need."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, scale: torch.Tensor | None = None) -> None:
        self.mean, self.std = mean, std
        # prior_std is MALA's preconditioner
        self.prior_mean, self.prior_std = torch.zeros_like(mean), std if scale is None else scale

    def energy(self, beta: torch.Tensor) -> torch.Tensor:
        return 0.5 * (((beta - self.mean) / self.std) ** 2).sum(-1)

    def energy_and_grad(self, beta: torch.Tensor):
        return self.energy(beta), (beta - self.mean) / self.std**2


def test_mala_samples_a_known_gaussian():
    target = GaussianTarget(torch.tensor([1.0, -2.0, 0.5, 0.0]), torch.tensor([0.5, 1.0, 2.0, 0.2]))
    gen = torch.Generator().manual_seed(0)
    samples, info = mala(target, torch.zeros(16, 4), n_burn=300, n_samples=600, thin=2, step_size=0.5, generator=gen)
    assert samples.shape == (16 * 300, 4)
    assert 0.4 < info["acceptance"] < 0.75  # adapted towards 0.574
    assert ((samples.mean(0) - target.mean).abs() < 0.1 * target.std).all()
    assert torch.allclose(samples.std(0), target.std, rtol=0.1)
    again, _ = mala(target, torch.zeros(16, 4), n_burn=300, n_samples=600, thin=2, step_size=0.5,
                    generator=torch.Generator().manual_seed(0))
    assert torch.equal(samples, again)


def test_map_estimate_finds_the_mode():
    target = GaussianTarget(torch.tensor([0.3, -0.7, 0.1]), torch.tensor([0.5, 1.0, 2.0]), torch.ones(3))
    beta, history = map_estimate(target, steps=400, lr=0.05)
    assert torch.allclose(beta[0], target.mean, atol=1e-2)
    assert history[-1] < 1e-3 < history[0]


def test_band_coverage_and_relative_error():
    rng = np.random.default_rng(0)
    mean, std = rng.standard_normal((50, 50)), np.full((50, 50), 0.3)
    truth = mean + std * rng.standard_normal((50, 50))
    assert band_coverage(truth, mean, std) == pytest.approx(0.95, abs=0.02)
    assert band_coverage(truth, mean, 0.3 * std) < 0.5  # over-confident
    assert field_relative_l2(2 * truth, truth) == pytest.approx(1.0)
    with pytest.raises(DataError, match="level"):
        band_coverage(truth, mean, std, level=1.5)
    with pytest.raises(DataError, match="shape"):
        field_relative_l2(truth[:3], truth)


@pytest.fixture(scope="module")
def toy_problem():
    """A random small DGNO and noisy observations of its own solution for a known latent code."""
    torch.manual_seed(0)
    model = build("dgno", resolution=(9, 9), latent_dim=4, width=16, depth=2, encoder_hidden=(16,))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=g))
        model.latent_std.fill_(0.5)
    beta_true = torch.tensor([[0.4, -0.3, 0.2, 0.5]])
    with torch.no_grad():
        u = model.decode_solution(beta_true, (13, 13))[0, 0].numpy()
        a = model.decode_coefficient(beta_true, (13, 13))[0, 0].numpy()
    x = np.linspace(0, 1, 13)
    obs = make_observations(u, {"x": x, "y": x}, n_obs=60, snr_db=40.0, seed=0, a=a)
    return model, obs


def test_invert_recovers_the_solution_of_its_own_model(toy_problem, tmp_path):
    model, obs = toy_problem
    cfg = InversionConfig(map_steps=200, map_lr=5e-2, n_chains=4, n_burn=60, n_samples=60, thin=3,
                          physics_weight=0.0, n_particles=10, n_quad_per_axis=3, seed=2)
    result = invert(model, obs, cfg)
    prior_err = field_relative_l2(model.decode_solution(model.latent_mean[None], (13, 13))[0, 0].detach().numpy(),
                                  obs.truth["u"])
    assert result.metrics["rel_l2_u_map"] < 0.05 < prior_err
    assert result.metrics["rel_l2_u"] < 0.1
    assert set(result.fields) == {"a_mean", "a_std", "u_mean", "u_std", "a_map", "u_map"}
    assert result.fields["u_std"].shape == (13, 13) and (result.fields["a_std"] > 0).all()
    assert result.samples.shape == (4 * 20, 4) and 0 < result.info["acceptance"] <= 1
    # reproducible with the same seed
    again = invert(model, obs, cfg)
    assert np.array_equal(again.samples, result.samples)
    path = write_posterior(result, tmp_path / "post.h5")
    with h5py.File(path, "r") as f:
        assert f.attrs["kind"] == "posterior"
        assert json.loads(f.attrs["metrics"])["rel_l2_u_map"] == result.metrics["rel_l2_u_map"]
        assert f["fields/a_mean"].shape == (13, 13) and f["latent/samples"].shape == (80, 4)


def test_invert_with_physics_term_and_bad_configs(toy_problem):
    model, obs = toy_problem
    cfg = InversionConfig(map_steps=5, n_chains=2, n_burn=2, n_samples=2, thin=1, n_particles=5, n_quad_per_axis=3)
    result = invert(model, obs, cfg, forcing=10.0)
    assert result.info["map_terms"]["physics"] > 0 and result.info["forcing"] == 10.0
    with pytest.raises(ConfigError, match="n_samples"):
        InversionConfig(n_samples=1, thin=2)
    with pytest.raises(ConfigError, match="n_chains"):
        InversionConfig(n_chains=0)
    with pytest.raises(ConfigError, match="map_steps"):
        InversionConfig(map_steps=-1)
    with pytest.raises(ConfigError, match="model_error"):
        InversionConfig(model_error=-0.1)
    obs3d = make_observations(np.ones((3, 3, 3)), {"x": np.arange(3.0), "y": np.arange(3.0), "z": np.arange(3.0)}, 1,
                              25.0, seed=0)
    with pytest.raises(DataError, match="3-D"):
        invert(model, obs3d, cfg)


def test_model_error_widens_the_solution_band(toy_problem):
    model, obs = toy_problem
    base = dict(map_steps=100, map_lr=5e-2, n_chains=4, n_burn=40, n_samples=40, thin=2, physics_weight=0.0, seed=1)
    narrow = invert(model, obs, InversionConfig(**base))
    wide = invert(model, obs, InversionConfig(**base, model_error=0.2))
    assert wide.fields["u_std"].mean() > 2 * narrow.fields["u_std"].mean()
