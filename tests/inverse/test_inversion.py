"""End-to-end inversions: the reference through the true solver, a wrong surrogate caught, a DGNO latent posterior."""

import warnings

import numpy as np
import pytest
import torch

from neurops.data.check import check_file
from neurops.data.generators.darcy import DarcyConfig, generate_darcy
from neurops.data.info import summarize
from neurops.data.reader import read_attrs
from neurops.data.xarray_io import to_xarray
from neurops.errors import ConfigError
from neurops.inverse import (
    DarcyForward,
    InversionConfig,
    InversionWarning,
    SurrogateForward,
    estimate_model_error,
    invert_fields,
    invert_latent,
    make_observations,
    observations_from_file,
    prior_from_file,
    read_posterior,
    write_posterior,
)
from neurops.models import build

CONFIG = dict(n_chains=4, n_burn=60, n_samples=160, thin=2, n_predictive=40)


@pytest.fixture(scope="module")
def darcy(tmp_path_factory):
    path = tmp_path_factory.mktemp("darcy") / "d.h5"
    generate_darcy(DarcyConfig(n_train=2, n_val=8, n_test=2, resolution=9, coefficient="lognormal", seed=2), path,
                   workers=1, progress=False)
    return path, prior_from_file(path), DarcyForward.from_generator(read_attrs(path)["generator"])


def test_reference_inversion_reports_everything_and_round_trips(darcy, tmp_path):
    path, prior, forward = darcy
    obs = [observations_from_file(path, "test", i, n_obs=12, snr_db=25, seed=i) for i in range(2)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InversionWarning)  # short chains: the R-hat/ESS warnings may fire
        results = invert_fields(prior, forward, obs, InversionConfig(**CONFIG, seed=1))
    assert len(results) == 2
    r = results[0]
    assert r.samples["a"].shape == (4 * 80, 9, 9) and r.samples["latent"].shape == (320, prior.dim)
    assert np.array_equal(np.unique(r.samples["chain"]), np.arange(4))
    assert (r.summary["a_lower"] <= r.summary["a_median"]).all()
    assert (r.summary["a_median"] <= r.summary["a_upper"]).all()
    assert {"rel_l2_a", "rel_l2_u", "coverage_a", "coverage_u", "crps_a", "crps_u", "rel_l2_a_map"} <= set(r.metrics)
    assert {"rhat_max", "ess_min", "acceptance"} <= set(r.diagnostics) and r.method["sampler"] == "gpcn"
    # draws of the true posterior explain the data through the true solver
    assert r.predictive["checked"] and r.predictive["passed"]
    assert r.metrics["rel_l2_u"] < 0.1
    out = write_posterior(r, tmp_path / "post.h5")
    assert check_file(out) == []
    assert "posterior file" in summarize(out)
    ds = to_xarray(out)
    assert ds["a"].dims == ("draw", "x", "y") and ds["a_mean"].shape == (9, 9) and "chain" in ds.coords
    back = read_posterior(out)
    assert np.allclose(back.summary["u_mean"], r.summary["u_mean"], rtol=1e-6)
    assert back.diagnostics == r.diagnostics and back.method["prior"] == prior.to_dict()
    with pytest.raises(FileExistsError):
        write_posterior(r, out)


def test_a_wrong_surrogate_fails_the_predictive_check(darcy):
    """A surrogate 40 % off fits the data through itself; solved by the true PDE, its draws miss them."""
    path, prior, forward = darcy
    obs = observations_from_file(path, "test", 0, n_obs=30, snr_db=25, seed=0)
    wrong = SurrogateForward(lambda a: 1.4 * forward(a[:, 0].double())[:, None], name="wrong")
    with pytest.warns(InversionWarning, match="posterior-predictive check failed"):
        (r,) = invert_fields(prior, wrong, obs, InversionConfig(**CONFIG), check=forward)
    assert r.predictive["chi2_per_obs"] > 3 * r.predictive["upper"]
    assert any("predictive" in w for w in r.warnings)


