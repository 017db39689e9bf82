import h5py
import numpy as np
import pytest

from neurops.data.check import check_file
from neurops.data.reader import H5OperatorDataset
from neurops.errors import DataError, SchemaError
from tests.conftest import write_operator_file


def test_valid_file_has_no_problems(operator_file):
    assert check_file(operator_file) == []


@pytest.mark.parametrize("block_samples", [1, 5, 100])
def test_nan_values_are_counted_per_field_with_their_samples_in_any_block_size(operator_file, monkeypatch,
                                                                              block_samples):
    """The scan reads a block at a time (its blocks are also the scan of `neurops fit`'s validation and test
    splits); what it reports does not depend on where the blocks end."""
    import neurops.data.check as check

    monkeypatch.setattr(check, "_SCAN_BYTES", block_samples * 16 * 16 * 4)
    with h5py.File(operator_file, "a") as f:
        for i in range(1, 24, 2):  # 12 of the 24 training samples, the first one twice
            f["train/outputs/u"][i, 0, 0] = np.nan
        f["train/outputs/u"][1, 3, 3] = -np.inf
    assert check_file(operator_file) == ["train/outputs/u: 13 NaN/Inf values in samples [1, 3, 5, 7, 9, 11, 13, 15, "
                                         "17, 19] (12 in all)"]


def test_lists_every_problem(operator_file):
    with h5py.File(operator_file, "a") as f:
        del f.attrs["name"]
        f["train/inputs/a"][0, 0, 0] = np.inf
        f["val/outputs/u"][1, 1, 1] = np.nan
        del f["test/coords/y"]
        data = f["test@32/inputs/a"][()]
        del f["test@32/inputs/a"]
        f.create_dataset("test@32/inputs/a", data=data.astype(np.float64))
        f.create_dataset("test@32/outputs/v", data=np.zeros((7, 32, 32), np.float32))
    problems = check_file(operator_file)
    text = "\n".join(problems)
    assert "missing root attribute 'name'" in text
    assert "train/inputs/a: 1 NaN/Inf values in sample 0" in problems
    assert "val/outputs/u: 1 NaN/Inf values in sample 1" in problems
    assert "test: missing coords/y" in text
    assert "test@32/inputs/a: dtype float64" in text
    assert "different sample counts" in text
    assert len(problems) >= 6


def test_unknown_version_and_not_hdf5(operator_file, tmp_path):
    with h5py.File(operator_file, "a") as f:
        f.attrs["schema_version"] = 3
    assert any("unknown schema_version 3" in p for p in check_file(operator_file))
    bad = tmp_path / "x.h5"
    bad.write_bytes(b"\x00" * 10)
    with pytest.raises(DataError, match="not an HDF5 file"):
        check_file(bad)


def test_a_foreign_hdf5_file_is_one_problem_not_one_per_attribute(tmp_path):
    """`data check` of an HDF5 file of another format listed 9 'missing root attribute' lines and nothing about what
    the file is; now it is one problem pointing to `data convert`."""
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as f:
        f["tensor"] = np.zeros((3, 4, 4))
        f.attrs["beta"] = 1.0
    assert check_file(path) == ["not a neurops file: it has none of the root attributes of the neurops schema "
                                "(schema_version, kind, ...); convert a file of another format with `neurops data "
                                "convert FORMAT` (see `neurops data convert --help`)"]


def _replace(f, name, data):
    del f[name]
    f.create_dataset(name, data=data)


@pytest.mark.parametrize("dtype", [np.complex64, np.int32, np.float16])
def test_fields_that_are_not_float32_are_refused_by_check_and_reader(operator_file, dtype):
    with h5py.File(operator_file, "a") as f:
        _replace(f, "train/outputs/u", f["train/outputs/u"][()].astype(dtype))
    assert any(f"train/outputs/u: dtype {np.dtype(dtype)}, expected float32" in p for p in check_file(operator_file))
    with pytest.raises(SchemaError, match=f"dtype {np.dtype(dtype)}"):
        H5OperatorDataset(operator_file, "train")


