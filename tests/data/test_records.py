"""Observation and posterior files are kinds of the neurops schema: check, info and xarray work on them."""

import h5py
import numpy as np
import pytest

from neurops.data.check import check_file
from neurops.data.info import summarize
from neurops.data.records import decode_dims, record_kind
from neurops.data.xarray_io import to_xarray
from neurops.errors import SchemaError
from neurops.inverse import make_observations, write_observations


def _obs_file(path):
    x = np.linspace(0, 1, 9)
    u = np.sin(np.pi * x)[:, None] * np.sin(np.pi * x)[None, :]
    return write_observations(make_observations(u, {"x": x, "y": x}, 10, 25.0, seed=0, a=1 + u), path)


def test_observation_file_is_checked_summarised_and_exported(tmp_path):
    path = _obs_file(tmp_path / "obs.h5")
    assert check_file(path) == []
    text = summarize(path)
    assert "observations file" in text and "10 values" in text and "truth: a (9, 9)" in text
    ds = to_xarray(path)
    assert ds["values"].dims == ("obs",) and ds["points"].shape == (10, 2) and ds["true_u"].dims == ("x", "y")
    with h5py.File(path, "r") as f:
        assert record_kind(f) == "observations"


def test_problems_of_an_observation_file_are_listed(tmp_path):
    path = _obs_file(tmp_path / "obs.h5")
    with h5py.File(path, "a") as f:
        del f.attrs["noise_std"]
        f["points"][0] = [3.0, 0.5]
    problems = check_file(path)
    assert any("noise_std" in p for p in problems) and any("outside the domain" in p for p in problems)
    assert "problem:" in summarize(path)
    with pytest.raises(SchemaError, match=r"not a valid observation file: .*; make it again with `neurops invert "
                       r"observe --out FILE` \(or fix it by hand, see docs/data-format.md\)\.$"):
        to_xarray(path)


def test_dims_in_every_written_form():
    assert decode_dims('["x", "y"]') == ["x", "y"]
    assert decode_dims(np.array([b"x", b"y"], dtype=object)) == ["x", "y"]
    for bad in ("[x]", '"x"', "[]", '["x", "x"]'):
        with pytest.raises(SchemaError, match="dims"):
            decode_dims(bad)


def test_observation_grid_follows_the_one_coordinate_rule(tmp_path):
    from tests.conftest import write_observation_file

    path = write_observation_file(tmp_path / "obs.h5", **{"coords/y": np.array([0.0, 0.5, 0.5, 0.75, 1.0])})
    assert check_file(path) == ["coords/y must be finite and strictly increasing (0.5 at index 1, then 0.5); store "
                                "the grid's node positions in increasing order"]
