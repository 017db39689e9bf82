"""``D_H``: Hellinger distance of the smoothed power spectra of two series (long-term temporal structure).

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

from neurops.errors import DataError
from neurops.metrics._series import Series, _as_series


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
    p, q = _as_series(x_true, "x_true"), _as_series(x_gen, "x_gen")
    if p.shape != q.shape:
        raise DataError(f"D_H compares series of equal shape; got {p.shape} and {q.shape} (cut both to the "
                         "same length T).")
    sp, sq = power_spectra(p, smoothing), power_spectra(q, smoothing)
    h = np.sqrt(np.sum((np.sqrt(sp) - np.sqrt(sq)) ** 2, axis=-1)) / math.sqrt(2.0)
    return float(np.mean(h))


__all__ = ["hellinger_distance", "power_spectra"]
