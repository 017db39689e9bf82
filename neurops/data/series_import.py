"""Import a measured multivariate time series (``.npy`` / ``.csv``, ``[T, N]``) as a trajectory file.

The result is a neurops ``trajectory`` file (schema v1) with dims ``["component"]`` and
one field ``x`` of shape ``[1, T, N]`` per split, ready for :class:`DynamicsDataModule`
and ``neurops dsr fit``. ``neurops data import-series FILE --dt DT --out FILE.h5`` calls
:func:`import_series`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from neurops.data.writer import H5Writer
from neurops.errors import DataError


def load_series(src: str | os.PathLike) -> np.ndarray:
    """Read a ``[T, N]`` series from ``.npy`` or ``.csv`` (comma separated; a header row is skipped).

    Raises
    ------
    FileNotFoundError, DataError
        for a missing file, an unknown suffix, a wrong shape or non-finite values.
    """
    path = Path(src)
    if not path.is_file():
        raise FileNotFoundError(f"series file {path} does not exist; pass the path of a .npy or .csv file.")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        data = np.load(path, allow_pickle=False)
    elif suffix == ".csv":
        try:
            data = np.loadtxt(path, delimiter=",", ndmin=2)
        except ValueError:
            data = np.loadtxt(path, delimiter=",", ndmin=2, skiprows=1)
    else:
        raise DataError(f"{path} has suffix {suffix!r}; import-series reads .npy or .csv files of shape [T, N].")
    data = np.asarray(data, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2:
        raise DataError(f"{path} holds an array of shape {data.shape}; expected a series [T, N] (time first).")
    if data.shape[0] < data.shape[1]:
        raise DataError(f"{path} has shape {data.shape}: fewer time steps than variables. Store the series as "
                        "[T, N] (time first); transpose it if needed.")
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).any(axis=1).sum())
        raise DataError(f"{path} has NaN or Inf values in {bad} time steps; interpolate or drop them first.")
    return data


def import_series(src: Path, *, dt: float, out: Path, name: str | None = None, standardize: bool = False,
                  test_fraction: float = 0.0) -> Path:
    """Write a measured series as a neurops trajectory file.

    Parameters
    ----------
    src : ``.npy`` or ``.csv`` file holding ``[T, N]`` (time first).
    dt : sampling interval (stored as the time axis and in the parameters).
    out : output ``.h5`` file (written atomically; must not exist).
    name : dataset name (default: the file stem).
    standardize : z-score every variable with the statistics of the training part.
    test_fraction : the last ``test_fraction`` of the series becomes split ``test``
        (the rest ``train``); 0 keeps one ``train`` split.

    Returns
    -------
    The path written.
    """
    if dt <= 0:
        raise DataError(f"dt must be > 0, got {dt}; pass the sampling interval with --dt.")
    if not 0.0 <= test_fraction < 1.0:
        raise DataError(f"test_fraction must lie in [0, 1), got {test_fraction}.")
    data = load_series(src)
    n_test = int(round(test_fraction * len(data)))
    if test_fraction > 0 and (n_test < 2 or len(data) - n_test < 2):
        raise DataError(f"test_fraction={test_fraction} leaves too few time steps in a split (T={len(data)}).")
    splits = {"train": data[: len(data) - n_test]}
    if n_test:
        splits["test"] = data[len(data) - n_test:]
    mean, std = splits["train"].mean(axis=0), splits["train"].std(axis=0)
    if standardize:
        if np.any(std == 0):
            raise DataError(f"variables {np.flatnonzero(std == 0).tolist()} are constant in {src}; drop them "
                            "before standardising.")
        splits = {k: (v - mean) / std for k, v in splits.items()}
    parameters = {"dt": dt, "source": str(Path(src).name), "standardized": standardize,
                  "standardization": {"mean": mean.tolist(), "std": std.tolist()}, "test_fraction": test_fraction}
    generator = {"name": "import_series", "src": str(src), "dt": dt, "standardize": standardize,
                 "test_fraction": test_fraction}
    with H5Writer(out, kind="trajectory", name=name or Path(src).stem, dims=["component"],
                  parameters=parameters, generator=generator) as writer:
        for split, arr in splits.items():
            writer.add_split(split, coords={"component": np.arange(data.shape[1])}, states={"x": arr[None]},
                             time=dt * np.arange(len(arr)), attrs={"dt": dt})
    return Path(out)


__all__ = ["import_series", "load_series"]
