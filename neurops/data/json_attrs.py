"""JSON attributes of neurops' HDF5 files (the root of data files, :mod:`neurops.data.schema`, and of observation
and posterior files, :mod:`neurops.data.records`): strict JSON, with the non-finite numbers recorded next to them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import h5py

from neurops.errors import SchemaError
from neurops.utils.io import restore_nonfinite, strict_json

__all__ = ["NONFINITE_ATTR", "read_json_attr", "write_json_attrs"]

#: attribute of a file's root (or a split) holding JSON attributes: ``{attr: [[path, "inf" | "-inf" | "nan"], ...]}``,
#: where the JSON attribute ``attr`` holds ``null`` for a non-finite number (see :func:`write_json_attrs`)
NONFINITE_ATTR = "json_nonfinite"


def write_json_attrs(obj: h5py.Group, values: dict[str, Any], default: Callable[[Any], Any] = str) -> None:
    """Write each of ``values`` as a strict-JSON attribute of ``obj`` (a file's root or a group; anything else than
    JSON's types as ``default`` turns it, by default its ``str``), and where a non-finite number stood (written as
    ``null``) in :data:`NONFINITE_ATTR`, whose entries for the other attributes of ``obj`` are kept.

    A strict parser (jq, JavaScript, another language's HDF5 reader) reads every attribute, and sees ``null`` for a
    non-finite number; :func:`read_json_attr` gives back exactly what was written (inf as inf, ``None`` as None). The
    numbers are not written as strings ``"inf"``, which could not be told from a string a record holds."""
    try:
        nonfinite = _marks(obj)
    except ValueError:  # a broken one is replaced
        nonfinite = {}
    if not isinstance(nonfinite, dict):
        nonfinite = {}
    for name, value in values.items():
        found: list[list[Any]] = []
        obj.attrs[name] = strict_json(value, found, default=default)
        nonfinite.pop(name, None)
        if found:
            nonfinite[name] = found
    if nonfinite:
        obj.attrs[NONFINITE_ATTR] = strict_json(nonfinite)
    elif NONFINITE_ATTR in obj.attrs:
        del obj.attrs[NONFINITE_ATTR]


def read_json_attr(obj: h5py.Group, name: str, default: Any) -> Any:
    """The JSON attribute ``name`` of ``obj`` (a file's root or a group) as :func:`write_json_attrs` was given it
    (``default`` if absent); the ``Infinity``/``NaN`` of files written before neurops wrote strict JSON are read
    too."""
    value = obj.attrs.get(name)
    if value is None:
        return default
    try:
        record = json.loads(value.decode() if isinstance(value, bytes) else value)
    except (TypeError, json.JSONDecodeError):
        raise SchemaError(f"{obj.file.filename}: attribute {name!r} is not valid JSON.") from None
    if NONFINITE_ATTR not in obj.attrs:
        return record
    try:
        marks = _marks(obj)
        if not isinstance(marks, dict):
            raise TypeError(f"it holds {type(marks).__name__}, not an object of attribute names")
        return restore_nonfinite(record, marks.get(name, []))
    except (TypeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise SchemaError(f"{obj.file.filename}: attribute {NONFINITE_ATTR!r} does not match attribute {name!r} "
                          f"({exc}); rewrite the file with neurops, or delete the attribute (its non-finite numbers "
                          "are then read as None).") from None


def _marks(obj: h5py.Group) -> Any:
    """The decoded :data:`NONFINITE_ATTR` of ``obj`` (``{}`` if absent); a ``ValueError`` if it is not JSON."""
    marks = obj.attrs.get(NONFINITE_ATTR)
    if marks is None:
        return {}
    try:
        return json.loads(marks.decode() if isinstance(marks, bytes) else marks)
    except TypeError:
        raise ValueError(f"it is not a JSON text but {type(marks).__name__}") from None
