from statistics import NormalDist

import numpy as np
import pytest

from neurops.errors import DataError
from neurops.inverse import band_coverage, crps_ensemble, field_relative_l2, interval_coverage, sliced_wasserstein


def test_band_coverage_and_relative_error():
    rng = np.random.default_rng(0)
    mean, std = rng.standard_normal((50, 50)), np.full((50, 50), 0.3)
    truth = mean + std * rng.standard_normal((50, 50))
    assert band_coverage(truth, mean, std) == pytest.approx(0.95, abs=0.02)
    assert band_coverage(truth, mean, 0.3 * std) < 0.5  # over-confident
    assert interval_coverage(truth, mean - 1.96 * std, mean + 1.96 * std) == band_coverage(truth, mean, std)
    assert field_relative_l2(2 * truth, truth) == pytest.approx(1.0)
    with pytest.raises(DataError, match="level"):
        band_coverage(truth, mean, std, level=1.5)
    with pytest.raises(DataError, match="shape"):
        field_relative_l2(truth[:3], truth)


def test_crps_of_a_gaussian_ensemble_matches_the_closed_form():
    """CRPS(N(0, s^2), y) = s (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi)), z = y / s (Gneiting & Raftery 2007)."""
    s, y = 0.7, np.array([0.0, 0.5, -1.2, 2.0])
    z = y / s
    nd = NormalDist()
    cdf, pdf = np.array([nd.cdf(v) for v in z]), np.array([nd.pdf(v) for v in z])
    exact = s * (z * (2 * cdf - 1) + 2 * pdf - 1 / np.sqrt(np.pi))
    draws = np.random.default_rng(0).standard_normal((40000, 1)) * s * np.ones((1, 4))
    assert crps_ensemble(draws, y) == pytest.approx(exact.mean(), rel=0.01)
    assert crps_ensemble(np.zeros((5, 4)), np.zeros(4)) == 0.0  # a point mass at the truth


def test_sliced_wasserstein_of_shifted_gaussians():
    """SW2 between N(0, I) and N(m, I) in D dimensions is |m| / sqrt(D) (mean over directions of (theta.m)^2)."""
    rng = np.random.default_rng(0)
    D = 8
    x, y = rng.standard_normal((2000, D)), rng.standard_normal((3000, D))
    m = np.full(D, 0.5)
    assert sliced_wasserstein(x, y) < 0.05
    assert sliced_wasserstein(x, y + m, n_projections=1000) == pytest.approx(np.linalg.norm(m) / np.sqrt(D), rel=0.1)
    with pytest.raises(DataError, match="dimension"):
        sliced_wasserstein(x, y[:, :3])
