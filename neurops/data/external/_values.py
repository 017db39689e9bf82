"""What storing a source's values as float32 does, checked block by block as a converter copies them.

:func:`check_values` refuses NaN/Inf and values beyond float32's range, naming the samples by their index in the
source; what float32 changed in the other values is said once at the end of a conversion by the writer
(:class:`~neurops.data.writer.Rounding`).
"""

from __future__ import annotations

import numpy as np

from neurops.data.schema import flagged_samples, sample_list
from neurops.errors import DataError


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
