"""Convert numpy / torch arrays into a neurops file (``neurops data convert arrays``).

The arrays a user already has become operator pairs: an input array and an output array of one
shape ``[N, *spatial]`` (1 to 3 spatial axes; one field each), read from

* ``.npy`` files (memory-mapped, so files larger than memory convert in blocks);
* ``.npz`` files (``input_key`` / ``output_key`` pick the arrays when a file holds several);
* ``.pt`` / ``.pth`` files written by ``torch.save``: a tensor or a dict of tensors, loaded with
  ``weights_only=True`` (never unpickling code) and memory-mapped where the file allows.

The grid is ``linspace(0, 1, n)`` per axis (both end points), or ``j / n`` with
``boundary="periodic"``; splits follow the other converters (train first, test the LAST
samples, or the test samples from other files), and the test samples can be stored at more
resolutions as ``test@R``: from other arrays holding the same samples on another grid
(``extra_test``), or by striding the test arrays (``test_space_strides``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurops.data.external._common import (
    Collection,
    Splits,
    Striding,
    add_test_resolutions,
    node_coords,
    pair_collection,
    periodic_coords,
    split_collections,
    write_converted,
)
from neurops.data.metadata import DatasetMeta
from neurops.data.schema import BOUNDARY_TYPES, resolution_tag
from neurops.errors import ConfigError, DataError, MissingFileError

SUFFIXES: tuple[str, ...] = (".npy", ".npz", ".pt", ".pth")


class ArraySamples:
    """Samples along the first axis of an in-memory or memory-mapped array."""

    def __init__(self, data: np.ndarray, key: str | None = None) -> None:
        self._data = data
        self.shape: tuple[int, ...] = tuple(data.shape)
        self.key = key  # the array's name in its file (None: a file of one unnamed array)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def take(self, lo: int, hi: int) -> np.ndarray:
        """Samples ``lo..hi-1``."""
        return np.asarray(self._data[lo:hi])


def load_array(path: str | os.PathLike, key: str | None = None) -> ArraySamples:
    """One array of a ``.npy``, ``.npz`` or ``.pt`` / ``.pth`` file.

    Parameters
    ----------
    path : the file.
    key : the array's name in an ``.npz`` file or in a dict saved with ``torch.save`` (needed
        when the file holds several arrays; a file of one array needs none).

    Raises
    ------
    DataError : the file cannot be read, the key is missing or ambiguous, or the values are not
        real numbers.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path} is a directory, not an array file; pass one {', '.join(SUFFIXES)} file.")
    if not path.is_file():
        raise MissingFileError(f"array file {path} does not exist; check the path.")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path} is not an array file neurops reads ({', '.join(SUFFIXES)}); save the arrays with "
                        "numpy.save / numpy.savez / torch.save.")
    picked = None
    try:
        if suffix == ".npy":
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                arr = npz[picked := _pick(path, list(npz.files), key)]
        else:
            arr, picked = _load_torch(path, key)
    except (DataError, ConfigError):
        raise
    except Exception as err:  # noqa: BLE001 - numpy/torch raise many types on unreadable files
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # torch's messages carry terminal colours and many lines
        found = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if found:
            raise DataError(f"{path} holds Python objects besides tensors ({found[1]}); neurops loads .pt files with "
                            "weights_only=True and never unpickles code: save a tensor or a dict of tensors "
                            "(torch.save({'a': a, 'u': u}, ...)) or numpy arrays.") from err
        lines = [line.strip() for line in text.splitlines() if line.strip()] or [""]
        first = next((line for line in lines if line.startswith("WeightsUnpickler error:")), lines[0])
        raise DataError(f"{path} is not a readable {suffix} file ({type(err).__name__}: {first}).") from err
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{path}{f' [{key}]' if key else ''} holds {arr.dtype} values; neurops stores real float32 "
                        "fields (save the real and imaginary parts of complex data as two arrays).")
    return ArraySamples(arr, picked)


