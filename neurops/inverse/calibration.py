"""Accuracy and calibration of a posterior over fields.

References
----------
.. [1] T. Gneiting, F. Balabdaoui, A. E. Raftery, "Probabilistic forecasts, calibration and
   sharpness", J. R. Stat. Soc. B 69(2), 243-268 (2007).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import torch

from neurops.errors import DataError
from neurops.metrics.field import relative_lp

__all__ = ["band_coverage", "field_relative_l2"]


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
    return float(np.mean(np.abs(truth - mean) <= z * std))
