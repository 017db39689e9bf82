import numpy as np
import pytest

from neurops.errors import DataError
from neurops.inverse import effective_sample_size, split_rhat
from neurops.inverse.diagnostics import summarize_chains


def _ar1(rho, shape, seed=0):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(shape)
    x = np.empty(shape)
    x[:, 0] = e[:, 0] / np.sqrt(1 - rho**2)
    for t in range(1, shape[1]):
        x[:, t] = rho * x[:, t - 1] + e[:, t]
    return x


def test_independent_chains_have_rhat_one_and_full_ess():
    x = np.random.default_rng(0).standard_normal((4, 1000, 5))
    assert np.all(np.abs(split_rhat(x) - 1) < 0.01)
    assert np.all(np.abs(effective_sample_size(x) / 4000 - 1) < 0.15)


def test_ess_of_ar1_chains_matches_the_integrated_autocorrelation_time():
    rho = 0.9
    ess = effective_sample_size(_ar1(rho, (4, 4000, 100)))
    expected = 16000 * (1 - rho) / (1 + rho)  # N / tau, tau = (1 + rho) / (1 - rho)
    assert np.mean(ess) == pytest.approx(expected, rel=0.05)
    assert np.std(ess) < 0.15 * expected


def test_disagreeing_or_trending_chains_are_flagged():
    x = np.random.default_rng(1).standard_normal((4, 500))
    shifted = x.copy()
    shifted[0] += 1.0
    assert split_rhat(shifted) > 1.05
    trend = x + np.linspace(0, 3, 500)  # all chains agree with each other, but drift: the split catches it
    assert split_rhat(trend) > 1.05
    stuck = np.concatenate([np.full((2, 500), 3.0), np.full((2, 500), 12.0)])  # a two-valued field node
    assert split_rhat(stuck) == np.inf
    assert split_rhat(np.full((4, 10), 7.0)) == 1.0 and effective_sample_size(np.full((4, 10), 7.0)) == 40


def test_summary_and_bad_shapes():
    s = summarize_chains(np.random.default_rng(0).standard_normal((4, 200, 3)))
    assert s["rhat_max"] < 1.05 and s["ess_min"] > 300
    with pytest.raises(DataError, match="chains, steps"):
        split_rhat(np.zeros(10))
