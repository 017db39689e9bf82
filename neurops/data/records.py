"""Observation and posterior files: the two kinds of the neurops schema that hold no splits.

Inverse problems (:mod:`neurops.inverse`, ``neurops invert``) read an **observation** file (point
values of a solution with their noise level) and write a **posterior** file (samples, summaries and
diagnostics of the inferred fields). Their layouts are documented in ``docs/data-format.md``;
this module checks them (``neurops data check``, and every reader before it reads), summarises
them (``neurops data info``) and exports them to xarray (``neurops.data.to_xarray``).

Observation file (``kind = "observations"``; a hand-made file without ``kind`` is recognised by
its ``points`` and ``values``)::

    /                  attrs: dims (JSON list or a list of strings), noise_std,
                       [schema_version, kind, name, snr_db, source, generator, neurops_version]
    points             [M, d] coordinates, inside the box spanned by the coords
    values             [M] observed values
    coords/<dim>       [n_dim] increasing node coordinates of the grid the posterior is reported on
    truth/<field>      [*spatial] optional true fields (evaluation only)

Posterior file (``kind = "posterior"``)::

    /                  attrs: schema_version, kind, name, dims, neurops_version, level, and JSON
                       records method, diagnostics, predictive, metrics, info, warnings
                       [json_nonfinite: where a JSON attribute's null stands for inf, -inf or NaN]
    coords/<dim>       [n_dim]
    summary/<field>_<stat>   [*spatial]  stat in mean, std, lower, median, upper, map
    samples/<field>    [K, *spatial]  posterior draws of a and u
    samples/chain, samples/step   [K] chain index and kept step of every draw
    samples/latent     [K, n] the sampled coefficients (GRF modes or latent code)
    observations/points, observations/values, observations/predicted   the data and the fit
    truth/<field>      optional
"""

from __future__ import annotations

import json
import os
from typing import Any

import h5py
import numpy as np

from neurops.data.files import link_problems, open_hdf5
from neurops.data.schema import RECORD_KINDS, SUPPORTED_VERSIONS, coord_problem
from neurops.errors import SchemaError
from neurops.utils.io import restore_nonfinite, strict_json

__all__ = ["OBSERVATIONS_KIND", "POSTERIOR_KIND", "RECORD_KINDS", "decode_dims", "observation_problems", "open_record",
           "posterior_problems", "read_json_attr", "record_kind", "record_problems", "record_summary",
           "record_to_xarray", "write_json_attrs"]

OBSERVATIONS_KIND, POSTERIOR_KIND = RECORD_KINDS
#: JSON attributes of a posterior file
POSTERIOR_JSON_ATTRS = ("method", "diagnostics", "predictive", "metrics", "info", "warnings")


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


#: root attribute of an observation or posterior file: ``{attr: [[path, "inf" | "-inf" | "nan"], ...]}``, where the
#: JSON attribute ``attr`` holds ``null`` for a non-finite number (see :func:`write_json_attrs`)
NONFINITE_ATTR = "json_nonfinite"


def write_json_attrs(f: h5py.File, values: dict[str, Any]) -> None:
    """Write each of ``values`` as a strict-JSON root attribute of ``f`` (anything else than JSON's types as its
    ``str``), and where a non-finite number stood (written as ``null``) in :data:`NONFINITE_ATTR`.

    A strict parser (jq, JavaScript, another language's HDF5 reader) reads every attribute, and sees ``null`` for a
    non-finite number; :func:`read_json_attr` gives back exactly what was written (inf as inf, ``None`` as None). The
    numbers are not written as strings ``"inf"``, which could not be told from a string a record holds."""
    nonfinite: dict[str, list[list[Any]]] = {}
    for name, value in values.items():
        found: list[list[Any]] = []
        f.attrs[name] = strict_json(value, found, default=str)
        if found:
            nonfinite[name] = found
    if nonfinite:
        f.attrs[NONFINITE_ATTR] = strict_json(nonfinite)


