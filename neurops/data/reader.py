"""Lazy readers for neurops HDF5 files.

Files are opened on first access inside each DataLoader worker (never shared across a
fork), and only the requested samples are read, so memory is bounded by the batch. A data
set may span several files (a folder, a list, or the shards of a generation run, see
:mod:`neurops.data.shards`): a split is then the concatenation of that split in each file.
"""

from __future__ import annotations

import bisect
import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from neurops.data.check import structure_problems, value_problems
from neurops.data.files import open_hdf5
from neurops.data.metadata import DatasetMeta
from neurops.data.schema import SUPPORTED_VERSIONS, decode_attrs, flagged_samples, sample_list
from neurops.data.shards import DataPath, data_files
from neurops.errors import DataError, SchemaError


def open_h5(path: str | os.PathLike) -> h5py.File:
    """Open a neurops HDF5 file read-only, validated: one clear error for each way it can be unusable.

    The file must open as HDF5 (:func:`~neurops.data.files.open_hdf5`), carry a supported schema
    version, and pass the checks of ``neurops data check`` that need no values
    (:func:`~neurops.data.check.structure_problems`: attributes, splits, float32 fields, shapes,
    no link or source outside the file's folder).
    """
    f = open_hdf5(path)
    try:
        version = f.attrs.get("schema_version")
        if version is None:
            raise SchemaError(f"{path} has no 'schema_version' attribute: it is not a neurops file "
                              "(convert it with `neurops data convert`).")
        if int(version) not in SUPPORTED_VERSIONS:
            raise SchemaError(f"{path} uses schema version {int(version)}, but this neurops reads versions "
                              f"{list(SUPPORTED_VERSIONS)}; upgrade neurops or regenerate the file.")
        problems = structure_problems(f)
        if problems:
            shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
            raise SchemaError(f"{path} is not a valid neurops file: {shown} (`neurops data check {path}` lists "
                              "every problem).")
    except BaseException:
        f.close()
        raise
    return f


def read_attrs(path_or_file: DataPath | h5py.File) -> dict[str, Any]:
    """Root attributes with JSON values decoded, unchecked (of the first file, for a data set of several files).

    The raw view the checker needs to report every problem of a file; every other reader of a data
    set's metadata takes the typed, validated :func:`read_meta`.
    """
    if isinstance(path_or_file, h5py.File):
        return decode_attrs(path_or_file)
    with open_h5(data_files(path_or_file)[0]) as f:
        return read_attrs(f)


def read_meta(path_or_file: DataPath | h5py.File) -> DatasetMeta:
    """The root attributes as one typed :class:`~neurops.data.metadata.DatasetMeta` (of the first file of a
    data set of several files)."""
    return DatasetMeta.from_attrs(read_attrs(path_or_file))


def list_splits(path_or_file: DataPath | h5py.File) -> list[str]:
    """Names of the splits (top-level groups) of a file, or of any file of a data set."""
    if isinstance(path_or_file, h5py.File):
        return [k for k in path_or_file.keys() if isinstance(path_or_file[k], h5py.Group)]
    names: dict[str, None] = {}
    for p in data_files(path_or_file):
        with open_h5(p) as f:
            names.update(dict.fromkeys(list_splits(f)))
    return list(names)


def _split_group(f: h5py.File, split: str) -> h5py.Group:
    if split not in f:
        raise DataError(f"{f.filename} has no split {split!r}; it has {list_splits(f)}.")
    return f[split]


def read_split(path: DataPath, split: str) -> dict[str, Any]:
    """Read a whole split into numpy arrays (for data that fits in memory; training reads lazily).

    Returns ``{"inputs": {...}, "outputs": {...}, "states": {...}, "coords": {...},
    "time": array | None, "resolution": tuple}``; the fields of a data set of several files
    are concatenated in file order.

    Raises
    ------
    DataError : a field holds NaN/Inf (naming the file, split, field and samples), as every reader does.
    """
    files = data_files(path)
    parts: list[dict[str, dict[str, np.ndarray]]] = []
    time = None
    resolution: tuple[int, ...] = ()
    for p in files:
        with open_h5(p) as f:
            if len(files) > 1 and split not in f:
                continue
            g = _split_group(f, split)
            if not parts:
                time = g["time"][()] if "time" in g else None
                resolution = tuple(int(r) for r in g.attrs.get("resolution", ()))
            parts.append({group: {k: g[group][k][()] for k in g[group]} if group in g else {}
                          for group in ("inputs", "outputs", "states", "coords")})
            _check_finite_split(p, split, parts[-1])
    if not parts:
        raise DataError(f"the files {[str(p) for p in files]} have no split {split!r}; available: "
                        f"{list_splits(files)}.")
    out: dict[str, Any] = {group: {k: np.concatenate([p[group][k] for p in parts]) for k in parts[0][group]}
                           for group in ("inputs", "outputs", "states")}
    out.update(coords=parts[0]["coords"], time=time, resolution=resolution)
    return out


