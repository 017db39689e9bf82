"""``D_H``: Hellinger distance of the smoothed power spectra of two series (long-term temporal structure),
and the significant periods of a series' periodogram (what a D_H gap is made of).

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


#: a Gaussian wider than this fraction of a spectrum's ``T // 2 + 1`` frequency bins blurs it into its overall shape
#: (20 bins of a 72-point series' 37), so that D_H separates little
MAX_SMOOTHING_FRACTION = 0.02


def smoothing_blurs(n_points: int, smoothing: float) -> bool:
    """Whether ``smoothing`` (frequency bins) blurs the spectrum of ``n_points`` points into its overall shape."""
    return smoothing > MAX_SMOOTHING_FRACTION * (n_points // 2 + 1)


def shortest_unblurred(smoothing: float) -> int:
    """The fewest points whose spectrum ``smoothing`` does not blur (:func:`smoothing_blurs`; 1998 for 20 bins)."""
    n = max(2 * math.ceil(smoothing / MAX_SMOOTHING_FRACTION) - 2, 1)
    while smoothing_blurs(n, smoothing):
        n += 1
    while n > 1 and not smoothing_blurs(n - 1, smoothing):
        n -= 1
    return n


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


#: the false-alarm probability of :func:`dominant_periods`: the chance that a noise spectrum shows any period
PERIOD_FALSE_ALARM = 0.01
#: the largest half-width (in frequency bins) of the running median that is a peak's noise background
_BACKGROUND_HALF_WIDTH = 50


def _peak_p_value(ratio: float, half_width: int) -> float:
    """The chance that a noise bin exceeds ``ratio`` times the median of the ``2 h + 1`` bins around it.

    Noise periodogram bins are ``S E`` with ``E ~ Exp(1)`` (chi^2 with 2 degrees of freedom / 2); the median
    of ``w = 2 h + 1`` of them is ``S M`` with ``M = sum_{i < h + 1} E_i / (w - i)`` (Renyi), so
    ``P(E > c M) = E[exp(-c M)] = prod_{i < h + 1} (w - i) / (w - i + c)``: exact for a background estimated
    from as few bins as there are, rather than the ``exp(-c)`` of a known one.
    """
    w = 2 * half_width + 1
    i = np.arange(half_width + 1)
    return float(np.exp(np.sum(np.log(w - i) - np.log(w - i + ratio))))


def dominant_periods(x: Series, n_peaks: int = 3, *,
                     false_alarm: float = PERIOD_FALSE_ALARM) -> list[tuple[float, float]]:
    """The significant peaks of a series' periodogram, as periods, strongest first.

    The periodogram is ``|rfft|^2`` of each z-scored, Hann-tapered dimension, averaged over the
    dimensions, and not smoothed (smoothing over 10-20 bins moved a 150-step period of a
    3000-point series to 430-500 steps and listed noise ripples as periods). A local maximum
    at bin ``k`` is a period ``T / k`` (refined between bins, and its power, by a parabola through the log powers)
    only when it stands out of the noise around it: its power against the median of the
    ``2 h + 1`` bins centred on it (``h = min(k - 1, 50)``, so a sloping background is followed)
    must have a p-value (:func:`_peak_p_value`) below ``1 - (1 - false_alarm)^(1 / M)`` over
    the ``M`` bins tested, so that a noise spectrum, white or red, shows any period with
    probability at most ``false_alarm``. Peaks within 2 bins of a stronger one (the Hann main
    lobe) are the same peak. A period needs a few cycles in the series to be found: at bin
    ``k < 5`` the background rests on fewer than 9 bins.

    Parameters
    ----------
    x : [T, N] series (finite).
    n_peaks : at most this many periods.
    false_alarm : the chance that a series without a period (noise) gets one (0.01).

    Returns
    -------
    ``[(period in steps, power relative to the strongest peak), ...]``, at most ``n_peaks``,
    strongest first; empty when no peak is significant (a noise-like spectrum, or a constant series).
    """
    if n_peaks < 1:
        raise DataError(f"n_peaks must be >= 1, got {n_peaks}.")
    if not 0 < false_alarm < 1:
        raise ConfigError(f"false_alarm={false_alarm}: it is a probability; use 0 < false_alarm < 1 (0.01: 1 %).")
    arr = _as_series(x, "x")
    if not np.isfinite(arr).all():
        raise DataError("dominant_periods needs a finite series (a diverged orbit has no spectrum).")
    t = len(arr)
    std = arr.std(axis=0)
    z = (arr - arr.mean(axis=0)) / np.where(std > 0, std, 1.0)
    spec = (np.abs(np.fft.rfft(z * np.hanning(t)[:, None], axis=0)) ** 2).mean(axis=1)  # [T // 2 + 1]
    m = len(spec) - 2  # bins 1 .. T // 2 - (1 or 0) are tested; 0 (the mean) and the last have one neighbour
    k = np.arange(1, m + 1)
    if m < 1 or not spec[k].any():
        return []
    local = k[(spec[k] > spec[k - 1]) & (spec[k] >= spec[k + 1])]
    half = np.minimum(np.minimum(local - 1, m - local), _BACKGROUND_HALF_WIDTH)
    alpha = -math.expm1(math.log1p(-false_alarm) / m)  # per bin: 1 - (1 - false_alarm)^(1/M)
    found = []
    for j, h in zip(local.tolist(), half.tolist()):
        background = float(np.median(spec[j - h: j + h + 1]))
        ratio = spec[j] / background if background > 0 else math.inf
        # p >= exp(-c E[M]) >= exp(-c) (Jensen; E[M] <= 1): only a ratio above -log(alpha) can be significant
        if h > 0 and ratio > -math.log(alpha) and _peak_p_value(ratio, h) < alpha:
            found.append(j)
    kept: list[int] = []
    for j in sorted(found, key=lambda j: -spec[j]):
        if all(abs(j - i) > 2 for i in kept):
            kept.append(j)
    peaks = []  # (bin, power) at the top of a parabola through the log powers of the peak's bin and neighbours
    for j in kept:
        la, lb, lc = np.log(np.maximum(spec[j - 1: j + 2], 1e-300))
        shift = float(0.5 * (la - lc) / (la - 2 * lb + lc)) if la - 2 * lb + lc < 0 else 0.0
        peaks.append((j + shift, math.exp(lb - 0.25 * (la - lc) * shift)))
    peaks = sorted(peaks, key=lambda peak: -peak[1])[:n_peaks]
    return [(t / f, power / peaks[0][1]) for f, power in peaks]


__all__ = ["MAX_SMOOTHING_FRACTION", "PERIOD_FALSE_ALARM", "check_smoothing", "dominant_periods", "hellinger_distance",
           "power_spectra", "shortest_unblurred", "smoothing_blurs"]
