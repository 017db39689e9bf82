"""Validation of neurops HDF5 files: every problem found, not just the first.

:func:`structure_problems` checks the layout (attributes, splits, fields, dtypes, shapes, links)
without reading the values; every reader runs it on the files it opens. :func:`check_file`
(``neurops data check``) adds a scan of every value for NaN/Inf.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import h5py
import numpy as np

from neurops.data.files import link_problems, open_hdf5
from neurops.data.json_attrs import NONFINITE_ATTR, read_json_attr
from neurops.data.metadata import DatasetMeta
from neurops.data.records import record_kind, record_problems
from neurops.data.schema import (
    GRID_KINDS,
    JSON_ATTRS,
    KIND_GROUPS,
    REQUIRED_ROOT_ATTRS,
    TIME_FIX,
    coord_problem,
    decode_attrs,
    flagged_samples,
    sample_list,
)
from neurops.data.shards import DataPath, is_shard_record, list_files, set_problems
from neurops.errors import SchemaError

_SCAN_BYTES = 64 * 2**20  # scan values for NaN/Inf in blocks of this size


def check_file(path: DataPath) -> list[str]:
    """Return the list of problems of a file, or of a data set of several files (empty: valid).

    Parameters
    ----------
    path : one file; or a folder or list of files holding one data set (each file is checked,
        and that together they are one data set, see :mod:`neurops.data.shards`).

    Raises
    ------
    DataError : a file cannot be opened as HDF5 at all (missing, not HDF5, truncated...).
    """
    files, problems = set_problems(list_files(path))
    if len(files) == 1:
        return _file_problems(files[0])
    for q in files:
        problems += [f"{q.name}: {p}" for p in _file_problems(q)]
    return problems


def _file_problems(path: Path) -> list[str]:
    with open_hdf5(path) as f:
        links = link_problems(f)
        if record_kind(f) is not None:  # observation / posterior files (links included)
            return record_problems(f)
        problems = layout_problems(f, require_train=True) + links
        if not links:  # never read values through a link that leaves the file's folder
            problems += value_problems(f)
    return problems


def structure_problems(f: h5py.File) -> list[str]:
    """Problems of an open file found without reading its values (what every reader checks):
    :func:`layout_problems` and :func:`~neurops.data.files.link_problems`. A file without a
    ``train`` split passes (it can be predicted or evaluated on)."""
    return layout_problems(f) + link_problems(f)


def layout_problems(f: h5py.File, *, require_train: bool = False) -> list[str]:
    """Problems of the layout of an open file: root attributes, splits, fields, dtypes and shapes.

    ``require_train`` (``neurops data check``) also asks for a ``train`` split, except in one shard
    of a generation run and in files of predictions.
    """
    problems = _check_root(f)
    if any("schema_version" in p or "kind" in p for p in problems):
        return problems
    kind = f.attrs["kind"]
    dims = _json(f.attrs.get("dims"))
    dims = dims if isinstance(dims, list) else []
    splits = [k for k in f if isinstance(f.get(k, getlink=True), h5py.HardLink) and isinstance(f[k], h5py.Group)]
    if kind in KIND_GROUPS:
        if not splits:
            problems.append("no splits: expected groups such as 'train' and 'test'")
        elif require_train and "train" not in splits and _needs_train(f):
            problems.append(f"no 'train' split (the file has {splits}): it can be predicted or evaluated on, not "
                            "trained on; regenerate or reconvert it with training samples")
        for split in splits:
            problems += _check_split(f[split], split, kind, dims)
    return problems


def value_problems(f: h5py.File, fields: Iterable[str] | None = None) -> list[str]:
    """NaN/Inf values of an open file, with the samples that hold them (``"test/outputs/u: 2 NaN/Inf values in
    samples [3, 5]"``).

    Every value of those fields is read once, a block of at most 64 MiB at a time, so a split larger than memory
    is scanned in bounded memory (``neurops data check``, and the data modules before a fit).

    Parameters
    ----------
    f : the file.
    fields : the fields to scan, as dataset paths (``"test/outputs/u"``); default: every field of every split.
    """
    if fields is None:
        fields = [ds.name.lstrip("/") for g in f.values() if isinstance(g, h5py.Group)
                  for group in ("inputs", "outputs", "states") if isinstance(g.get(group), h5py.Group)
                  for ds in g[group].values() if isinstance(ds, h5py.Dataset)]
    problems = []
    for name in fields:
        bad, samples, n_samples = _nonfinite(f[name])
        if bad:
            problems.append(f"{name}: {bad} NaN/Inf values in {sample_list(samples, n_samples)}")
    return problems


def _needs_train(f: h5py.File) -> bool:
    """Every data set needs a train split, except one shard of a set and files of predictions."""
    generator = _json(f.attrs.get("generator"))
    return "shard" not in f.attrs and not (isinstance(generator, dict) and "predicted_by" in generator)


def _json(value: object) -> object:
    try:
        return json.loads(value) if isinstance(value, (str, bytes)) else value
    except json.JSONDecodeError:
        return None


def _check_root(f: h5py.File) -> list[str]:
    problems = [f"missing root attribute {a!r}" for a in REQUIRED_ROOT_ATTRS if a not in f.attrs]
    if len(problems) == len(REQUIRED_ROOT_ATTRS):  # one line, not one per attribute, for a file of another format
        return ["not a neurops file: it has none of the root attributes of the neurops schema (schema_version, kind, "
                "...); convert a file of another format with `neurops data convert FORMAT` (see `neurops data "
                "convert --help`)"]
    attrs = decode_attrs(f, keep_invalid=True)
    marks = _json(f.attrs.get(NONFINITE_ATTR, "{}"))  # where the JSON attributes hold null for inf, -inf, nan
    for name in (a for a in JSON_ATTRS if a in f.attrs):
        attrs[name] = _json(f.attrs[name])
        if attrs[name] is None:
            problems.append(f"root attribute {name!r} is not valid JSON")
            continue
        try:
            if isinstance(marks, dict) and name in marks:
                read_json_attr(f, name, None)
        except SchemaError:
            problems.append(f"root attribute {NONFINITE_ATTR!r} does not match attribute {name!r} (it must name the "
                            f"nulls written for its non-finite numbers): rewrite the file with neurops, or delete "
                            f"{NONFINITE_ATTR!r} (those numbers are then read as None)")
    extra = sorted(set(marks) - set(JSON_ATTRS).intersection(f.attrs)) if isinstance(marks, dict) else None
    if extra is None:
        problems.append(f"root attribute {NONFINITE_ATTR!r} is not a JSON object of attribute names: rewrite the file "
                        "with neurops, or delete the attribute (its non-finite numbers are then read as None)")
    elif extra:
        problems.append(f"root attribute {NONFINITE_ATTR!r} names {extra}, which are not JSON attributes of the "
                        "file: rewrite the file with neurops, or delete the attribute")
    if "shard" in attrs and not is_shard_record(attrs["shard"]):
        problems.append("root attribute 'shard' is not a shard record {index, count, samples, split_sizes}")
    return problems + DatasetMeta.problems(attrs)


def _check_split(g: h5py.Group, split: str, kind: str, dims: list[str]) -> list[str]:
    problems: list[str] = []
    coords = g.get("coords")
    sizes = []
    for d in dims:
        if coords is None or d not in coords:
            problems.append(f"{split}: missing coords/{d}")
        else:
            sizes.append(coords[d].shape[0] if coords[d].ndim == 1 else -1)
            if coords[d].ndim != 1:
                problems.append(f"{split}: coords/{d} must be one-dimensional, has shape {coords[d].shape}")
            elif coords[d].dtype.kind not in "fiu":
                problems.append(f"{split}: coords/{d} must hold numbers (float64), has dtype {coords[d].dtype}")
            else:  # coordinates are small: read at every open
                problems += filter(None, [coord_problem(f"{split}: coords/{d}", coords[d][()])])
    spatial = tuple(sizes) if len(sizes) == len(dims) else None
    if spatial is not None and kind in GRID_KINDS and min(spatial, default=2) < 2:
        problems.append(f"{split}: grid {'x'.join(map(str, spatial))} has an axis with fewer than 2 points; operator "
                        "data needs at least 2 points per axis")
    res = tuple(int(r) for r in g.attrs.get("resolution", ()))
    if spatial is not None and res and res != spatial:
        problems.append(f"{split}: resolution attribute {res} disagrees with the coordinates {spatial}")
    expected = spatial
    if kind == "trajectory":
        if "time" not in g:
            problems.append(f"{split}: missing time (required for trajectories)")
            expected = None
        else:
            time = g["time"]
            problems += filter(None, [f"{split}: time must hold numbers (float64), has dtype {time.dtype}"
                                      if time.dtype.kind not in "fiu" else
                                      coord_problem(f"{split}: time", time[()], TIME_FIX)])
            if spatial is not None:
                expected = (time.shape[0] if time.ndim else -1, *spatial)
    n_samples = set()
    for group, required in KIND_GROUPS[kind].items():
        if group not in g:
            if required:
                problems.append(f"{split}: missing group {group!r} (required for kind {kind!r})")
            continue
        if not required:
            problems.append(f"{split}: group {group!r} is not allowed for kind {kind!r}")
        if len(g[group]) == 0:
            problems.append(f"{split}: group {group!r} has no fields")
        for name, ds in g[group].items():
            where = f"{split}/{group}/{name}"
            if not isinstance(ds, h5py.Dataset):
                problems.append(f"{where}: expected a dataset")
                continue
            if ds.dtype != np.float32:
                problems.append(f"{where}: dtype {ds.dtype}, expected float32 (convert the values to float32; "
                                "complex fields as two real fields)")
            if expected is not None and tuple(ds.shape[1:]) != expected:
                problems.append(f"{where}: per-sample shape {tuple(ds.shape[1:])}, expected {expected}")
            n_samples.add(ds.shape[0] if ds.ndim else 0)
    if len(n_samples) > 1:
        problems.append(f"{split}: fields have different sample counts {sorted(n_samples)}")
    elif n_samples == {0}:
        problems.append(f"{split}: no samples (its fields hold 0 samples)")
    return problems


def _nonfinite(ds: h5py.Dataset) -> tuple[int, list[int], int]:
    """NaN/Inf values of ``ds`` ``[N, ...]``, read a block at a time: how many, the first 10 samples holding one, and
    how many samples hold one."""
    if ds.ndim == 0 or ds.size == 0 or ds.dtype.kind not in "fc":
        return 0, [], 0
    per_sample = max(1, int(np.prod(ds.shape[1:])) * ds.dtype.itemsize)
    step = max(1, _SCAN_BYTES // per_sample)
    count, n_samples, first = 0, 0, list[int]()
    for i in range(0, ds.shape[0], step):
        bad = ~np.isfinite(ds[i:i + step])
        rows = flagged_samples(bad, i)
        count, n_samples = count + int(bad.sum()), n_samples + len(rows)
        first += rows[:10 - len(first)]
    return count, first, n_samples
