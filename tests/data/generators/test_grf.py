"""Gaussian random fields: shapes, determinism, the basis, and the covariance they realise."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from neurops.data.generators.grf import (
    gaussian_random_field,
    grf_default_sigma,
    grf_eigenvalues,
    grf_variance,
)


@pytest.mark.parametrize("boundary", ["neumann", "periodic"])
@pytest.mark.parametrize("shape", [(17,), (9, 12), (5, 6, 7)])
def test_shapes_and_dtype(shape, boundary):
    rng = np.random.default_rng(0)
    one = gaussian_random_field(shape, rng, boundary=boundary)
    many = gaussian_random_field(shape, rng, boundary=boundary, n_samples=3)
    assert one.shape == shape and one.dtype == np.float64
    assert many.shape == (3, *shape)
    assert np.isfinite(many).all()


@pytest.mark.parametrize("boundary", ["neumann", "periodic"])
def test_same_seed_same_field(boundary):
    a = gaussian_random_field((16, 16), np.random.default_rng(7), boundary=boundary)
    b = gaussian_random_field((16, 16), np.random.default_rng(7), boundary=boundary)
    c = gaussian_random_field((16, 16), np.random.default_rng(8), boundary=boundary)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def _neumann_basis(n: int) -> np.ndarray:
    """[n_nodes, n_modes] orthonormal cosines c_k cos(pi k x) on the node grid x = j/(n-1)."""
    x = np.arange(n) / (n - 1)
    k = np.arange(n)
    return np.where(k == 0, 1.0, np.sqrt(2.0)) * np.cos(np.pi * np.outer(x, k))


def test_neumann_field_is_the_cosine_series():
    """The DCT path equals the Karhunen-Loeve sum written out term by term (2-D)."""
    shape, alpha, tau = (6, 9), 2.0, 3.0
    field = gaussian_random_field(shape, np.random.default_rng(3), alpha=alpha, tau=tau)
    xi = np.random.default_rng(3).standard_normal(shape)  # the same draws
    sigma = tau ** (alpha - 1)
    k1, k2 = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    mu = sigma**2 * (np.pi**2 * (k1**2 + k2**2) + tau**2) ** (-alpha)
    mu[0, 0] = 0.0
    expected = _neumann_basis(shape[0]) @ (np.sqrt(mu) * xi) @ _neumann_basis(shape[1]).T
    np.testing.assert_allclose(field, expected, atol=1e-13)


def test_neumann_covariance_matches_the_operator():
    """1-D: the empirical covariance over many samples equals Phi diag(mu) Phi^T."""
    n, alpha, tau = 9, 1.5, 2.0
    samples = gaussian_random_field((n,), np.random.default_rng(11), alpha=alpha, tau=tau, n_samples=40_000)
    k = np.arange(n)
    mu = grf_default_sigma(alpha, tau, 1) ** 2 * (np.pi**2 * k**2 + tau**2) ** (-alpha)
    mu[0] = 0.0
    phi = _neumann_basis(n)
    target = phi @ np.diag(mu) @ phi.T
    empirical = np.cov(samples, rowvar=False)
    assert np.linalg.norm(empirical - target) / np.linalg.norm(target) < 0.03


def test_periodic_spectrum_matches_the_operator():
    """2-D: the mean periodogram |FFT(g)|^2 / N^2 equals sigma^2 (4 pi^2 |k|^2 + tau^2)^(-alpha)."""
    shape, alpha, tau = (8, 8), 2.0, 3.0
    g = gaussian_random_field(shape, np.random.default_rng(5), alpha=alpha, tau=tau, boundary="periodic",
                              n_samples=8000)
    power = (np.abs(np.fft.fftn(g, axes=(1, 2))) ** 2).mean(0) / np.prod(shape) ** 2
    k = np.fft.fftfreq(8, d=1 / 8)
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    target = tau ** (2 * alpha - 2) * (4 * np.pi**2 * k2 + tau**2) ** (-alpha)
    target[0, 0] = 0.0
    assert power[0, 0] < 1e-20  # the constant mode is removed: every sample has mean zero
    rel = np.abs(power - target)[k2 > 0] / target[k2 > 0]
    assert rel.mean() < 0.03 and rel.max() < 0.12


def test_periodic_pointwise_variance():
    shape = (16, 12)
    g = gaussian_random_field(shape, np.random.default_rng(1), boundary="periodic", n_samples=4000)
    assert g.var() == pytest.approx(grf_variance(shape), rel=0.03)


def test_periodic_field_is_stationary_and_wraps():
    """Covariance depends on the lag only, including lags across the periodic boundary."""
    g = gaussian_random_field((32,), np.random.default_rng(2), alpha=2.0, tau=5.0, boundary="periodic",
                              n_samples=20_000)
    cov_inner = np.mean(g[:, 10] * g[:, 13])
    cov_wrap = np.mean(g[:, 30] * g[:, 1])  # lag 3 across x = 1 ~ 0
    assert cov_wrap == pytest.approx(cov_inner, rel=0.05)


def test_default_sigma_matches_fno_scaling_in_2d():
    """FNO's GRF.m uses tau^(alpha-1) (pi^2 |k|^2 + tau^2)^(-alpha/2) as sqrt-eigenvalues in 2-D."""
    mu = grf_eigenvalues((4, 4), alpha=2.0, tau=3.0)
    for k1, k2 in itertools.product(range(4), range(4)):
        if k1 or k2:
            fno = 3.0 ** (2 - 1) * (np.pi**2 * (k1**2 + k2**2) + 9.0) ** (-1.0)
            assert np.sqrt(mu[k1, k2]) == pytest.approx(fno)


@pytest.mark.parametrize(("shape", "alpha"), [((4096,), 1.0), ((512, 512), 2.0)])
def test_variance_tends_to_the_continuum_value_independent_of_tau(shape, alpha):
    """sigma = tau^(alpha - d/2) makes the variance -> Gamma(alpha - d/2) / ((4 pi)^(d/2) Gamma(alpha)).

    That limit (the integral over R^d of the spectral density) is reached once tau is large
    compared with the lowest wavenumber 2 pi, and does not depend on tau.
    """
    d = len(shape)
    limit = math.gamma(alpha - d / 2) / ((4 * math.pi) ** (d / 2) * math.gamma(alpha))
    v50, v100 = (grf_variance(shape, alpha=alpha, tau=tau) for tau in (50.0, 100.0))
    assert v50 == pytest.approx(limit, rel=0.05)
    assert v100 == pytest.approx(limit, rel=0.03)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"shape": (8, 8), "boundary": "dirichlet"}, ValueError, "boundary"),
        ({"shape": (4, 4, 4, 4)}, ValueError, "dimensions"),
        ({"shape": (1, 8)}, ValueError, "fewer than 2"),
        ({"shape": (8, 8), "alpha": -1.0}, ValueError, "alpha > 0"),
        ({"shape": 8}, TypeError, "sequence of ints"),
    ],
)
def test_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        gaussian_random_field(rng=np.random.default_rng(0), **kwargs)


def test_rng_must_be_a_generator():
    with pytest.raises(TypeError, match="default_rng"):
        gaussian_random_field((8, 8), 0)  # type: ignore[arg-type]
