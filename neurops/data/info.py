"""Human-readable summary of a neurops HDF5 file (``neurops data info``)."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np

from neurops.data.reader import list_splits, open_h5, read_meta
from neurops.data.records import open_record, record_summary

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
                    sample = ds[: min(_RANGE_SAMPLES, ds.shape[0])]
                    lines.append(f"    {group}/{name}: shape {tuple(ds.shape)} {ds.dtype}, "
                                 f"range [{np.nanmin(sample):.4g}, {np.nanmax(sample):.4g}], "
                                 f"mean {np.nanmean(sample):.4g}"
                                 + (" (range over first samples)" if ds.shape[0] > _RANGE_SAMPLES else ""))
    return "\n".join(lines)


def is_neurops_file(path: str | os.PathLike) -> bool:
    """True if ``path`` is HDF5 with a neurops schema version attribute."""
    try:
        with h5py.File(path, "r") as f:
            return "schema_version" in f.attrs
    except OSError:
        return False
