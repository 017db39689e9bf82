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


def _as_series(x: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataError(f"{name} must be a series [T, N], got shape {arr.shape}.")
    return arr.astype(np.float64)


__all__ = ["Series"]
