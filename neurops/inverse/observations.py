"""Sparse noisy observations of a solution field, and their HDF5 file (``kind="observations"``).

An observation file holds ``M`` point values of the solution ``u`` with Gaussian noise of known
standard deviation, the grid on which a posterior should be reported, optionally the true
fields (for evaluation) and the configuration of the generator whose data were observed (it
defines the default prior and the true solver). The format is a kind of the neurops schema,
checked by :mod:`neurops.data.records` and documented in ``docs/data-format.md``; a hand-made
file with the documented fields (``points``, ``values``, ``noise_std``, ``dims``, ``coords``) is
read too.

Noise follows DGNO [1]_: for a signal-to-noise ratio ``SNR`` in dB,
``sigma = sqrt(mean(u_obs^2) / 10^(SNR / 10))``. SNRs above 313 dB (a noise below the float64
rounding of the values) and below ``-10 log10(M)`` dB (all ``M`` observations together carry less
signal than one noise variance) are refused.

References
----------
.. [1] Y. Zang, P.-S. Koutsourelakis, "DGenNO: a novel physics-aware neural operator for
   solving forward and inverse PDE problems based on deep, generative probabilistic
   modeling", J. Comput. Phys. 538, 114137 (2025), arXiv:2502.06250.
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from neurops.data.files import open_hdf5
from neurops.data.metadata import DatasetMeta
from neurops.data.reader import read_meta, read_split
from neurops.data.records import (
    OBSERVATIONS_KIND,
    check_record,
    decode_dims,
    open_record,
    read_json_attr,
    record_kind,
    write_json_attrs,
)
from neurops.data.schema import SCHEMA_VERSION
from neurops.errors import DataError, MissingFileError, SchemaError
from neurops.utils.io import atomic_path
from neurops.utils.seeding import check_seed

__all__ = [
    "Observations",
    "as_float64",
    "make_observations",
    "observations_from_file",
    "read_observations",
    "write_observations",
]


def as_float64(x: Any, name: str) -> np.ndarray:
    """``x`` (an array, a tensor on any device, with or without grad, a number or a sequence) as a float64 array;
    a :class:`~neurops.errors.DataError` for anything that is not real numbers (complex, strings, objects)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.is_complex() or x.dtype == torch.bool:
            raise DataError(f"{name} must hold real numbers, got a {x.dtype} tensor.")
        return x.to(torch.float64).numpy()
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise DataError(f"{name} must hold real numbers, got an array of {arr.dtype} (shape {arr.shape}).")
    return arr.astype(np.float64, copy=False)


