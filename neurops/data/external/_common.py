"""Machinery shared by the external-format converters.

A converter describes an upstream file as a :class:`Collection`: a number of samples, the
coordinates (and times) after striding, and one :class:`FieldSource` per output field whose
``read(lo, hi)`` returns samples ``lo..hi-1`` already in neurops layout (``[n, *spatial]`` for
operator fields, ``[n, T, *spatial]`` for states). :func:`write_converted` then copies the
collections chunk by chunk into one neurops file through :class:`~neurops.data.writer.H5Writer`,
so files larger than memory convert with memory bounded by ``chunk_mb``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm.auto import tqdm

from neurops.data.writer import H5Writer
from neurops.errors import ConfigError, DataError

Reader = Callable[[int, int], np.ndarray]


@dataclass
class FieldSource:
    """One output field: ``group`` (inputs/outputs/states), ``name``, per-sample ``shape`` and reader."""

    group: str
    name: str
    shape: tuple[int, ...]
    read: Reader


@dataclass
class Collection:
    """Samples of one upstream file mapped onto neurops fields."""

    n: int
    fields: list[FieldSource]
    coords: dict[str, np.ndarray]
    time: np.ndarray | None = None
    label: str = ""

    def signature(self) -> tuple:
        return tuple((f.group, f.name, f.shape) for f in self.fields)


@dataclass
class Meta:
    """Root attributes of the converted file."""

    kind: str
    name: str
    dims: list[str]
    boundary: dict[str, str]
    parameters: dict[str, Any] = field(default_factory=dict)
    generator: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Striding:
    """Subsampling of the upstream grid: every ``space``-th point per axis, every ``time``-th frame."""

    space: int = 1
    time: int = 1

    def __post_init__(self) -> None:
        for name, value in (("space_stride", self.space), ("time_stride", self.time)):
            if int(value) < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}.")

    def spatial(self, arr: np.ndarray, n_spatial: int) -> np.ndarray:
        """Stride the last ``n_spatial`` axes."""
        if self.space == 1 or n_spatial == 0:
            return arr
        index = (Ellipsis, *([slice(None, None, self.space)] * n_spatial))
        return arr[index]

    def frames(self, arr: np.ndarray, axis: int) -> np.ndarray:
        """Stride the time axis ``axis``."""
        if self.time == 1:
            return arr
        index = [slice(None)] * arr.ndim
        index[axis] = slice(None, None, self.time)
        return arr[tuple(index)]


def open_upstream(path: str | os.PathLike, what: str) -> h5py.File:
    """Open an upstream HDF5 file read-only with clear errors."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} file {path} does not exist; check the path.")
    if path.is_dir():
        raise DataError(f"{path} is a directory; pass one {what} HDF5 file.")
    if not h5py.is_hdf5(path):
        raise DataError(f"{path} is not an HDF5 file; {what} data is stored as HDF5 (.h5/.hdf5).")
    return h5py.File(path, "r")


