"""Tests for the FNO .mat converter: MATLAB v5 files (scipy) and v7.3 files (HDF5, axes reversed)."""

from __future__ import annotations

import contextlib

import h5py
import numpy as np
import pytest
import scipy.io

from neurops.data.check import check_file
from neurops.data.external import convert
from neurops.data.external.fno_mat import convert_fno_mat, open_mat
from neurops.data.reader import H5OperatorDataset, read_attrs, read_split
from neurops.errors import ConfigError, DataError

N, S, T = 6, 9, 4


def save_v73(path, variables):
    """Write a MATLAB v7.3 file as MATLAB does: HDF5 with a 512-byte header and reversed axes."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for key, value in variables.items():
            value = np.atleast_2d(np.asarray(value, dtype=np.float64))
            f.create_dataset(key, data=value.transpose())  # column-major: h5py sees the axes reversed
            f[key].attrs["MATLAB_class"] = np.bytes_("double")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116) + b"\x00" * 8 + b"\x00\x02IM")


@pytest.fixture
def ns_variables():
    rng = np.random.default_rng(0)
    return {"a": rng.standard_normal((N, S - 1, S - 1)), "u": rng.standard_normal((N, S - 1, S - 1, T)),
            "t": np.arange(1, T + 1, dtype=np.float64)[None]}


def test_darcy_v5_with_subsampling(tmp_path):
    rng = np.random.default_rng(1)
    coeff, sol = rng.uniform(3, 12, (N, S, S)), rng.standard_normal((N, S, S))
    src = tmp_path / "piececonst_r9_N6_smooth1.mat"
    scipy.io.savemat(src, {"coeff": coeff, "sol": sol, "Kcoeff": coeff})
    out = convert_fno_mat(src, tmp_path / "darcy.h5", n_test=2, space_stride=2, progress=False)
    assert check_file(out) == []
    attrs = read_attrs(out)
    assert attrs["kind"] == "operator" and attrs["boundary"] == {"x": "dirichlet", "y": "dirichlet"}
    assert attrs["generator"]["matlab_version"] == "5" and attrs["generator"]["layout"] == "darcy"
    train, test = read_split(out, "train"), read_split(out, "test")
    np.testing.assert_allclose(train["inputs"]["a"], coeff[:4, ::2, ::2], rtol=1e-6)
    np.testing.assert_allclose(test["outputs"]["u"], sol[4:, ::2, ::2], rtol=1e-6)
    np.testing.assert_allclose(train["coords"]["x"], [0, 0.25, 0.5, 0.75, 1.0])  # node grid, r = 2
    sample = H5OperatorDataset(out, "test")[0]
    assert sample["x"].shape == (1, 5, 5) and sample["y"].shape == (1, 5, 5)


def test_darcy_test_split_from_a_second_file(tmp_path):
    rng = np.random.default_rng(2)
    files = []
    for i in (1, 2):
        path = tmp_path / f"piececonst_smooth{i}.mat"
        scipy.io.savemat(path, {"coeff": rng.standard_normal((N, S, S)), "sol": rng.standard_normal((N, S, S))})
        files.append(path)
    out = convert(files[0], "fno-mat", tmp_path / "d.h5", test_src=files[1], n_train=5, n_test=3, progress=False)
    test = read_split(out, "test")["inputs"]["a"]
    np.testing.assert_allclose(test, scipy.io.loadmat(files[1])["coeff"][:3], rtol=1e-6)
    assert read_split(out, "train")["inputs"]["a"].shape == (5, S, S)
    with pytest.raises(ConfigError, match="n_test=9 but"):
        convert_fno_mat(files[0], tmp_path / "x.h5", test_src=files[1], n_test=9)


def test_navier_stokes_v73_axes_are_reversed_back(tmp_path, ns_variables):
    src = tmp_path / "NavierStokes_V1e-5_N6_T4.mat"
    save_v73(src, ns_variables)
    assert h5py.File(src)["u"].shape == (T, S - 1, S - 1, N)  # what h5py sees on disk
    out = convert_fno_mat(src, tmp_path / "ns.h5", n_test=2, progress=False)
    attrs = read_attrs(out)
    assert attrs["kind"] == "trajectory" and attrs["generator"]["matlab_version"] == "7.3"
    assert attrs["boundary"] == {"x": "periodic", "y": "periodic"}
    train = read_split(out, "train")
    np.testing.assert_allclose(train["states"]["w"], np.moveaxis(ns_variables["u"][:4], -1, 1), rtol=1e-6)
    np.testing.assert_allclose(train["time"], [1, 2, 3, 4])
    np.testing.assert_allclose(train["coords"]["x"], np.arange(S - 1) / (S - 1))


def test_v5_and_v73_give_the_same_file_contents(tmp_path, ns_variables):
    v5, v73 = tmp_path / "ns5.mat", tmp_path / "ns73.mat"
    scipy.io.savemat(v5, ns_variables)
    save_v73(v73, ns_variables)
    a = convert_fno_mat(v5, tmp_path / "a.h5", include_initial=True, time_stride=2, progress=False)
    b = convert_fno_mat(v73, tmp_path / "b.h5", include_initial=True, time_stride=2, progress=False)
    sa, sb = read_split(a, "test"), read_split(b, "test")
    np.testing.assert_array_equal(sa["states"]["w"], sb["states"]["w"])
    np.testing.assert_allclose(sa["time"], [0, 2, 4])  # a prepended at t = 0, then every other frame
    np.testing.assert_allclose(sa["states"]["w"][:, 0], ns_variables["a"][-1:], rtol=1e-6)


def test_burgers_and_custom_keys(tmp_path):
    rng = np.random.default_rng(3)
    a, u = rng.standard_normal((N, 16)), rng.standard_normal((N, 16))
    src = tmp_path / "burgers_data_R10.mat"
    scipy.io.savemat(src, {"a": a, "u": u, "visc": 0.1})
    out = convert_fno_mat(src, tmp_path / "b.h5", n_test=1, space_stride=4, progress=False)
    attrs = read_attrs(out)
    assert attrs["kind"] == "operator" and attrs["boundary"] == {"x": "periodic"}
    assert attrs["parameters"]["visc"] == pytest.approx(0.1)
    np.testing.assert_allclose(read_split(out, "train")["outputs"]["u"], u[:5, ::4], rtol=1e-6)
    custom = tmp_path / "pairs.mat"
    scipy.io.savemat(custom, {"input": a, "output": u})
    out2 = convert_fno_mat(custom, tmp_path / "c.h5", input_key="input", output_key="output", boundary="periodic",
                           progress=False)
    assert sorted(read_split(out2, "train")["inputs"]) == ["input"]


def test_open_mat_lists_numeric_variables_in_matlab_order(tmp_path, ns_variables):
    path = tmp_path / "v73.mat"
    save_v73(path, ns_variables)
    with contextlib.ExitStack() as stack:
        variables = open_mat(path, stack)
        assert variables["u"].shape == (N, S - 1, S - 1, T)
        np.testing.assert_array_equal(variables["u"].take(2, 4), ns_variables["u"][2:4])


def test_errors_name_what_was_expected(tmp_path, ns_variables):
    other = tmp_path / "other.mat"
    scipy.io.savemat(other, {"x": np.zeros((3, 3))})
    with pytest.raises(DataError, match="`coeff` \\+ `sol`"):
        convert_fno_mat(other, tmp_path / "x.h5")
    with pytest.raises(ConfigError, match="needs state_key"):
        convert_fno_mat(other, tmp_path / "x.h5", layout="custom")
    with pytest.raises(DataError, match="no variable 'nope'"):
        convert_fno_mat(other, tmp_path / "x.h5", state_key="nope")
    broken = tmp_path / "broken.mat"
    broken.write_bytes(b"definitely not a mat file" * 10)
    with pytest.raises(DataError, match="not a readable MATLAB file"):
        convert_fno_mat(broken, tmp_path / "x.h5")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        convert_fno_mat(tmp_path / "missing.mat", tmp_path / "x.h5")
    (tmp_path / "folder.mat").mkdir()  # it said "not a readable MATLAB file (... Reader needs file name ...)"
    with pytest.raises(DataError) as err:
        convert_fno_mat(tmp_path / "folder.mat", tmp_path / "x.h5")
    assert str(err.value) == f"{tmp_path / 'folder.mat'} is a directory, not a MATLAB file; pass one .mat file."
    no_a = tmp_path / "ns_no_a.mat"
    scipy.io.savemat(no_a, {"u": ns_variables["u"]})
    with pytest.raises(DataError, match="initial condition"):
        convert_fno_mat(no_a, tmp_path / "x.h5", include_initial=True)
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.parametrize("version", ["5", "7.3"])
def test_a_complex_variable_is_named_not_hidden(tmp_path, version):
    """A complex `coeff` was dropped from the variables, so the file was refused as 'no known FNO layout' and the
    list of the variables found left `coeff` out; now the error names the complex variable and what to do."""
    rng = np.random.default_rng(0)
    coeff, sol = rng.standard_normal((N, S, S)) * (1 + 1j), rng.standard_normal((N, S, S))
    path = tmp_path / "darcy.mat"
    if version == "5":
        scipy.io.savemat(path, {"coeff": coeff, "sol": sol})
    else:  # MATLAB stores complex arrays as a compound of real and imag
        save_v73(path, {"sol": sol})
        value = np.zeros(coeff.shape[::-1], dtype=[("real", "<f8"), ("imag", "<f8")])
        value["real"], value["imag"] = coeff.real.transpose(), coeff.imag.transpose()
        with h5py.File(path, "a") as f:
            f["coeff"] = value
    with pytest.raises(DataError) as err:
        convert_fno_mat(path, tmp_path / "x.h5")
    assert str(err.value) == (f"{path}: `coeff` (the input field [N, *spatial]) holds complex values; neurops stores "
                              "real float32 fields: save its real and imaginary parts as two real variables (e.g. "
                              "real(x), imag(x) in MATLAB) and convert them with input_key/output_key "
                              "(--input-key/--output-key).")
    assert not (tmp_path / "x.h5").exists()


def test_navier_stokes_with_time_second_is_refused_not_misread(tmp_path, ns_variables):
    """`u` stored [N, T, S, S] was read as a T x S grid of S frames when the file had no `t` (and with `t` the error
    only said the frame counts differ); now it is refused, saying where time must be."""
    u = np.moveaxis(ns_variables["u"], -1, 1)  # [N, T, S, S]
    scipy.io.savemat(tmp_path / "no_t.mat", {"u": u})
    scipy.io.savemat(tmp_path / "with_t.mat", {"u": u, "t": ns_variables["t"]})
    with pytest.raises(DataError) as err:
        convert_fno_mat(tmp_path / "no_t.mat", tmp_path / "x.h5")
    assert str(err.value) == (f"{tmp_path / 'no_t.mat'}: `u` {u.shape} is not [N, S, S, T] (the FNO Navier-Stokes "
                              "layout: a square grid, time last); it looks stored [N, T, S, S]: put time last (e.g. "
                              "numpy.moveaxis(u, 1, -1)); for a file of another grid pass state_key='u' "
                              "(--state-key u).")
    with pytest.raises(DataError) as err:
        convert_fno_mat(tmp_path / "with_t.mat", tmp_path / "x.h5", state_key="u")
    assert str(err.value) == (f"{tmp_path / 'with_t.mat'}: `t` has {T} entries but `u` has {S - 1} frames; `u` "
                              f"{u.shape} looks stored [N, T, *spatial], with the time axis second: FNO files hold it "
                              "last, [N, *spatial, T] (e.g. numpy.moveaxis(u, 1, -1)).")
    assert not (tmp_path / "x.h5").exists()


def test_zero_shot_test_resolution_and_custom_keys_from_the_command_line(tmp_path):
    from neurops.cli import main

    rng = np.random.default_rng(4)
    coeff, sol = rng.uniform(3, 12, (N, 13, 13)), rng.standard_normal((N, 13, 13))
    src = tmp_path / "fields.mat"
    scipy.io.savemat(src, {"K": coeff, "P": sol})
    out = tmp_path / "d.h5"
    assert main(["data", "convert", "fno-mat", str(src), "--input-key", "K", "--output-key", "P",
                 "--n-test", "2", "--space-stride", "4", "--test-space-strides", "2", "1", "--out", str(out),
                 "--no-progress"]) == 0
    assert check_file(out) == []
    for split, stride in (("test", 4), ("test@7", 2), ("test@13", 1)):
        np.testing.assert_allclose(read_split(out, split)["outputs"]["P"], sol[-2:, ::stride, ::stride], rtol=1e-6)
    assert read_split(out, "train")["inputs"]["K"].shape == (4, 4, 4)
    with pytest.raises(ConfigError, match="repeat the test resolution 4"):
        convert_fno_mat(src, tmp_path / "x.h5", input_key="K", output_key="P", space_stride=4,
                        test_space_strides=(4,))
