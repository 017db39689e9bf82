"""The attributes of neurops data files (:mod:`neurops.data.schema`): strict JSON that reads back exactly."""

from __future__ import annotations

import json
import math

import h5py
import pytest

from neurops.data.schema import decode_attrs, write_attrs
from neurops.errors import SchemaError


def test_rewriting_an_attribute_updates_only_its_own_nonfinite_entries(tmp_path):
    with h5py.File(tmp_path / "a.h5", "w") as f:
        write_attrs(f, {"kind": "operator", "parameters": {"Re": math.inf}, "generator": {"tol": -math.inf}})
        assert json.loads(f.attrs["json_nonfinite"]) == {"parameters": [[["Re"], "inf"]],
                                                         "generator": [[["tol"], "-inf"]]}
        write_attrs(f, {"generator": {"tol": 1e-6, "merged_from": ["a.h5"]}})
        assert json.loads(f.attrs["json_nonfinite"]) == {"parameters": [[["Re"], "inf"]]}
        assert decode_attrs(f) == {"kind": "operator", "parameters": {"Re": math.inf},
                                   "generator": {"tol": 1e-6, "merged_from": ["a.h5"]}}
        write_attrs(f, {"parameters": {"Re": 10.0}})
        assert "json_nonfinite" not in f.attrs


def test_an_attribute_the_side_record_does_not_match_is_refused_or_kept_for_the_check(tmp_path):
    with h5py.File(tmp_path / "a.h5", "w") as f:
        write_attrs(f, {"parameters": {"Re": math.inf, "mu": 1.0}})
        f.attrs["json_nonfinite"] = '{"parameters": [[["mu"], "inf"]]}'
        with pytest.raises(SchemaError, match="attribute 'json_nonfinite' does not match attribute 'parameters'"):
            decode_attrs(f)
        assert decode_attrs(f, keep_invalid=True)["parameters"] == '{"Re": null, "mu": 1.0}'


def test_values_json_cannot_hold_are_refused_not_written_as_text(tmp_path):
    with h5py.File(tmp_path / "a.h5", "w") as f, pytest.raises(TypeError, match="cannot store object"):
        write_attrs(f, {"parameters": {"solver": object()}})
