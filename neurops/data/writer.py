"""Atomic writer for neurops HDF5 files (schema v1, see :mod:`neurops.data.schema`)."""

from __future__ import annotations

import math
import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np

from neurops.data.metadata import DatasetMeta
from neurops.data.schema import (
    COORD_FIX,
    GRID_KINDS,
    KIND_GROUPS,
    TIME_FIX,
    coord_problem,
    flagged_samples,
    sample_list,
    write_attrs,
)
from neurops.errors import DataError, NeuropsWarning, OutputExistsError, SchemaError
from neurops.utils.io import atomic_path, check_hdf5_name, format_size

FieldShapes = Mapping[str, Sequence[int]]
Arrays = Mapping[str, np.ndarray]


class H5Writer:
    """Write a neurops HDF5 file atomically.

    The file is written to a temporary name and renamed onto ``path`` only when the
    ``with`` block ends without error and every declared sample was written; otherwise
    the temporary file is removed and nothing at ``path`` changes.

    Fields are stored as float32. Values of another type (float64, integers) that float32 cannot hold exactly are
    rounded, and the write then ends with one :class:`~neurops.errors.NeuropsWarning` naming each such field, its
    type and the largest change (:class:`Rounding`); float32 values, and values float32 holds exactly (float16,
    integers up to 2**24, float64 numbers that are float32 ones), are stored without a word. To store computed
    float64 values as float32 on purpose, cast them (``astype(np.float32)``) before writing.

    Parameters
    ----------
    path : output file.
    meta : the root attributes (:class:`~neurops.data.metadata.DatasetMeta`: ``kind``, ``name``,
        ``dims``, ``boundary``, ``parameters``, ``generator``, ``seed``, ``shard``).
    compression : ``None`` or ``"gzip"`` / ``"lzf"``.
    overwrite : replace an existing file (only on success).

    Examples
    --------
    >>> meta = DatasetMeta(kind="operator", name="darcy", dims=("x", "y"))
    >>> with H5Writer("d.h5", meta) as w:  # doctest: +SKIP
    ...     w.add_split("train", coords={"x": x, "y": y}, inputs={"a": a}, outputs={"u": u})
    """

    def __init__(
        self,
        path: str | os.PathLike,
        meta: DatasetMeta,
        *,
        compression: str | None = None,
        overwrite: bool = False,
    ) -> None:
        if not isinstance(meta, DatasetMeta):
            raise TypeError(f"H5Writer takes the file's metadata as a DatasetMeta, got {type(meta).__name__}.")
        if compression not in (None, "gzip", "lzf"):
            raise SchemaError(f"compression {compression!r} is not supported; use None, 'gzip' or 'lzf'.")
        self.path = check_hdf5_name(path)
        if self.path.exists() and not overwrite:
            raise OutputExistsError(f"{self.path} already exists; pass overwrite=True (--overwrite) to replace it.")
        self.meta, self.compression, self.overwrite = meta, compression, overwrite
        self.kind, self.dims = meta.kind, list(meta.dims)
        self._root_attrs = meta.attrs()
        self._file: h5py.File | None = None
        self._ctx: Any = None
        self._written: dict[str, np.ndarray] = {}
        self._sample_bytes: dict[str, int] = {}  # per split: bytes of one sample of all its fields
        self._rounding = Rounding()

    # context management -------------------------------------------------------------
    def __enter__(self) -> H5Writer:
        self._ctx = atomic_path(self.path, overwrite=self.overwrite)  # its name was checked in __init__
        tmp = self._ctx.__enter__()
        self._file = h5py.File(tmp, "w")
        write_attrs(self._file, self._root_attrs)
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self._file is not None and self._ctx is not None
        self._file.close()
        if exc is None:
            missing = {s: int((~m).sum()) for s, m in self._written.items() if not m.all()}
            if not missing:
                self._ctx.__exit__(None, None, None)  # rename onto the target
                self._rounding.report(self.path)
                return
            exc = DataError(f"samples were declared but never written (split: count) {missing}; nothing was saved.")
            self._ctx.__exit__(type(exc), exc, None)  # removes the temporary file
            raise exc
        self._ctx.__exit__(exc_type, exc, tb)  # removes the temporary file; the exception propagates

    @property
    def file(self) -> h5py.File:
        if self._file is None:
            raise RuntimeError("use H5Writer inside a `with` block")
        return self._file

    # splits -------------------------------------------------------------------------
    def create_split(
        self,
        split: str,
        n: int,
        *,
        coords: Mapping[str, np.ndarray],
        inputs: FieldShapes | None = None,
        outputs: FieldShapes | None = None,
        states: FieldShapes | None = None,
        time: np.ndarray | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        """Declare a split of ``n`` samples; fields map name -> per-sample shape."""
        if split in self.file:
            raise SchemaError(f"split {split!r} was already created.")
        if n < 1:
            raise DataError(f"split {split!r} needs at least one sample, got n={n}.")
        groups = {"inputs": inputs, "outputs": outputs, "states": states}
        for group, required in KIND_GROUPS[self.kind].items():
            if required and not groups[group]:
                raise SchemaError(f"kind {self.kind!r} needs {group} in split {split!r}.")
            if not required and groups[group]:
                raise SchemaError(f"kind {self.kind!r} has no {group}; remove them from split {split!r}.")
        self._check_axes(split, coords, time)
        spatial = tuple(len(np.asarray(coords[d])) for d in self.dims)
        if self.kind in GRID_KINDS and min(spatial, default=2) < 2:
            raise DataError(f"split {split!r} would have the grid {'x'.join(map(str, spatial))}: {self.kind} data "
                            "needs at least 2 points per axis (a stride as large as the grid leaves one); nothing "
                            "was written.")
        self._sample_bytes[split] = self._check_space(split, n, groups)
        g = self.file.create_group(split)
        g.attrs["resolution"] = list(spatial)
        write_attrs(g, attrs or {})
        for d in self.dims:
            g.create_dataset(f"coords/{d}", data=np.asarray(coords[d], dtype=np.float64))
        expected = spatial
        if self.kind == "trajectory":
            time = np.asarray(time, dtype=np.float64)
            g.create_dataset("time", data=time)
            expected = (len(time), *spatial)
        for group, fields in groups.items():
            for field, shape in (fields or {}).items():
                if tuple(shape) != expected:
                    raise DataError(
                        f"field {group}/{field} in split {split!r} has per-sample shape {tuple(shape)}, "
                        f"but the coordinates (and time) give {expected}."
                    )
                g.create_dataset(
                    f"{group}/{field}", shape=(n, *expected), dtype=np.float32,
                    chunks=(1, *expected), compression=self.compression,
                )
        self._written[split] = np.zeros(n, dtype=bool)

    def _check_axes(self, split: str, coords: Mapping[str, np.ndarray], time: np.ndarray | None) -> None:
        """A split's coordinates (and a trajectory's time) by the readers' rule, so that no file they refuse is
        written."""
        missing = [d for d in self.dims if d not in coords]
        if missing:
            raise SchemaError(f"split {split!r} lacks coordinates for dims {missing}.")
        if self.kind == "trajectory" and time is None:
            raise SchemaError(f"trajectory split {split!r} needs a time array.")
        axes = [(f"{split}: coords/{d}", coords[d], COORD_FIX) for d in self.dims]
        for where, values, fix in axes + [(f"{split}: time", time, TIME_FIX)] * (self.kind == "trajectory"):
            problem = coord_problem(where, values, fix)
            if problem:
                raise DataError(f"{problem}; nothing was written.")

    def write(self, split: str, start: int, *, inputs: Arrays | None = None, outputs: Arrays | None = None,
              states: Arrays | None = None) -> None:
        """Write samples ``start:start+n`` of ``split``; every declared field must be given."""
        if split not in self._written:
            raise SchemaError(f"split {split!r} was not created; call create_split first.")
        g = self.file[split]
        given = {"inputs": inputs or {}, "outputs": outputs or {}, "states": states or {}}
        n = None
        for group, arrays in given.items():
            declared = set(g[group].keys()) if group in g else set()
            if set(arrays) != declared:
                raise DataError(f"split {split!r}: {group} given {sorted(arrays)}, declared {sorted(declared)}.")
            for field, arr in arrays.items():
                arr = np.asarray(arr)
                if arr.dtype.kind not in "biuf":
                    raise DataError(f"{split}/{group}/{field}: values of dtype {arr.dtype} cannot be stored as "
                                    "float32" + (" without dropping their imaginary part; store the real and "
                                                 "imaginary parts as two fields" if arr.dtype.kind == "c" else "")
                                    + ".")
                ds = g[f"{group}/{field}"]
                if arr.shape[1:] != ds.shape[1:]:
                    raise DataError(f"{split}/{group}/{field}: samples of shape {arr.shape[1:]}, "
                                    f"expected {ds.shape[1:]}.")
                stored = _as_float32(arr, f"{split}/{group}/{field}", start)
                self._rounding.add(f"{group}/{field}", arr, stored)
                arr = stored
                if n is not None and len(arr) != n:
                    raise DataError(f"split {split!r}: fields have different sample counts.")
                n = len(arr)
                if start < 0 or start + n > ds.shape[0]:
                    raise DataError(f"{split}/{group}/{field}: samples {start}..{start + n - 1} are outside "
                                    f"the declared {ds.shape[0]}.")
                ds[start:start + n] = arr
        if n is not None:
            self._written[split][start:start + n] = True

    def add_split(self, split: str, *, coords: Mapping[str, np.ndarray], inputs: Arrays | None = None,
                  outputs: Arrays | None = None, states: Arrays | None = None, time: np.ndarray | None = None,
                  attrs: Mapping[str, Any] | None = None) -> None:
        """Create a split and write whole arrays ``[N, ...]`` into it."""
        groups = {"inputs": inputs or {}, "outputs": outputs or {}, "states": states or {}}
        arrays = [np.asarray(a) for g in groups.values() for a in g.values()]
        if not arrays:
            raise SchemaError(f"split {split!r}: no fields given.")
        shapes = {k: {f: np.shape(a)[1:] for f, a in g.items()} or None for k, g in groups.items()}
        self.create_split(split, len(arrays[0]), coords=coords, time=time, attrs=attrs, **shapes)
        self.write(split, 0, **{k: (g or None) for k, g in groups.items()})

    def _check_space(self, split: str, n: int, groups: Mapping[str, FieldShapes | None]) -> int:
        """The bytes of one sample of the fields ``groups``; refuse the split if its samples, with those declared and
        not yet written, do not fit on the disk (uncompressed sizes: a compressed file's size is not known ahead)."""
        sample_bytes = 4 * sum(math.prod(shape) for fields in groups.values() for shape in (fields or {}).values())
        if self.compression is not None:
            return sample_bytes
        pending = n * sample_bytes + sum(int((~m).sum()) * self._sample_bytes[s] for s, m in self._written.items())
        before = " and the samples of the splits before it" if pending > n * sample_bytes else ""
        require_space(self.path, pending, f"split {split!r} ({n} samples of {format_size(sample_bytes)}){before}",
                      "ask for fewer samples, a coarser grid or compression (gzip/lzf)")
        return sample_bytes


def require_space(target: Path, need: int, what: str, other_fix: str) -> None:
    """Refuse to write ``need`` more bytes (``what``, in words) for ``target`` when its folder's disk (where its
    temporary file lies) has less free."""
    folder = next(p for p in target.absolute().parents if p.exists())  # the output's folder may not exist yet
    free = shutil.disk_usage(folder).free
    if need > free:
        raise DataError(f"{target} needs {format_size(need)} more: {what}, but {folder} has "
                        f"{format_size(free)} free; nothing was saved: write to a disk with more space, or "
                        f"{other_fix}.")


class Rounding:
    """What storing values as float32 changed, per field ``group/name`` (over every split and write): the given
    dtypes, the largest change and the largest magnitude. A float64 or a large-integer field loses digits; float16,
    integers up to 2**24 and float64 values that are float32 numbers convert exactly and are not counted."""

    def __init__(self) -> None:
        self.fields: dict[str, tuple[set[str], float, float]] = {}

    def add(self, field: str, given: np.ndarray, stored: np.ndarray) -> None:
        """Count ``given`` stored as ``stored`` (float32, the same shape)."""
        if given.dtype == np.float32 or given.size == 0:
            return
        exact = given if given.dtype == np.float64 else given.astype(np.float64)
        diff = np.subtract(stored, exact, dtype=np.float64)
        change = float(np.abs(diff, out=diff).max())
        if change == 0:
            return
        dtypes, largest, scale = self.fields.get(field, (set(), 0.0, 0.0))
        self.fields[field] = (dtypes | {str(given.dtype)}, max(largest, change),
                              max(scale, float(np.abs(exact).max())))

    def report(self, out: str | os.PathLike) -> None:
        """One :class:`~neurops.errors.NeuropsWarning` naming the fields whose values float32 changed, and how
        much (none if it changed none); it points at the code that closed the writer."""
        changed = [f"{field} ({'/'.join(sorted(dtypes))}: largest change {change:.3g}, {change / scale:.3g} of its "
                   "largest magnitude)" for field, (dtypes, change, scale) in self.fields.items()]
        if changed:
            warnings.warn(f"{out}: the values given for {', '.join(changed)} were rounded to float32, the type "
                          "neurops stores fields in.", NeuropsWarning, stacklevel=3)


def _as_float32(arr: np.ndarray, where: str, start: int) -> np.ndarray:
    """``arr`` ``[n, ...]`` (samples ``start...``) as float32, refused if a value is not finite or beyond float32's
    range, with the sample indices."""
    finite = np.isfinite(arr)
    if not finite.all():
        raise DataError(f"{where}: NaN or Inf values in {sample_list(flagged_samples(~finite, start))}; the stored "
                        "data must be finite: fix or drop those samples at their source.")
    with np.errstate(over="ignore"):
        out = arr.astype(np.float32, copy=False)
    if out is not arr and not np.isfinite(out).all():
        big = float(np.abs(arr).max())
        raise DataError(f"{where}: values exceed float32's range (largest magnitude {big:.4g} > "
                        f"{float(np.finfo(np.float32).max):.4g}, in "
                        f"{sample_list(flagged_samples(~np.isfinite(out), start))}); fields are stored as float32: "
                        "rescale the field (e.g. other units) before writing it.")
    return out
