"""Convert the FNO ``.mat`` data files into neurops files.

The FNO paper's data sets (and those reused by MgNO and LSM) are MATLAB files, read by FNO's
``MatReader`` with ``scipy.io.loadmat`` for MATLAB v5 files and with ``h5py`` for v7.3 files,
which are HDF5 with every array's axes REVERSED (MATLAB is column-major). Both are read here;
v7.3 arrays are read lazily, a block of samples at a time, and transposed back to MATLAB order.

Known layouts (MATLAB order):

``darcy``
    ``coeff`` [N, S, S] (the coefficient a) and ``sol`` [N, S, S] (the pressure u), e.g.
    ``piececonst_r421_N1024_smooth1.mat``; a node grid with both end points, u = 0 on the
    boundary. -> kind ``operator``, ``inputs/a`` -> ``outputs/u``, Dirichlet.
``navier_stokes``
    ``u`` [N, S, S, T] (vorticity, frame ``k`` at time ``t[k]``), optionally ``a`` [N, S, S]
    (the initial vorticity) and ``t`` [T], e.g. ``NavierStokes_V1e-5_N1200_T20.mat``.
    -> kind ``trajectory``, ``states/w`` [N, T, S, S], periodic.
``burgers``
    ``a`` [N, S] (initial condition) and ``u`` [N, S] (solution at t = 1), optionally ``visc``,
    e.g. ``burgers_data_R10.mat``. -> kind ``operator``, ``inputs/a`` -> ``outputs/u``, periodic.
``custom``
    ``input_key`` + ``output_key`` (operator pairs [N, *spatial]) or ``state_key``
    ([N, *spatial, T], time last as in FNO files).

Splits follow FNO: the first ``n_train`` samples train, the LAST ``n_test`` test; or the test
samples come from a second file (``test_src``; FNO's Darcy tests on ``..._smooth2.mat``).

References
----------
.. [1] Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations",
   ICLR 2021, arXiv:2010.08895.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
import scipy.io

from neurops.data.external._common import (
    SPATIAL_NAMES,
    Collection,
    FieldSource,
    Striding,
    add_test_resolutions,
    json_safe,
    node_coords,
    open_upstream,
    pair_collection,
    periodic_coords,
    split_collections,
    write_converted,
)
from neurops.data.metadata import DatasetMeta
from neurops.data.schema import BOUNDARY_TYPES
from neurops.errors import ConfigError, DataError, MissingFileError

FNOMatLayout = Literal["auto", "darcy", "navier_stokes", "burgers", "custom"]
LAYOUTS: tuple[str, ...] = ("darcy", "navier_stokes", "burgers", "custom")
EXPECTED = ("an FNO .mat file with `coeff` + `sol` [N, S, S] (Darcy), `u` [N, S, S, T] (+ `a`, `t`) "
            "(Navier-Stokes), or `a` + `u` [N, S] (Burgers); for other files pass input_key/output_key "
            "or state_key (--input-key/--output-key/--state-key); numpy or torch arrays convert with "
            "`neurops data convert arrays`")


class MatArray:
    """One MATLAB variable in MATLAB axis order, readable a block of samples (first axis) at a time.

    Parameters
    ----------
    data : a numpy array (v5 file, already in MATLAB order) or an ``h5py.Dataset`` (v7.3 file,
        axes reversed on disk).
    """

    def __init__(self, data: np.ndarray | h5py.Dataset) -> None:
        self._data = data
        self._reversed = isinstance(data, h5py.Dataset)
        self.shape: tuple[int, ...] = tuple(data.shape[::-1] if self._reversed else data.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def is_complex(self) -> bool:
        """Complex values (v5: a complex array; v7.3: MATLAB's compound of ``real`` and ``imag``)."""
        return _is_complex(self._data.dtype)

    def take(self, lo: int, hi: int) -> np.ndarray:
        """Samples ``lo..hi-1`` along the first MATLAB axis, in MATLAB order."""
        if self._reversed:
            return np.asarray(self._data[..., lo:hi]).transpose()
        return np.asarray(self._data[lo:hi])

    def values(self) -> np.ndarray:
        """The whole array in MATLAB order."""
        return self.take(0, self.shape[0]) if self.ndim else np.asarray(self._data[()])


def _is_complex(dtype: np.dtype) -> bool:
    return dtype.kind == "c" or set(dtype.names or ()) == {"real", "imag"}


def is_v73(path: Path) -> bool:
    """MATLAB v7.3 files are HDF5 files."""
    return h5py.is_hdf5(path)


def open_mat(path: str | os.PathLike, stack: ExitStack) -> dict[str, MatArray]:
    """The numeric variables of a MATLAB file (v5 via scipy, v7.3 via h5py), in MATLAB order (complex ones too,
    refused with a clear error when a conversion reads them).

    Parameters
    ----------
    path : the ``.mat`` file.
    stack : keeps a v7.3 file open until the stack closes.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"MATLAB file {path} does not exist; check the path.")
    if path.is_dir():
        raise DataError(f"{path} is a directory, not a MATLAB file; pass one .mat file.")
    if is_v73(path):
        f = stack.enter_context(open_upstream(path, "MATLAB v7.3"))
        return {k: MatArray(v) for k, v in f.items()
                if isinstance(v, h5py.Dataset) and (v.dtype.kind in "fiu" or _is_complex(v.dtype))
                and not k.startswith("#")}
    try:
        raw = scipy.io.loadmat(path)
    except Exception as err:  # noqa: BLE001 - scipy raises many types on files that are not MATLAB files
        raise DataError(f"{path} is not a readable MATLAB file (v5 via scipy or v7.3 via h5py: {err}); numpy or "
                        "torch arrays (.npy, .npz, .pt) convert with `neurops data convert arrays FILE`."
                        ) from err
    return {k: MatArray(np.asarray(v)) for k, v in raw.items()
            if not k.startswith("__") and isinstance(v, np.ndarray) and v.dtype.kind in "fiuc"}


def detect_layout(variables: Mapping[str, MatArray], label: str) -> str:
    """Which FNO layout the variables follow (see the module docstring)."""
    if {"coeff", "sol"} <= variables.keys():
        return "darcy"
    if "u" in variables and variables["u"].ndim == 4:
        return "navier_stokes"
    if {"a", "u"} <= variables.keys() and variables["u"].ndim == 2:
        return "burgers"
    found = {k: v.shape for k, v in variables.items()}
    raise DataError(f"{label} does not match a known FNO layout; expected {EXPECTED}. Found variables {found}.")


def _require(variables: Mapping[str, MatArray], key: str, label: str, what: str) -> MatArray:
    if key not in variables:
        raise DataError(f"{label} has no variable {key!r} ({what}); it has {sorted(variables)}.")
    if variables[key].is_complex:
        raise DataError(f"{label}: `{key}` ({what}) holds complex values; neurops stores real float32 fields: save "
                        "its real and imaginary parts as two real variables (e.g. real(x), imag(x) in MATLAB) and "
                        "convert them with input_key/output_key (--input-key/--output-key).")
    return variables[key]


def _pair(variables: Mapping[str, MatArray], in_key: str, out_key: str, label: str, stride: Striding,
          coords_fn, in_name: str = "a", out_name: str = "u") -> tuple[Collection, list[str]]:
    a = _require(variables, in_key, label, "the input field [N, *spatial]")
    u = _require(variables, out_key, label, "the output field [N, *spatial]")
    return pair_collection(a, u, (in_key, out_key), (in_name, out_name), label, stride, coords_fn)


def _states(variables: Mapping[str, MatArray], key: str, label: str, stride: Striding, *,
            include_initial: bool, field: str) -> tuple[Collection, list[str]]:
    u = _require(variables, key, label, "the trajectories [N, *spatial, T]")
    if not 3 <= u.ndim <= 5:
        raise DataError(f"{label}: `{key}` has shape {u.shape}; expected [N, *spatial, T] with 1 to 3 spatial axes.")
    n_time = u.shape[-1]
    dims = list(SPATIAL_NAMES[: u.ndim - 2])
    t = (np.asarray(variables["t"].values(), dtype=np.float64).ravel() if "t" in variables
         else np.arange(1, n_time + 1, dtype=np.float64))
    if len(t) != n_time:
        hint = (f"; `{key}` {u.shape} looks stored [N, T, *spatial], with the time axis second: FNO files hold it "
                f"last, [N, *spatial, T] (e.g. numpy.moveaxis({key}, 1, -1))" if u.shape[1] == len(t) else "")
        raise DataError(f"{label}: `t` has {len(t)} entries but `{key}` has {n_time} frames{hint}.")
    initial = None
    if include_initial:
        initial = _require(variables, "a", label, "the initial condition [N, *spatial], for include_initial")
        if initial.shape != u.shape[:-1]:
            raise DataError(f"{label}: `a` {initial.shape} does not match `{key}` {u.shape} without its time axis.")
        t = np.concatenate([[0.0], t])

    def read(lo: int, hi: int) -> np.ndarray:
        block = np.moveaxis(u.take(lo, hi), -1, 1)  # [n, T, *spatial]
        if initial is not None:
            block = np.concatenate([initial.take(lo, hi)[:, None], block], axis=1)
        return stride.spatial(stride.frames(block, 1), len(dims))

    coords = {d: periodic_coords(n)[:: stride.space] for d, n in zip(dims, u.shape[1:-1])}
    time = t[:: stride.time]
    shape = (len(time), *(len(coords[d]) for d in dims))
    return Collection(u.shape[0], [FieldSource("states", field, shape, read)], coords, time, label), dims


def _collection(variables: Mapping[str, MatArray], layout: str, label: str, stride: Striding,
                options: dict[str, Any]) -> tuple[Collection, list[str]]:
    if layout == "darcy":
        return _pair(variables, "coeff", "sol", label, stride, node_coords)
    if layout == "burgers":
        return _pair(variables, "a", "u", label, stride, periodic_coords)
    if layout == "navier_stokes":
        u = _require(variables, "u", label, "the vorticity [N, S, S, T]")
        if u.ndim == 4 and u.shape[1] != u.shape[2]:
            hint = (" it looks stored [N, T, S, S]: put time last (e.g. numpy.moveaxis(u, 1, -1));"
                    if u.shape[2] == u.shape[3] else "")
            raise DataError(f"{label}: `u` {u.shape} is not [N, S, S, T] (the FNO Navier-Stokes layout: a square "
                            f"grid, time last);{hint} for a file of another grid pass state_key='u' (--state-key u).")
        return _states(variables, "u", label, stride, include_initial=options["include_initial"], field="w")
    if options["state_key"]:
        return _states(variables, options["state_key"], label, stride, include_initial=options["include_initial"],
                       field=options["state_key"])
    if options["input_key"] and options["output_key"]:
        coords_fn = periodic_coords if options["boundary"] == "periodic" else node_coords
        return _pair(variables, options["input_key"], options["output_key"], label, stride, coords_fn,
                     options["input_key"], options["output_key"])
    raise ConfigError("layout 'custom' needs state_key (trajectories [N, *spatial, T]) or both input_key and "
                      "output_key (pairs [N, *spatial]).")


DEFAULT_BOUNDARY = {"darcy": "dirichlet", "navier_stokes": "periodic", "burgers": "periodic", "custom": "none"}


def convert_fno_mat(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    layout: FNOMatLayout = "auto",
    test_src: str | os.PathLike | None = None,
    input_key: str | None = None,
    output_key: str | None = None,
    state_key: str | None = None,
    include_initial: bool = False,
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
    """Convert an FNO ``.mat`` file (MATLAB v5 or v7.3) into a neurops file.

    Parameters
    ----------
    src : the ``.mat`` file.
    out : the neurops file to write (atomically).
    layout : ``auto`` (from the variable names) or ``darcy``, ``navier_stokes``, ``burgers``, ``custom``.
    test_src : a second file of the same layout whose first ``n_test`` (default all) samples are
        the test split; ``src`` then gives train and val only.
    input_key : the input variable of the ``custom`` layout.
    output_key : the output variable of the ``custom`` layout.
    state_key : the state variable of the ``custom`` layout (trajectories).
    include_initial : Navier-Stokes: prepend the initial vorticity ``a`` as the frame ``t = 0``
        (FNO's protocol uses ``u`` alone: frames 0-9 -> 10-19).
    boundary : boundary condition for every axis (default from the layout).
    name : dataset name (default: the file's stem).
    n_train : training samples, the first of ``src`` (default: all before val and test).
    n_val : validation samples, right after train (0: no val split).
    n_test : test samples, the last of ``src`` (default: ``test_fraction`` of them); with ``test_src``,
        the first ``n_test`` of that file (default: all).
    test_fraction : the share of ``src``'s samples that becomes test when ``n_test`` is not given.
    space_stride : keep every k-th grid point (FNO Darcy ``r = 5``: 421 -> 85 points).
    time_stride : keep every k-th frame.
    test_space_strides : the test samples again at these strides, stored as ``test@R`` (FNO's
        zero-shot protocol: ``space_stride=5, test_space_strides=(3,)`` trains at 85 and tests at
        85 and 141 points).
    compression : ``None``, ``"gzip"`` or ``"lzf"`` for the output.
    overwrite : replace an existing ``out``.
    progress : show a progress bar.

    Returns
    -------
    out : the neurops file (Darcy/Burgers: kind ``operator``, ``inputs/a`` -> ``outputs/u``;
        Navier-Stokes: kind ``trajectory``, ``states/w`` [N, T, S, S]).

    References
    ----------
    .. [1] Z. Li et al., "Fourier Neural Operator for Parametric PDEs", ICLR 2021, arXiv:2010.08895.
    """
    src = Path(src)
    stride = Striding(space_stride, time_stride)
    if layout != "auto" and layout not in LAYOUTS:
        raise ConfigError(f"unknown FNO layout {layout!r}; use 'auto' or one of {LAYOUTS}.")
    if boundary is not None and boundary not in BOUNDARY_TYPES:
        raise ConfigError(f"boundary {boundary!r} is unknown; use one of {BOUNDARY_TYPES}.")
    if (input_key or output_key or state_key) and layout == "auto":
        layout = "custom"
    options = {"include_initial": include_initial, "input_key": input_key, "output_key": output_key,
               "state_key": state_key, "boundary": boundary}
    with ExitStack() as stack:
        variables = open_mat(src, stack)
        sources = {str(src): variables}
        found = detect_layout(variables, str(src)) if layout == "auto" else layout
        coll, dims = _collection(variables, found, str(src), stride, options)
        test_coll = None
        if test_src is not None:
            sources[str(test_src)] = open_mat(test_src, stack)
            test_coll = _collection(sources[str(test_src)], found, str(test_src), stride, options)[0]
        splits = split_collections(coll, test_coll, n_train=n_train, n_val=n_val, n_test=n_test,
                                   test_fraction=test_fraction)
        add_test_resolutions(splits, test_space_strides,
                             lambda c, striding: _collection(sources[c.label], found, c.label, striding, options)[0],
                             stride.time)
        meta = _meta(src, test_src, variables, found, dims, coll.time is not None, name, boundary, stride,
                     include_initial)
        return write_converted(out, meta, splits, compression=compression, overwrite=overwrite, progress=progress)


def _meta(src: Path, test_src: str | os.PathLike | None, variables: dict[str, MatArray], layout: str,
          dims: list[str], trajectory: bool, name: str | None, boundary: str | None, stride: Striding,
          include_initial: bool) -> DatasetMeta:
    """The metadata of a converted FNO file: its layout's boundary condition, the viscosity if the file
    stores one, and the conversion's settings as its generator."""
    bc = boundary or DEFAULT_BOUNDARY[layout]
    parameters = {k: json_safe(v.values().ravel()[0]) for k, v in variables.items()
                  if k in ("visc", "nu") and np.prod(v.shape) == 1}
    return DatasetMeta(
        kind="trajectory" if trajectory else "operator",
        name=name or src.stem,
        dims=dims,
        boundary={d: bc for d in dims},
        parameters=parameters,
        generator={"converter": "fno-mat", "layout": layout, "source": src.name,
                   "test_source": Path(test_src).name if test_src else None,
                   "matlab_version": "7.3" if is_v73(src) else "5", "space_stride": stride.space,
                   "time_stride": stride.time, "include_initial": include_initial},
    )
