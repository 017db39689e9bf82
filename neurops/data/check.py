"""Validation of neurops HDF5 files: every problem found, not just the first."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from neurops.data.schema import (
    BOUNDARY_TYPES, JSON_ATTRS, KIND_GROUPS, KINDS, REQUIRED_ROOT_ATTRS, SUPPORTED_VERSIONS,
)

_SCAN_BYTES = 64 * 2**20  # scan values for NaN/Inf in blocks of this size


def check_file(path: str | os.PathLike) -> list[str]:
    """Return the list of problems in a file (empty for a valid file)."""
    path = Path(path)
    if not path.exists():
        return [f"{path}: file does not exist"]
    if not h5py.is_hdf5(path):
        return [f"{path}: not an HDF5 file"]
    with h5py.File(path, "r") as f:
        problems = _check_root(f)
        if problems and any("schema_version" in p or "kind" in p for p in problems):
            return problems
        kind = f.attrs["kind"]
        dims = _json(f.attrs.get("dims")) or []
        splits = [k for k in f if isinstance(f[k], h5py.Group)]
        if not splits:
            problems.append("no splits: expected groups such as 'train' and 'test'")
        for split in splits:
            problems += _check_split(f[split], split, kind, dims)
    return problems


def _json(value: object) -> object:
    try:
        return json.loads(value) if isinstance(value, (str, bytes)) else value
    except json.JSONDecodeError:
        return None


def _check_root(f: h5py.File) -> list[str]:
    problems = [f"missing root attribute {a!r}" for a in REQUIRED_ROOT_ATTRS if a not in f.attrs]
    if "schema_version" in f.attrs and int(f.attrs["schema_version"]) not in SUPPORTED_VERSIONS:
        problems.append(f"unknown schema_version {int(f.attrs['schema_version'])} "
                        f"(supported: {list(SUPPORTED_VERSIONS)})")
    if "kind" in f.attrs and f.attrs["kind"] not in KINDS:
        problems.append(f"unknown kind {f.attrs['kind']!r} (expected one of {KINDS})")
    for a in JSON_ATTRS:
        if a in f.attrs and _json(f.attrs[a]) is None:
            problems.append(f"root attribute {a!r} is not valid JSON")
    boundary = _json(f.attrs.get("boundary")) or {}
    dims = _json(f.attrs.get("dims")) or []
    if isinstance(boundary, dict):
        for d, bc in boundary.items():
            if d not in dims:
                problems.append(f"boundary names dim {d!r} which is not in dims {dims}")
            if bc not in BOUNDARY_TYPES:
                problems.append(f"boundary {bc!r} for dim {d!r} is not one of {BOUNDARY_TYPES}")
    return problems


def _check_split(g: h5py.Group, split: str, kind: str, dims: list[str]) -> list[str]:
    problems: list[str] = []
    coords = g.get("coords")
    sizes = []
    for d in dims:
        if coords is None or d not in coords:
            problems.append(f"{split}: missing coords/{d}")
        else:
            sizes.append(coords[d].shape[0])
    spatial = tuple(sizes) if len(sizes) == len(dims) else None
    res = tuple(int(r) for r in g.attrs.get("resolution", ()))
    if spatial is not None and res and res != spatial:
        problems.append(f"{split}: resolution attribute {res} disagrees with the coordinates {spatial}")
    expected = spatial
    if kind == "trajectory":
        if "time" not in g:
            problems.append(f"{split}: missing time (required for trajectories)")
            expected = None
        elif spatial is not None:
            expected = (g["time"].shape[0], *spatial)
    n_samples = set()
    for group, required in KIND_GROUPS.get(kind, {}).items():
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
                problems.append(f"{where}: dtype {ds.dtype}, expected float32")
            if expected is not None and tuple(ds.shape[1:]) != expected:
                problems.append(f"{where}: per-sample shape {tuple(ds.shape[1:])}, expected {expected}")
            n_samples.add(ds.shape[0])
            bad = _count_nonfinite(ds)
            if bad:
                problems.append(f"{where}: {bad} NaN/Inf values")
    if len(n_samples) > 1:
        problems.append(f"{split}: fields have different sample counts {sorted(n_samples)}")
    return problems


def _count_nonfinite(ds: h5py.Dataset) -> int:
    if ds.size == 0 or ds.dtype.kind not in "fc":
        return 0
    per_sample = max(1, int(np.prod(ds.shape[1:])) * ds.dtype.itemsize)
    step = max(1, _SCAN_BYTES // per_sample)
    return sum(int((~np.isfinite(ds[i:i + step])).sum()) for i in range(0, ds.shape[0], step))
