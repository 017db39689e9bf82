"""``D_H``: Hellinger distance of the smoothed power spectra of two series (long-term temporal structure),
and the dominant periods of those spectra (what a D_H gap is made of).

References
----------
.. [1] Mikhaeil, J. M., Monfared, Z., Durstewitz, D. (2022). On the difficulty of learning
   chaotic dynamics with RNNs. NeurIPS 2022 (D_H).
"""

from __future__ import annotations

import math

import numpy as np
from jaxtyping import Float
from scipy.ndimage import gaussian_filter1d

from neurops.errors import ConfigError, DataError
from neurops.metrics._series import Series, _as_series


def check_smoothing(smoothing: float) -> float:
    """``smoothing`` (the Gaussian width of the spectra, in frequency bins), refused unless it is >= 0 (also NaN)."""
    if not smoothing >= 0:
        raise ConfigError(f"smoothing={smoothing}: the spectral smoothing is a width in frequency bins; use "
                          "smoothing >= 0 (0: none).")
    return smoothing


def power_spectra(x: Series, smoothing: float = 20.0) -> Float[np.ndarray, "var freq"]:
    """Normalised, Gaussian-smoothed power spectra per dimension.

    Each dimension is z-scored; ``|rfft|^2`` is smoothed with a Gaussian kernel of
    ``smoothing`` frequency bins (scipy ``gaussian_filter1d``), clipped at 0 and normalised
    to sum 1.

    Parameters
    ----------
    x : [T, N] series.

    Returns
    -------
    spectra : [N, T // 2 + 1].
    """
    check_smoothing(smoothing)
    arr = _as_series(x, "x")
    std = arr.std(axis=0)
    z = (arr - arr.mean(axis=0)) / np.where(std > 0, std, 1.0)
    spec = np.abs(np.fft.rfft(z, axis=0)).T ** 2
    if smoothing > 0:
        spec = gaussian_filter1d(spec, smoothing, axis=-1)
    spec = np.clip(spec, 0.0, None)
    total = spec.sum(axis=-1, keepdims=True)
    return spec / np.where(total > 0, total, 1.0)


def hellinger_distance(x_true: Series, x_gen: Series, *,
                       smoothing: float = 20.0) -> float:
    """``D_H``: Hellinger distance of the smoothed power spectra, averaged over dimensions.

    ``H(p, q) = ||sqrt(p) - sqrt(q)||_2 / sqrt(2)`` in [0, 1] per dimension, with the spectra
    of :func:`power_spectra`. Invariant to offsets, rescaling and time shifts of a series.

    Parameters
    ----------
    x_true, x_gen : [T, N] series of equal length.

    References
    ----------
    Mikhaeil et al. (2022), NeurIPS; Hess et al. (2023), ICML.
    """
    p, q = _as_series(x_true, "x_true", finite=True), _as_series(x_gen, "x_gen")
    if p.shape != q.shape:
        raise DataError(f"D_H compares series of equal shape; got {p.shape} and {q.shape} (cut both to the "
                         "same length T).")
    sp, sq = power_spectra(p, smoothing), power_spectra(q, smoothing)
    h = np.sqrt(np.sum((np.sqrt(sp) - np.sqrt(sq)) ** 2, axis=-1)) / math.sqrt(2.0)
    return float(np.mean(h))


def dominant_periods(x: Series, n_peaks: int = 3, *, smoothing: float = 20.0) -> list[tuple[float, float]]:
    """The strongest peaks of a series' smoothed power spectrum, as periods.

    The spectrum is the mean over dimensions of :func:`power_spectra` (the spectra D_H
    compares); a peak is a local maximum at frequency bin ``k >= 1`` of ``T // 2 + 1``, and its
    period is ``T / k`` steps. A model whose orbit lacks a data peak, or puts its power at
    another period, shows it here (e.g. a slow modulation longer than the training windows).

    Parameters
    ----------
    x : [T, N] series (finite).
    n_peaks : how many peaks, strongest first.
    smoothing : Gaussian smoothing in frequency bins (20, as D_H).

    Returns
    -------
    ``[(period in steps, power relative to the strongest peak), ...]``, at most ``n_peaks``,
    strongest first; empty if the spectrum has no peak (a constant series).
    """
    if n_peaks < 1:
        raise DataError(f"n_peaks must be >= 1, got {n_peaks}.")
    arr = _as_series(x, "x")
    if not np.isfinite(arr).all():
        raise DataError("dominant_periods needs a finite series (a diverged orbit has no spectrum).")
    spec = power_spectra(arr, smoothing).mean(axis=0)  # [T // 2 + 1]
    k = np.arange(1, len(spec) - 1)
    peaks = k[(spec[k] > spec[k - 1]) & (spec[k] >= spec[k + 1])]
    peaks = peaks[np.argsort(-spec[peaks], kind="stable")][:n_peaks]
    if not len(peaks):  # a peak rises above its neighbour, so its power is > 0
        return []
    return [(len(arr) / float(j), float(spec[j] / spec[peaks[0]])) for j in peaks]


__all__ = ["check_smoothing", "dominant_periods", "hellinger_distance", "power_spectra"]
