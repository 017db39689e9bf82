"""Opening files with one clear error, and refusing links and sources outside a data set's folder."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from neurops.data.check import check_file
from neurops.data.files import link_problems, open_hdf5
from neurops.data.reader import H5OperatorDataset, open_h5
from neurops.errors import DataError


def test_truncated_and_temporary_files_get_one_clear_error(operator_file, tmp_path):
    truncated = tmp_path / "cut.h5"
    truncated.write_bytes(operator_file.read_bytes()[:4000])
    with pytest.raises(DataError, match="truncated or damaged"):
        open_hdf5(truncated)
    temp = tmp_path / ".toy.h5.node1.4242.0a1b2c3d.tmp"
    temp.write_bytes(operator_file.read_bytes())
    with pytest.raises(DataError, match="temporary file of an interrupted write of 'toy.h5' .process 4242"):
        open_hdf5(temp)
    with pytest.raises(DataError, match=r"is a directory, not an HDF5 file; pass one of its files .* `neurops data "
                                        r"merge DIR --out FILE`"):
        open_hdf5(tmp_path)
    with pytest.raises(DataError, match="is a directory, not an HDF5 file; pass one PDEBench file"):
        open_hdf5(tmp_path, "PDEBench")


def _outside_file(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.h5"
    with h5py.File(secret, "w") as f:
        f["train/inputs/a"] = np.full((24, 16, 16), 7.0, np.float32)
    return secret


def test_external_link_and_storage_are_refused(operator_file, tmp_path):
    secret = _outside_file(tmp_path)
    with h5py.File(operator_file, "a") as f:
        f["extra"] = h5py.ExternalLink(str(secret), "/train")
    with open_hdf5(operator_file) as f:
        assert [p.split(":")[0] for p in link_problems(f)] == ["extra"]
    raw = secret.with_suffix(".bin")
    raw.write_bytes(np.full(24 * 16 * 16, 7.0, np.float32).tobytes())
    with h5py.File(operator_file, "a") as f:
        del f["extra"]
        del f["train/inputs/a"]
        f.create_dataset("train/inputs/a", shape=(24, 16, 16), dtype=np.float32, external=[(str(raw), 0, 24 * 1024)])
    problems = check_file(operator_file)
    assert any("train/inputs/a: external storage" in p for p in problems)
    with pytest.raises(DataError, match="external storage"):
        H5OperatorDataset(operator_file, "train")  # never reads the outside bytes


def _virtual_train(path, source, n=24):
    layout = h5py.VirtualLayout(shape=(n, 16, 16), dtype=np.float32)
    layout[:] = h5py.VirtualSource(source, "train/inputs/a", shape=(n, 16, 16))
    with h5py.File(path, "a") as f:
        del f["train/inputs/a"]
        f["train/inputs"].create_virtual_dataset("a", layout, fillvalue=np.nan)


def test_virtual_sources_must_be_relative_existing_and_inside_the_folder(operator_file, tmp_path):
    secret = _outside_file(tmp_path)
    _virtual_train(operator_file, str(secret))  # absolute path
    with pytest.raises(DataError, match="absolute path"):
        open_h5(operator_file)
    _virtual_train(operator_file, "outside/secret.h5")  # relative, into a subfolder: allowed
    with open_hdf5(operator_file) as f:
        assert link_problems(f) == []
    sub = tmp_path / "data"
    sub.mkdir()
    moved = sub / "toy.h5"
    operator_file.rename(moved)
    _virtual_train(moved, "../outside/secret.h5")  # relative, leaves the folder
    assert any("lies outside the data set's folder" in p for p in check_file(moved))
    with pytest.raises(DataError, match="outside the data set's folder"):
        H5OperatorDataset(moved, "train")
    _virtual_train(moved, "missing.h5")
    assert any("virtual source missing.h5 is missing" in p for p in check_file(moved))


def test_virtual_source_inside_the_folder_reads_through(operator_file, tmp_path):
    part = tmp_path / "part.h5"
    with h5py.File(operator_file) as src, h5py.File(part, "w") as f:
        f["train/inputs/a"] = src["train/inputs/a"][()] * 2
    _virtual_train(operator_file, "part.h5")
    assert check_file(operator_file) == []
    with h5py.File(part) as f:
        np.testing.assert_array_equal(H5OperatorDataset(operator_file, "train")[3]["x"][0], f["train/inputs/a"][3])
