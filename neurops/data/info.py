"""Human-readable summary of a neurops HDF5 file (``neurops data info``)."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np

from neurops.data.reader import list_splits, open_h5, read_meta
from neurops.data.records import open_record, record_summary
from neurops.data.schema import flagged_samples, sample_list

_RANGE_SAMPLES = 64  # value ranges are estimated from at most this many samples per field


def summarize(path: str | os.PathLike) -> str:
    """Fields, shapes, splits, resolutions, parameters and value ranges of a file."""
    record = open_record(path)
    if record is not None:  # observation / posterior files
        with record:
            return "\n".join(record_summary(record))
    lines = []
    with open_h5(path) as f:
        meta = read_meta(f)
        lines.append(f"{path}: neurops schema v{meta.schema_version}, kind {meta.kind}, "
                     f"name {meta.name!r}, written by neurops {meta.neurops_version}, "
                     f"seed {-1 if meta.seed is None else meta.seed}")
        lines.append(f"  dims: {list(meta.dims)}  boundary: {meta.boundary}")
        if meta.parameters:
            lines.append(f"  parameters: {json.dumps(meta.parameters)}")
        for split in list_splits(f):
            g = f[split]
            res = "x".join(str(int(r)) for r in g.attrs.get("resolution", ()))
            lines.append(f"  split {split!r} (resolution {res or '-'})")
            if "time" in g:
                t = g["time"]
                lines.append(f"    time: {t.shape[0]} steps, {t[0]:.4g} .. {t[-1]:.4g}")
            for group in ("inputs", "outputs", "states"):
                if group not in g:
                    continue
                for name, ds in g[group].items():
                    lines.append(f"    {group}/{name}: shape {tuple(ds.shape)} {ds.dtype}, "
                                 + _values(ds[: min(_RANGE_SAMPLES, ds.shape[0])], ds.shape[0] > _RANGE_SAMPLES, path))
    return "\n".join(lines)


def _values(sample: np.ndarray, partial: bool, path: str | os.PathLike) -> str:
    """Range and mean of the finite values of ``sample`` (the first samples of a field, ``partial`` if not all), and
    the samples among them that hold NaN/Inf."""
    finite = np.isfinite(sample)
    text = (f"range [{sample[finite].min():.4g}, {sample[finite].max():.4g}], mean {sample[finite].mean():.4g}"
            if finite.any() else "no finite value")
    text += " (range over first samples)" if partial else ""
    if finite.all():
        return text
    return (f"{text}; {int((~finite).sum())} NaN/Inf values in {sample_list(flagged_samples(~finite))}, left out of "
            f"the range: the readers refuse them (`neurops data check {path}` scans every sample)")


def is_neurops_file(path: str | os.PathLike) -> bool:
    """True if ``path`` is HDF5 with a neurops schema version attribute."""
    try:
        with h5py.File(path, "r") as f:
            return "schema_version" in f.attrs
    except OSError:
        return False