@dataclass
class Observations:
    """Noisy point observations of ``u`` and the evaluation grid.

    Attributes
    ----------
    points : [M, d] float64 observation coordinates.
    values : [M] float64 noisy observed ``u``.
    noise_std : standard deviation of the additive Gaussian noise.
    coords : ``{dim: [n_dim]}`` node coordinates of the grid for the posterior fields.
    snr_db : signal-to-noise ratio the noise was drawn at (None if unknown).
    truth : optional true fields on the grid, ``{"a": [*spatial], "u": [*spatial]}``.
    source : provenance (file, split, index, seed...): ``file`` is the data file's absolute path (in older files,
        relative to the directory ``invert observe`` ran in) and ``file_relative`` its path relative to the
        observation file (:func:`neurops.inverse.problem.data_file` looks for both).
    generator : the configuration of the data generator whose solution was observed (the
        ``generator`` record of its data file), if known: it defines the default prior and the
        true solver of an inversion.
    path : the observation file these were read from (None for observations made in memory).
    """

    points: np.ndarray
    values: np.ndarray
    noise_std: float
    coords: dict[str, np.ndarray]
    snr_db: float | None = None
    truth: dict[str, np.ndarray] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    generator: dict[str, Any] | None = None
    path: Path | None = None

    def __post_init__(self) -> None:
        self.points = as_float64(self.points, "points")
        self.values = as_float64(self.values, "values").reshape(-1)
        if not self.values.size:
            raise DataError("there are no observations (0 points); give at least one point and value.")
        if isinstance(self.noise_std, (bool, np.bool_)) or not isinstance(self.noise_std, numbers.Real):
            raise DataError(f"noise_std must be one number (the standard deviation of every observation's noise), "
                            f"got {self.noise_std!r}.")
        if self.points.ndim != 2 or self.points.shape[0] != self.values.shape[0]:
            raise DataError(f"observation points must be [M, d] and values [M]; got {self.points.shape} and "
                            f"{self.values.shape}.")
        if self.points.shape[1] != len(self.coords):
            raise DataError(f"points have {self.points.shape[1]} coordinates but the grid has dims "
                            f"{list(self.coords)}.")
        if not np.isfinite(self.values).all() or not np.isfinite(self.points).all():
            raise DataError("observations contain NaN or Inf; remove those points.")
        if not 0 < self.noise_std < np.inf:
            raise DataError(f"noise_std must be a finite number > 0, got {self.noise_std}.")
        for name, field_ in self.truth.items():  # checked here, not after the sampling, by the metrics against it
            values = np.asarray(field_)
            if values.shape != self.grid_shape:
                raise DataError(f"truth {name!r} has shape {values.shape}, but the grid is {self.grid_shape}; give the "
                                "true field on the grid of coords, or leave it out.")
            if not np.isfinite(values).all():
                raise DataError(f"truth {name!r} holds NaN or Inf at {int((~np.isfinite(values)).sum())} of its "
                                f"{values.size} nodes, so every metric against it would be NaN; give a finite true "
                                "field, or leave it out.")
        for k, (d, c) in enumerate(self.coords.items()):
            lo, hi = float(np.min(c)), float(np.max(c))
            if ((self.points[:, k] < lo) | (self.points[:, k] > hi)).any():
                raise DataError(f"observation points lie outside the domain along {d!r} [{lo:g}, {hi:g}]; remove them "
                                f"or fix the coordinates.")

    @property
    def dims(self) -> list[str]:
        return list(self.coords)

    @property
    def grid_shape(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.coords.values())


def make_observations(u: np.ndarray, coords: dict[str, np.ndarray], n_obs: int, snr_db: float, seed: int, *,
                      a: np.ndarray | None = None, interior: bool = True, source: dict[str, Any] | None = None,
                      generator: dict[str, Any] | None = None) -> Observations:
    """Observe ``u`` at ``n_obs`` random grid nodes with Gaussian noise of a given SNR.

    Parameters
    ----------
    u : [*spatial] true solution on the grid.
    coords : ``{dim: [n_dim]}`` grid coordinates (one entry per axis of ``u``, in order).
    n_obs : number M of observed nodes (drawn without replacement).
    snr_db : signal-to-noise ratio in dB (DGNO uses 25).
    seed : seed of the node choice and the noise.
    a : optional true coefficient [*spatial], stored for evaluation.
    interior : draw only nodes off the boundary (boundary values are known exactly).
    source : provenance stored with the observations.
    generator : the data generator's configuration (see :class:`Observations`).
    """
    u = as_float64(u, "u")
    axes = [as_float64(c, f"coordinate {d!r}") for d, c in coords.items()]
    if isinstance(n_obs, (bool, np.bool_)) or not isinstance(n_obs, numbers.Integral):
        raise DataError(f"n_obs must be a whole number of observed nodes, got {n_obs!r}.")
    if not np.isfinite(u).all():
        raise DataError(f"u holds NaN or Inf at {int((~np.isfinite(u)).sum())} of its {u.size} nodes; observe a "
                        "finite solution.")
    if tuple(len(c) for c in axes) != u.shape:
        raise DataError(f"u has shape {u.shape} but the coordinates have lengths {[len(c) for c in axes]}.")
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, u.ndim)
    candidates = np.arange(u.size)
    if interior:
        inner = np.ones(u.shape, dtype=bool)
        for ax in range(u.ndim):
            idx = [slice(None)] * u.ndim
            idx[ax] = [0, u.shape[ax] - 1]
            inner[tuple(idx)] = False
        candidates = np.flatnonzero(inner)
    if not 1 <= n_obs <= candidates.size:
        raise DataError(f"n_obs must be between 1 and {candidates.size} (the eligible grid nodes), got {n_obs}.")
    _check_snr(snr_db, n_obs)
    rng = np.random.default_rng(check_seed(seed))
    chosen = np.sort(rng.choice(candidates, size=n_obs, replace=False))
    clean = u.reshape(-1)[chosen]
    with np.errstate(over="ignore", under="ignore"):
        sigma = float(np.sqrt(np.mean(clean**2) / 10 ** (snr_db / 10)))
    if not sigma > 0 and not np.any(clean):
        raise DataError("the observed values are all zero, so an SNR-based noise level is undefined; "
                        "observe other points or another sample.")
    if not np.finfo(np.float64).tiny <= sigma < np.inf:
        raise DataError(f"the noise std of the observed values (RMS {np.sqrt(np.mean(clean**2)):.3g}) at snr_db "
                        f"{snr_db:g} is {sigma:.3g}, not a normal float64; rescale u to values near 1.")
    values = clean + sigma * rng.standard_normal(n_obs)
    truth = {"u": u.astype(np.float32)}
    if a is not None:
        truth["a"] = as_float64(a, "a").astype(np.float32)
    src = {"seed": int(seed), "n_obs": int(n_obs), **(source or {})}
    return Observations(mesh[chosen], values, sigma, dict(coords), float(snr_db), truth, src, generator)


