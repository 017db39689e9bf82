import h5py
import numpy as np

from neurops.data.check import check_file


def test_valid_file_has_no_problems(operator_file):
    assert check_file(operator_file) == []


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
    assert "train/inputs/a: 1 NaN/Inf values" in text
    assert "val/outputs/u: 1 NaN/Inf values" in text
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
    assert check_file(bad) == [f"{bad}: not an HDF5 file"]
