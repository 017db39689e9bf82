"""Import a measured multivariate time series (``.npy`` / ``.csv``, ``[T, N]``) as a trajectory file.

The result is a neurops ``trajectory`` file (schema v1) with dims ``["component"]`` and
one field ``x`` of shape ``[1, T_split, N]`` per split. The series is cut into contiguous
blocks in time: ``train`` first, then ``val``, then ``test`` (the last
``test_fraction`` of the points), so that checkpoints are chosen on ``val`` and the
``test`` block is only used for the final evaluation. ``neurops data import-series FILE
--dt DT --val-fraction 0.1 --test-fraction 0.1 --out FILE.h5`` calls :func:`import_series`.
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from pathlib import Path

import numpy as np

from neurops.data.metadata import DatasetMeta
from neurops.data.writer import H5Writer
from neurops.errors import DataError, MissingFileError, NeuropsWarning
from neurops.utils.io import check_output_path

#: fewest points a split may hold (a window and a target, or a series to compare with)
MIN_SPLIT_POINTS = 2


def _read_csv(path: Path) -> np.ndarray:
    """``[T, N]`` floats of a comma-separated file; a first row that is not numeric is a header."""
    with open(path, newline="") as f:
        rows = [(i + 1, row) for i, row in enumerate(csv.reader(f)) if any(cell.strip() for cell in row)]
    if rows and not _numeric(rows[0][1]):
        rows = rows[1:]  # header
    if not rows:
        raise DataError(f"{path} holds no data rows; import-series needs a series [T, N] with one time step "
                        "per row and one variable per column.")
    width = len(rows[0][1])
    values = np.empty((len(rows), width))
    for k, (line, row) in enumerate(rows):
        if len(row) != width:
            raise DataError(f"{path} line {line} has {len(row)} values but line {rows[0][0]} has {width}; every "
                            "row must hold one value per variable (fill or drop the incomplete rows).")
        for j, cell in enumerate(row):
            try:
                values[k, j] = float(cell)
            except ValueError:
                raise DataError(f"{path} line {line}, column {j + 1} holds {cell.strip()!r}, not a number; "
                                f"{_csv_hint(cell, [r for _, r in rows])}") from None
    return values


def _csv_hint(cell: str, rows: list[list[str]]) -> str:
    """What a cell that is not a number most likely means, and the fix."""
    text = cell.strip()
    if not text and all(not row[-1].strip() for row in rows):
        return "every row ends with a separator (a trailing comma): remove it, or fill the last column."
    if ";" in text or "\t" in text:
        return ("the file seems separated by ';' or tabs: import-series reads comma-separated values with '.' as "
                "the decimal point; save it as such (e.g. pandas: to_csv(path, index=False)).")
    if "," in text:
        return ("it looks like a decimal comma: import-series reads '.' as the decimal point, in comma-separated "
                "values; convert the file (e.g. pandas: read_csv(path, decimal=',').to_csv(out, index=False)).")
    return "import-series reads numbers only (a header is allowed on the first line)."


def _numeric(row: list[str]) -> bool:
    try:
        [float(cell) for cell in row]
    except ValueError:
        return False
    return True


def load_series(src: str | os.PathLike) -> np.ndarray:
    """Read a ``[T, N]`` series from ``.npy`` or ``.csv`` (comma separated; a header row is skipped).

    Raises
    ------
    FileNotFoundError, DataError
        for a missing file, an unknown suffix, text or ragged rows, an empty file, a wrong
        shape or non-finite values.
    """
    path = Path(src)
    if not path.is_file():
        raise MissingFileError(f"series file {path} does not exist; pass the path of a .npy or .csv file.")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            data = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"{path} is not a readable .npy array ({exc}); save the series with numpy.save.") from None
        if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
            raise DataError(f"{path} holds {data.dtype} values; import-series needs a real-valued series [T, N].")
    elif suffix == ".csv":
        data = _read_csv(path)
    else:
        raise DataError(f"{path} has suffix {suffix!r}; import-series reads .npy or .csv files of shape [T, N].")
    _say_conversion(path, data.dtype, data)
    data = np.asarray(data, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.size == 0:
        raise DataError(f"{path} holds an array of shape {data.shape}; expected a series [T, N] (time first).")
    if data.shape[0] < data.shape[1]:
        raise DataError(f"{path} has shape {data.shape}: fewer time steps than variables. Store the series as "
                        "[T, N] (time first); transpose it if needed.")
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).any(axis=1).sum())
        raise DataError(f"{path} has NaN or Inf values in {bad} time steps; interpolate or drop them first.")
    steps = np.diff(data, axis=0)
    even = (steps != 0).all(axis=0) & (np.abs(steps - steps[:1]) <= 1e-9 * np.abs(steps[:1])).all(axis=0)
    if len(data) > 2 and even.any():
        warnings.warn(f"variables {np.flatnonzero(even).tolist()} of {path} grow by a constant step, like a time "
                      "axis: drop a time column (import-series takes the sampling interval from --dt) or it is learnt "
                      "as a variable.", NeuropsWarning, stacklevel=2)
    if data.shape[0] < 10 * data.shape[1]:
        warnings.warn(f"{path} has shape {data.shape}: {data.shape[0]} time steps for {data.shape[1]} variables, "
                      "fewer than 10 per variable; if the array is [N, T] (variables first), transpose it.",
                      NeuropsWarning, stacklevel=2)
    return data


def _say_conversion(path: Path, dtype: np.dtype, data: np.ndarray) -> None:
    """Warn that a series of integers or half floats is stored as float32 (the format's type), and whether that is
    exact."""
    if dtype.kind == "f" and dtype.itemsize >= 4:
        return
    exact = dtype.kind == "f" or not data.size or int(np.abs(data).max()) <= 2**24
    warnings.warn(f"{path} holds {dtype} values; they are stored as float32, "
                  + ("exactly." if exact else "rounded: integers beyond 2**24 lose their last digits (rescale "
                                              "them, e.g. subtract an offset, before importing)."),
                  NeuropsWarning, stacklevel=3)


def split_lengths(n_points: int, val_fraction: float, test_fraction: float) -> dict[str, int]:
    """Points of the contiguous ``train`` / ``val`` / ``test`` blocks of a series of ``n_points``.

    A fraction of 0 leaves that split out; every split written holds at least
    :data:`MIN_SPLIT_POINTS` points.
    """
    for name, frac in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= frac < 1.0 or not math.isfinite(frac):
            raise DataError(f"{name} must lie in [0, 1), got {frac}.")
    if val_fraction + test_fraction >= 1.0:
        raise DataError(f"val_fraction + test_fraction = {val_fraction + test_fraction:g} leaves nothing to train "
                        "on; keep their sum below 1.")
    n_val, n_test = int(round(val_fraction * n_points)), int(round(test_fraction * n_points))
    lengths = {"train": n_points - n_val - n_test, "val": n_val, "test": n_test}
    fractions = {"train": 1.0, "val": val_fraction, "test": test_fraction}
    short = {k: v for k, v in lengths.items() if fractions[k] > 0 and v < MIN_SPLIT_POINTS}
    if short:
        raise DataError(f"a series of {n_points} points split by val_fraction={val_fraction:g}, "
                        f"test_fraction={test_fraction:g} leaves {short} points (need >= {MIN_SPLIT_POINTS} each); "
                        + ("use smaller fractions (they leave the train block too short)" if "train" in short
                           else "use larger fractions") + " or a longer series.")
    return {k: v for k, v in lengths.items() if v > 0}


def import_series(src: str | os.PathLike, *, dt: float, out: str | os.PathLike, name: str | None = None,
                  standardize: bool = False, val_fraction: float = 0.1, test_fraction: float = 0.1,
                  overwrite: bool = False) -> Path:
    """Write a measured series as a neurops trajectory file with contiguous train / val / test blocks.

    Parameters
    ----------
    src : ``.npy`` or ``.csv`` file holding ``[T, N]`` (time first; a 1-D ``[T]`` array is one variable).
    dt : sampling interval (stored as the time axis and in the parameters).
    out : output ``.h5`` file (written atomically).
    name : dataset name (default: the file stem).
    standardize : z-score every variable with the statistics of the ``train`` block.
    val_fraction : the block after ``train`` becomes split ``val`` (checkpoint selection);
        0 writes none (``DynamicsDataModule`` then needs ``val_from_train``).
    test_fraction : the last block becomes split ``test`` (final evaluation only); 0 writes
        none.
    overwrite : replace an existing ``out``.

    Returns
    -------
    The path written.
    """
    if not dt > 0 or not math.isfinite(dt):
        raise DataError(f"dt must be > 0, got {dt}; pass the sampling interval with --dt.")
    check_output_path(out, overwrite=overwrite, inputs=[src], hdf5=True)  # before reading (and warning about) it
    data = load_series(src)
    lengths = split_lengths(len(data), val_fraction, test_fraction)
    ends = np.cumsum(list(lengths.values()))
    splits = dict(zip(lengths, np.split(data, ends[:-1])))
    mean, std = splits["train"].mean(axis=0), splits["train"].std(axis=0)
    if standardize:
        if np.any(std == 0):
            raise DataError(f"variables {np.flatnonzero(std == 0).tolist()} are constant in the train block of "
                            f"{src}; drop them before standardising.")
        splits = {k: (v - mean) / std for k, v in splits.items()}
    elif np.any(std == 0):
        warnings.warn(f"variables {np.flatnonzero(std == 0).tolist()} are constant in the train block of {src}: they "
                      "carry no dynamics and a model only learns their value; drop them.", NeuropsWarning,
                      stacklevel=2)
    as_given = (not standardize and Path(src).suffix.lower() == ".npy"
                and np.load(src, mmap_mode="r", allow_pickle=False).dtype == np.float64)
    starts = dict(zip(lengths, np.concatenate([[0], ends[:-1]]).tolist()))
    parameters = {"dt": dt, "source": str(Path(src).name), "standardized": standardize,
                  "standardization": {"mean": mean.tolist(), "std": std.tolist()},
                  "val_fraction": val_fraction, "test_fraction": test_fraction,
                  "split_blocks": {k: [starts[k], starts[k] + n] for k, n in lengths.items()}}
    generator = {"name": "import_series", "src": str(src), "dt": dt, "standardize": standardize,
                 "val_fraction": val_fraction, "test_fraction": test_fraction}
    with H5Writer(out, DatasetMeta(kind="trajectory", name=name or Path(src).stem, dims=["component"],
                                   parameters=parameters, generator=generator), overwrite=overwrite) as writer:
        for split, arr in splits.items():
            # the values of a float64 .npy go to the writer as they are: it says whether float32 rounded them, as
            # for a conversion; standardised values (and those of other sources, said above) are cast here
            stored = arr[None] if as_given else arr[None].astype(np.float32)
            writer.add_split(split, coords={"component": np.arange(data.shape[1])}, states={"x": stored},
                             time=dt * (starts[split] + np.arange(len(arr))), attrs={"dt": dt})
    return Path(out)


__all__ = ["MIN_SPLIT_POINTS", "import_series", "load_series", "split_lengths"]