#: highest SNR in dB: noise at the float64 rounding of the values, 20 log10(1 / eps) = 313.08 dB (rounded down)
MAX_SNR_DB = 313.0


def _check_snr(snr_db: float, n_obs: int) -> None:
    """Refuse SNRs whose noise cannot be added to the values (above :data:`MAX_SNR_DB`: it is below their
    rounding) or drowns the signal of all ``n_obs`` observations together (below ``-10 log10(n_obs)`` dB: their
    summed squared signal is under one noise variance, so the data cannot tell u from 0)."""
    low = float(np.ceil(-100 * np.log10(n_obs)) / 10) + 0.0  # -10 log10(n_obs), rounded up to 0.1 dB (+0.0: not -0.0)
    if isinstance(snr_db, (bool, np.bool_)) or not isinstance(snr_db, numbers.Real) or not np.isfinite(snr_db):
        raise DataError(f"snr_db must be a finite number of dB, got {snr_db!r}; DGNO uses 25.")
    if snr_db > MAX_SNR_DB:
        raise DataError(f"snr_db {snr_db:g} is above {MAX_SNR_DB:.1f} dB: a noise std below 2.2e-16 times the values' "
                        f"RMS is lost in their float64 rounding; give at most {MAX_SNR_DB:.1f} (DGNO uses 25).")
    if snr_db < low:
        raise DataError(f"snr_db {snr_db:g} is below {low:.1f} dB, the least for {n_obs} observations: all of them "
                        f"together would carry less signal than one noise variance and could not tell u from 0; "
                        f"give at least {low:.1f} or observe more points (DGNO uses 25).")


def data_meta(path: str | os.PathLike) -> DatasetMeta:
    """The metadata of a data file (:func:`~neurops.data.reader.read_meta`); an observation or posterior file in its
    place is a :class:`~neurops.errors.DataError` that says so (not a list of missing data-file attributes)."""
    if Path(path).is_file() and h5py.is_hdf5(path):
        record = open_record(path)
        if record is not None:
            with record:
                kind = record_kind(record)
            what = "an observation" if kind == OBSERVATIONS_KIND else f"a {kind}"
            raise DataError(f"{path} is {what} file, not a data file; "
                            "give the labelled data file (kind 'operator', made by `neurops data generate darcy`) "
                            "that observations are made from.")
    return read_meta(path)


