"""Accuracy and calibration of a posterior over fields, and distances between sample sets.

References
----------
.. [1] T. Gneiting, F. Balabdaoui, A. E. Raftery, "Probabilistic forecasts, calibration and
   sharpness", J. R. Stat. Soc. B 69(2), 243-268 (2007).
.. [2] T. Gneiting, A. E. Raftery, "Strictly proper scoring rules, prediction, and estimation",
   J. Am. Stat. Assoc. 102(477), 359-378 (2007) (CRPS of an ensemble).
.. [3] N. Bonneel, J. Rabin, G. Peyre, H. Pfister, "Sliced and Radon Wasserstein barycenters of
   measures", J. Math. Imaging Vision 51, 22-45 (2015).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import torch

from neurops.errors import DataError
from neurops.metrics.field import relative_lp

__all__ = ["band_coverage", "crps_ensemble", "field_relative_l2", "interval_coverage", "sliced_wasserstein"]


def field_relative_l2(pred: np.ndarray, truth: np.ndarray) -> float:
    """Relative L2 error ``||pred - truth|| / ||truth||`` of two fields ``[*spatial]``."""
    if pred.shape != truth.shape:
        raise DataError(f"prediction shape {pred.shape} differs from the true field's {truth.shape}.")
    to = lambda x: torch.as_tensor(np.asarray(x, dtype=np.float64))[None, None]  # noqa: E731
    return float(relative_lp(to(pred), to(truth)))


def band_coverage(truth: np.ndarray, mean: np.ndarray, std: np.ndarray, level: float = 0.95) -> float:
    """Fraction of grid points where the truth lies in the central ``level`` band ``mean +- z std``.

    ``z`` is the standard-normal quantile of ``(1 + level) / 2`` (1.96 for 95%). A calibrated
    posterior covers about ``level`` of the points [1]_; much less means over-confidence.

    Parameters
    ----------
    truth, mean, std : [*spatial] fields of equal shape.
    level : nominal coverage in (0, 1).
    """
    if not 0 < level < 1:
        raise DataError(f"level must be in (0, 1), got {level}.")
    if not truth.shape == mean.shape == std.shape:
        raise DataError(f"truth, mean and std must have equal shapes, got {truth.shape}, {mean.shape}, {std.shape}.")
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return interval_coverage(truth, mean - z * std, mean + z * std)


def interval_coverage(truth: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Fraction of points with ``lower <= truth <= upper`` (e.g. the 2.5 % and 97.5 % posterior quantiles)."""
    if not truth.shape == lower.shape == upper.shape:
        raise DataError(f"truth, lower and upper must have equal shapes, got {truth.shape}, {lower.shape}, "
                        f"{upper.shape}.")
    return float(np.mean((truth >= lower) & (truth <= upper)))


def crps_ensemble(samples: np.ndarray, truth: np.ndarray) -> float:
    """Continuous ranked probability score of an ensemble, averaged over points [2]_.

    ``CRPS = E|X - y| - E|X - X'| / 2`` with ``X, X'`` independent draws of the ensemble; lower is
    better, 0 for a point mass at the truth, in the units of the field.

    Parameters
    ----------
    samples : [S, *spatial] posterior draws.
    truth : [*spatial]
    """
    x = np.sort(np.asarray(samples, dtype=np.float64).reshape(samples.shape[0], -1), axis=0)
    y = np.asarray(truth, dtype=np.float64).reshape(-1)
    if x.shape[1] != y.size:
        raise DataError(f"samples of shape {samples.shape} do not match the truth's shape {truth.shape}.")
    s = x.shape[0]
    first = np.abs(x - y).mean(axis=0)
    # E|X - X'| = 2 / S^2 sum_i (2 i - S - 1) x_(i) over the sorted draws (i = 1..S)
    weights = (2 * np.arange(1, s + 1) - s - 1)[:, None]
    spread = 2.0 * (weights * x).sum(axis=0) / s**2
    return float(np.mean(first - 0.5 * spread))


def sliced_wasserstein(x: np.ndarray, y: np.ndarray, n_projections: int = 200, seed: int = 0) -> float:
    """Sliced 2-Wasserstein distance between two sample sets [3]_.

    The mean over random unit directions ``theta`` of the squared 2-Wasserstein distance between
    the projections ``<x_i, theta>`` and ``<y_j, theta>`` (1-D: compared through their quantile
    functions on a common grid), square-rooted. The directions are drawn from ``seed``, so two
    methods compared against one reference see the same directions.

    Parameters
    ----------
    x : [S1, D] and y : [S2, D] samples (fields flattened).
    n_projections : directions.
    seed : seed of the directions.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    if x.shape[1] != y.shape[1]:
        raise DataError(f"sample sets of dimension {x.shape[1]} and {y.shape[1]} cannot be compared.")
    theta = np.random.default_rng(seed).standard_normal((x.shape[1], n_projections))
    theta /= np.linalg.norm(theta, axis=0, keepdims=True)
    n = max(len(x), len(y))
    qx, qy = (_quantile_function(np.sort(z @ theta, axis=0), n) for z in (x, y))
    return float(np.sqrt(np.mean((qx - qy) ** 2)))


def _quantile_function(sorted_values: np.ndarray, n: int) -> np.ndarray:
    """Values ``[S, K]`` (sorted along axis 0) at the ``n`` levels ``(i + 1/2) / n`` (linear interpolation)."""
    s = sorted_values.shape[0]
    if s == n:
        return sorted_values
    pos = np.clip((np.arange(n) + 0.5) / n * s - 0.5, 0, s - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, s - 1)
    w = (pos - lo)[:, None]
    return (1 - w) * sorted_values[lo] + w * sorted_values[hi]
