"""Export a split of a neurops file to an :class:`xarray.Dataset`."""

from __future__ import annotations

import os

import xarray as xr

from neurops.data.reader import list_splits, read_meta, read_split
from neurops.data.records import open_record, record_to_xarray
from neurops.errors import DataError


def to_xarray(path: str | os.PathLike, split: str | None = None) -> xr.Dataset:
    """Load one split as an ``xarray.Dataset`` with coordinates and root attributes.

    Parameters
    ----------
    path : neurops HDF5 file.
    split : split name; default ``"train"`` if present, else the first split.

    Returns
    -------
    Dataset whose variables are the fields, with dims ``("sample", *dims)`` for operator
    data and ``("sample", "time", *dims)`` for trajectories. Input and output fields that
    share a name are prefixed ``input_`` / ``output_``. Observation and posterior files (no
    splits) give the dataset of :func:`neurops.data.records.record_to_xarray`.
    """
    record = open_record(path)
    if record is not None:
        with record:
            return record_to_xarray(record)
    meta = read_meta(path)
    splits = list_splits(path)
    if split is None:
        split = "train" if "train" in splits else splits[0]
    if split not in splits:
        raise DataError(f"{path} has no split {split!r}; it has {splits}.")
    data = read_split(path, split)
    dims = list(meta.dims)
    lead = ["sample", "time"] if meta.kind == "trajectory" else ["sample"]
    clash = set(data["inputs"]) & set(data["outputs"])
    variables = {}
    for group, prefix in (("inputs", "input_"), ("outputs", "output_"), ("states", "")):
        for name, arr in data[group].items():
            key = prefix + name if name in clash else name
            variables[key] = (lead + dims, arr, {"group": group})
    coords = {d: data["coords"][d] for d in dims if d in data["coords"]}
    if data["time"] is not None:
        coords["time"] = data["time"]
    flat = {k: (v if isinstance(v, (str, int, float)) else str(v)) for k, v in meta.attrs().items()}
    return xr.Dataset(variables, coords=coords, attrs={**flat, "split": split})
