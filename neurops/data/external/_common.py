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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import h5py
import numpy as np

from neurops.data.external._values import check_values
from neurops.data.files import open_hdf5
from neurops.data.metadata import DatasetMeta
from neurops.data.progress import progress_bar
from neurops.data.schema import COORD_FIX, TIME_FIX, coord_problem, resolution_tag
from neurops.data.writer import H5Writer
from neurops.errors import ConfigError, DataError, MissingFileError

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

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """Grid points per axis after striding."""
        return tuple(len(c) for c in self.coords.values())


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
    """Open an upstream HDF5 file of format ``what`` read-only with clear errors
    (:func:`~neurops.data.files.open_hdf5`; a missing file is a ``FileNotFoundError``)."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{what} file {path} does not exist; check the path.")
    return open_hdf5(path, source=what)


SPATIAL_NAMES: tuple[str, ...] = ("x", "y", "z")


class SampleArray(Protocol):
    """An array of samples along its first axis, read a block at a time."""

    shape: tuple[int, ...]

    @property
    def ndim(self) -> int: ...

    def take(self, lo: int, hi: int) -> np.ndarray: ...


def pair_collection(a: SampleArray, u: SampleArray, keys: tuple[str, str], names: tuple[str, str], label: str,
                    stride: Striding, coords_fn: Callable[[int], np.ndarray]) -> tuple[Collection, list[str]]:
    """Operator pairs ``a -> u`` from two arrays ``[N, *spatial]`` of one shape (1 to 3 spatial axes).

    Parameters
    ----------
    a, u : input and output samples.
    keys : their names in the source (for errors); names : the neurops field names.
    label : the source (for errors).
    stride : subsampling of the grid.
    coords_fn : points per axis -> coordinates (``node_coords`` or ``periodic_coords``).

    Returns
    -------
    collection, dims : the pairs as ``inputs/<names[0]>`` and ``outputs/<names[1]>``; dims ``x, y, z``.
    """
    for key, arr in zip(keys, (a, u)):
        if len(arr.shape) >= 2 and min(arr.shape[1:]) < 2:
            raise DataError(f"{label}: `{key}` has shape {arr.shape}, with an axis of size 1 that is not a grid "
                            "axis; drop it (e.g. numpy.squeeze) so the arrays are [N, *spatial].")
    if a.shape != u.shape or not 2 <= len(a.shape) <= 4:
        raise DataError(f"{label}: `{keys[0]}` {a.shape} and `{keys[1]}` {u.shape} must share one shape "
                        f"[N, *spatial] with 1 to 3 spatial axes{_shape_hint(a.shape, u.shape, keys)}.")
    dims = list(SPATIAL_NAMES[: len(a.shape) - 1])
    coords = {d: coords_fn(n)[:: stride.space] for d, n in zip(dims, a.shape[1:])}
    shape = tuple(len(coords[d]) for d in dims)
    fields = [
        FieldSource("inputs", names[0], shape, lambda lo, hi: stride.spatial(a.take(lo, hi), len(dims))),
        FieldSource("outputs", names[1], shape, lambda lo, hi: stride.spatial(u.take(lo, hi), len(dims))),
    ]
    return Collection(a.shape[0], fields, coords, label=label), dims


def _shape_hint(a: tuple[int, ...], u: tuple[int, ...], keys: tuple[str, str]) -> str:
    """What two shapes that should match tell of the mistake: other sample counts, or the samples on another axis."""
    if len(a) == len(u) and a[1:] == u[1:]:
        return (f": `{keys[0]}` holds {a[0]} samples and `{keys[1]}` {u[0]}; inputs and outputs pair sample by "
                "sample, so give arrays of the same samples")
    if sorted(a) == sorted(u):
        return ("; they hold the same axes in another order: put the sample axis first in both (e.g. "
                "numpy.moveaxis(x, -1, 0) for an array stored [*spatial, N])")
    return ""


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


#: split name -> the (collection, sample range) pairs written into it, in order
Splits = dict[str, list[tuple[Collection, range]]]


def split_collections(coll: Collection, test: Collection | None = None, *, n_train: int | None = None, n_val: int = 0,
                      n_test: int | None = None, test_fraction: float = 0.1) -> Splits:
    """The splits of a conversion: train / val / test ranges of ``coll`` (:func:`plan_splits`), or, with a
    second collection ``test`` (a file of test samples), train / val of ``coll`` and the first ``n_test``
    (default: all) samples of ``test``."""
    if test is None:
        return {s: [(coll, r)] for s, r in plan_splits(coll.n, n_train=n_train, n_val=n_val, n_test=n_test,
                                                        test_fraction=test_fraction).items()}
    n_t = test.n if n_test is None else int(n_test)
    if not 1 <= n_t <= test.n:
        raise ConfigError(f"n_test={n_t} but {test.label} has {test.n} samples.")
    splits = {s: [(coll, r)] for s, r in plan_splits(coll.n, n_train=n_train, n_val=n_val, n_test=0).items()}
    splits["test"] = [(test, range(n_t))]
    return splits


def check_compatible(collections: Sequence[Collection], fields: bool = True) -> None:
    """All collections written into one split must have the same fields (unless ``fields`` is false), grids and
    times."""
    first = collections[0]
    for other in collections[1:]:
        if fields and other.signature() != first.signature():
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


def add_test_resolutions(splits: dict[str, list[tuple[Collection, range]]], space_strides: Sequence[int],
                         rebuild: Callable[[Collection, Striding], Collection], time_stride: int = 1) -> None:
    """Add ``test@R`` splits: the test samples again at other space strides of the source grid.

    Parameters
    ----------
    splits : split -> (collection, sample range) parts; its ``test`` split is read again.
    space_strides : strides of the source grid, e.g. ``(1, 2)`` next to ``space_stride=4``.
    rebuild : ``(collection, striding) -> collection`` of the same source at another striding.
    time_stride : the frame stride of the conversion (kept).
    """
    if not space_strides:
        return
    if any(int(stride) < 1 for stride in space_strides):
        raise ConfigError(f"test_space_strides must be >= 1, got {list(space_strides)}; 1 keeps the source grid.")
    if "test" not in splits:
        raise ConfigError("test_space_strides need a test split; set n_test (or test_fraction) above 0.")
    taken = {resolution_tag(splits["test"][0][0].spatial_shape)}
    for stride in space_strides:
        parts = [(rebuild(coll, Striding(int(stride), time_stride)), rng) for coll, rng in splits["test"]]
        tag = resolution_tag(parts[0][0].spatial_shape)
        if tag in taken:
            raise ConfigError(f"test_space_strides {list(space_strides)} repeat the test resolution {tag}; give "
                              "strides that make other grids.")
        taken.add(tag)
        splits[f"test@{tag}"] = parts


def check_frames(coll: Collection, time_stride: int, split: str = "train") -> None:
    """A conversion's grid and frames: coordinates and times finite and strictly increasing (the schema's rule,
    checked here to name the source), ``time_stride`` > 1 needs a time axis, a trajectory keeps at least 2 frames."""
    source = coll.label or "the source"
    axes = [(f"coords/{d}", c, COORD_FIX) for d, c in coll.coords.items()]
    for where, values, fix in axes + [("time", coll.time, TIME_FIX)] * (coll.time is not None):
        problem = coord_problem(f"{source}: the values read into {split}/{where}", values, fix)
        if problem:
            raise DataError(f"{problem} in the source; nothing was written.")
    if coll.time is None and time_stride > 1:
        raise ConfigError(f"time_stride {time_stride} strides a time axis, but {source} holds samples without "
                          "one (input -> output pairs); drop the time stride (--time-stride 1).")
    if coll.time is not None and len(coll.time) < 2:
        cause = (f"time_stride {time_stride} leaves 1 frame of" if time_stride > 1 else "1 frame in")
        raise ConfigError(f"{cause} {source}'s trajectories; a trajectory needs at least 2 frames"
                          + (": use a smaller --time-stride." if time_stride > 1 else "."))


def write_converted(out: str | os.PathLike, meta: DatasetMeta, splits: Mapping[str, Sequence[tuple[Collection, range]]],
                    *, compression: str | None = None, overwrite: bool = False, chunk_mb: float = 256.0,
                    progress: bool = True) -> Path:
    """Copy the chosen samples of every collection into one neurops file, chunk by chunk.

    Parameters
    ----------
    out : the neurops HDF5 file to write (atomically).
    meta : root attributes.
    splits : split name -> list of (collection, sample range) concatenated in that order. The
        collections of one split share their fields, grid and times; splits may differ in grid
        (``test@R``) but not in fields.
    compression : ``None``, ``"gzip"`` or ``"lzf"``.
    overwrite : replace an existing ``out``.
    chunk_mb : largest block read from the source at once.
    progress : show the progress (a bar on a terminal, lines in a log).
    """
    if compression == "none":
        compression = None
    splits = {split: items for split, items in splits.items() if sum(len(r) for _, r in items)}
    if not splits:
        raise DataError("nothing to convert: every split is empty.")
    names = {split: sorted((f.group, f.name) for f in items[0][0].fields) for split, items in splits.items()}
    time_stride = int((meta.generator or {}).get("time_stride", 1))
    for split, items in splits.items():
        check_compatible([c for c, _ in items])
        check_frames(items[0][0], time_stride, split)
        first_split, first_fields, has = next(iter(splits)), set(next(iter(names.values()))), set(names[split])
        if has != first_fields:
            more, less = (["/".join(n) for n in sorted(x)] for x in (has - first_fields, first_fields - has))
            differ = " and ".join([f"has {more}, which {first_split!r} lacks"] * bool(more)
                                  + [f"lacks {less}"] * bool(less))
            raise DataError(f"every split needs the same fields, but {split!r} ({items[0][0].label}) {differ}; "
                            "convert the files of one data set (The Well: keep the common fields with fields=..., "
                            "--fields).")
    total = sum(len(r) for items in splits.values() for _, r in items)
    with H5Writer(out, meta, compression=compression, overwrite=overwrite) as writer:
        bar = progress_bar(total, f"convert {meta.name}", "sample", progress)
        for split, items in splits.items():
            first = items[0][0]
            bytes_per_sample = sum(4 * math.prod(f.shape) for f in first.fields)
            chunk = max(1, int(chunk_mb * 2**20 // max(bytes_per_sample, 1)))
            shapes: dict[str, dict[str, tuple[int, ...]]] = {}
            for f in first.fields:
                shapes.setdefault(f.group, {})[f.name] = f.shape
            writer.create_split(split, sum(len(r) for _, r in items), coords=first.coords, time=first.time, **shapes)
            pos = 0
            for coll, rng in items:
                for lo in range(rng.start, rng.stop, chunk):
                    hi = min(rng.stop, lo + chunk)
                    arrays: dict[str, dict[str, np.ndarray]] = {}
                    for f in coll.fields:
                        block = np.asarray(f.read(lo, hi))
                        if block.shape != (hi - lo, *f.shape):
                            raise DataError(f"{coll.label}: field {f.name} read as {block.shape}, expected "
                                            f"{(hi - lo, *f.shape)}; the file does not follow its layout.")
                        check_values(block, lo, coll.label, f"{f.group}/{f.name}", split)
                        arrays.setdefault(f.group, {})[f.name] = block
                    # refuses NaN/Inf and values beyond float32's range; says what float32 rounded once at the end
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