def test_level_set_prior_uses_pcn_and_refuses_gradients(darcy):
    path, _, forward = darcy
    prior = prior_from_file(path, coefficient="piecewise", a_high=12.0, a_low=3.0)
    obs = observations_from_file(path, "test", 0, n_obs=12, snr_db=25, seed=0)
    with pytest.raises(ConfigError, match="needs gradients"):
        invert_fields(prior, forward, obs, InversionConfig(**CONFIG, sampler="gpcn"))
    for bad in ({"temperatures": (1.5,)}, {"temperatures": (0.5,), "sampler": "pcnl"}):
        with pytest.raises(ConfigError, match="inverse temperatures in"):
            InversionConfig(**bad)
    for bad, match in (({"anneal": 61}, "anneal must be"), ({"anneal": 10, "sampler": "pcnl"}, "anneal must be"),
                       ({"blocks": (4,), "sampler": "gpcn"}, "blocks are for the plain pCN"),
                       # refused when configured, not after the Laplace / MAP work that precedes the chains
                       ({"target_accept": 0.0}, "acceptance rate in"), ({"target_accept": 1.5}, "acceptance rate in"),
                       ({"temperatures": (0.5, 0.7)}, "temperatures must decrease"),
                       ({"laplace_iterations": -1}, "laplace_iterations >= 0"), ({"map_lr": 0.0}, "map_lr > 0"),
                       ({"max_rhat": 1.0}, "max_rhat > 1"), ({"min_ess": -1.0}, "min_ess >= 0")):
        with pytest.raises(ConfigError, match=match):
            InversionConfig(**CONFIG, **bad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InversionWarning)
        (r,) = invert_fields(prior, forward, obs, InversionConfig(**CONFIG))
        (tempered,) = invert_fields(prior, forward, obs, InversionConfig(**CONFIG, blocks=(4, 16), anneal=30,
                                                                        temperatures=(0.6,)))
    assert r.method["sampler"] == "pcn" and set(np.unique(r.samples["a"])) <= {3.0, 12.0}
    d = tempered.diagnostics
    assert len(d["block_steps"]) == 3 and len(d["swap_rate"]) == 1 and 0 <= d["swap_rate"][0] <= 1
    assert tempered.info["evaluations_per_chain"] == 2 * (60 + 160 + 1)


def test_dgno_latent_posterior(tmp_path):
    torch.manual_seed(0)
    model = build("dgno", resolution=(9, 9), latent_dim=4, width=16, depth=2, encoder_hidden=(16,),
                  a_likelihood="bernoulli", a_low=3.0, a_high=12.0)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=g))
        model.latent_std.fill_(0.5)
        beta = torch.tensor([[0.4, -0.3, 0.2, 0.5]])
        u = model.decode_solution(beta, (9, 9))[0, 0].double().numpy()
        u_prior_mean = model.decode_solution(model.latent_mean[None], (9, 9))[0, 0].double().numpy()
    x = np.linspace(0, 1, 9)
    obs = make_observations(u, {"x": x, "y": x}, n_obs=30, snr_db=40.0, seed=0)
    config = InversionConfig(n_chains=4, n_burn=50, n_samples=100, thin=2, physics_weight=0.0, map_steps=200,
                             n_predictive=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InversionWarning)
        r = invert_latent(model, obs, config, check=DarcyForward(forcing=10.0))
        again = invert_latent(model, obs, config, check=DarcyForward(forcing=10.0))
    assert r.method["sampler"] == "pcnl" and r.method["decoder"] == "bernoulli"
    assert np.array_equal(r.samples["latent"], again.samples["latent"])  # same seed, same chains
    assert "a_decoder_std" in r.summary and (r.summary["a_decoder_std"] > 0).any()
    assert r.samples["latent"].shape == (4 * 50, 4) and r.predictive["checked"]
    prior_error = np.linalg.norm(u_prior_mean - u) / np.linalg.norm(u)
    assert r.metrics["rel_l2_u_map"] < 0.3 * prior_error  # the MAP moves towards the model's own solution
    with pytest.raises(ConfigError, match="Gauss-Newton"):
        invert_latent(model, obs, InversionConfig(sampler="gpcn"))
    with pytest.raises(ConfigError, match=r"forcing must be a finite number other than 0 .* got 0.0"):
        invert_latent(model, obs, config, forcing=0.0)  # as DarcyForward: it used to be taken