def _check_finite_split(path: Path, split: str, fields: dict[str, dict[str, np.ndarray]]) -> None:
    """NaN/Inf in the fields of a split read whole is a DataError naming the file, split, fields and samples."""
    found = []
    for group in ("inputs", "outputs", "states"):
        for name, arr in fields[group].items():
            bad = ~np.isfinite(arr)
            if bad.any():
                found.append(f"{split}/{group}/{name}: {int(bad.sum())} NaN/Inf values in "
                             f"{sample_list(flagged_samples(bad))}")
    if found:
        what = "trajectories" if fields["states"] else "samples"
        raise DataError(f"{path}: split {split!r} holds NaN/Inf values ({'; '.join(found)}); fix or drop those {what} "
                        f"at their source; `neurops data check {path}` lists every field with NaN/Inf.")


class LazyH5:
    """Mixin: one read-only handle per file of ``self.paths`` and process, opened on first use.

    DataLoader workers get a copy without the handles (``__getstate__``) and open their own,
    so no HDF5 handle is ever shared across a fork. The HDF5 datasets read per sample are
    looked up once per process (:meth:`_datasets`): a path lookup costs more than a sample read.
    """

    paths: list[Path]
    _files: dict[int, h5py.File] | None = None
    _nodes: dict[tuple[int, tuple[str, ...]], list[h5py.Dataset]] | None = None
    _pid: int | None = None

    def _handle(self, k: int = 0) -> h5py.File:
        """The open handle of file ``self.paths[k]`` in this process."""
        if self._files is None or self._pid != os.getpid():
            self._files, self._nodes, self._pid = {}, {}, os.getpid()
        if k not in self._files:
            self._files[k] = open_h5(self.paths[k])
        return self._files[k]

    def _datasets(self, k: int, names: tuple[str, ...]) -> list[h5py.Dataset]:
        """The datasets ``names`` (e.g. ``("train/inputs/a",)``) of file ``k``, looked up once per process."""
        f = self._handle(k)
        nodes = self._nodes.get((k, names))
        if nodes is None:
            nodes = self._nodes[(k, names)] = [f[name] for name in names]
        return nodes

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_files"], state["_nodes"], state["_pid"] = None, None, None
        return state

    def __del__(self) -> None:
        self._nodes = None
        for f in (getattr(self, "_files", None) or {}).values():
            try:
                f.close()
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass


#: the way out of a missing field where the fields can be chosen (``neurops fit|validate|test``)
SELECT_FIELDS = ("rename the fields in the file, or select fields every split has (--data.input_fields / "
                 "--data.output_fields; --data.fields of trajectories)")


def check_fields(where: str, group: str, present: Sequence[str], wanted: Sequence[str] | None,
                 wanted_by: str = "you asked for", exact: bool = False, fix: str = SELECT_FIELDS) -> list[str]:
    """The fields ``wanted`` of ``group`` (default: all ``present``), refused if one is missing.

    The one check that a split, a file or a checkpoint's data holds the fields a model is trained on:
    ``wanted_by`` says whose they are (``"the model trains on"``, ``"the checkpoint was trained on"``);
    with ``exact`` the fields must be the same, in the same order (channels are stacked in it). ``fix``: the way
    out the error names (``neurops predict`` chooses no fields: it takes the checkpoint's).
    """
    present = list(present)
    if wanted is None:
        return present
    wanted = list(wanted)
    if any(w not in present for w in wanted) or (exact and wanted != present):
        raise DataError(f"{where} has {group} {present} but {wanted_by} {group} {wanted}; {fix}.")
    return wanted