def _pick(path: Path, names: list[str], key: str | None) -> str:
    if key is None or len(names) == 1 and key not in names:
        if len(names) != 1:
            raise DataError(f"{path} holds the arrays {names}; choose one with input_key / output_key "
                            "(--input-key / --output-key).")
        return names[0]
    if key not in names:
        raise DataError(f"{path} has no array {key!r}; it has {names}.")
    return key


def _load_torch(path: Path, key: str | None) -> tuple[np.ndarray, str | None]:
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # files of the legacy (non-zip) format cannot be memory-mapped
        obj = torch.load(path, map_location="cpu", weights_only=True)
    picked = None
    if isinstance(obj, dict):
        names = [k for k, v in obj.items() if isinstance(v, torch.Tensor)]
        obj = obj[picked := _pick(path, names, key)]
    if not isinstance(obj, torch.Tensor):
        raise DataError(f"{path} holds a {type(obj).__name__}, not a tensor or a dict of tensors.")
    if obj.dtype == torch.bfloat16:
        obj = obj.float()  # exact: every bfloat16 value is a float32 value
    return obj.detach().numpy(), picked


def _pairs(inputs: str | os.PathLike, outputs: str | os.PathLike, input_key: str | None, output_key: str | None,
           names: tuple[str, str], stride: Striding, boundary: str) -> Collection:
    a, u = load_array(inputs, input_key), load_array(outputs, output_key)
    if Path(inputs) == Path(outputs) and a.key == u.key:
        what = f"the only array of {inputs}" if a.key is None else f"the array {a.key!r} of {inputs}"
        raise ConfigError(f"input_key {input_key!r} and output_key {output_key!r} both read {what}: inputs and "
                          "outputs would be the same values; give the outputs' file (outputs=, --outputs) or the keys "
                          "of two arrays.")
    label = str(inputs) if Path(inputs) == Path(outputs) else f"{inputs} + {outputs}"
    coords_fn = periodic_coords if boundary == "periodic" else node_coords
    return pair_collection(a, u, (input_key or Path(inputs).name, output_key or Path(outputs).name), names, label,
                           stride, coords_fn)[0]


def _extra_test(pair: Sequence[str | os.PathLike], splits: Splits,
                coll: Collection, read: Callable[[Any, Any], Collection]) -> tuple[str, Collection]:
    """``(test@R, collection)`` of an ``(inputs, outputs)`` file pair holding the test samples on another grid."""
    if len(pair) != 2:
        raise ConfigError(f"extra_test takes (inputs, outputs) file pairs, got {pair!r}.")
    extra = read(pair[0], pair[1])
    n_t = len(splits["test"][0][1]) if "test" in splits else 0
    if extra.n != n_t:
        raise DataError(f"{extra.label} holds {extra.n} samples but the test split has {n_t}; extra_test files "
                        "hold the same test samples on another grid.")
    split = f"test@{resolution_tag(extra.spatial_shape)}"
    if split in splits or resolution_tag(extra.spatial_shape) == resolution_tag(coll.spatial_shape):
        raise ConfigError(f"{extra.label} is on a grid the file already has ({split}); extra_test adds other "
                          "resolutions.")
    return split, extra


