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

    /                  attrs: schema_version, kind, name, dims, neurops_version, level, noise_std, and JSON
                       records method, diagnostics, predictive, metrics, info, warnings
                       [json_nonfinite: where a JSON attribute's null stands for inf, -inf or NaN]
    coords/<dim>       [n_dim]
    summary/<field>_<stat>   [*spatial]  stat in mean, std, lower, median, upper, map [a_decoder_std]
    [samples/]         all of these, or no group (a result read without its draws and written again):
    samples/<field>    [K, *spatial]  posterior draws of a and u
    samples/chain, samples/step   [K] chain index and kept step of every draw (integers)
    samples/latent     [K, n] the sampled coefficients (GRF modes or latent code)
    observations/points, observations/values, observations/predicted   the data and the fit [M, d], [M], [M]
    [observations/predicted_true]   [M]
    truth/<field>      optional

Every reader refuses a file with a problem (:func:`check_record`), naming the file, every problem and the fix.
"""

from __future__ import annotations

import json
import os
from typing import Any

import h5py
import numpy as np

from neurops.data.files import link_problems, open_hdf5
from neurops.data.json_attrs import NONFINITE_ATTR, read_json_attr, write_json_attrs
from neurops.data.schema import RECORD_KINDS, SUPPORTED_VERSIONS, coord_problem
from neurops.errors import SchemaError

__all__ = ["NONFINITE_ATTR", "OBSERVATIONS_KIND", "POSTERIOR_KIND", "RECORD_KINDS", "check_record", "decode_dims",
           "observation_problems", "open_record", "posterior_problems", "read_json_attr", "record_kind",
           "record_problems", "record_summary", "record_to_xarray", "write_json_attrs"]

OBSERVATIONS_KIND, POSTERIOR_KIND = RECORD_KINDS
#: JSON attributes of a posterior file
POSTERIOR_JSON_ATTRS = ("method", "diagnostics", "predictive", "metrics", "info", "warnings")
#: datasets every posterior file holds (:func:`posterior_problems`): summary/<field>_<stat>, and samples/<name>
#: where it holds draws
POSTERIOR_SUMMARY = tuple(f"{f}_{s}" for f in ("a", "u") for s in ("mean", "std", "lower", "median", "upper", "map"))
POSTERIOR_SAMPLES = ("a", "u", "chain", "step", "latent")


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


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


def _vectors(group: h5py.Group, names: tuple[str, ...], n: int | None, where: str, problems: list[str],
             kinds: str = "fiu") -> None:
    """Each of ``names`` present in ``group`` must be a ``[n]`` vector of dtype kinds ``kinds``."""
    for name in names:
        ds = group.get(name)
        if ds is not None and (not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in kinds or ds.ndim != 1
                               or (n is not None and ds.shape[0] != n)):
            what = "integers" if kinds == "iu" else "numbers"
            problems.append(f"{where}{name} must be [{n if n is not None else 'K'}] {what}, got "
                            f"{getattr(ds, 'dtype', 'a group')} {getattr(ds, 'shape', '')}")


def _missing(group: Any, where: str, names: tuple[str, ...], problems: list[str]) -> None:
    gone = [f"{where}/{n}" for n in names if not isinstance(group.get(n), h5py.Dataset)]
    if gone:
        problems.append("missing dataset" + "s" * (len(gone) > 1) + " " + ", ".join(gone))


def _samples(samples: h5py.Group, shape: tuple[int, ...] | None, problems: list[str]) -> None:
    _missing(samples, "samples", POSTERIOR_SAMPLES, problems)
    n = {ds.shape[0] for ds in samples.values() if isinstance(ds, h5py.Dataset) and ds.ndim}
    if len(n) > 1:
        problems.append(f"samples/* hold different numbers of draws {sorted(n)}")
    fields = {k: v for k, v in samples.items() if k not in ("chain", "step", "latent")}
    for name, ds in fields.items():
        if not isinstance(ds, h5py.Dataset) or not _numeric(ds) or (shape and tuple(ds.shape[1:]) != shape):
            problems.append(f"samples/{name} must be numeric [K, *{shape}]")
    _vectors(samples, ("chain", "step"), None, "samples/", problems, "iu")
    latent = samples.get("latent")
    if isinstance(latent, h5py.Dataset) and (not _numeric(latent) or latent.ndim != 2):
        problems.append(f"samples/latent must be numeric [K, n], got {latent.dtype} {latent.shape}")


def posterior_problems(f: h5py.File) -> list[str]:
    """Every problem of a posterior file (empty: valid): what :func:`neurops.inverse.write_posterior` writes (the
    ``samples`` group may be left out, as in a result read with ``samples=False``)."""
    problems: list[str] = []
    _version(f, problems)
    dims, shape, coords = _grid(f, problems)
    for a in POSTERIOR_JSON_ATTRS:
        if a not in f.attrs:
            problems.append(f"missing root attribute {a!r}")
            continue
        try:
            json.loads(_text(f.attrs[a]))
        except (TypeError, json.JSONDecodeError):
            problems.append(f"root attribute {a!r} is not valid JSON")
    level = f.attrs.get("level")
    if level is None or not (np.ndim(level) == 0 and np.asarray(level).dtype.kind in "fiu" and 0 < level < 1):
        problems.append("missing root attribute 'level' (of the intervals, between 0 and 1)" if level is None else
                        f"root attribute 'level' must be a number between 0 and 1, got {_text(level)!r}")
    _positive_attr(f, "noise_std", problems)
    if not isinstance(f.get("summary"), h5py.Group):
        problems.append("missing group 'summary' (posterior mean, std and quantiles of every field)")
    else:
        _missing(f["summary"], "summary", POSTERIOR_SUMMARY, problems)
        _fields(f["summary"], shape, 0, "summary", problems)
    if isinstance(f.get("samples"), h5py.Group):
        _samples(f["samples"], shape, problems)
    if not isinstance(f.get("observations"), h5py.Group):
        problems.append("missing group 'observations' (the observed points and values and their fit)")
    else:
        obs = f["observations"]
        _points_and_values(obs, "observations/", dims, coords, problems)
        _missing(obs, "observations", ("predicted",), problems)
        m = obs["values"].shape[0] if isinstance(obs.get("values"), h5py.Dataset) and obs["values"].ndim else None
        _vectors(obs, ("predicted", "predicted_true"), m, "observations/", problems)
    _fields(f.get("truth"), shape, 0, "truth", problems)
    return problems


def record_problems(f: h5py.File) -> list[str]:
    """Problems of an observation or posterior file (:func:`record_kind` says which), links leaving its folder
    included (:func:`neurops.data.files.link_problems`)."""
    layout = posterior_problems(f) if record_kind(f) == POSTERIOR_KIND else observation_problems(f)
    return layout + link_problems(f)


#: how to make a valid file of each kind again
_REMAKE = {OBSERVATIONS_KIND: "make it again with `neurops invert observe --out FILE` (or fix it by hand, see "
                              "docs/data-format.md)",
           POSTERIOR_KIND: "write it again with `neurops invert pde|surrogate --out FILE`"}


def check_record(f: h5py.File) -> None:
    """Refuse an observation or posterior file with a problem (what every reader of those files runs first).

    Raises
    ------
    SchemaError : ``FILE is not a valid posterior file: missing dataset summary/a_mean; write it again with ...``.
    """
    problems = record_problems(f)
    if problems:
        kind = record_kind(f) or OBSERVATIONS_KIND
        raise SchemaError(f"{f.filename} is not a valid {kind.rstrip('s')} file: " + "; ".join(problems)
                          + f"; {_REMAKE[kind]}.")


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

    check_record(f)
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
