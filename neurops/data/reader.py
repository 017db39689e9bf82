"""Lazy readers for neurops HDF5 files.

Files are opened on first access inside each DataLoader worker (never shared across a
fork), and only the requested samples are read, so memory is bounded by the batch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from neurops.data.schema import SUPPORTED_VERSIONS, decode_attr
from neurops.errors import DataError, SchemaError


def open_h5(path: str | os.PathLike) -> h5py.File:
    """Open a neurops HDF5 file read-only, with one clear error for each way it can be unusable."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file {path} does not exist; check the path or generate it with "
                        "`neurops data generate ...`.")
    if path.is_dir():
        raise DataError(f"{path} is a directory, not an HDF5 file.")
    if not h5py.is_hdf5(path):
        raise DataError(f"{path} is not an HDF5 file; neurops reads HDF5 (convert other formats with "
                        "`neurops data convert`).")
    f = h5py.File(path, "r")
    version = f.attrs.get("schema_version")
    if version is None:
        f.close()
        raise SchemaError(f"{path} has no 'schema_version' attribute: it is not a neurops file "
                          "(convert it with `neurops data convert`).")
    if int(version) not in SUPPORTED_VERSIONS:
        f.close()
        raise SchemaError(f"{path} uses schema version {int(version)}, but this neurops reads versions "
                          f"{list(SUPPORTED_VERSIONS)}; upgrade neurops or regenerate the file.")
    return f


def read_attrs(path_or_file: str | os.PathLike | h5py.File) -> dict[str, Any]:
    """Root attributes with JSON values decoded."""
    if isinstance(path_or_file, h5py.File):
        return {k: decode_attr(k, v) for k, v in path_or_file.attrs.items()}
    with open_h5(path_or_file) as f:
        return read_attrs(f)


def list_splits(path_or_file: str | os.PathLike | h5py.File) -> list[str]:
    """Names of the splits (top-level groups) in a file."""
    if isinstance(path_or_file, h5py.File):
        return [k for k in path_or_file.keys() if isinstance(path_or_file[k], h5py.Group)]
    with open_h5(path_or_file) as f:
        return list_splits(f)


def _split_group(f: h5py.File, split: str) -> h5py.Group:
    if split not in f:
        raise DataError(f"{f.filename} has no split {split!r}; it has {list_splits(f)}.")
    return f[split]


def read_split(path: str | os.PathLike, split: str) -> dict[str, Any]:
    """Read a whole split into numpy arrays.

    Returns ``{"inputs": {...}, "outputs": {...}, "states": {...}, "coords": {...},
    "time": array | None, "resolution": tuple}``.
    """
    with open_h5(path) as f:
        g = _split_group(f, split)
        out: dict[str, Any] = {
            group: {k: g[group][k][()] for k in g[group]} if group in g else {}
            for group in ("inputs", "outputs", "states", "coords")
        }
        out["time"] = g["time"][()] if "time" in g else None
        out["resolution"] = tuple(int(r) for r in g.attrs.get("resolution", ()))
        return out


class LazyH5:
    """Mixin: one read-only handle on ``self.path`` per process, opened on first use.

    DataLoader workers get a copy without the handle (``__getstate__``) and open their own,
    so no HDF5 handle is ever shared across a fork.
    """

    path: Path
    _file: h5py.File | None = None
    _pid: int | None = None

    def _handle(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            self._file = open_h5(self.path)
            self._pid = os.getpid()
        return self._file

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"], state["_pid"] = None, None
        return state

    def __del__(self) -> None:
        if getattr(self, "_file", None) is not None:
            try:
                self._file.close()
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass


class H5OperatorDataset(LazyH5, Dataset):
    """Input -> output samples of one split, read lazily.

    ``__getitem__`` returns ``{"x": float32 [C_in, *spatial], "y": float32 [C_out, *spatial]}``
    (``"y"`` absent for ``input_only`` files); channels follow the order of the field names.

    Parameters
    ----------
    path : neurops HDF5 file of kind ``operator`` or ``input_only``.
    split : split name (``train``, ``val``, ``test``, ``test@128`` ...).
    input_fields, output_fields : field names to stack as channels (default: all, sorted).
    """

    def __init__(self, path: str | os.PathLike, split: str, input_fields: Sequence[str] | None = None,
                 output_fields: Sequence[str] | None = None) -> None:
        self.path, self.split = Path(path), split
        with open_h5(self.path) as f:
            attrs = read_attrs(f)
            if attrs["kind"] not in ("operator", "input_only"):
                raise DataError(f"{path} holds {attrs['kind']} data; an operator dataset needs kind "
                                "'operator' or 'input_only'.")
            g = _split_group(f, split)
            self.input_fields = self._fields(g, "inputs", input_fields)
            self.output_fields = self._fields(g, "outputs", output_fields) if "outputs" in g else []
            if output_fields and not self.output_fields:
                raise DataError(f"{path} split {split!r} has no outputs (kind {attrs['kind']}).")
            first = g["inputs"][self.input_fields[0]]
            self._len = first.shape[0]
            self.spatial_shape = tuple(first.shape[1:])
            self.coords = {k: g["coords"][k][()] for k in g["coords"]} if "coords" in g else {}
            for grp, names in (("inputs", self.input_fields), ("outputs", self.output_fields)):
                for name in names:
                    if g[grp][name].shape != (self._len, *self.spatial_shape):
                        raise DataError(f"{path} split {split!r}: {grp}/{name} has shape {g[grp][name].shape}, "
                                        f"expected {(self._len, *self.spatial_shape)}.")
        self.attrs = attrs

    @staticmethod
    def _fields(g: h5py.Group, group: str, wanted: Sequence[str] | None) -> list[str]:
        present = sorted(g[group].keys()) if group in g else []
        if wanted is None:
            return present
        missing = [w for w in wanted if w not in present]
        if missing:
            raise DataError(f"{g.file.filename} split {g.name.strip('/')!r} has no {group} field(s) {missing}; "
                            f"available: {present}.")
        return list(wanted)

    @property
    def in_channels(self) -> int:
        return len(self.input_fields)

    @property
    def out_channels(self) -> int:
        return len(self.output_fields)

    def __len__(self) -> int:
        return self._len

    def _stack(self, group: str, names: list[str], index: int) -> torch.Tensor:
        g = self._handle()[self.split][group]
        arr = np.stack([g[name][index] for name in names]).astype(np.float32, copy=False)
        if not np.isfinite(arr).all():
            raise DataError(f"{self.path} split {self.split!r} sample {index}: NaN or Inf in {group} "
                            f"{names}; run `neurops data check {self.path}`.")
        return torch.from_numpy(arr)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not -self._len <= index < self._len:
            raise IndexError(f"sample {index} out of range for {self._len} samples")
        index = index % self._len
        sample = {"x": self._stack("inputs", self.input_fields, index)}
        if self.output_fields:
            sample["y"] = self._stack("outputs", self.output_fields, index)
        return sample
