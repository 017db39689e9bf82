"""The typed metadata of a data set: one object for the writer, reader, checker, info and boundary-aware layers."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from neurops.data.check import check_file
from neurops.data.metadata import DatasetMeta
from neurops.data.reader import read_attrs, read_meta
from neurops.data.writer import H5Writer
from neurops.errors import SchemaError


def test_boundary_modes_in_dim_order():
    meta = DatasetMeta(kind="operator", name="t", dims=["x", "y"], boundary={"x": "periodic", "y": "neumann"})
    assert meta.boundary_modes() == ("periodic", "neumann")
    assert DatasetMeta(kind="operator", name="t", dims=["x"]).boundary_modes() == ("dirichlet",)
    with pytest.raises(ValueError, match="dims"):
        DatasetMeta.from_attrs({"boundary": {}})


def test_what_is_written_is_what_is_read(tmp_path):
    meta = DatasetMeta(kind="input_only", name="mine", dims=("x",), boundary={"x": "periodic"},
                       parameters={"nu": 0.1}, generator={"by": "test"}, seed=7)
    with H5Writer(tmp_path / "d.h5", meta) as w:
        w.add_split("train", coords={"x": np.linspace(0, 1, 4)}, inputs={"a": np.ones((2, 4), np.float32)})
    read = read_meta(tmp_path / "d.h5")
    assert read == DatasetMeta(**{**meta.__dict__, "neurops_version": read.neurops_version})
    assert read.neurops_version and check_file(tmp_path / "d.h5") == []
    with h5py.File(tmp_path / "d.h5") as f:  # the schema's attributes, JSON where the schema says so
        assert f.attrs["dims"] == '["x"]' and f.attrs["boundary"] == '{"x": "periodic"}' and f.attrs["seed"] == 7
        assert "shard" not in f.attrs


def test_a_file_of_the_fixture_reads_as_before(operator_file):
    meta, attrs = read_meta(operator_file), read_attrs(operator_file)
    assert (meta.kind, meta.name, list(meta.dims), meta.boundary) == (attrs["kind"], attrs["name"], attrs["dims"],
                                                                       attrs["boundary"])
    assert meta.seed == (None if attrs["seed"] < 0 else attrs["seed"])


def test_one_set_of_rules_for_the_writer_and_the_checker(tmp_path, operator_file):
    with pytest.raises(SchemaError, match=r"boundary 'wall' for dim 'x' is not one of"):
        DatasetMeta(kind="operator", name="t", dims=("x",), boundary={"x": "wall"})
    with pytest.raises(SchemaError, match="boundary names dim 'z' which is not in dims"):
        H5Writer(tmp_path / "a.h5", DatasetMeta(kind="operator", name="t", dims=("x",), boundary={"z": "periodic"}))
    # one way to give the metadata: a DatasetMeta, neither its fields as keywords nor a dict of attributes
    with pytest.raises(TypeError, match="unexpected keyword argument 'kind'"):
        H5Writer(tmp_path / "a.h5", kind="operator", name="t", dims=("x",))  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="takes the file's metadata as a DatasetMeta, got dict"):
        H5Writer(tmp_path / "a.h5", {"kind": "operator", "name": "t", "dims": ["x"]})  # type: ignore[arg-type]
    with h5py.File(operator_file, "a") as f:
        f.attrs["boundary"] = '{"x": "wall", "z": "periodic"}'
    problems = check_file(operator_file)
    assert "boundary 'wall' for dim 'x' is not one of ('dirichlet', 'periodic', 'neumann', 'none')" in problems
    assert any("boundary names dim 'z' which is not in dims" in p for p in problems)


def test_every_reader_of_the_package_takes_the_typed_metadata():
    """Only read_meta itself reads the raw attributes with read_attrs (the checker reads the file's own)."""
    from pathlib import Path

    import neurops

    root = Path(neurops.__file__).parent
    raw = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                 if "read_attrs(" in p.read_text() and p.name != "reader.py")
    assert raw == []