def read_json_attr(f: h5py.File, name: str, default: Any) -> Any:
    """The JSON root attribute ``name`` of ``f`` as :func:`write_json_attrs` was given it (``default`` if absent); the
    ``Infinity``/``NaN`` of files written before neurops wrote strict JSON are read too."""
    value = f.attrs.get(name)
    if value is None:
        return default
    try:
        record = json.loads(value.decode() if isinstance(value, bytes) else value)
    except (TypeError, json.JSONDecodeError):
        raise SchemaError(f"{f.filename}: attribute {name!r} is not valid JSON.") from None
    marks = f.attrs.get(NONFINITE_ATTR)
    if marks is None:
        return record
    try:
        entries = json.loads(marks.decode() if isinstance(marks, bytes) else marks).get(name, [])
        return restore_nonfinite(record, entries)
    except (TypeError, AttributeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise SchemaError(f"{f.filename}: attribute {NONFINITE_ATTR!r} does not match attribute {name!r} ({exc}); "
                          "rewrite the file with neurops, or delete the attribute (its non-finite numbers are then "
                          "read as None).") from None

def decode_dims(value: Any) -> list[str]:
    """The axis names of a ``dims`` attribute: a JSON list (``'["x", "y"]'``) or a list of strings.

    Raises
    ------
    SchemaError : anything else, with the expected form.
    """
    value = _text(value)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"attribute 'dims' is not valid JSON ({exc.msg}): {value!r}; write a JSON list of axis "
                              f"names such as '[\"x\", \"y\"]'.") from exc
    if isinstance(value, np.ndarray):
        value = [_text(v) for v in value.tolist()]
    if not (isinstance(value, list) and value and all(isinstance(d, str) and d for d in value)):
        raise SchemaError(f"attribute 'dims' must be a non-empty list of axis names such as [\"x\", \"y\"], "
                          f"got {value!r}.")
    if len(set(value)) != len(value):
        raise SchemaError(f"attribute 'dims' repeats an axis name: {value}.")
    return list(value)


def record_kind(f: h5py.File) -> str | None:
    """``"observations"`` or ``"posterior"`` for such a file (a hand-made observation file has no
    ``kind`` but ``points`` and ``values``); ``None`` for every other file."""
    kind = _text(f.attrs.get("kind"))
    if kind in RECORD_KINDS:
        return kind
    if kind is None and isinstance(f.get("points"), h5py.Dataset) and isinstance(f.get("values"), h5py.Dataset):
        return OBSERVATIONS_KIND
    return None


def open_record(path: str | os.PathLike) -> h5py.File | None:
    """An observation or posterior file opened read-only, or ``None`` for any other HDF5 file.

    Raises
    ------
    DataError : the path cannot be opened as HDF5 (missing, not HDF5, truncated...;
        :func:`neurops.data.files.open_hdf5`).
    """
    f = open_hdf5(path)
    if record_kind(f) is None:
        f.close()
        return None
    return f


def _numeric(ds: h5py.Dataset) -> bool:
    return ds.dtype.kind in "fiu"


def _grid(f: h5py.File, problems: list[str]) -> tuple[list[str], tuple[int, ...] | None, dict[str, np.ndarray]]:
    """dims, grid shape and coordinates, checked; problems are appended."""
    if "dims" not in f.attrs:
        problems.append("missing root attribute 'dims' (the axis names, e.g. '[\"x\", \"y\"]')")
        return [], None, {}
    try:
        dims = decode_dims(f.attrs["dims"])
    except SchemaError as exc:
        problems.append(str(exc).rstrip("."))
        return [], None, {}
    coords: dict[str, np.ndarray] = {}
    group = f.get("coords")
    for d in dims:
        ds = group.get(d) if isinstance(group, h5py.Group) else None
        if not isinstance(ds, h5py.Dataset):
            problems.append(f"dims names axis {d!r} but there is no dataset coords/{d}")
            continue
        if not _numeric(ds) or ds.ndim != 1 or ds.shape[0] < 2:
            problems.append(f"coords/{d} must be a 1-D numeric array of at least 2 nodes, got {ds.dtype} {ds.shape}")
            continue
        c = ds[()].astype(np.float64)
        problem = coord_problem(f"coords/{d}", c)
        if problem:
            problems.append(problem)
            continue
        coords[d] = c
    shape = tuple(len(coords[d]) for d in dims) if len(coords) == len(dims) else None
    return dims, shape, coords


def _version(f: h5py.File, problems: list[str]) -> None:
    version = f.attrs.get("schema_version")
    if version is not None and int(version) not in SUPPORTED_VERSIONS:
        problems.append(f"unknown schema_version {int(version)} (supported: {list(SUPPORTED_VERSIONS)})")


def _fields(group: Any, shape: tuple[int, ...] | None, lead: int, where: str, problems: list[str]) -> None:
    if not isinstance(group, h5py.Group):
        return
    for name, ds in group.items():
        if not isinstance(ds, h5py.Dataset) or not _numeric(ds):
            problems.append(f"{where}/{name} must be a numeric dataset")
        elif shape is not None and tuple(ds.shape[lead:]) != shape:
            problems.append(f"{where}/{name} has shape {ds.shape}, expected {('K',) * lead + shape}")