def test_a_check_resolution_whose_grid_misses_the_observed_nodes_is_refused_before_sampling():
    """check_resolution -1 used to end, after all the sampling, in torch's 'number of steps must be non-negative',
    3 to give a predictive chi2/M of 87 (the true solve on a 3 x 3 grid, interpolated at the observed nodes), 20.5 and
    '57' to be taken; only now the check's grid must hold the observed nodes."""
    model = build("dgno", resolution=(9, 9), latent_dim=4, width=16, depth=2, encoder_hidden=(16,))
    x = np.linspace(0, 1, 9)
    obs = make_observations(np.outer(np.sin(np.pi * x), np.sin(np.pi * x)), {"x": x, "y": x}, n_obs=5, snr_db=25.0,
                            seed=0)
    config = InversionConfig(n_chains=2, n_burn=0, n_samples=4, thin=1, map_steps=0, n_predictive=2)
    for bad in (-1, 0, 3, 13, 20.5, "57", True):
        with pytest.raises(ConfigError) as err:
            invert_latent(model, obs, config, check=DarcyForward(forcing=10.0), check_resolution=bad)
        assert str(err.value) == ("check_resolution must be a number of nodes per axis whose grid holds the "
                                  "observations' 9-node grid (9, 17, 25, ...: (N - 1) a multiple of 8), got "
                                  f"{bad!r}.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InversionWarning)
        r = invert_latent(model, obs, config, check=DarcyForward(forcing=10.0), check_resolution=17)
    assert r.predictive["checked"] and r.predictive["n_draws"] == 2


def test_arguments_of_the_wrong_type_are_one_clear_error(darcy, tmp_path):
    """A dict config, an observation file's path, a prior's data path, a lone ModelError, a surrogate as the true
    solver and a non-DGNO model used to end in AttributeErrors and TypeErrors deep inside, or (check=surrogate)
    to run the 'true-solver' predictive check through the surrogate."""
    path, prior, forward = darcy
    obs = observations_from_file(path, "test", 0, n_obs=8, seed=0)
    error = estimate_model_error(forward, *(np.stack([np.ones((9, 9))] * 2),) * 2, obs.points)
    surrogate = SurrogateForward(forward, name="same")
    cases = [
        (lambda: invert_fields(prior, forward, obs, {"n_burn": 4}),
         "config must be an InversionConfig, got dict: write InversionConfig(n_burn=..., ...)."),
        (lambda: invert_fields(prior, forward, str(path)),
         "observations must be Observations (read_observations(OBS_FILE)) or a list of them, got str."),
        (lambda: invert_fields(path, forward, obs), "prior must be a GRFPrior (e.g. prior_from_file(DATA_FILE)), got "
                                                    "PosixPath."),
        (lambda: invert_fields(prior, "pde", obs), "forward must map a batch of coefficients to solutions "
                                                   "(DarcyForward, SurrogateForward), got str."),
        (lambda: invert_fields(prior, surrogate, obs, errors=error), "errors takes one entry per observation set (a "
                                                                     "ModelError or None), got ModelError: pass "
                                                                     "errors=[error]."),
        (lambda: invert_fields(prior, surrogate, obs, check=surrogate),
         "check is the true solver of the posterior-predictive check, a DarcyForward (e.g. DarcyForward(forcing=1.0)), "
         "got SurrogateForward."),
        (lambda: invert_latent(surrogate, obs), "invert_latent samples the latent space of a DGNO, got "
                                                "SurrogateForward: pass load_surrogate(CKPT).dgno (None for another "
                                                "operator, whose posterior invert_fields samples through the prior's "
                                                "coefficients)."),
    ]
    for call, message in cases:
        with pytest.raises(ConfigError) as err:
            call()
        assert str(err.value) == message


def test_a_failed_predictive_check_prints_its_chi2_in_a_readable_form():
    """A posterior far off the data printed 'chi2/M 1089768238892868864.00'; now 3 significant digits."""
    from neurops.inverse.inversion import _failed_checks

    diagnostics = {"rhat_max": 1.0, "ess_min": 1000.0}
    for chi2, shown in ((1.0897682388928689e18, "1.09e+18"), (1.8391, "1.84"), (0.5123, "0.512")):
        predictive = {"checked": True, "passed": False, "chi2_per_obs": chi2, "lower": 0.6733, "upper": 1.4017}
        assert _failed_checks(diagnostics, predictive, InversionConfig(), 0) == [
            f"posterior-predictive check failed: draws of a solved by the true PDE give chi2/M {shown}, outside "
            "[0.67, 1.40]: the posterior does not explain the data through the physics"]
