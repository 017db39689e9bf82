"""What storing a source's values as float32 does, checked block by block as a converter copies them.

:func:`check_values` refuses NaN/Inf and values beyond float32's range, naming the samples by their index in the
source; :class:`Rounding` gathers what float32 changed in the other values, said once at the end of a conversion.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from neurops.data.schema import flagged_samples, sample_list
from neurops.errors import DataError, NeuropsWarning


def check_values(block: np.ndarray, lo: int, label: str, field: str, split: str) -> None:
    """NaN/Inf in ``block`` (samples ``lo...`` of the source ``label``), or values beyond float32's range, are an error
    naming the samples by their index in the source, where they are fixed (the writer counts from the split's start)."""
    if block.dtype.kind not in "fc" or block.size == 0:
        return
    where = f"read into {split}/{field}; fields are stored as float32"
    bad = ~np.isfinite(block)
    if bad.any():
        raise DataError(f"{label}: NaN or Inf values in {sample_list(flagged_samples(bad, lo))} of the source "
                        f"(counted from 0), {where} and must be finite: fix or drop those samples at the source, or "
                        "leave them out with n_train / n_val / n_test.")
    big = np.abs(block) > np.finfo(np.float32).max
    if big.any():
        raise DataError(f"{label}: values beyond float32's range (largest magnitude {float(np.abs(block).max()):.4g} > "
                        f"{float(np.finfo(np.float32).max):.4g}) in {sample_list(flagged_samples(big, lo))} of the "
                        f"source (counted from 0), {where}: rescale the field (e.g. other units) before converting it.")


class Rounding:
    """What storing the source's values as float32 changed, per field: the source dtypes, the largest change and the
    largest magnitude (a float64 or a large integer source loses digits; float16 and small integers convert exactly)."""

    def __init__(self) -> None:
        self.fields: dict[str, tuple[set[str], float, float]] = {}

    def add(self, field: str, block: np.ndarray) -> None:
        if block.dtype == np.float32 or block.size == 0:
            return
        dtypes, change, scale = self.fields.get(field, (set(), 0.0, 0.0))
        exact = block.astype(np.float64)
        change = max(change, float(np.abs(exact - block.astype(np.float32).astype(np.float64)).max()))
        self.fields[field] = (dtypes | {str(block.dtype)}, change, max(scale, float(np.abs(exact).max())))

    def report(self, out: str | os.PathLike) -> None:
        """A :class:`~neurops.errors.NeuropsWarning` naming the fields whose values float32 changed, and how much."""
        changed = [f"{field} ({'/'.join(sorted(dtypes))}: largest change {change:.3g}, {change / scale:.3g} of its "
                   "largest magnitude)" for field, (dtypes, change, scale) in self.fields.items() if change > 0]
        if changed:
            warnings.warn(f"{out}: the source values of {', '.join(changed)} were rounded to float32, the type neurops "
                          "stores fields in.", NeuropsWarning, stacklevel=3)
