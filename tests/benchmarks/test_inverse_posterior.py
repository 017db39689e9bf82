"""``inverse_posterior``: the sampler options reach the reference and the surrogate chains through one path."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from benchmarks.inverse_posterior import _config, _steps_label, parse_args
from neurops.errors import ConfigError


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