def observations_from_file(path: str | os.PathLike, split: str = "test", index: int = 0, *, n_obs: int = 100,
                           snr_db: float = 25.0, seed: int = 0, input_field: str = "a",
                           output_field: str = "u") -> Observations:
    """Observations of sample ``index`` of a labelled neurops file (kind ``operator``).

    Parameters
    ----------
    path : neurops HDF5 file with ``inputs/<input_field>`` and ``outputs/<output_field>``.
    split : the split holding the sample.
    index : the sample's position in ``split`` (0 = the first).
    n_obs : number of observed grid nodes (drawn at random, without replacement).
    snr_db : signal-to-noise ratio of the noise, in dB.
    seed : seed of the observation points and the noise.
    """
    meta = data_meta(path)
    if meta.kind != "operator":
        raise DataError(f"{path} has kind {meta.kind!r}; observations need a labelled 'operator' file.")
    data = read_split(path, split)
    for group, name in (("inputs", input_field), ("outputs", output_field)):
        if name not in data[group]:
            raise DataError(f"{path} split {split!r} has no {group} field {name!r} (the observed pair is inputs/"
                            f"{input_field} -> outputs/{output_field}); it has inputs {list(data['inputs'])} and "
                            f"outputs {list(data['outputs'])}: name its fields a and u (`neurops data convert ... "
                            "--input-key a --output-key u`), or in Python pass input_field and output_field.")
    n = data["inputs"][input_field].shape[0]
    if not -n <= index < n:
        raise DataError(f"{path} split {split!r} has {n} samples; index {index} is out of range.")
    coords = {d: data["coords"][d] for d in meta.dims}
    return make_observations(data["outputs"][output_field][index], coords, n_obs, snr_db, seed,
                             a=data["inputs"][input_field][index],
                             source={"file": str(Path(path).absolute()), "split": split, "index": int(index),
                                     "name": meta.name, "forcing": meta.parameters.get("forcing")},
                             generator=dict(meta.generator) or None)


def write_observations(obs: Observations, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``obs`` to an HDF5 observation file (atomically)."""
    from neurops import __version__

    path = Path(path)
    with atomic_path(path, overwrite=overwrite, hdf5=True) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["kind"] = OBSERVATIONS_KIND
        f.attrs["name"] = str(obs.source.get("name", "observations"))
        f.attrs["neurops_version"] = __version__
        f.attrs["noise_std"] = float(obs.noise_std)
        f.attrs["snr_db"] = float("nan") if obs.snr_db is None else float(obs.snr_db)
        write_json_attrs(f, {"dims": obs.dims, "source": _located(obs.source, path),
                             **({"generator": obs.generator} if obs.generator else {})})
        f.create_dataset("points", data=obs.points)
        f.create_dataset("values", data=obs.values)
        for d, c in obs.coords.items():
            f.create_dataset(f"coords/{d}", data=np.asarray(c, dtype=np.float64))
        for name, arr in obs.truth.items():
            f.create_dataset(f"truth/{name}", data=np.asarray(arr, dtype=np.float32))
    return path


def _located(source: dict[str, Any], path: Path) -> dict[str, Any]:
    """``source`` with ``file_relative``, the path of an absolute ``file`` relative to the observation file ``path``
    (so that the data file is found wherever the two are moved together)."""
    file = source.get("file")
    if not file or not Path(file).is_absolute():
        return source
    return {**source, "file_relative": os.path.relpath(file, path.absolute().parent)}


def read_observations(path: str | os.PathLike) -> Observations:
    """Read an observation file (written by :func:`write_observations` or by hand; clear errors otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"observation file {path} does not exist; make one with "
                                "`neurops invert observe --data FILE --out OBS.h5`.")
    if not h5py.is_hdf5(path):
        raise DataError(f"{path} is not an HDF5 file; an observation file is HDF5 with points, values, noise_std, "
                        "dims and coords (see docs/data-format.md).")
    f = open_record(path)
    if f is None:
        with open_hdf5(path) as g:
            kind = g.attrs.get("kind")
        raise SchemaError(f"{path} is not an observation file (kind {kind!r}); make one with `neurops invert "
                          "observe` or write points, values, noise_std, dims and coords (see docs/data-format.md).")
    with f:
        if f.attrs.get("kind") not in (None, OBSERVATIONS_KIND):
            raise SchemaError(f"{path} is not an observation file (kind {f.attrs.get('kind')!r}); make one with "
                              "`neurops invert observe`.")
        check_record(f)
        dims = decode_dims(f.attrs["dims"])
        coords = {d: f["coords"][d][()].astype(np.float64) for d in dims}
        truth = {k: f["truth"][k][()] for k in f["truth"]} if "truth" in f else {}
        snr = float(f.attrs.get("snr_db", np.nan))
        try:
            return Observations(f["points"][()], f["values"][()], float(np.asarray(f.attrs["noise_std"]).item()),
                                coords, None if np.isnan(snr) else snr, truth, read_json_attr(f, "source", {}),
                                read_json_attr(f, "generator", None), path)
        except DataError as exc:
            raise DataError(f"{path} is not a usable observation file: {exc}") from None
