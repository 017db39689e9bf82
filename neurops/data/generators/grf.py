"""Gaussian random fields with covariance ``sigma^2 (-Laplace + tau^2 I)^(-alpha)`` on (0,1)^d.

A field is sampled from its Karhunen-Loeve expansion in the eigenbasis of the Laplacian,

    g(x) = sum_k sqrt(mu_k) xi_k phi_k(x),     mu_k = sigma^2 (lambda_k + tau^2)^(-alpha),

with ``xi_k`` i.i.d. standard normal, ``phi_k`` an L2(0,1)^d-orthonormal eigenbasis of
``-Laplace`` with the chosen boundary condition, and ``lambda_k`` its eigenvalues. The
constant mode (``k = 0``) is left out, so every field has mean zero over the domain, as in
the FNO data generators [1]_. The expansion is truncated to the modes a grid can resolve:

``boundary="neumann"``
    ``phi_k(x) = prod_i c_{k_i} cos(pi k_i x_i)`` (``c_0 = 1``, ``c_k = sqrt 2``),
    ``lambda_k = pi^2 |k|^2``, ``k_i = 0 .. N_i - 1``, evaluated on the *node* grid
    ``x_i = j / (N_i - 1)``, ``j = 0 .. N_i - 1`` (both end points included) by a type-I
    discrete cosine transform. This is the field FNO's Darcy data thresholds [1]_ (FNO
    evaluates the same series at cell centres and spline-interpolates it to the nodes;
    the statistics are the same).
``boundary="periodic"``
    ``phi_k(x) = exp(2 pi i k.x)``, ``lambda_k = 4 pi^2 |k|^2``, ``k_i`` the FFT
    frequencies of ``N_i`` points, evaluated on the periodic grid ``x_i = j / N_i``,
    ``j = 0 .. N_i - 1`` (the end point 1 is the start point 0). Sampled by filtering
    real white noise with an FFT, which gives a real field whose covariance is exactly
    ``C(x, y) = sum_k mu_k cos(2 pi k.(x - y))`` over the grid's frequencies.

Scaling. The default amplitude ``sigma = tau^(alpha - d/2)`` makes the pointwise variance
independent of ``tau`` once ``tau`` is large compared with the lowest wavenumber (``pi`` or
``2 pi``): the sum ``sum_k (lambda_k + tau^2)^(-alpha)`` then approaches the integral
``tau^(d - 2 alpha) Gamma(alpha - d/2) / ((4 pi)^(d/2) Gamma(alpha))`` (periodic case). For
FNO's ``tau = 3`` the lattice sum is smaller than that limit (2-D periodic, alpha = 2:
variance 0.0255 against 1 / (4 pi) = 0.0796). In 2-D it equals FNO's MATLAB Darcy generator ``GRF.m``
(``tau^(alpha-1) (pi^2 |k|^2 + tau^2)^(-alpha/2)`` as the square root of the eigenvalues)
[1]_. FNO's Python ``GaussianRF`` for Navier-Stokes uses the same ``sigma`` but multiplies
the amplitude by an extra ``sqrt(2)``; pass ``sigma=sqrt(2) * tau^(alpha - d/2)`` to match
it. The pointwise variance for a grid is returned by :func:`grf_variance`.

References
----------
.. [1] Z. Li, N. Kovachki, K. Azizzadenesheli, B. Liu, K. Bhattacharya, A. Stuart,
   A. Anandkumar, "Fourier Neural Operator for Parametric Partial Differential
   Equations", ICLR 2021, arXiv:2010.08895 (data generators in the authors' repository).
.. [2] C. E. Rasmussen, C. K. I. Williams, "Gaussian Processes for Machine Learning",
   MIT Press 2006 (Matern-type covariances as inverse powers of ``-Laplace + tau^2``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import scipy.fft

from neurops.errors import ConfigError

GRFBoundary = Literal["neumann", "periodic"]
GRF_BOUNDARIES: tuple[str, ...] = ("neumann", "periodic")


def _check_args(shape: Sequence[int], alpha: float, tau: float, boundary: str) -> tuple[int, ...]:
    if boundary not in GRF_BOUNDARIES:
        raise ConfigError(f"GRF boundary {boundary!r} is unknown; use one of {GRF_BOUNDARIES}.")
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError as err:
        raise TypeError(f"GRF shape must be a sequence of ints such as (64, 64), got {shape!r}.") from err
    if not 1 <= len(shape) <= 3:
        raise ConfigError(f"GRF shape {shape} has {len(shape)} dimensions; 1, 2 or 3 are supported.")
    smallest = 2
    if min(shape) < smallest:
        raise ConfigError(f"GRF shape {shape} has an axis with fewer than {smallest} points; use at least "
                         f"{smallest} per axis.")
    if not alpha > 0 or not tau > 0:
        raise ConfigError(f"GRF needs alpha > 0 and tau > 0, got alpha={alpha}, tau={tau}.")
    return shape


def check_grf_settings(alpha: float, tau: float, sigma: float, what: str = "GRF") -> None:
    """One ``ConfigError`` unless ``alpha > 0``, ``tau > 0`` and ``sigma >= 0``: the GRF settings of a generator's
    config, checked when it is configured (``what`` names the field, e.g. ``"the initial-condition GRF"``)."""
    if not (alpha > 0 and tau > 0 and sigma >= 0):
        raise ConfigError(f"{what} needs alpha > 0, tau > 0, sigma >= 0; got {alpha}, {tau}, {sigma}.")


def grf_default_sigma(alpha: float, tau: float, ndim: int) -> float:
    """The default amplitude ``sigma = tau^(alpha - d/2)`` (see the module docstring)."""
    return float(tau ** (alpha - ndim / 2))


def grf_wavenumbers(shape: Sequence[int], boundary: GRFBoundary = "neumann") -> list[np.ndarray]:
    """Integer wavenumbers per axis of the modes a grid resolves.

    Neumann: ``0 .. N-1`` (cosine modes on the node grid). Periodic: the FFT frequencies
    ``0, 1, .., -1`` of ``N`` points (for the last axis only the non-negative half, as
    used by ``rfftn``).
    """
    if boundary == "neumann":
        return [np.arange(n, dtype=np.float64) for n in shape]
    ks = [np.fft.fftfreq(n, d=1.0 / n) for n in shape[:-1]]
    return ks + [np.fft.rfftfreq(shape[-1], d=1.0 / shape[-1])]


def grf_eigenvalues(
    shape: Sequence[int],
    *,
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float | None = None,
    boundary: GRFBoundary = "neumann",
) -> np.ndarray:
    """Covariance eigenvalues ``mu_k = sigma^2 (lambda_k + tau^2)^(-alpha)`` on the mode grid.

    Parameters
    ----------
    shape : grid points per axis ``(N_1, .., N_d)``.
    alpha, tau : smoothness and inverse length scale of the covariance.
    sigma : amplitude; ``None`` gives ``tau^(alpha - d/2)``.
    boundary : ``"neumann"`` or ``"periodic"`` (see the module docstring).

    Returns
    -------
    mu : [N_1, .., N_d] for Neumann, [N_1, .., N_{d-1}, N_d // 2 + 1] for periodic
        (``rfftn`` layout); the constant mode is 0.
    """
    shape = _check_args(shape, alpha, tau, boundary)
    if sigma is None:
        sigma = grf_default_sigma(alpha, tau, len(shape))
    factor = np.pi**2 if boundary == "neumann" else 4 * np.pi**2
    ks = grf_wavenumbers(shape, boundary)
    k2 = sum(k.reshape([-1 if i == j else 1 for j in range(len(ks))]) ** 2 for i, k in enumerate(ks))
    mu = sigma**2 * (factor * k2 + tau**2) ** (-float(alpha))
    mu.flat[0] = 0.0
    return mu


def grf_variance(
    shape: Sequence[int],
    *,
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float | None = None,
    boundary: GRFBoundary = "periodic",
) -> float:
    """Pointwise variance of the periodic field (the same at every point): ``sum_k mu_k``.

    For Neumann the variance depends on the position (larger near the boundary); only the
    periodic case is a single number, so only it is offered here.
    """
    if boundary != "periodic":
        raise ConfigError("grf_variance is defined for boundary='periodic' only (the Neumann field's "
                         "variance depends on the position).")
    mu = grf_eigenvalues(shape, alpha=alpha, tau=tau, sigma=sigma, boundary="periodic")
    # the rfft half-spectrum holds each +k/-k pair once, except the k_d = 0 (and Nyquist) planes
    weights = np.full(mu.shape[-1], 2.0)
    weights[0] = 1.0
    if shape[-1] % 2 == 0:
        weights[-1] = 1.0
    return float((mu * weights).sum())


def gaussian_random_field(
    shape: Sequence[int],
    rng: np.random.Generator,
    *,
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float | None = None,
    boundary: GRFBoundary = "neumann",
    n_samples: int | None = None,
) -> np.ndarray:
    """Sample a Gaussian random field with covariance ``sigma^2 (-Laplace + tau^2)^(-alpha)``.

    Parameters
    ----------
    shape : grid points per axis ``(N_1, .., N_d)``, d in 1..3, every ``N_i >= 2``.
        Neumann fields live on the node grid ``j / (N_i - 1)`` (end points included),
        periodic ones on ``j / N_i``.
    rng : the random generator (the only source of randomness; same state, same field).
    alpha : smoothness exponent (> d/2 for a continuous field; FNO Darcy: 2).
    tau : inverse correlation length (FNO Darcy: 3).
    sigma : amplitude; ``None`` gives ``tau^(alpha - d/2)``.
    boundary : ``"neumann"`` (cosine basis) or ``"periodic"`` (Fourier basis).
    n_samples : ``None`` for one field, else the number of fields.

    Returns
    -------
    field : float64 [*shape] or [n_samples, *shape], mean zero over the domain.

    References
    ----------
    .. [1] Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
       Equations", ICLR 2021, arXiv:2010.08895.

    Examples
    --------
    >>> g = gaussian_random_field((65, 65), np.random.default_rng(0), alpha=2, tau=3)
    >>> g.shape
    (65, 65)
    """
    shape = _check_args(shape, alpha, tau, boundary)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}.")
    batch = () if n_samples is None else (int(n_samples),)
    mu = grf_eigenvalues(shape, alpha=alpha, tau=tau, sigma=sigma, boundary=boundary)
    axes = tuple(range(len(batch), len(batch) + len(shape)))
    if boundary == "periodic":
        noise = rng.standard_normal(batch + shape)
        spectrum = scipy.fft.rfftn(noise, axes=axes) * np.sqrt(mu)
        return scipy.fft.irfftn(spectrum, s=shape, axes=axes) * np.sqrt(np.prod(shape))
    # Neumann: coefficients b_k = sqrt(mu_k) xi_k prod_i c_{k_i}, summed by DCT-I along each axis.
    # DCT-I gives y_j = x_0 + (-1)^j x_{N-1} + 2 sum_{0<k<N-1} x_k cos(pi k j / (N-1)), so the
    # inner coefficients are halved: per-axis weight c_k * w_k = 1, sqrt(2)/2, .., sqrt(2)/2, sqrt(2).
    coeffs = rng.standard_normal(batch + shape) * np.sqrt(mu)
    for axis, n in zip(axes, shape):
        w = np.full(n, np.sqrt(2.0) / 2)
        w[0], w[-1] = 1.0, np.sqrt(2.0)
        coeffs = coeffs * w.reshape([-1 if a == axis else 1 for a in range(coeffs.ndim)])
    return scipy.fft.dctn(coeffs, type=1, axes=axes)
