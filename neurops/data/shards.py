"""Data sets that span several HDF5 files, and merging them into one.

A data set may be one file, a folder (every ``*.h5`` / ``*.hdf5`` file in it), or a list of
files; :func:`data_files` resolves it and checks that the files hold one data set (same kind,
dims, boundary conditions, and for every split they share: the same fields, grids and times).
A split of the set is the concatenation of that split in each file, in order.

``neurops data generate NAME --shard I/N`` writes shard ``I`` (0-based) of ``N``: the samples
an unsharded run with the same options would write in positions ``start:stop`` of each split,
recorded in the root attribute ``shard = {"index", "count", "samples": {split: [start, stop]},
"split_sizes": {split: n}}``.
Shards are ordered by index (not file name), and a set of shards must be complete: every split
covered from sample 0 without gap or overlap, every shard of one run (same generator options).
:mod:`neurops.data.merge` assembles such a set into one file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from neurops.data.files import open_hdf5
from neurops.data.schema import decode_attrs
from neurops.errors import ConfigError, DataError
from neurops.utils.io import DATA_FOLDER_SUFFIXES

DataPath = str | os.PathLike | Sequence[str | os.PathLike]
SUFFIXES = DATA_FOLDER_SUFFIXES
FIELD_GROUPS = ("inputs", "outputs", "states")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0-based) of ``count`` equal parts of a generation run.

    Examples
    --------
    >>> Shard.parse("2/4").units(10)
    range(5, 7)
    >>> Shard(1, 2).samples({"train": 20, "test": 5}, block=8)
    {'train': range(16, 20), 'test': range(0, 5)}
    """

    index: int
    count: int

    def __post_init__(self) -> None:
        if not (self.count >= 1 and 0 <= self.index < self.count):
            raise ConfigError(f"shard {self.index}/{self.count} is invalid: write --shard I/N with N >= 1 and "
                              f"0 <= I < N (0-based, e.g. --shard $SLURM_ARRAY_TASK_ID/{max(self.count, 1)}).")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` -> ``Shard(I, N)``."""
        index, _, count = str(text).partition("/")
        if not (index.strip().isdigit() and count.strip().isdigit()):
            raise ConfigError(f"--shard {text!r} is not of the form I/N (e.g. 0/8 for the first of 8 shards).")
        return cls(int(index), int(count))

    def units(self, n: int) -> range:
        """This shard's contiguous part of ``range(n)`` (parts differ in size by at most one)."""
        return range(self.index * n // self.count, (self.index + 1) * n // self.count)

    def samples(self, sizes: Mapping[str, int], block: int, *, across_splits: bool = False, unit: str = "block(s)",
                fix: str = "") -> dict[str, range]:
        """This shard's range of samples in each split (splits it has none of are left out).

        A generator computes samples in blocks of ``block`` (one batched solve); the shard takes
        a contiguous run of the SAME blocks an unsharded run computes, so its numbers are
        identical. Blocks are cut within each split, or, with ``across_splits``, over the
        splits concatenated in order (generators that batch across split boundaries).

        Parameters
        ----------
        sizes : samples per split, in generation order.
        block : samples computed together.
        across_splits : blocks run over split boundaries.
        unit, fix : what a block is, and another way out than fewer shards, in the error below.

        Raises
        ------
        ConfigError : the run has fewer blocks than shards, for EVERY shard index (some shards would hold no
            samples, so the shards could never be merged), before anything is written.
        """
        total = sum(sizes.values())
        n_blocks = math.ceil(total / block) if across_splits else sum(math.ceil(n / block) for n in sizes.values())
        if n_blocks < self.count:
            raise ConfigError(f"shard {self.index}/{self.count}: the run has {n_blocks} {unit} of {block} samples "
                              f"(computed together) but {self.count} shards, so some shards would hold no samples and "
                              f"the shards could never be merged; use at most {n_blocks} shards{fix}.")
        if across_splits:
            units = self.units(n_blocks)
            lo, hi = units.start * block, min(total, units.stop * block)
            out, pos = {}, 0
            for split, n in sizes.items():
                a, b = max(lo, pos), min(hi, pos + n)
                if a < b:
                    out[split] = range(a - pos, b - pos)
                pos += n
            return out
        blocks = [(split, i) for split, n in sizes.items() for i in range(0, n, block)]
        units = self.units(len(blocks))
        out = {}
        for split, i in blocks[units.start:units.stop]:
            first = out[split].start if split in out else i
            out[split] = range(first, min(i + block, sizes[split]))
        return out

    def record(self, samples: dict[str, range], sizes: dict[str, int]) -> dict[str, Any]:
        """The root attribute ``shard`` of a shard holding ``samples[split]`` of splits of ``sizes``."""
        return {"index": self.index, "count": self.count,
                "samples": {s: [r.start, r.stop] for s, r in samples.items()},
                "split_sizes": {s: int(n) for s, n in sizes.items()}}


@dataclass
class FileSummary:
    """What :func:`data_files` compares between the files of one set (read without values)."""

    path: Path
    attrs: dict[str, Any]
    splits: dict[str, dict[str, Any]]

    @classmethod
    def read(cls, path: Path) -> FileSummary:
        with open_hdf5(path) as f:
            attrs = decode_attrs(f, keep_invalid=True)  # invalid JSON: reported by the file's own check
            splits = {}
            for s, g in f.items():
                if not isinstance(g, h5py.Group):
                    continue
                fields = {(grp, name): tuple(ds.shape[1:]) for grp in FIELD_GROUPS if grp in g
                          for name, ds in g[grp].items() if isinstance(ds, h5py.Dataset)}
                counts = {g[grp][name].shape[0] for grp, name in fields}
                splits[s] = {"fields": fields, "n": counts.pop() if len(counts) == 1 else None,
                             "coords": {d: c[()] for d, c in g["coords"].items()} if "coords" in g else {},
                             "time": g["time"][()] if "time" in g else None,
                             "attrs": {k: v for k, v in g.attrs.items()}}
        return cls(path, attrs, splits)

    @property
    def shard(self) -> dict[str, Any] | None:
        shard = self.attrs.get("shard")
        return shard if is_shard_record(shard) else None


def is_shard_record(value: Any) -> bool:
    """Whether ``value`` has the form of :meth:`Shard.record` (a malformed one is reported by the file check)."""
    if not isinstance(value, dict):
        return False
    samples, sizes = value.get("samples"), value.get("split_sizes")
    return (isinstance(value.get("index"), int) and isinstance(value.get("count"), int)
            and isinstance(samples, dict) and isinstance(sizes, dict)
            and all(isinstance(r, list) and len(r) == 2 and all(isinstance(x, int) for x in r)
                    for r in samples.values())
            and all(isinstance(n, int) for n in sizes.values()))


def data_path(path: DataPath) -> Path | list[Path]:
    """A data set's path as given (one file or folder), or its list of files, as ``Path`` objects."""
    return Path(path) if isinstance(path, (str, os.PathLike)) else [Path(p) for p in path]


def list_files(path: DataPath) -> list[Path]:
    """The files a data path names: one file, a folder's ``*.h5`` / ``*.hdf5`` files (sorted,
    hidden ones skipped), or a list of files; not yet checked to be one data set."""
    if isinstance(path, (str, os.PathLike)):
        p = Path(path)
        if not p.is_dir():
            return [p]
        files = sorted(q for q in p.iterdir() if q.suffix in SUFFIXES and not q.name.startswith(".") and q.is_file())
        if not files:
            raise DataError(f"folder {p} holds no data file (*.h5 or *.hdf5).")
        return files
    files = [Path(q) for q in path]
    if not files:
        raise DataError("the list of data files is empty.")
    dirs = [str(q) for q in files if q.is_dir()]
    if dirs:
        raise DataError(f"{dirs} are folders; give either one folder or a list of files.")
    seen: dict[Path, Path] = {}
    for q in files:
        if seen.setdefault(q.resolve(), q) is not q:
            raise DataError(f"{q} is listed twice{'' if q == seen[q.resolve()] else f' (as {seen[q.resolve()]})'}: "
                            "a data set lists each of its files once.")
    return files


def set_problems(files: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """``files`` in data-set order (shards by index) and the problems that keep them from being
    one data set (kind, dims, boundary, fields, grids and times; shards incomplete or of
    different runs; the same samples twice)."""
    if len(files) == 1:
        return list(files), []
    summaries = [FileSummary.read(q) for q in files]
    ordered, problems = _order_shards(summaries)
    return [s.path for s in ordered], problems + _consistency_problems(ordered)


def data_files(path: DataPath) -> list[Path]:
    """The files of a data set, in order, checked to hold one data set.

    Parameters
    ----------
    path : one file, a folder (its ``*.h5`` / ``*.hdf5`` files; hidden files skipped), or a
        list of files. Shards of one generation run are ordered by shard index.

    Raises
    ------
    DataError : a path is missing, a folder holds no data file, or the files are not one data
        set (naming each problem).
    """
    files, problems = set_problems(list_files(path))
    if problems:
        shown = "; ".join(problems[:4]) + (f"; and {len(problems) - 4} more" if len(problems) > 4 else "")
        raise DataError(f"the files {[str(q) for q in files]} are not one data set: {shown}.")
    return files


def _order_shards(summaries: list[FileSummary]) -> tuple[list[FileSummary], list[str]]:
    """Shards sorted by index, with the problems of an incomplete or mixed set."""
    shards = [s for s in summaries if s.shard is not None]
    if not shards:
        return summaries, []
    if len(shards) != len(summaries):
        others = [s.path.name for s in summaries if s.shard is None]
        return summaries, [f"shards of a generation run are mixed with other files {others}"]
    problems = []
    counts = {s.shard["count"] for s in shards}
    if len(counts) > 1:
        problems.append(f"shards of different runs (shard counts {sorted(counts)})")
    generators = {repr(s.attrs.get("generator")) for s in shards}
    if len(generators) > 1 or len({s.attrs.get("seed") for s in shards}) > 1:
        problems.append("shards of different runs (their generator options or seeds differ)")
    ordered = sorted(shards, key=lambda s: s.shard["index"])
    indices = [s.shard["index"] for s in ordered]
    count = max(counts)
    missing = sorted(set(range(count)) - set(indices))
    if missing:
        problems.append(f"shard(s) {missing} of {count} are missing")
    dupes = sorted({i for i in indices if indices.count(i) > 1})
    if dupes:
        problems.append(f"shard(s) {dupes} appear more than once: "
                        f"{[s.path.name for s in ordered if s.shard['index'] in dupes]}")
    if not problems:
        for split, size in ordered[0].shard["split_sizes"].items():
            pos = 0
            for s in ordered:
                start, stop = s.shard["samples"].get(split, (pos, pos))
                if start != pos:
                    problems.append(f"split {split!r}: {s.path.name} starts at sample {start}, expected {pos}")
                pos = stop
            if pos != size:
                problems.append(f"split {split!r}: the shards hold samples 0..{pos - 1} of {size}")
    return ordered, problems


def _consistency_problems(summaries: Sequence[FileSummary]) -> list[str]:
    """Differences that keep files from being one data set (kind, dims, boundary, fields, grids, times)."""
    first = summaries[0]
    problems = []
    for key in ("kind", "dims", "boundary"):
        values = {repr(s.attrs.get(key)) for s in summaries}
        if len(values) > 1:
            problems.append(f"their {key!r} differ ({', '.join(sorted(values))})")
    if not any(s.shard for s in summaries):
        runs: dict[str, Path] = {}
        for s in summaries:
            key = repr((s.attrs.get("generator"), s.attrs.get("seed")))
            if s.attrs.get("seed", -1) != -1 and key in runs:
                problems.append(f"{runs[key].name} and {s.path.name} hold the same samples (same generator "
                                "options and seed)")
            runs.setdefault(key, s.path)
        problems += _problem_differences(summaries)
    reference: dict[str, FileSummary] = {}
    for s in summaries:
        for split, info in s.splits.items():
            ref = reference.setdefault(split, s)
            if ref is s:
                continue
            other = ref.splits[split]
            if info["fields"] != other["fields"]:
                problems.append(f"split {split!r}: {s.path.name} has fields {_fields(info)}, {ref.path.name} has "
                                f"{_fields(other)}")
            elif not _same_arrays(info["coords"], other["coords"]) or not _same_arrays(
                    {"t": info["time"]}, {"t": other["time"]}):
                problems.append(f"split {split!r}: {s.path.name} and {ref.path.name} have different grids or times")
    if "train" not in reference and first.attrs.get("kind") in ("operator", "input_only", "trajectory"):
        problems.append("no file has a 'train' split")
    return problems


#: generator options that may differ between the files of one data set: sample counts, seeds, storage, solver
_RUN_OPTIONS = {"n_train", "n_val", "n_test", "seed", "compression", "solver", "rtol", "test_resolutions"}


def _problem_differences(summaries: Sequence[FileSummary]) -> list[str]:
    """Generated files whose generator options other than :data:`_RUN_OPTIONS` differ hold different problems
    (another GRF, viscosity or noise level): merged, the data set's ``parameters`` would describe only the first."""
    generated = [s for s in summaries if isinstance(s.attrs.get("generator"), dict)]
    if not generated:
        return []
    first = generated[0]
    options = {k: v for k, v in first.attrs["generator"].items() if k not in _RUN_OPTIONS}
    problems = []
    for s in generated[1:]:
        other = {k: v for k, v in s.attrs["generator"].items() if k not in _RUN_OPTIONS}
        differ = sorted(k for k in options.keys() | other.keys() if options.get(k) != other.get(k))
        if differ:
            shown = ", ".join(f"{k} {options.get(k)!r} vs {other.get(k)!r}" for k in differ[:3])
            problems.append(f"{first.path.name} and {s.path.name} were generated for different problems ({shown}); "
                            "a data set holds samples of one problem (for more samples, generate with another "
                            "--seed and the same settings)")
    return problems


def _fields(info: dict[str, Any]) -> list[str]:
    return [f"{g}/{n}{list(shape)}" for (g, n), shape in sorted(info["fields"].items())]


def _same_arrays(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if (x is None) != (y is None):
            return False
        if x is not None and (np.shape(x) != np.shape(y) or not np.allclose(x, y, rtol=1e-12, atol=0.0)):
            return False
    return True
