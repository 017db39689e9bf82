"""Tests of importing measured series (neurops/data/series_import.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurops.data.reader import read_attrs, read_split
from neurops.data.series_import import import_series
from neurops.errors import DataError


@pytest.fixture
def series() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(200, 3)) * [1.0, 2.0, 3.0] + [0.0, 1.0, -1.0]


def test_npy_roundtrip_with_test_split_and_standardization(tmp_path: Path, series: np.ndarray) -> None:
    np.save(tmp_path / "s.npy", series)
    out = import_series(tmp_path / "s.npy", dt=0.1, out=tmp_path / "s.h5", standardize=True, test_fraction=0.25)
    attrs = read_attrs(out)
    assert attrs["kind"] == "trajectory" and attrs["name"] == "s" and attrs["parameters"]["dt"] == 0.1
    train, test = read_split(out, "train"), read_split(out, "test")
    assert train["states"]["x"].shape == (1, 150, 3) and test["states"]["x"].shape == (1, 50, 3)
    mean, std = series[:150].mean(0), series[:150].std(0)
    np.testing.assert_allclose(train["states"]["x"][0], (series[:150] - mean) / std, atol=1e-5)
    np.testing.assert_allclose(test["states"]["x"][0], (series[150:] - mean) / std, atol=1e-5)
    np.testing.assert_allclose(train["time"], 0.1 * np.arange(150))


def test_csv_with_header(tmp_path: Path, series: np.ndarray) -> None:
    np.savetxt(tmp_path / "s.csv", series, delimiter=",", header="a,b,c", comments="")
    out = import_series(tmp_path / "s.csv", dt=1.0, out=tmp_path / "s.h5", name="measured")
    np.testing.assert_allclose(read_split(out, "train")["states"]["x"][0], series, atol=1e-5)
    assert read_attrs(out)["name"] == "measured"


@pytest.mark.parametrize("array, suffix, match", [
    (np.zeros((3, 50)), ".npy", "time first"),
    (np.full((50, 2), np.nan), ".npy", "NaN"),
    (np.zeros((50, 2, 2)), ".npy", "shape"),
    (np.zeros((50, 2)), ".txt", "suffix"),
])
def test_bad_input(tmp_path: Path, array: np.ndarray, suffix: str, match: str) -> None:
    src = tmp_path / f"bad{suffix}"
    np.save(src.with_suffix(".npy"), array)
    src.with_suffix(".npy").rename(src)
    with pytest.raises(DataError, match=match):
        import_series(src, dt=0.1, out=tmp_path / "o.h5")
    assert not (tmp_path / "o.h5").exists()


def test_bad_arguments(tmp_path: Path, series: np.ndarray) -> None:
    np.save(tmp_path / "s.npy", series)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        import_series(tmp_path / "missing.npy", dt=0.1, out=tmp_path / "o.h5")
    with pytest.raises(DataError, match="dt"):
        import_series(tmp_path / "s.npy", dt=0.0, out=tmp_path / "o.h5")
    with pytest.raises(DataError, match="test_fraction"):
        import_series(tmp_path / "s.npy", dt=0.1, out=tmp_path / "o.h5", test_fraction=1.0)
    with pytest.raises(DataError, match="constant"):
        np.save(tmp_path / "c.npy", np.ones((50, 2)))
        import_series(tmp_path / "c.npy", dt=0.1, out=tmp_path / "o.h5", standardize=True)


def test_command_line(tmp_path: Path, series: np.ndarray) -> None:
    from neurops.cli import main

    np.save(tmp_path / "s.npy", series)
    assert main(["data", "import-series", str(tmp_path / "s.npy"), "--dt", "0.5", "--out", str(tmp_path / "s.h5"),
                 "--test-fraction", "0.1"]) == 0
    assert read_split(tmp_path / "s.h5", "test")["states"]["x"].shape == (1, 20, 3)