class H5SplitDataset(LazyH5, Dataset):
    """Base of the lazy datasets: one split of a data set of one or more files.

    Subclasses read the split's layout from the first file that has it (:meth:`_describe`) and
    the number of items in each file (:meth:`_count`); :meth:`_locate` maps a global item index
    to ``(file, index in that file)``.
    """

    def __init__(self, path: DataPath, split: str) -> None:
        self.paths, self.split = data_files(path), split
        self.path = self.paths[0] if len(self.paths) == 1 else Path(os.path.commonpath(self.paths))
        self._parts: list[tuple[int, int]] = []  # (file index, items in it), files without the split skipped
        for k, p in enumerate(self.paths):
            with open_h5(p) as f:
                if split not in f:
                    continue
                if not self._parts:
                    self.meta = read_meta(f)
                    self._describe(f[split])
                self._parts.append((k, self._count(f[split])))
        if not self._parts:
            where = self.paths[0] if len(self.paths) == 1 else f"the files {[str(p) for p in self.paths]}"
            raise DataError(f"{where} {'has' if len(self.paths) == 1 else 'have'} no split {split!r}; "
                            f"available: {list_splits(self.paths)}.")
        self._offsets = [0, *itertools.accumulate(n for _, n in self._parts)]

    def _describe(self, g: h5py.Group) -> None:
        raise NotImplementedError

    def _count(self, g: h5py.Group) -> int:
        raise NotImplementedError

    @property
    def n_items(self) -> int:
        """Items (samples, trajectories) of the split over all files."""
        return self._offsets[-1]

    def _fields_read(self) -> list[str]:
        """The datasets this split's items are read from, as paths in each file (``"val/inputs/a"``)."""
        raise NotImplementedError

    def value_problems(self) -> list[tuple[Path, str]]:
        """NaN/Inf in what this dataset reads, ``[(file, "test/outputs/u: 1 NaN/Inf values in sample 3")]``, over
        every file of the split: ``neurops data check``'s scan (:func:`~neurops.data.check.value_problems`), one
        streamed pass over these fields (every value of them, a block at a time)."""
        problems = []
        for k, _ in self._parts:
            with open_h5(self.paths[k]) as f:
                problems += [(self.paths[k], p) for p in value_problems(f, self._fields_read())]
        return problems

    def _locate(self, index: int) -> tuple[int, int]:
        """``(file index k, index in that file)`` of global item ``index`` (0 <= index < n_items)."""
        part = bisect.bisect_right(self._offsets, index) - 1
        return self._parts[part][0], index - self._offsets[part]