def _points_and_values(f: h5py.Group, where: str, dims: list[str], coords: dict[str, np.ndarray],
                       problems: list[str]) -> None:
    points, values = f.get("points"), f.get("values")
    for name, ds in (("points", points), ("values", values)):
        if not isinstance(ds, h5py.Dataset):
            problems.append(f"missing dataset {where}{name}")
        elif not _numeric(ds):
            problems.append(f"{where}{name} must be numbers, got dtype {ds.dtype}")
    if not (isinstance(points, h5py.Dataset) and isinstance(values, h5py.Dataset)
            and _numeric(points) and _numeric(values)):
        return
    if points.ndim != 2 or (dims and points.shape[1] != len(dims)):
        problems.append(f"{where}points must be [M, {len(dims) or 'd'}] (one row per observation, one column per "
                        f"axis of dims {dims}), got shape {points.shape}")
        return
    if values.shape != (points.shape[0],):
        problems.append(f"{where}values must be [M] = [{points.shape[0]}] (one per point), got shape {values.shape}")
    if points.shape[0] == 0:
        problems.append(f"{where}points holds no observation")
    p, v = points[()].astype(np.float64), values[()].astype(np.float64)
    if not np.isfinite(p).all() or not np.isfinite(v).all():
        problems.append(f"{where}points or {where}values contain NaN or Inf")
        return
    if len(coords) == len(dims) and dims:
        for k, d in enumerate(dims):
            lo, hi = coords[d][0], coords[d][-1]
            tol = 1e-9 * (hi - lo)
            outside = np.flatnonzero((p[:, k] < lo - tol) | (p[:, k] > hi + tol))
            if outside.size:
                i = int(outside[0])
                problems.append(f"{outside.size} observation point(s) lie outside the domain along {d!r} "
                                f"[{lo:g}, {hi:g}], e.g. point {i} = {tuple(float(x) for x in p[i])}; remove them or "
                                f"fix the coordinates")


def _positive_attr(f: h5py.File, name: str, problems: list[str]) -> None:
    if name not in f.attrs:
        problems.append(f"missing root attribute {name!r} (the standard deviation of the observation noise)")
        return
    value = _text(f.attrs[name])
    try:
        number = float(np.asarray(value).item())
    except (TypeError, ValueError):
        problems.append(f"root attribute {name!r} must be a positive number, got {value!r}")
        return
    if not (np.isfinite(number) and number > 0):
        problems.append(f"root attribute {name!r} must be a positive number, got {number}")


def observation_problems(f: h5py.File) -> list[str]:
    """Every problem of an observation file (empty: usable); see the module docstring for the layout."""
    problems: list[str] = []
    _version(f, problems)
    dims, shape, coords = _grid(f, problems)
    _positive_attr(f, "noise_std", problems)
    _points_and_values(f, "", dims, coords, problems)
    _fields(f.get("truth"), shape, 0, "truth", problems)
    return problems


def posterior_problems(f: h5py.File) -> list[str]:
    """Every problem of a posterior file (empty: valid)."""
    problems: list[str] = []
    _version(f, problems)
    dims, shape, coords = _grid(f, problems)
    for a in POSTERIOR_JSON_ATTRS:
        if a in f.attrs:
            try:
                json.loads(_text(f.attrs[a]))
            except (TypeError, json.JSONDecodeError):
                problems.append(f"root attribute {a!r} is not valid JSON")
    if not isinstance(f.get("summary"), h5py.Group) or not len(f["summary"]):
        problems.append("missing group 'summary' (posterior mean, std and quantiles of every field)")
    _fields(f.get("summary"), shape, 0, "summary", problems)
    samples = f.get("samples")
    if isinstance(samples, h5py.Group):
        n = {ds.shape[0] for ds in samples.values() if isinstance(ds, h5py.Dataset) and ds.ndim}
        if len(n) > 1:
            problems.append(f"samples/* hold different numbers of draws {sorted(n)}")
        fields = {k: v for k, v in samples.items() if k not in ("chain", "step", "latent")}
        for name, ds in fields.items():
            if not isinstance(ds, h5py.Dataset) or not _numeric(ds) or (shape and tuple(ds.shape[1:]) != shape):
                problems.append(f"samples/{name} must be numeric [K, *{shape}]")
    if isinstance(f.get("observations"), h5py.Group):
        _points_and_values(f["observations"], "observations/", dims, coords, problems)
    _fields(f.get("truth"), shape, 0, "truth", problems)
    return problems


