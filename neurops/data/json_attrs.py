"""JSON root attributes of observation and posterior files (:mod:`neurops.data.records`): strict JSON, with
the non-finite numbers recorded next to them."""

from __future__ import annotations

import json
from typing import Any

import h5py

from neurops.errors import SchemaError
from neurops.utils.io import restore_nonfinite, strict_json

__all__ = ["NONFINITE_ATTR", "read_json_attr", "write_json_attrs"]

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
