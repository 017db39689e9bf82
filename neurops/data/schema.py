"""The neurops HDF5 schema, version 1 (documented in ``docs/data-format.md``).

Layout::

    /                         attrs: schema_version, kind, name, dims, boundary, parameters,
                              generator, neurops_version, seed
    /<split>/                 attrs: resolution ; split names: train, val, test, test@128, ...
        coords/<dim>          float64 [n_dim]
        inputs/<field>        float32 [N, *spatial]        (kind operator, input_only)
        outputs/<field>       float32 [N, *spatial]        (kind operator)
        time                  float64 [T]                  (kind trajectory)
        states/<field>        float32 [N, T, *spatial]     (kind trajectory)

``dims``, ``boundary``, ``parameters`` and ``generator`` are JSON strings; so is the optional
``shard`` of a file holding one shard of a generation run (see :mod:`neurops.data.shards`). They are strict
JSON: a non-finite number is written as ``null`` and listed in the root attribute ``json_nonfinite``
(:mod:`neurops.data.json_attrs`), so that reading gives it back.

Two more kinds hold no splits: ``observations`` (point values of a solution for an inverse
problem) and ``posterior`` (what an inversion infers); their layouts are in
:mod:`neurops.data.records`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import h5py
import numpy as np

from neurops.data.json_attrs import NONFINITE_ATTR, read_json_attr, write_json_attrs
from neurops.errors import SchemaError

SCHEMA_VERSION = 1
SUPPORTED_VERSIONS = (1,)

Kind = Literal["operator", "input_only", "trajectory"]
KINDS: tuple[str, ...] = ("operator", "input_only", "trajectory")
#: kinds without splits (:mod:`neurops.data.records`)
RECORD_KINDS: tuple[str, ...] = ("observations", "posterior")
BOUNDARY_TYPES: tuple[str, ...] = ("dirichlet", "periodic", "neumann", "none")

JSON_ATTRS = ("dims", "boundary", "parameters", "generator", "shard")
#: every root attribute of docs/data-format.md's table but the optional ``shard`` (``seed`` is -1 when unknown)
REQUIRED_ROOT_ATTRS = ("schema_version", "kind", "name", "dims", "boundary", "parameters", "generator",
                       "neurops_version", "seed")

#: field groups each kind must (True) or must not (False) have in every split
KIND_GROUPS: dict[str, dict[str, bool]] = {
    "operator": {"inputs": True, "outputs": True, "states": False},
    "input_only": {"inputs": True, "outputs": False, "states": False},
    "trajectory": {"inputs": False, "outputs": False, "states": True},
}

#: kinds whose samples are fields on a grid: every spatial axis needs at least 2 points
GRID_KINDS = ("operator", "input_only")


#: what to do about coordinates that break :func:`coord_problem`'s rule
COORD_FIX = "store the grid's node positions in increasing order"
#: ... and about a trajectory's ``time`` that breaks it
TIME_FIX = "store one time per frame, the frames in time order"


def coord_problem(where: str, values: Any, fix: str = COORD_FIX) -> str | None:
    """The one rule for coordinates (of every split, and the grid of an observation file) and for the ``time`` of a
    trajectory split: one-dimensional, finite and strictly increasing. Returns the problem (``where`` names the
    dataset, ``fix`` says what to do), or ``None``.

    Readers and ``neurops data check`` apply it to what a file holds, :class:`~neurops.data.writer.H5Writer` to
    what it is given, so no file a reader refuses is ever written."""
    c = np.asarray(values, dtype=np.float64)
    if c.ndim != 1:
        what = "one time per frame" if fix == TIME_FIX else "the node positions of one axis"
        return f"{where} must be one-dimensional ({what}), has shape {c.shape}"
    bad = np.flatnonzero(~np.isfinite(c))
    up = np.flatnonzero(np.diff(c) <= 0)
    if not bad.size and not up.size:
        return None
    at = (f"value {c[bad[0]]} at index {int(bad[0])}" if bad.size
          else f"{c[up[0]]:g} at index {int(up[0])}, then {c[up[0] + 1]:g}")
    return f"{where} must be finite and strictly increasing ({at}); {fix}"


def flagged_samples(flags: np.ndarray, start: int = 0) -> list[int]:
    """Indices (counted from ``start``) of the samples of ``flags`` ``[n, ...]`` (e.g. ``~np.isfinite(x)``) with a
    True anywhere, for :func:`sample_list`."""
    return [start + int(i) for i in np.flatnonzero(flags.reshape(len(flags), -1).any(axis=1))]


def sample_list(index: Sequence[int], total: int | None = None) -> str:
    """``"sample 3"`` / ``"samples [3, 7, 9]"``: the samples ``index`` that hold a bad value (the first 10 shown, and
    ``total``, how many in all, when there are more), in the errors of the writer, the checker and the readers."""
    total = len(index) if total is None else total
    if total == 1:
        return f"sample {index[0]}"
    return f"samples {list(index[:10])}" + (f" ({total} in all)" if total > 10 else "")


def write_attrs(obj: h5py.Group, values: Mapping[str, Any]) -> None:
    """Write ``values`` as attributes of ``obj`` (a file's root or a split): dicts, lists and tuples as strict JSON
    (:func:`~neurops.data.json_attrs.write_json_attrs`: a non-finite number as ``null``, listed in
    ``json_nonfinite``), the rest as they are."""
    as_json = {k: v for k, v in values.items() if isinstance(v, (dict, list, tuple))}
    for key, value in values.items():
        if key not in as_json:
            obj.attrs[key] = value
    write_json_attrs(obj, as_json, default=_json_default)


def decode_attrs(obj: h5py.Group, *, keep_invalid: bool = False) -> dict[str, Any]:
    """The root attributes of ``obj`` (a file), the JSON ones decoded with their non-finite numbers given back (those
    of files written before neurops wrote strict JSON, ``Infinity``/``NaN``, too); ``json_nonfinite`` is not one.

    Raises :class:`~neurops.errors.SchemaError` for an attribute that is not valid JSON or a ``json_nonfinite`` that
    does not match it; ``keep_invalid`` keeps such an attribute as it is (for a check that reports it)."""
    attrs = {}
    for name, value in obj.attrs.items():
        if name == NONFINITE_ATTR:
            continue
        if isinstance(value, bytes):
            value = value.decode()
        if name in JSON_ATTRS and isinstance(value, str):
            try:
                value = read_json_attr(obj, name, None)
            except SchemaError:
                if not keep_invalid:
                    raise
        elif hasattr(value, "item") and getattr(value, "shape", None) == ():
            value = value.item()
        attrs[name] = value
    return attrs


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "__fspath__"):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in a JSON attribute")


def is_test_split(split: str) -> bool:
    """Splits named ``test`` or ``test@<tag>`` are test sets."""
    return split == "test" or split.startswith("test@")


def resolution_tag(resolution: tuple[int, ...] | list[int]) -> str:
    """The tag used in metric names: ``64`` for a 64x64 grid, ``64x32`` otherwise."""
    res = [int(r) for r in resolution]
    return str(res[0]) if len(set(res)) == 1 else "x".join(map(str, res))
