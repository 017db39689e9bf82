"""Convert PDEBench HDF5 files into neurops files.

PDEBench ships four layouts (read from its data-generation and loader code):

``scalar``
    ``tensor`` float32 [N, T, X(, Y, Z)] with ``x-coordinate`` (and ``y-``/``z-``) and
    ``t-coordinate``; root attributes hold the parameters (``beta``, ``Nu``, ``rho``).
    Files ``1D_Advection_Sols_beta*.hdf5``, ``1D_Burgers_Sols_Nu*.hdf5``, ``ReacDiff_Nu*_Rho*.hdf5``.
    The 1D files store one more time coordinate than frames (``T + 1`` cell edges); the first
    ``T`` are used. -> kind ``trajectory``, ``states/u`` [N, T, *spatial], periodic.
``darcy``
    ``tensor`` [N, 1, X, Y] (the solution u) and ``nu`` [N, X, Y] (the coefficient a), attribute
    ``beta`` (the constant forcing). Files ``2D_DarcyFlow_beta*_Train.hdf5``.
    -> kind ``operator``, ``inputs/a`` -> ``outputs/u``, Dirichlet.
``cfd``
    one dataset per variable, ``density``, ``pressure``, ``Vx``, ``Vy``, ``Vz``, each
    [N, T, X(, Y, Z)], with ``x-/y-/z-/t-coordinate`` and attributes ``eta``, ``zeta``, ``M``.
    Files ``{1,2,3}D_CFD_*.hdf5``. -> kind ``trajectory``, one state per variable; periodic
    when the file name says ``periodic``, else ``none`` (PDEBench's outgoing boundaries).
``seeds``
    one group per sample (``"0000"``, ``"0001"``, ...) holding ``data`` [T, X(, Y), C] and
    ``grid/x``, ``grid/y``, ``grid/t``. Files ``2D_diff-react_NA_NA.h5`` (channels u, v,
    Neumann), ``2D_rdb_NA_NA.h5`` (shallow water, channel h), ``1D_diff-sorp_NA_NA.h5``.
    -> kind ``trajectory``, one state per channel.

Splits follow PDEBench and FNO: the test set is the tail of the file.

References
----------
.. [1] M. Takamoto et al., "PDEBench: An Extensive Benchmark for Scientific Machine Learning",
   NeurIPS 2022 Datasets and Benchmarks, arXiv:2210.07182.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import h5py
import numpy as np

from neurops.data.external._common import (
    SPATIAL_NAMES,
    Collection,
    FieldSource,
    Striding,
    add_test_resolutions,
    open_upstream,
    periodic_coords,
    root_parameters,
    split_collections,
    write_converted,
)
from neurops.data.metadata import DatasetMeta
from neurops.data.schema import BOUNDARY_TYPES
from neurops.errors import ConfigError, DataError

PDEBenchLayout = Literal["auto", "scalar", "darcy", "cfd", "seeds"]
LAYOUTS: tuple[str, ...] = ("scalar", "darcy", "cfd", "seeds")
CFD_VARIABLES: tuple[str, ...] = ("density", "pressure", "Vx", "Vy", "Vz")
#: channel names of the per-seed files, by a fragment of the file name
SEED_CHANNELS: dict[str, tuple[str, ...]] = {"diff-react": ("u", "v"), "rdb": ("h",), "diff-sorp": ("u",)}
SEED_BOUNDARY: dict[str, str] = {"diff-react": "neumann"}

EXPECTED = ("a PDEBench file: `tensor` [N, T, X...] (scalar 1D files), `tensor` [N, 1, X, Y] + `nu` [N, X, Y] "
            "(2D Darcy), datasets among density/pressure/Vx/Vy/Vz [N, T, X...] (CFD), or groups '0000', "
            "'0001', ... each with `data` [T, X..., C] and `grid/` (per-seed files)")


def detect_layout(f: h5py.File) -> str:
    """Which PDEBench layout an open file follows (see the module docstring)."""
    keys = set(f.keys())
    if "tensor" in keys:
        return "darcy" if "nu" in keys else "scalar"
    if keys & set(CFD_VARIABLES):
        return "cfd"
    groups = [k for k in keys if isinstance(f[k], h5py.Group)]
    if groups and all("data" in f[k] for k in groups):
        return "seeds"
    raise DataError(f"{f.filename} does not match any PDEBench layout; expected {EXPECTED}. "
                    f"Found keys {sorted(keys)[:10]}.")


def _times(f: h5py.Group, key: str, n_frames: int, label: str) -> np.ndarray:
    if key not in f:
        return np.arange(n_frames, dtype=np.float64)
    t = np.asarray(f[key][()], dtype=np.float64).ravel()
    if len(t) == n_frames:
        return t
    if len(t) == n_frames + 1:  # PDEBench stores the T + 1 cell edges of the time interval
        return t[:n_frames]
    raise DataError(f"{label}: `{key}` has {len(t)} entries but the data has {n_frames} frames; "
                    "expected T or T + 1 entries.")


def _coords(f: h5py.Group, names: Sequence[str], sizes: Sequence[int], key: str, label: str) -> dict[str, np.ndarray]:
    out = {}
    for d, n in zip(names, sizes):
        k = key.format(d)
        if k in f:
            c = np.asarray(f[k][()], dtype=np.float64).ravel()
            if len(c) != n:
                raise DataError(f"{label}: `{k}` has {len(c)} entries but the data has {n} points along {d}.")
            out[d] = c
        else:
            out[d] = periodic_coords(n)
    return out


def _check_ndim(ds: h5py.Dataset, low: int, high: int, what: str, label: str) -> None:
    if not low <= ds.ndim <= high:
        raise DataError(f"{label}: `{ds.name.lstrip('/')}` has shape {ds.shape}; expected {what}.")


def _strided_coords(coords: dict[str, np.ndarray], stride: Striding) -> dict[str, np.ndarray]:
    return {d: c[:: stride.space] for d, c in coords.items()}


def _scalar(f: h5py.File, label: str, stride: Striding, field: str) -> tuple[Collection, list[str]]:
    ds = f["tensor"]
    _check_ndim(ds, 3, 5, "[N, T, X(, Y, Z)]", label)
    dims = list(SPATIAL_NAMES[: ds.ndim - 2])
    coords = _coords(f, dims, ds.shape[2:], "{}-coordinate", label)
    time = _times(f, "t-coordinate", ds.shape[1], label)

    def read(lo: int, hi: int) -> np.ndarray:
        return stride.spatial(stride.frames(ds[lo:hi], 1), len(dims))

    coords, time = _strided_coords(coords, stride), time[:: stride.time]
    shape = (len(time), *(len(coords[d]) for d in dims))
    return Collection(ds.shape[0], [FieldSource("states", field, shape, read)], coords, time, label), dims


def _darcy(f: h5py.File, label: str, stride: Striding) -> tuple[Collection, list[str]]:
    u, a = f["tensor"], f["nu"]
    if u.ndim != 4 or u.shape[1] != 1 or a.ndim != 3 or a.shape != (u.shape[0], *u.shape[2:]):
        raise DataError(f"{label}: Darcy files need `tensor` [N, 1, X, Y] and `nu` [N, X, Y]; found tensor "
                        f"{u.shape} and nu {a.shape}.")
    dims = ["x", "y"]
    coords = _strided_coords(_coords(f, dims, a.shape[1:], "{}-coordinate", label), stride)
    shape = tuple(len(coords[d]) for d in dims)
    fields = [
        FieldSource("inputs", "a", shape, lambda lo, hi: stride.spatial(a[lo:hi], 2)),
        FieldSource("outputs", "u", shape, lambda lo, hi: stride.spatial(u[lo:hi, 0], 2)),
    ]
    return Collection(u.shape[0], fields, coords, label=label), dims


def _cfd(f: h5py.File, label: str, stride: Striding) -> tuple[Collection, list[str]]:
    names = [v for v in CFD_VARIABLES if v in f]
    ref = f[names[0]]
    _check_ndim(ref, 3, 5, "[N, T, X(, Y, Z)]", label)
    for v in names[1:]:
        if f[v].shape != ref.shape:
            raise DataError(f"{label}: CFD variable `{v}` has shape {f[v].shape} but `{names[0]}` has {ref.shape}; "
                            "all variables must share [N, T, X...].")
    dims = list(SPATIAL_NAMES[: ref.ndim - 2])
    coords = _strided_coords(_coords(f, dims, ref.shape[2:], "{}-coordinate", label), stride)
    time = _times(f, "t-coordinate", ref.shape[1], label)[:: stride.time]
    shape = (len(time), *(len(coords[d]) for d in dims))

    def reader(ds: h5py.Dataset):
        return lambda lo, hi: stride.spatial(stride.frames(ds[lo:hi], 1), len(dims))

    fields = [FieldSource("states", v, shape, reader(f[v])) for v in names]
    return Collection(ref.shape[0], fields, coords, time, label), dims


def _seeds(f: h5py.File, label: str, stride: Striding, channel_names: Sequence[str] | None,
           stem: str) -> tuple[Collection, list[str]]:
    groups = sorted(k for k in f.keys() if isinstance(f[k], h5py.Group) and "data" in f[k])
    first = f[groups[0]]
    data = first["data"]
    _check_ndim(data, 3, 5, "[T, X(, Y, Z), C]", f"{label}/{groups[0]}")
    grid = first["grid"] if "grid" in first else {}
    dims = [d for d in SPATIAL_NAMES if d in grid][: data.ndim - 2] or list(SPATIAL_NAMES[: data.ndim - 2])
    if len(dims) != data.ndim - 2:
        raise DataError(f"{label}/{groups[0]}: `data` has {data.ndim - 2} spatial axes but `grid` names {dims}.")
    n_channels = data.shape[-1]
    if channel_names is None:
        known = next((v for k, v in SEED_CHANNELS.items() if k in stem), None)
        channel_names = known if known and len(known) == n_channels else (
            ("u",) if n_channels == 1 else tuple(f"c{i}" for i in range(n_channels)))
    channel_names = list(channel_names)
    if len(channel_names) != n_channels:
        raise ConfigError(f"{label}: `data` has {n_channels} channels but {len(channel_names)} channel names were "
                          f"given ({channel_names}); pass one name per channel.")
    coords = {}
    for d, n in zip(dims, data.shape[1:-1]):
        c = np.asarray(grid[d][()], dtype=np.float64).ravel() if d in grid else periodic_coords(n)
        if len(c) != n:
            raise DataError(f"{label}/{groups[0]}: grid/{d} has {len(c)} entries, data has {n} points.")
        coords[d] = c[:: stride.space]
    time = (_times(grid, "t", data.shape[0], f"{label}/{groups[0]}") if "t" in grid
            else np.arange(data.shape[0], dtype=np.float64))[:: stride.time]
    for g in groups[1:]:
        if f[g]["data"].shape != data.shape:
            raise DataError(f"{label}: group {g} has data {f[g]['data'].shape}, group {groups[0]} has {data.shape}; "
                            "every seed must share one grid.")
    shape = (len(time), *(len(coords[d]) for d in dims))

    def reader(channel: int):
        def read(lo: int, hi: int) -> np.ndarray:
            block = np.stack([f[g]["data"][..., channel] for g in groups[lo:hi]])
            return stride.spatial(stride.frames(block, 1), len(dims))
        return read

    fields = [FieldSource("states", name, shape, reader(i)) for i, name in enumerate(channel_names)]
    return Collection(len(groups), fields, coords, time, label), dims


def _default_boundary(layout: str, stem: str) -> str:
    if layout == "scalar":
        return "periodic"
    if layout == "darcy":
        return "dirichlet"
    if layout == "cfd":
        return "periodic" if "periodic" in stem else "none"
    return next((v for k, v in SEED_BOUNDARY.items() if k in stem), "none")


def convert_pdebench(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    layout: PDEBenchLayout = "auto",
    field: str = "u",
    channel_names: Sequence[str] | None = None,
    boundary: str | None = None,
    name: str | None = None,
    n_train: int | None = None,
    n_val: int = 0,
    n_test: int | None = None,
    test_fraction: float = 0.1,
    space_stride: int = 1,
    time_stride: int = 1,
    test_space_strides: Sequence[int] = (),
    compression: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Convert one PDEBench HDF5 file into a neurops file.

    Parameters
    ----------
    src : the PDEBench file.
    out : the neurops file to write (atomically).
    layout : ``auto`` (detected from the keys) or one of ``scalar``, ``darcy``, ``cfd``, ``seeds``.
    field : state name for ``scalar`` files.
    channel_names : state names of the channels of ``seeds`` files (default from the file name:
        diff-react ``u, v``; rdb ``h``; else ``u`` or ``c0, c1, ...``).
    boundary : boundary condition for every axis (default: periodic for scalar files, Dirichlet for
        Darcy, from the file name for CFD and per-seed files).
    name : dataset name (default: the file's stem).
    n_train : training samples, the first of the file (default: all before val and test).
    n_val : validation samples, right after train (0: no val split).
    n_test : test samples, the last of the file (default: ``test_fraction`` of them).
    test_fraction : the share of the file's samples that becomes test when ``n_test`` is not given.
    space_stride : keep every k-th grid point.
    time_stride : keep every k-th frame.
    test_space_strides : the test samples again at these strides of the source grid, stored as
        ``test@R`` (e.g. ``space_stride=4, test_space_strides=(2, 1)``: train at 1/4 of the
        grid, test at 1/4, 1/2 and the full grid).
    compression : ``None``, ``"gzip"`` or ``"lzf"`` for the output.
    overwrite : replace an existing ``out``.
    progress : show a progress bar.

    Returns
    -------
    out : the neurops file (kind ``trajectory``: ``states/<field>`` [N, T, *spatial]; Darcy:
        kind ``operator``, ``inputs/a`` -> ``outputs/u`` [N, X, Y]).

    References
    ----------
    .. [1] M. Takamoto et al., "PDEBench", NeurIPS 2022, arXiv:2210.07182.
    """
    src = Path(src)
    stride = Striding(space_stride, time_stride)
    if layout != "auto" and layout not in LAYOUTS:
        raise ConfigError(f"unknown PDEBench layout {layout!r}; use 'auto' or one of {LAYOUTS}.")
    if boundary is not None and boundary not in BOUNDARY_TYPES:
        raise ConfigError(f"boundary {boundary!r} is unknown; use one of {BOUNDARY_TYPES}.")
    stem = src.stem
    with open_upstream(src, "PDEBench") as f:
        found = detect_layout(f)
        if layout != "auto" and layout != found:
            raise DataError(f"{src} looks like a PDEBench {found!r} file, not {layout!r}; pass layout='auto' "
                            f"or the right one. Expected for {layout!r}: {EXPECTED}.")
        label = str(src)

        def build(striding: Striding) -> tuple[Collection, list[str]]:
            if found == "scalar":
                return _scalar(f, label, striding, field)
            if found == "darcy":
                return _darcy(f, label, striding)
            if found == "cfd":
                return _cfd(f, label, striding)
            return _seeds(f, label, striding, channel_names, stem)

        coll, dims = build(stride)
        bc = boundary or _default_boundary(found, stem.lower())
        parameters = root_parameters(f.attrs)
        parameters.update(_parameters_from_name(stem))
        meta = DatasetMeta(
            kind="operator" if found == "darcy" else "trajectory",
            name=name or stem,
            dims=dims,
            boundary={d: bc for d in dims},
            parameters=parameters,
            generator={"converter": "pdebench", "layout": found, "source": src.name,
                       "space_stride": stride.space, "time_stride": stride.time},
        )
        splits = split_collections(coll, n_train=n_train, n_val=n_val, n_test=n_test, test_fraction=test_fraction)
        add_test_resolutions(splits, test_space_strides, lambda _, striding: build(striding)[0], stride.time)
        return write_converted(out, meta, splits, compression=compression, overwrite=overwrite, progress=progress)


def _parameters_from_name(stem: str) -> dict[str, float]:
    """Parameters spelled in PDEBench file names (``beta0.1``, ``Nu0.001``, ``M0.1``, ``Eta0.01``...)."""
    out: dict[str, float] = {}
    for key, value in re.findall(r"(beta|Nu|Rho|M|Eta|Zeta)(\d+(?:\.\d+)?(?:e-?\d+)?)", stem):
        out.setdefault(f"{key.lower()}_from_name", float(value))
    return out