def convert_arrays(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    outputs: str | os.PathLike | None = None,
    input_key: str | None = None,
    output_key: str | None = None,
    test_src: str | os.PathLike | None = None,
    test_outputs: str | os.PathLike | None = None,
    extra_test: Sequence[tuple[str | os.PathLike, str | os.PathLike]] = (),
    boundary: str = "none",
    name: str | None = None,
    n_train: int | None = None,
    n_val: int = 0,
    n_test: int | None = None,
    test_fraction: float = 0.1,
    space_stride: int = 1,
    test_space_strides: Sequence[int] = (),
    compression: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Convert input/output arrays ``[N, *spatial]`` into a neurops ``operator`` file.

    Parameters
    ----------
    src : the file holding the inputs (``.npy``, ``.npz``, ``.pt``).
    out : the neurops file to write (atomically).
    outputs : the file holding the outputs (default: ``src``, with ``output_key``).
    input_key : name of the input array in ``.npz`` files or dicts of tensors (a file of one array needs
        none); it also names the input field (default: the file stem).
    output_key : the same for the output array and field.
    test_src : the file holding the test inputs (default: the test samples are the last of ``src``).
    test_outputs : the file holding the test outputs (default: ``test_src``).
    extra_test : ``(inputs, outputs)`` files holding the SAME test samples on other grids, stored
        as ``test@R``.
    boundary : boundary condition of every axis; ``periodic`` gives the grid ``j / n``, any other
        ``linspace(0, 1, n)``.
    name : dataset name (default: the stem of ``src``).
    n_train : training samples, the first of ``src`` (default: all before val and test).
    n_val : validation samples, right after train (0: no val split).
    n_test : test samples, the last of ``src`` (default: ``test_fraction`` of them); with ``test_src``,
        the first ``n_test`` of that file (default: all).
    test_fraction : the share of ``src``'s samples that becomes test when ``n_test`` is not given.
    space_stride : keep every k-th grid point.
    test_space_strides : the test samples again at these strides, stored as ``test@R``.
    compression : ``None``, ``"gzip"`` or ``"lzf"``.
    overwrite : replace an existing ``out``.
    progress : show a progress bar.

    Returns
    -------
    out : the neurops file: ``inputs/<input name>`` -> ``outputs/<output name>``, dims ``x, y, z``.

    Examples
    --------
    >>> convert_arrays("a.npy", "darcy.h5", outputs="u.npy", n_test=100)  # doctest: +SKIP
    >>> convert_arrays("data.npz", "darcy.h5", input_key="coeff", output_key="sol",
    ...                extra_test=[("coeff_129.npy", "sol_129.npy")])  # doctest: +SKIP
    """
    src = Path(src)
    if test_outputs is not None and test_src is None:
        raise ConfigError("test_outputs needs test_src (--test-src), the file of the test inputs.")
    outputs = Path(outputs) if outputs is not None else src
    if outputs == src and (input_key is None or output_key is None):
        raise ConfigError(f"inputs and outputs both come from {src}: name them with input_key and output_key "
                          "(--input-key / --output-key), or give the outputs' file (outputs=, --outputs).")
    if boundary not in BOUNDARY_TYPES:
        raise ConfigError(f"boundary {boundary!r} is unknown; use one of {BOUNDARY_TYPES}.")
    stride = Striding(space_stride)
    names = (input_key or src.stem, output_key or outputs.stem)
    coll = _pairs(src, outputs, input_key, output_key, names, stride, boundary)
    test_files = (src, outputs) if test_src is None else (
        Path(test_src), Path(test_outputs) if test_outputs is not None else Path(test_src))
    test_coll = None if test_src is None else _pairs(*test_files, input_key, output_key, names, stride, boundary)
    splits = split_collections(coll, test_coll, n_train=n_train, n_val=n_val, n_test=n_test,
                               test_fraction=test_fraction)
    add_test_resolutions(splits, test_space_strides,
                         lambda _, striding: _pairs(*test_files, input_key, output_key, names, striding, boundary),
                         1)
    for pair in extra_test:
        split, extra = _extra_test(pair, splits, coll, lambda a, b: _pairs(a, b, input_key, output_key, names,
                                                                           Striding(), boundary))
        splits[split] = [(extra, range(extra.n))]
    dims = list(coll.coords)
    meta = DatasetMeta(kind="operator", name=name or src.stem, dims=dims, boundary={d: boundary for d in dims},
                generator={"converter": "arrays", "inputs": src.name, "outputs": outputs.name,
                           "input_key": input_key, "output_key": output_key, "space_stride": stride.space,
                           "test_inputs": test_files[0].name, "test_outputs": test_files[1].name,
                           "extra_test": [[Path(a).name, Path(b).name] for a, b in extra_test],
                           "grid": "j / n" if boundary == "periodic" else "linspace(0, 1, n)"})
    return write_converted(out, meta, splits, compression=compression, overwrite=overwrite, progress=progress)