class H5OperatorDataset(H5SplitDataset):
    """Input -> output samples of one split, read lazily.

    ``__getitem__`` returns ``{"x": float32 [C_in, *spatial], "y": float32 [C_out, *spatial]}``
    (``"y"`` absent for ``input_only`` files); channels follow the order of the field names.

    Parameters
    ----------
    path : neurops HDF5 file of kind ``operator`` or ``input_only``; or a folder or list of
        such files holding one data set (:func:`~neurops.data.shards.data_files`).
    split : split name (``train``, ``val``, ``test``, ``test@128`` ...).
    input_fields, output_fields : field names to stack as channels (default: all, sorted).
    fields_of : whose fields they are, in the error for a missing one (``"the model trains on"``).
    fields_fix : the way out that error names (default :data:`SELECT_FIELDS`).
    """

    def __init__(self, path: DataPath, split: str, input_fields: Sequence[str] | None = None,
                 output_fields: Sequence[str] | None = None, fields_of: str = "you asked for",
                 fields_fix: str = SELECT_FIELDS) -> None:
        self._wanted, self._fields_of, self._fields_fix = (input_fields, output_fields), fields_of, fields_fix
        super().__init__(path, split)

    def _describe(self, g: h5py.Group) -> None:
        if self.meta.kind not in ("operator", "input_only"):
            raise DataError(f"{g.file.filename} holds {self.meta.kind} data; an operator dataset needs kind "
                            "'operator' or 'input_only'.")
        input_fields, output_fields = self._wanted
        where = f"{g.file.filename} split {self.split!r}"
        self.input_fields = check_fields(where, "inputs", sorted(g["inputs"]), input_fields, self._fields_of,
                                         fix=self._fields_fix)
        self.output_fields = (check_fields(where, "outputs", sorted(g["outputs"]), output_fields, self._fields_of,
                                           fix=self._fields_fix) if "outputs" in g else [])
        if output_fields and not self.output_fields:
            raise DataError(f"{g.file.filename} split {self.split!r} has no outputs (kind {self.meta.kind}).")
        self.spatial_shape = tuple(g["inputs"][self.input_fields[0]].shape[1:])
        self.coords = {k: g["coords"][k][()] for k in g["coords"]}
        self._paths = {group: tuple(f"{self.split}/{group}/{name}" for name in names)
                       for group, names in (("inputs", self.input_fields), ("outputs", self.output_fields))}

    def _count(self, g: h5py.Group) -> int:
        return g["inputs"][self.input_fields[0]].shape[0]

    def _fields_read(self) -> list[str]:
        return [*self._paths["inputs"], *self._paths["outputs"]]

    @property
    def in_channels(self) -> int:
        return len(self.input_fields)

    @property
    def out_channels(self) -> int:
        return len(self.output_fields)

    def __len__(self) -> int:
        return self.n_items

    def _read(self, located: list[tuple[int, int]], group: str) -> np.ndarray:
        """Fields of ``group`` of the samples ``located`` (file, index), stacked ``[B, C, *spatial]``."""
        nodes = {k: self._datasets(k, self._paths[group]) for k in {k for k, _ in located}}
        if len(self._paths[group]) == 1:  # one field: no per-sample channel stacking
            return np.stack([nodes[k][0][index] for k, index in located])[:, None]
        return np.stack([np.stack([ds[index] for ds in nodes[k]]) for k, index in located])

    def _check_finite(self, arr: np.ndarray, located: list[tuple[int, int]], group: str) -> None:
        """NaN/Inf in ``arr`` (samples ``located`` of ``group``) is a DataError naming the file and sample."""
        if np.isfinite(arr).all():
            return
        for (k, index), sample in zip(located, arr.reshape(len(located), -1)):
            if not np.isfinite(sample).all():
                names = self.input_fields if group == "inputs" else self.output_fields
                raise DataError(f"{self.paths[k]} split {self.split!r} sample {index}: NaN or Inf in {group} {names}; "
                                f"run `neurops data check {self.paths[k]}`.")

    def _samples(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """Samples ``indices`` as a batch ``{"x": [B, C_in, *spatial], "y": [B, C_out, *spatial]}``."""
        n = self._offsets[-1]
        for i in indices:
            if not -n <= i < n:
                raise IndexError(f"sample {i} out of range for {n} samples")
        located = [self._locate(i % n) for i in indices]
        batch = {}
        for key, group in (("x", "inputs"), ("y", "outputs")):
            if key == "y" and not self.output_fields:
                continue
            arr = self._read(located, group)
            self._check_finite(arr, located, group)
            batch[key] = torch.from_numpy(arr)
        return batch

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {key: value[0] for key, value in self._samples([index]).items()}

    def __getitems__(self, indices: list[int]) -> SampleBatch:
        """The samples of one batch (the DataLoader's batched fetch), read into one array per key and
        checked for NaN/Inf once; :func:`collate` hands the batch on without stacking it again."""
        return SampleBatch(self._samples(indices))


class SampleBatch(Sequence):
    """The samples of one batch as a sequence of sample dicts (views of ``stacked``), as any
    ``collate_fn`` expects; :func:`collate` returns ``stacked`` itself instead of copying it.

    Parameters
    ----------
    stacked : ``{"x": [B, ...], "y": [B, ...]}``.
    """

    def __init__(self, stacked: dict[str, torch.Tensor]) -> None:
        self.stacked = stacked

    def __len__(self) -> int:
        return len(next(iter(self.stacked.values())))

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:  # type: ignore[override]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return {key: value[i] for key, value in self.stacked.items()}


def collate(samples: Sequence[Any]) -> Any:
    """``torch``'s ``default_collate``, except that a :class:`SampleBatch` is already stacked."""
    if isinstance(samples, SampleBatch):
        return dict(samples.stacked)
    return default_collate(samples)
