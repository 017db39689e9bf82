"""Tests for ``neurops data convert arrays``: numpy / torch arrays of input/output pairs into a neurops file."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from neurops.cli import main
from neurops.data.check import check_file
from neurops.data.datamodule import OperatorDataModule
from neurops.data.external import convert
from neurops.data.external.arrays import convert_arrays, load_array
from neurops.data.reader import read_attrs, read_split
from neurops.errors import ConfigError, DataError

N, S = 10, 17


@pytest.fixture
def pairs():
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, S, S)), rng.standard_normal((N, S, S))


def test_npy_pairs_with_default_grid_and_a_second_test_resolution(pairs, tmp_path):
    a, u = pairs
    np.save(tmp_path / "coeff.npy", a)
    np.save(tmp_path / "sol.npy", u)
    out = convert_arrays(tmp_path / "coeff.npy", tmp_path / "d.h5", outputs=tmp_path / "sol.npy", n_test=3,
                         space_stride=2, test_space_strides=(1,), progress=False)
    assert check_file(out) == []
    train, test, fine = (read_split(out, s) for s in ("train", "test", "test@17"))
    np.testing.assert_allclose(train["inputs"]["coeff"], a[:7, ::2, ::2], rtol=1e-6)
    np.testing.assert_allclose(test["outputs"]["sol"], u[7:, ::2, ::2], rtol=1e-6)
    np.testing.assert_allclose(fine["outputs"]["sol"], u[7:], rtol=1e-6)
    np.testing.assert_allclose(fine["coords"]["x"], np.linspace(0, 1, S))
    np.testing.assert_allclose(test["coords"]["y"], np.linspace(0, 1, 9))
    attrs = read_attrs(out)
    assert attrs["dims"] == ["x", "y"] and attrs["generator"]["grid"] == "linspace(0, 1, n)"
    dm = OperatorDataModule(out, batch_size=4, val_split=None)
    assert dm.test_tags == ["9", "17"] and dm.in_channels == dm.out_channels == 1


def test_npz_and_torch_files_with_keys_and_extra_test_files(pairs, tmp_path):
    a, u = pairs
    np.savez(tmp_path / "data.npz", a=a[:8], u=u[:8])
    torch.save({"a": torch.from_numpy(a[8:]), "u": torch.from_numpy(u[8:])}, tmp_path / "test.pt")
    torch.save(torch.from_numpy(a[8:, ::2, ::2].copy()), tmp_path / "a9.pt")
    torch.save(torch.from_numpy(u[8:, ::2, ::2].copy()), tmp_path / "u9.pt")
    with pytest.raises(DataError, match=r"holds the arrays \['a', 'u'\]; choose one"):
        load_array(tmp_path / "data.npz")
    out = convert(tmp_path / "data.npz", "arrays", tmp_path / "d.h5", input_key="a", output_key="u",
                  test_src=tmp_path / "test.pt", extra_test=[(tmp_path / "a9.pt", tmp_path / "u9.pt")],
                  boundary="periodic", progress=False)
    assert check_file(out) == []
    np.testing.assert_allclose(read_split(out, "train")["inputs"]["a"], a[:8], rtol=1e-6)
    np.testing.assert_allclose(read_split(out, "test")["outputs"]["u"], u[8:], rtol=1e-6)
    coarse = read_split(out, "test@9")
    np.testing.assert_allclose(coarse["inputs"]["a"], a[8:, ::2, ::2], rtol=1e-6)
    np.testing.assert_allclose(coarse["coords"]["x"], np.arange(9) / 9)  # periodic grid j / n
    torch.save({"a": torch.from_numpy(a[:3, ::2, ::2].copy()), "u": torch.from_numpy(u[:3, ::2, ::2].copy())},
               tmp_path / "three.pt")
    with pytest.raises(DataError, match="holds 3 samples but the test split has 2"):
        convert_arrays(tmp_path / "data.npz", tmp_path / "e.h5", input_key="a", output_key="u",
                       test_src=tmp_path / "test.pt", extra_test=[(tmp_path / "three.pt", tmp_path / "three.pt")],
                       progress=False)
    assert not (tmp_path / "e.h5").exists()


def test_arrays_that_are_not_fields_get_clear_errors(pairs, tmp_path):
    a, u = pairs
    np.save(tmp_path / "a.npy", a[..., None])
    np.save(tmp_path / "u.npy", u[..., None])
    with pytest.raises(DataError, match="axis of size 1 that is not a grid axis"):
        convert_arrays(tmp_path / "a.npy", tmp_path / "d.h5", outputs=tmp_path / "u.npy")
    np.save(tmp_path / "c.npy", a + 1j * u)
    with pytest.raises(DataError, match="complex128 values"):
        convert_arrays(tmp_path / "c.npy", tmp_path / "d.h5", outputs=tmp_path / "u.npy")
    with pytest.raises(ConfigError, match="name them with input_key and output_key"):
        convert_arrays(tmp_path / "u.npy", tmp_path / "d.h5")
    (tmp_path / "evil.pt").write_bytes(b"\x80\x04\x95" + b"garbage" * 5)
    with pytest.raises(DataError, match=r"is not a readable .pt file \(UnpicklingError: [^\n\x1b]*\)\.$"):
        load_array(tmp_path / "evil.pt")
    (tmp_path / "folder.npy").mkdir()  # it said "array file ... does not exist"
    with pytest.raises(DataError) as err:
        load_array(tmp_path / "folder.npy")
    assert str(err.value) == (f"{tmp_path / 'folder.npy'} is a directory, not an array file; pass one .npy, .npz, "
                              ".pt, .pth file.")
    (tmp_path / "a.csv").write_text("1,2")
    with pytest.raises(DataError, match=r"\.npy, \.npz, \.pt"):
        load_array(tmp_path / "a.csv")
    assert not (tmp_path / "d.h5").exists()


def test_pickled_objects_and_one_array_read_twice_are_refused_in_one_line(pairs, tmp_path):
    """A .pt file holding a Python object gave torch's many-line message with terminal colours, suggesting
    weights_only=False; a file of one array with two keys converted that array as both inputs and outputs."""
    import datetime

    a, u = pairs
    torch.save({"a": torch.tensor(a), "day": datetime.date(2024, 1, 1)}, tmp_path / "objects.pt")
    with pytest.raises(DataError) as err:
        load_array(tmp_path / "objects.pt", "a")
    assert str(err.value) == (f"{tmp_path / 'objects.pt'} holds Python objects besides tensors (datetime.date); "
                              "neurops loads .pt files with weights_only=True and never unpickles code: save a tensor "
                              "or a dict of tensors (torch.save({'a': a, 'u': u}, ...)) or numpy arrays.")
    torch.save(torch.tensor(a), tmp_path / "one.pt")
    np.savez(tmp_path / "two.npz", a=a, u=u)
    for src, keys, what in ((tmp_path / "one.pt", ("a", "u"), f"the only array of {tmp_path / 'one.pt'}"),
                            (tmp_path / "two.npz", ("a", "a"), f"the array 'a' of {tmp_path / 'two.npz'}")):
        with pytest.raises(ConfigError) as err:
            convert_arrays(src, tmp_path / "d.h5", input_key=keys[0], output_key=keys[1], progress=False)
        assert str(err.value) == (f"input_key {keys[0]!r} and output_key {keys[1]!r} both read {what}: inputs and "
                                  "outputs would be the same values; give the outputs' file (outputs=, --outputs) or "
                                  "the keys of two arrays.")
    assert not (tmp_path / "d.h5").exists()


def test_from_arrays_on_the_command_line(pairs, tmp_path, capsys):
    a, u = pairs
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "u.npy", u)
    np.save(tmp_path / "a9.npy", a[-2:, ::2, ::2])
    np.save(tmp_path / "u9.npy", u[-2:, ::2, ::2])
    out = tmp_path / "d.h5"
    assert main(["data", "convert", "arrays", str(tmp_path / "a.npy"), "--outputs", str(tmp_path / "u.npy"),
                 "--n-test", "2", "--n-val", "1", "--extra-test", str(tmp_path / "a9.npy"), str(tmp_path / "u9.npy"),
                 "--out", str(out), "--no-progress"]) == 0
    assert main(["data", "check", str(out)]) == 0
    assert sorted(read_attrs(out)["generator"]["extra_test"][0]) == ["a9.npy", "u9.npy"]
    assert [len(read_split(out, s)["inputs"]["a"]) for s in ("train", "val", "test", "test@9")] == [7, 1, 2, 2]
    capsys.readouterr()
    assert main(["data", "convert", "pdebench", str(tmp_path / "a.npy"), "--input-key", "a",
                 "--out", str(tmp_path / "x.h5")]) == 2
    assert "has no option(s) ['input_key']" in capsys.readouterr().err


def test_values_beyond_float32_and_a_nan_are_reported_by_field_and_sample(pairs, tmp_path, capsys):
    a, u = pairs
    np.save(tmp_path / "u.npy", u)
    big = a.copy()
    big[3] *= 1e40
    np.save(tmp_path / "big.npy", big)
    out = tmp_path / "d.h5"
    argv = ["data", "convert", "arrays", str(tmp_path / "big.npy"), "--outputs", str(tmp_path / "u.npy"), "--out",
            str(out), "--no-progress"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no stray RuntimeWarning of numpy's cast
        assert main(argv) == 2
    largest = f"{np.abs(big).max():.4g}"
    assert capsys.readouterr().err == (
        f"neurops: error: {tmp_path}/big.npy + {tmp_path}/u.npy: values beyond float32's range (largest magnitude "
        f"{largest} > 3.403e+38) in sample 3 of the source (counted from 0), read into train/inputs/big; fields are "
        "stored as float32: rescale the field (e.g. other units) before converting it.\n")
    nan = a.copy()
    nan[3, 4, 5] = np.nan
    nan[5, 0, 0] = np.inf
    np.save(tmp_path / "nan.npy", nan)
    assert main([*argv[:3], str(tmp_path / "nan.npy"), *argv[4:]]) == 2
    assert capsys.readouterr().err == (
        f"neurops: error: {tmp_path}/nan.npy + {tmp_path}/u.npy: NaN or Inf values in samples [3, 5] of the source "
        "(counted from 0), read into train/inputs/nan; fields are stored as float32 and must be finite: fix or drop "
        "those samples at the source, or leave them out with n_train / n_val / n_test.\n")
    # a bad test sample (the LAST samples) is named by its index in the source, not in the test split (it said 0)
    nan = a.copy()
    nan[N - 1, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    assert main([*argv[:3], str(tmp_path / "nan.npy"), *argv[4:], "--n-test", "2"]) == 2
    assert f"NaN or Inf values in sample {N - 1} of the source (counted from 0), read into test/inputs/nan;" in (
        capsys.readouterr().err)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["big.npy", "nan.npy", "u.npy"]