def plan_splits(n: int, *, n_train: int | None = None, n_val: int = 0, n_test: int | None = None,
                test_fraction: float = 0.1) -> dict[str, range]:
    """Contiguous sample ranges per split: train first, then val, test the LAST samples.

    This follows FNO and PDEBench (the test set is the tail of the file). ``n_test=None``
    takes ``round(test_fraction * n)``; ``n_train=None`` takes everything before val and test.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ConfigError(f"test_fraction must be in [0, 1), got {test_fraction}.")
    n_test = round(test_fraction * n) if n_test is None else int(n_test)
    n_val = int(n_val)
    if n_test < 0 or n_val < 0:
        raise ConfigError(f"n_val and n_test must be >= 0, got n_val={n_val}, n_test={n_test}.")
    n_train = n - n_val - n_test if n_train is None else int(n_train)
    if n_train < 1:
        raise ConfigError(f"no training samples left: the source has {n} samples, n_val={n_val}, n_test={n_test}; "
                          "lower n_val/n_test or test_fraction.")
    if n_train + n_val + n_test > n:
        raise ConfigError(f"n_train + n_val + n_test = {n_train + n_val + n_test} exceeds the {n} samples of the "
                          "source; lower them.")
    ranges = {"train": range(0, n_train), "val": range(n_train, n_train + n_val),
              "test": range(n - n_test, n)}
    return {k: r for k, r in ranges.items() if len(r)}


def check_compatible(collections: Sequence[Collection]) -> None:
    """All collections written into one split list must have the same fields, grids and times."""
    first = collections[0]
    for other in collections[1:]:
        if other.signature() != first.signature():
            raise DataError(f"{other.label} has fields {other.signature()} but {first.label} has "
                            f"{first.signature()}; convert files of one dataset together.")
        for d, c in first.coords.items():
            if not np.allclose(other.coords.get(d, np.array([np.nan])), c):
                raise DataError(f"{other.label} has a different {d} grid from {first.label}; "
                                "convert them into separate files.")
        if (first.time is None) != (other.time is None) or (
                first.time is not None and not np.allclose(first.time, other.time)):
            raise DataError(f"{other.label} has different record times from {first.label}; "
                            "convert them into separate files.")


def write_converted(out: str | os.PathLike, meta: Meta, splits: Mapping[str, Sequence[tuple[Collection, range]]],
                    *, compression: str | None = None, overwrite: bool = False, chunk_mb: float = 256.0,
                    progress: bool = True) -> Path:
    """Copy the chosen samples of every collection into one neurops file, chunk by chunk.

    Parameters
    ----------
    out : the neurops HDF5 file to write (atomically).
    meta : root attributes.
    splits : split name -> list of (collection, sample range) concatenated in that order.
    compression : ``None``, ``"gzip"`` or ``"lzf"``.
    overwrite : replace an existing ``out``.
    chunk_mb : largest block read from the source at once.
    progress : show a tqdm bar.
    """
    if compression == "none":
        compression = None
    parts = [c for items in splits.values() for c, _ in items]
    if not parts:
        raise DataError("nothing to convert: every split is empty.")
    check_compatible(parts)
    first = parts[0]
    total = sum(len(r) for items in splits.values() for _, r in items)
    bytes_per_sample = sum(4 * math.prod(f.shape) for f in first.fields)
    chunk = max(1, int(chunk_mb * 2**20 // max(bytes_per_sample, 1)))
    with H5Writer(out, kind=meta.kind, name=meta.name, dims=meta.dims, boundary=meta.boundary,
                  parameters=meta.parameters, generator=meta.generator, compression=compression,
                  overwrite=overwrite) as writer:
        bar = tqdm(total=total, desc=f"convert {meta.name}", unit="sample", disable=not progress)
        for split, items in splits.items():
            n = sum(len(r) for _, r in items)
            if n == 0:
                continue
            shapes: dict[str, dict[str, tuple[int, ...]]] = {}
            for f in first.fields:
                shapes.setdefault(f.group, {})[f.name] = f.shape
            writer.create_split(split, n, coords=first.coords, time=first.time, **shapes)
            pos = 0
            for coll, rng in items:
                for lo in range(rng.start, rng.stop, chunk):
                    hi = min(rng.stop, lo + chunk)
                    arrays: dict[str, dict[str, np.ndarray]] = {}
                    for f in coll.fields:
                        block = np.asarray(f.read(lo, hi), dtype=np.float32)
                        if block.shape != (hi - lo, *f.shape):
                            raise DataError(f"{coll.label}: field {f.name} read as {block.shape}, expected "
                                            f"{(hi - lo, *f.shape)}; the file does not follow its layout.")
                        arrays.setdefault(f.group, {})[f.name] = block
                    writer.write(split, pos, **arrays)
                    pos += hi - lo
                    bar.update(hi - lo)
        bar.close()
    return Path(out)


def json_safe(value: Any) -> Any:
    """Turn HDF5 attribute values (numpy scalars/arrays, bytes) into JSON-friendly ones."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()] if value.dtype.kind in "SO" else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def root_parameters(attrs: Mapping[str, Any], skip: Sequence[str] = ()) -> dict[str, Any]:
    """Root attributes of an upstream file as a JSON-friendly dict."""
    return {k: json_safe(v) for k, v in attrs.items() if k not in skip}


def node_coords(n: int) -> np.ndarray:
    """``linspace(0, 1, n)``: a node grid with both end points (Dirichlet problems)."""
    return np.linspace(0.0, 1.0, n)


def periodic_coords(n: int) -> np.ndarray:
    """``j / n``: a periodic grid without the end point."""
    return np.arange(n, dtype=np.float64) / n
