"""``inverse_posterior``: the sampler options reach the reference and the surrogate chains through one path."""

from __future__ import annotations

import warnings
from dataclasses import asdict

import numpy as np
import pytest

from benchmarks import inverse_posterior
from benchmarks.inverse_posterior import _config, _steps_label, parse_args
from neurops.data.generators.darcy import DarcyConfig, generate_darcy
from neurops.errors import ConfigError
from neurops.inverse import read_posterior


def test_defaults_give_the_reference_its_scheme_and_the_surrogates_plain_chains():
    args = parse_args([])
    ref = _config(args, "piecewise", "reference")
    assert (ref.n_burn, ref.n_samples, ref.thin, ref.laplace_iterations) == (800, 2800, 7, 12)
    assert ref.temperatures == (0.7, 0.5, 0.35, 0.25) and ref.blocks == (4, 8, 16, 32, 128)
    assert ref.anneal == 400 and ref.sampler == "pcn"
    for method in ("fno", "fno_me", "mgno_me"):
        sur = _config(args, "piecewise", method)
        assert (sur.n_burn, sur.n_samples, sur.thin, sur.laplace_iterations) == (100, 400, 2, 4)
        assert (sur.temperatures, sur.blocks, sur.anneal, sur.sampler) == (None, None, 0, "auto")
    ln = _config(args, "lognormal", "reference")
    assert (ln.temperatures, ln.blocks, ln.anneal, ln.sampler) == (None, None, 0, "auto")


def test_surrogate_chains_take_the_reference_options_per_coefficient():
    args = parse_args(["--steps", "lognormal=100+300,piecewise=300+900", "--thin", "lognormal=2,piecewise=3",
                       "--temperatures", "piecewise=0.6/0.3", "--blocks", "piecewise=4/32", "--anneal",
                       "piecewise=150"])
    sur = _config(args, "piecewise", "fno_me")
    assert (sur.n_burn, sur.n_samples, sur.thin) == (300, 900, 3)
    assert (sur.temperatures, sur.blocks, sur.anneal, sur.sampler) == ((0.6, 0.3), (4, 32), 150, "pcn")
    assert _steps_label(asdict(sur)) == "300+900 3 T 3 B A 150"
    other = _config(args, "lognormal", "fno_me")  # a coefficient not named keeps plain chains
    assert (other.temperatures, other.blocks, other.anneal) == (None, None, 0)
    assert _steps_label(asdict(other)) == "100+300"
    # the reference keeps its own options
    assert _config(args, "piecewise", "reference").temperatures == (0.7, 0.5, 0.35, 0.25)


def test_annealing_longer_than_the_burn_in_is_refused():
    args = parse_args(["--anneal", "piecewise=200"])  # burn-in 100
    with pytest.raises(ConfigError, match="anneal must be between 0 and n_burn"):
        _config(args, "piecewise", "fno")


def test_the_sampler_control_is_the_true_solve_with_the_surrogate_chains_options():
    args = parse_args(["--steps", "lognormal=100+300,piecewise=200+600", "--thin", "lognormal=2,piecewise=3",
                       "--temperatures", "piecewise=0.7/0.5/0.35/0.25", "--blocks", "piecewise=4/8/16/32/128",
                       "--anneal", "piecewise=100"])
    assert _config(args, "piecewise", "pde") == _config(args, "piecewise", "fno_me")
    assert _config(args, "piecewise", "pde") != _config(args, "piecewise", "reference")


def test_the_sampler_control_reproduces_the_reference_given_the_reference_options(tmp_path, monkeypatch):
    """``pde`` runs the reference's path (true solve, same problems and chain starts): given the reference's
    sampler options it draws exactly the reference's samples; given shorter ones, a different, shorter posterior."""
    data = tmp_path / "d.h5"
    generate_darcy(DarcyConfig(n_train=2, n_val=2, n_test=2, resolution=9, coefficient="piecewise", seed=3), data,
                   workers=1, progress=False)
    monkeypatch.setattr(inverse_posterior, "problem_file", lambda coefficient: data)
    options = {"steps": "piecewise=8+12", "thin": "piecewise=2", "temperatures": "piecewise=0.5",
               "blocks": "piecewise=4/16", "anneal": "piecewise=4"}
    common = ["--problems", "2", "--chains", "2", "--coefficients", "piecewise"]
    same = parse_args([*common, "--cache", str(tmp_path / "same"),
                       *(x for key, value in options.items() for x in (f"--ref-{key}", value, f"--{key}", value))])
    sampler = [x for key in ("temperatures", "blocks", "anneal") for x in (f"--{key}", options[key])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in ("reference", "pde"):
            inverse_posterior.run_method(method, "piecewise", 6, same)
        short = parse_args([*common, "--cache", str(tmp_path / "short"), "--steps", "piecewise=6+8", "--thin",
                            "piecewise=2", *sampler])
        inverse_posterior.run_method("pde", "piecewise", 6, short)
    for i in range(2):
        ref = read_posterior(inverse_posterior._path("reference", "piecewise", 6, i, same.cache))
        pde = read_posterior(inverse_posterior._path("pde", "piecewise", 6, i, same.cache))
        assert pde.method["forward"]["forward"] == "pde" and pde.predictive["checked"]
        assert np.array_equal(pde.samples["latent"], ref.samples["latent"])
        assert np.array_equal(pde.samples["a"], ref.samples["a"])
        other = read_posterior(inverse_posterior._path("pde", "piecewise", 6, i, short.cache))
        assert other.samples["a"].shape[0] == 2 * 4 and other.info["config"]["n_burn"] == 6
        assert list(other.info["config"]["temperatures"]) == [0.5] and list(other.info["config"]["blocks"]) == [4, 16]
        assert not np.array_equal(other.samples["a"], pde.samples["a"][: len(other.samples["a"])])