def record_problems(f: h5py.File) -> list[str]:
    """Problems of an observation or posterior file (:func:`record_kind` says which), links leaving its folder
    included (:func:`neurops.data.files.link_problems`)."""
    layout = posterior_problems(f) if record_kind(f) == POSTERIOR_KIND else observation_problems(f)
    return layout + link_problems(f)


def record_summary(f: h5py.File) -> list[str]:
    """Lines of ``neurops data info`` for an observation or posterior file."""
    kind = record_kind(f)
    problems = record_problems(f)
    head = (f"{f.filename}: neurops {kind} file"
            + (f", schema v{int(f.attrs['schema_version'])}" if "schema_version" in f.attrs else " (hand-made)")
            + (f", written by neurops {_text(f.attrs['neurops_version'])}" if "neurops_version" in f.attrs else ""))
    lines = [head]
    dims, shape, coords = _grid(f, [])
    grid = " x ".join(str(len(coords[d])) for d in dims if d in coords)
    lines.append(f"  dims: {dims}  grid: {grid or '-'}")
    if kind == OBSERVATIONS_KIND:
        if isinstance(f.get("values"), h5py.Dataset) and _numeric(f["values"]):
            v = f["values"][()]
            lines.append(f"  observations: {v.size} values, range [{np.min(v):.4g}, {np.max(v):.4g}], noise std "
                         f"{_text(f.attrs.get('noise_std'))}, SNR {_text(f.attrs.get('snr_db', 'unknown'))} dB")
    else:
        for a in ("method", "diagnostics", "predictive", "metrics"):
            if a in f.attrs:
                lines.append(f"  {a}: {_text(f.attrs[a])}")
        if isinstance(f.get("samples"), h5py.Group):
            lines.append("  samples: " + ", ".join(f"{k} {v.shape}" for k, v in f["samples"].items()))
        if isinstance(f.get("summary"), h5py.Group):
            lines.append("  summary: " + ", ".join(f["summary"]))
    if isinstance(f.get("truth"), h5py.Group):
        lines.append("  truth: " + ", ".join(f"{k} {v.shape}" for k, v in f["truth"].items()))
    lines += [f"  problem: {p}" for p in problems]
    return lines


def record_to_xarray(f: h5py.File) -> Any:
    """An ``xarray.Dataset`` of an observation or posterior file.

    Observations: ``values (obs)``, ``points (obs, axis)`` and the truth on the grid. Posterior:
    the summaries and the truth on the grid, the draws ``(draw, *dims)`` with ``chain`` and ``step``
    coordinates, the latent coefficients ``(draw, mode)`` and the observations.
    """
    import xarray as xr

    problems = record_problems(f)
    if problems:
        raise SchemaError(f"{f.filename} is not a valid {record_kind(f)} file: " + "; ".join(problems) + ".")
    dims, _, grid_coords = _grid(f, [])
    coords: dict[str, Any] = dict(grid_coords)  # coordinate arrays, or (dim, values) pairs added below
    variables: dict[str, Any] = {}

    def add_obs(group: h5py.Group, prefix: str) -> None:
        variables[f"{prefix}values"] = (("obs",), group["values"][()])
        variables[f"{prefix}points"] = (("obs", "axis"), group["points"][()])
        if "predicted" in group:
            variables[f"{prefix}predicted"] = (("obs",), group["predicted"][()])

    if record_kind(f) == OBSERVATIONS_KIND:
        add_obs(f, "")
    else:
        for name, ds in f["summary"].items():
            variables[name] = (dims, ds[()])
        if "samples" in f:
            s = f["samples"]
            for name, ds in s.items():
                if name == "latent":
                    variables["latent"] = (("draw", "mode"), ds[()])
                elif name not in ("chain", "step"):
                    variables[name] = (("draw", *dims), ds[()])
            for name in ("chain", "step"):
                if name in s:
                    coords[name] = ("draw", s[name][()])
        if "observations" in f:
            add_obs(f["observations"], "observed_")
    for name, ds in (f["truth"].items() if "truth" in f else ()):
        variables[f"true_{name}"] = (dims, ds[()])
    attrs = {k: (_text(v) if isinstance(_text(v), (str, int, float)) else str(v)) for k, v in f.attrs.items()}
    attrs.setdefault("kind", record_kind(f))
    if "axis" in {d for v in variables.values() for d in v[0]}:
        coords["axis"] = dims
    return xr.Dataset(variables, coords=coords, attrs=attrs)