def test_zero_samples_missing_train_split_and_dims_are_problems(operator_file):
    with h5py.File(operator_file, "a") as f:
        _replace(f, "val/inputs/a", np.zeros((0, 16, 16), np.float32))
        _replace(f, "val/outputs/u", np.zeros((0, 16, 16), np.float32))
    assert check_file(operator_file) == ["val: no samples (its fields hold 0 samples)"]
    with h5py.File(operator_file, "a") as f:
        del f["val"]
        f.move("train", "training")
        del f.attrs["dims"]
    problems = check_file(operator_file)
    assert "missing root attribute 'dims'" in problems
    assert any("no 'train' split" in p and "'training'" in p for p in problems)
    with pytest.raises(SchemaError, match="missing root attribute 'dims'"):
        H5OperatorDataset(operator_file, "training")
    with h5py.File(operator_file, "a") as f:
        f.attrs["dims"] = '["x", "y"]'
    assert len(H5OperatorDataset(operator_file, "test")) == 8  # readers take a file without train split


def test_one_point_grid_and_missing_outputs_are_refused(tmp_path):
    path = write_operator_file(tmp_path / "tiny.h5", {"train": (4, 8)})  # the writer refuses 1 point: edit by hand
    with h5py.File(path, "a") as f:
        for name in ("inputs/a", "outputs/u"):
            _replace(f, f"train/{name}", f[f"train/{name}"][:, :1, :1])
        for dim in ("x", "y"):
            _replace(f, f"train/coords/{dim}", f[f"train/coords/{dim}"][:1])
        f["train"].attrs["resolution"] = [1, 1]
    assert any("grid 1x1 has an axis with fewer than 2 points" in p for p in check_file(path))
    path = write_operator_file(tmp_path / "ok.h5", {"train": (4, 8)})
    with h5py.File(path, "a") as f:
        del f["train/outputs"]
    with pytest.raises(SchemaError, match="missing group 'outputs'"):
        H5OperatorDataset(path, "train")


def test_inputs_and_outputs_of_different_sample_counts(operator_file):
    with h5py.File(operator_file, "a") as f:
        _replace(f, "train/outputs/u", f["train/outputs/u"][:20])
    with pytest.raises(SchemaError, match=r"different sample counts \[20, 24\]"):
        H5OperatorDataset(operator_file, "train")


@pytest.mark.parametrize("change, detail", [
    (lambda c: np.where(np.arange(len(c)) == 5, np.nan, c), "value nan at index 5"),
    (lambda c: c[::-1], "1 at index 0, then 0.933333"),
    (lambda c: np.zeros_like(c), "0 at index 0, then 0"),
])
def test_coordinates_must_be_finite_and_increasing_for_check_and_reader(operator_file, change, detail):
    with h5py.File(operator_file, "a") as f:
        x = f["test/coords/x"][()]
        del f["test/coords/x"]
        f["test/coords/x"] = change(x)
    problem = (f"test: coords/x must be finite and strictly increasing ({detail}); store the grid's node positions in "
               "increasing order")
    assert check_file(operator_file) == [problem]
    with pytest.raises(SchemaError) as err:  # every reader, at open: also the splits it does not read
        H5OperatorDataset(operator_file, "train")
    assert str(err.value) == (f"{operator_file} is not a valid neurops file: {problem} (`neurops data check "
                              f"{operator_file}` lists every problem).")


@pytest.mark.parametrize("time, detail", [
    (np.arange(10.0)[::-1], "must be finite and strictly increasing (9 at index 0, then 8)"),
    (np.where(np.arange(10) == 4, np.nan, np.arange(10.0)), "must be finite and strictly increasing (value nan at "
                                                           "index 4)"),
    (np.zeros(10), "must be finite and strictly increasing (0 at index 0, then 0)"),
    (np.arange(20.0).reshape(10, 2), "must be one-dimensional (one time per frame), has shape (10, 2)"),
    (np.array([b"t%d" % i for i in range(10)]), "must hold numbers (float64), has dtype |S2"),
])
def test_trajectory_time_must_be_finite_and_increasing_for_check_and_reader(tmp_path, time, detail):
    """A file whose time ran backwards, repeated a value or held NaN was a valid file: `neurops data check` said so
    and every reader took it. Time now follows the coordinates' rule, at every open."""
    from neurops.data.metadata import DatasetMeta
    from neurops.data.rollout import H5RolloutDataset
    from neurops.data.writer import H5Writer

    path = tmp_path / "traj.h5"
    with H5Writer(path, DatasetMeta(kind="trajectory", name="t", dims=("x",), seed=0)) as w:
        for split in ("train", "test"):
            w.add_split(split, coords={"x": np.linspace(0, 1, 8)}, states={"u": np.ones((3, 10, 8))},
                        time=np.arange(10.0))
    with h5py.File(path, "a") as f:
        _replace(f, "test/time", time)
    problem = f"test: time {detail}" + ("; store one time per frame, the frames in time order"
                                        if "increasing" in detail else "")
    assert check_file(path) == [problem]
    with pytest.raises(SchemaError) as err:  # every reader, at open: also the splits it does not read
        H5RolloutDataset(path, "train", t_in=2, t_out=2)
    assert str(err.value) == (f"{path} is not a valid neurops file: {problem} (`neurops data check {path}` lists "
                              "every problem).")


