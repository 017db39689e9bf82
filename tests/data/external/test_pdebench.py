"""Tests for the PDEBench converter: small files in PDEBench's exact layouts, written here."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from neurops.data.check import check_file
from neurops.data.external import convert
from neurops.data.external.pdebench import convert_pdebench
from neurops.data.reader import H5OperatorDataset, list_splits, read_attrs, read_split
from neurops.errors import ConfigError, DataError


def _rng():
    return np.random.default_rng(0)


@pytest.fixture
def advection_1d(tmp_path):
    """``1D_Advection_Sols_beta*.hdf5``: tensor [N, T, X], x-coordinate [X], t-coordinate [T + 1]."""
    path = tmp_path / "1D_Advection_Sols_beta0.4.hdf5"
    tensor = _rng().standard_normal((10, 6, 16)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.create_dataset("tensor", data=tensor)
        f.create_dataset("x-coordinate", data=(np.arange(16) + 0.5) / 16)
        f.create_dataset("t-coordinate", data=np.linspace(0, 0.6, 7))
        f.attrs["beta"] = 0.4
    return path, tensor


@pytest.fixture
def darcy_2d(tmp_path):
    """``2D_DarcyFlow_beta*_Train.hdf5``: tensor [N, 1, X, Y] (u), nu [N, X, Y] (a)."""
    path = tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5"
    u = _rng().standard_normal((8, 1, 12, 12)).astype(np.float32)
    a = _rng().uniform(0.1, 1.0, (8, 12, 12)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.create_dataset("tensor", data=u)
        f.create_dataset("nu", data=a)
        f.create_dataset("x-coordinate", data=(np.arange(12) + 0.5) / 12)
        f.create_dataset("y-coordinate", data=(np.arange(12) + 0.5) / 12)
        f.attrs["beta"] = 1.0
    return path, a, u


@pytest.fixture
def cfd_2d(tmp_path):
    """``2D_CFD_Rand_*_periodic_*.hdf5``: density/pressure/Vx/Vy [N, T, X, Y] and coordinates."""
    path = tmp_path / "2D_CFD_Rand_M0.1_Eta0.01_Zeta0.01_periodic_8_Train.hdf5"
    data = {v: _rng().standard_normal((5, 4, 8, 8)).astype(np.float32) + i
            for i, v in enumerate(("density", "pressure", "Vx", "Vy"))}
    with h5py.File(path, "w") as f:
        for v, arr in data.items():
            f.create_dataset(v, data=arr)
        for d in ("x", "y"):
            f.create_dataset(f"{d}-coordinate", data=np.linspace(0, 1, 8, endpoint=False))
        f.create_dataset("t-coordinate", data=np.linspace(0, 1, 5))
        f.attrs.update({"eta": 0.01, "zeta": 0.01, "M": 0.1})
    return path, data


@pytest.fixture
def diff_react_seeds(tmp_path):
    """``2D_diff-react_NA_NA.h5``: groups '0000'... with data [T, X, Y, 2] and grid/x, grid/y, grid/t."""
    path = tmp_path / "2D_diff-react_NA_NA.h5"
    samples = [_rng().standard_normal((5, 6, 6, 2)).astype(np.float32) * (i + 1) for i in range(4)]
    with h5py.File(path, "w") as f:
        for i, data in enumerate(samples):
            g = f.create_group(f"{i:04d}")
            g.create_dataset("data", data=data)
            g.create_dataset("grid/x", data=np.linspace(-1, 1, 6))
            g.create_dataset("grid/y", data=np.linspace(-1, 1, 6))
            g.create_dataset("grid/t", data=np.linspace(0, 5, 5))
    return path, np.stack(samples)


def test_scalar_1d_file(advection_1d, tmp_path):
    src, tensor = advection_1d
    out = convert_pdebench(src, tmp_path / "adv.h5", n_val=1, n_test=2, progress=False)
    assert check_file(out) == []
    attrs = read_attrs(out)
    assert attrs["kind"] == "trajectory" and attrs["dims"] == ["x"] and attrs["boundary"] == {"x": "periodic"}
    assert attrs["parameters"]["beta"] == pytest.approx(0.4) and attrs["parameters"]["beta_from_name"] == 0.4
    train, val, test = (read_split(out, s) for s in ("train", "val", "test"))
    np.testing.assert_array_equal(train["states"]["u"], tensor[:7])
    np.testing.assert_array_equal(val["states"]["u"], tensor[7:8])
    np.testing.assert_array_equal(test["states"]["u"], tensor[8:])  # the tail, as PDEBench/FNO
    np.testing.assert_allclose(train["time"], np.linspace(0, 0.6, 7)[:6])  # T + 1 edges -> T times
    np.testing.assert_allclose(train["coords"]["x"], (np.arange(16) + 0.5) / 16)


def test_scalar_file_with_strides(advection_1d, tmp_path):
    src, tensor = advection_1d
    out = convert_pdebench(src, tmp_path / "s.h5", space_stride=2, time_stride=3, test_fraction=0.0, progress=False)
    train = read_split(out, "train")
    np.testing.assert_array_equal(train["states"]["u"], tensor[:, ::3, ::2])
    assert train["time"].shape == (2,) and train["coords"]["x"].shape == (8,)
    assert list_splits(out) == ["train"]


def test_darcy_becomes_operator_pairs_for_every_model(darcy_2d, tmp_path):
    src, a, u = darcy_2d
    out = convert(src, "pdebench", tmp_path / "darcy.h5", n_test=2, progress=False)
    attrs = read_attrs(out)
    assert attrs["kind"] == "operator" and attrs["boundary"] == {"x": "dirichlet", "y": "dirichlet"}
    test = read_split(out, "test")
    np.testing.assert_array_equal(test["inputs"]["a"], a[6:])
    np.testing.assert_array_equal(test["outputs"]["u"], u[6:, 0])
    sample = H5OperatorDataset(out, "train")[3]
    assert sample["x"].shape == (1, 12, 12) and sample["y"].shape == (1, 12, 12)
    np.testing.assert_array_equal(sample["x"][0].numpy(), a[3])
    coarse = convert(src, "pdebench", tmp_path / "coarse.h5", n_test=2, space_stride=2, test_space_strides=[1],
                     progress=False)
    assert read_split(coarse, "train")["inputs"]["a"].shape == (6, 6, 6)
    np.testing.assert_array_equal(read_split(coarse, "test@12")["outputs"]["u"], u[6:, 0])


def test_cfd_variables_become_states(cfd_2d, tmp_path):
    src, data = cfd_2d
    out = convert_pdebench(src, tmp_path / "cfd.h5", n_test=1, time_stride=2, progress=False)
    attrs = read_attrs(out)
    assert attrs["boundary"] == {"x": "periodic", "y": "periodic"}
    assert attrs["parameters"]["M"] == pytest.approx(0.1) and attrs["parameters"]["eta"] == pytest.approx(0.01)
    train = read_split(out, "train")
    assert sorted(train["states"]) == ["Vx", "Vy", "density", "pressure"]
    for v, arr in data.items():
        np.testing.assert_array_equal(train["states"][v], arr[:4, ::2])
    np.testing.assert_allclose(train["time"], np.linspace(0, 1, 5)[:4:2])


def test_per_seed_groups_become_one_state_per_channel(diff_react_seeds, tmp_path):
    src, samples = diff_react_seeds
    out = convert_pdebench(src, tmp_path / "dr.h5", n_test=1, progress=False)
    attrs = read_attrs(out)
    assert attrs["boundary"] == {"x": "neumann", "y": "neumann"}
    train = read_split(out, "train")
    np.testing.assert_array_equal(train["states"]["u"], samples[:3, ..., 0])
    np.testing.assert_array_equal(train["states"]["v"], samples[:3, ..., 1])
    np.testing.assert_allclose(train["coords"]["y"], np.linspace(-1, 1, 6))
    np.testing.assert_allclose(train["time"], np.linspace(0, 5, 5))
    named = convert_pdebench(src, tmp_path / "named.h5", channel_names=["A", "B"], boundary="none", progress=False)
    assert sorted(read_split(named, "train")["states"]) == ["A", "B"]


def test_unknown_layout_names_what_was_expected(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("solution", data=np.zeros((2, 3)))
    with pytest.raises(DataError, match="expected a PDEBench file: `tensor`"):
        convert_pdebench(path, tmp_path / "x.h5", progress=False)
    assert not (tmp_path / "x.h5").exists()


def test_wrong_shapes_and_layout_mismatch(darcy_2d, advection_1d, tmp_path):
    src, _, _ = darcy_2d
    with pytest.raises(DataError, match="looks like a PDEBench 'darcy' file, not 'cfd'"):
        convert_pdebench(src, tmp_path / "x.h5", layout="cfd", progress=False)
    bad = tmp_path / "2D_DarcyFlow_bad.hdf5"
    with h5py.File(bad, "w") as f:
        f.create_dataset("tensor", data=np.zeros((3, 2, 4, 4), np.float32))
        f.create_dataset("nu", data=np.zeros((3, 4, 4), np.float32))
    with pytest.raises(DataError, match=r"tensor` \[N, 1, X, Y\]"):
        convert_pdebench(bad, tmp_path / "x.h5", progress=False)
    adv, _ = advection_1d
    with h5py.File(adv, "a") as f:
        del f["t-coordinate"]
        f.create_dataset("t-coordinate", data=np.zeros(3))
    with pytest.raises(DataError, match="expected T or T \\+ 1"):
        convert_pdebench(adv, tmp_path / "x.h5", progress=False)


def test_bad_files_and_options(advection_1d, tmp_path):
    src, _ = advection_1d
    with pytest.raises(FileNotFoundError, match="does not exist"):
        convert_pdebench(tmp_path / "missing.hdf5", tmp_path / "x.h5")
    text = tmp_path / "notes.hdf5"
    text.write_text("not hdf5")
    with pytest.raises(DataError, match="not an HDF5 file"):
        convert_pdebench(text, tmp_path / "x.h5")
    with pytest.raises(ConfigError, match="exceeds the 10 samples"):
        convert_pdebench(src, tmp_path / "x.h5", n_train=8, n_test=5, progress=False)
    with pytest.raises(ConfigError, match="space_stride must be >= 1"):
        convert_pdebench(src, tmp_path / "x.h5", space_stride=0)
    with pytest.raises(ConfigError, match="boundary"):
        convert_pdebench(src, tmp_path / "x.h5", boundary="wall")
    with pytest.raises(ConfigError, match="unknown external format"):
        convert(src, "netcdf", tmp_path / "x.h5")
    with pytest.raises(ConfigError, match="no option"):
        convert(src, "pdebench", tmp_path / "x.h5", n_epochs=3)
    with pytest.raises(ConfigError, match=r"no option\(s\) \['fields'\]"):
        convert(src, "pdebench", tmp_path / "x.h5", fields=["u"], test_src=None)  # None: default, dropped
    assert not (tmp_path / "x.h5").exists()


def test_frame_strides_that_leave_no_trajectory_or_apply_to_no_time_axis(advection_1d, darcy_2d, tmp_path):
    """A time stride used to be ignored on operator pairs and to write 1-frame trajectories; a test space stride of
    0 was reported as ``space_stride``."""
    src, _ = advection_1d  # 6 frames
    out = tmp_path / "x.h5"
    with pytest.raises(ConfigError, match=r"^time_stride 6 leaves 1 frame of .*1D_Advection_Sols_beta0\.4\.hdf5's "
                                          r"trajectories; a trajectory needs at least 2 frames: use a smaller "
                                          r"--time-stride\.$"):
        convert_pdebench(src, out, time_stride=6, progress=False)
    convert_pdebench(src, out, time_stride=5, progress=False)  # frames 0 and 5
    assert read_split(out, "train")["states"]["u"].shape[1] == 2
    with pytest.raises(ConfigError, match=r"^time_stride 2 strides a time axis, but .*2D_DarcyFlow_beta1\.0_Train\."
                                          r"hdf5 holds samples without one \(input -> output pairs\); drop the time "
                                          r"stride \(--time-stride 1\)\.$"):
        convert_pdebench(darcy_2d[0], tmp_path / "d.h5", time_stride=2, progress=False)
    with pytest.raises(ConfigError, match=r"^test_space_strides must be >= 1, got \[0\]; 1 keeps the source grid\.$"):
        convert_pdebench(darcy_2d[0], tmp_path / "d.h5", test_space_strides=[0], progress=False)
    assert not (tmp_path / "d.h5").exists()
