"""The series ``[T, N]`` the DSR metrics take, and their conversion to a float64 numpy array."""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from neurops.errors import DataError

#: a series ``[T, N]`` (one variable may come as ``[T]``). Dims with a leading ``_`` are checked by the
#: functions themselves, with an error that names the problem (jaxtyping leaves them alone).
Series = Float[np.ndarray, "_time *_var"] | Float[Tensor, "_time *_var"]


def _as_series(x: np.ndarray | torch.Tensor, name: str, *, finite: bool = False) -> np.ndarray:
    """``x`` as a float64 ``[T, N]`` array (``[T]`` becomes ``[T, 1]``); one ``DataError`` for another shape, an empty
    series, or (``finite``: a data series, not a model orbit that may have diverged) NaN or Inf values."""
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataError(f"{name} must be a series [T, N], got shape {arr.shape}.")
    if arr.size == 0:
        raise DataError(f"{name} is empty (shape {arr.shape}); a series needs at least one point of one variable.")
    arr = arr.astype(np.float64)
    if finite and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise DataError(f"{name} has NaN or Inf values in {bad} of its {len(arr)} time steps; a data series must be "
                        "finite (interpolate or drop those steps).")
    return arr


__all__ = ["Series"]