def test_seed_parameters_and_generator_are_required_root_attributes(operator_file, tmp_path):
    from neurops.data.metadata import DatasetMeta
    from neurops.data.writer import H5Writer

    with h5py.File(operator_file, "a") as f:
        for name in ("seed", "parameters", "generator"):
            del f.attrs[name]
    assert check_file(operator_file) == ["missing root attribute 'parameters'", "missing root attribute 'generator'",
                                         "missing root attribute 'seed'"]
    with pytest.raises(SchemaError, match="is not a valid neurops file: missing root attribute 'parameters'; "):
        H5OperatorDataset(operator_file, "train")
    path = tmp_path / "minimal.h5"  # the writer writes them all, also when the metadata leaves them out
    with H5Writer(path, DatasetMeta(kind="input_only", name="m", dims=("x",))) as w:
        w.add_split("train", coords={"x": np.arange(4.0)}, inputs={"a": np.ones((2, 4))})
    with h5py.File(path) as f:
        assert (f.attrs["seed"], f.attrs["parameters"], f.attrs["generator"]) == (-1, "{}", "{}")
    assert check_file(path) == []


def test_infinity_of_files_written_before_strict_json_is_still_read(tmp_path):
    """Files written before neurops wrote strict JSON hold ``Infinity``/``NaN`` in their JSON attributes: they still
    check as valid and read back the same numbers."""
    from neurops.data.reader import read_attrs

    path = write_operator_file(tmp_path / "old.h5", {"train": (2, 8)})
    with h5py.File(path, "a") as f:
        f.attrs["parameters"] = '{"Re": Infinity, "floor": -Infinity, "kind": "integral"}'
        assert "json_nonfinite" not in f.attrs
    assert check_file(path) == []
    assert read_attrs(path)["parameters"] == {"Re": np.inf, "floor": -np.inf, "kind": "integral"}


def test_a_json_nonfinite_that_does_not_match_its_attributes_is_flagged_and_refused(tmp_path):
    path = write_operator_file(tmp_path / "d.h5", {"train": (2, 8)})
    with h5py.File(path, "a") as f:
        f.attrs["parameters"] = '{"Re": null, "kind": "integral"}'
        f.attrs["json_nonfinite"] = '{"parameters": [[["Re"], "inf"]]}'
    assert check_file(path) == []
    with h5py.File(path, "a") as f:
        f.attrs["json_nonfinite"] = '{"parameters": [[["kind"], "inf"]], "seed": [[[], "nan"]]}'
    assert check_file(path) == [
        "root attribute 'json_nonfinite' does not match attribute 'parameters' (it must name the nulls written for its "
        "non-finite numbers): rewrite the file with neurops, or delete 'json_nonfinite' (those numbers are then read "
        "as None)",
        "root attribute 'json_nonfinite' names ['seed'], which are not JSON attributes of the file: rewrite the file "
        "with neurops, or delete the attribute"]
    with pytest.raises(SchemaError, match="'json_nonfinite' does not match attribute 'parameters'"):
        H5OperatorDataset(path, "train")
    with h5py.File(path, "a") as f:
        f.attrs["json_nonfinite"] = "[1, 2"
    assert check_file(path) == ["root attribute 'json_nonfinite' is not a JSON object of attribute names: rewrite "
                                "the file with neurops, or delete the attribute (its non-finite numbers are then read "
                                "as None)"]
