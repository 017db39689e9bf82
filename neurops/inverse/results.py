"""Posterior files (``kind = "posterior"`` of the neurops schema): write and read.

The layout is documented in ``docs/data-format.md`` and checked by :mod:`neurops.data.records`
(``neurops data check`` / ``data info`` / ``neurops.data.to_xarray`` work on these files).
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from neurops.data.files import open_hdf5
from neurops.data.records import (
    POSTERIOR_JSON_ATTRS,
    POSTERIOR_KIND,
    check_record,
    decode_dims,
    open_record,
    read_json_attr,
    write_json_attrs,
)
from neurops.data.schema import SCHEMA_VERSION
from neurops.errors import MissingFileError, SchemaError
from neurops.inverse.inversion import PosteriorResult
from neurops.utils.io import atomic_path

__all__ = ["read_posterior", "write_posterior"]

def write_posterior(result: PosteriorResult, path: str | os.PathLike, *, name: str = "posterior",
                    overwrite: bool = False) -> Path:
    """Write a :class:`~neurops.inverse.inversion.PosteriorResult` to a posterior file (atomically).

    Parameters
    ----------
    result : the inversion's result.
    path : the file (refused if it exists, unless ``overwrite``).
    name : the file's ``name`` attribute.
    """
    from neurops import __version__

    path = Path(path)
    with atomic_path(path, overwrite=overwrite, hdf5=True) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["kind"] = POSTERIOR_KIND
        f.attrs["name"] = name
        f.attrs["neurops_version"] = __version__
        f.attrs["level"] = float(result.level)
        f.attrs["noise_std"] = float(result.noise_std)
        # strict JSON (a non-finite number is null, and recorded in json_nonfinite for read_posterior)
        write_json_attrs(f, {"dims": list(result.coords),
                             **{key: getattr(result, key) for key in POSTERIOR_JSON_ATTRS}})
        for d, c in result.coords.items():
            f.create_dataset(f"coords/{d}", data=np.asarray(c, dtype=np.float64))
        for key, arr in result.summary.items():
            f.create_dataset(f"summary/{key}", data=np.asarray(arr, dtype=np.float32))
        for key, arr in result.samples.items():
            arr = np.asarray(arr)
            chunks = (1, *arr.shape[1:]) if arr.ndim > 1 else None
            f.create_dataset(f"samples/{key}", data=arr, chunks=chunks, compression="gzip" if chunks else None)
        for key, arr in result.observations.items():
            f.create_dataset(f"observations/{key}", data=np.asarray(arr, dtype=np.float64))
        for key, arr in result.truth.items():
            f.create_dataset(f"truth/{key}", data=np.asarray(arr, dtype=np.float32))
    return path


def read_posterior(path: str | os.PathLike, *, samples: bool = True) -> PosteriorResult:
    """Read a posterior file into a :class:`~neurops.inverse.inversion.PosteriorResult`.

    Parameters
    ----------
    path : a file written by ``neurops invert`` / :func:`write_posterior`.
    samples : also read the draws (``False``: summaries and diagnostics only).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"posterior file {path} does not exist; write one with `neurops invert`.")
    f = open_record(path)
    if f is None or f.attrs.get("kind") != POSTERIOR_KIND:
        if f is not None:
            f.close()
        with open_hdf5(path) as g:
            kind = g.attrs.get("kind")
        found = f"its kind is {kind!r}" if kind is not None else "it has no kind"
        raise SchemaError(f"{path} is not a posterior file ({found}, not 'posterior'); write one with "
                          "`neurops invert pde|surrogate --out POSTERIOR.h5`.")
    with f:
        check_record(f)
        dims = decode_dims(f.attrs["dims"])
        read = lambda group: {k: v[()] for k, v in f[group].items()} if group in f else {}  # noqa: E731
        records = {key: read_json_attr(f, key, {} if key != "warnings" else []) for key in POSTERIOR_JSON_ATTRS}
        return PosteriorResult(coords={d: f["coords"][d][()] for d in dims}, summary=read("summary"),
                               samples=read("samples") if samples else {}, observations=read("observations"),
                               truth=read("truth"), level=float(f.attrs.get("level", 0.95)),
                               noise_std=float(f.attrs.get("noise_std", np.nan)), **records)
