"""Tests of importing measured series (neurops/data/series_import.py)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from neurops.data.reader import list_splits, read_attrs, read_split
from neurops.data.series_import import import_series, split_lengths
from neurops.errors import DataError, NeuropsWarning


@pytest.fixture
def series() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(200, 3)) * [1.0, 2.0, 3.0] + [0.0, 1.0, -1.0]


def test_npy_roundtrip_with_contiguous_splits_and_standardization(tmp_path: Path, series: np.ndarray) -> None:
    np.save(tmp_path / "s.npy", series)
    out = import_series(tmp_path / "s.npy", dt=0.1, out=tmp_path / "s.h5", standardize=True, val_fraction=0.15,
                        test_fraction=0.25)
    attrs = read_attrs(out)
    assert attrs["kind"] == "trajectory" and attrs["name"] == "s" and attrs["parameters"]["dt"] == 0.1
    assert attrs["parameters"]["split_blocks"] == {"train": [0, 120], "val": [120, 150], "test": [150, 200]}
    parts = {s: read_split(out, s) for s in ("train", "val", "test")}
    mean, std = series[:120].mean(0), series[:120].std(0)  # statistics of the train block only
    for split, (a, b) in attrs["parameters"]["split_blocks"].items():
        np.testing.assert_allclose(parts[split]["states"]["x"][0], (series[a:b] - mean) / std, atol=1e-5)
        np.testing.assert_allclose(parts[split]["time"], 0.1 * np.arange(a, b))  # time continues across blocks


def test_default_fractions_write_three_splits(tmp_path: Path, series: np.ndarray) -> None:
    np.save(tmp_path / "s.npy", series)
    out = import_series(tmp_path / "s.npy", dt=1.0, out=tmp_path / "s.h5")
    assert sorted(list_splits(out)) == ["test", "train", "val"]
    assert [read_split(out, s)["states"]["x"].shape[1] for s in ("train", "val", "test")] == [160, 20, 20]


def test_split_lengths() -> None:
    assert split_lengths(1000, 0.1, 0.2) == {"train": 700, "val": 100, "test": 200}
    assert split_lengths(1000, 0.0, 0.1) == {"train": 900, "test": 100}
    assert split_lengths(10, 0.0, 0.0) == {"train": 10}
    with pytest.raises(DataError, match="nothing to train"):
        split_lengths(1000, 0.5, 0.5)
    with pytest.raises(DataError, match=r"need >= 2 each\); use larger fractions or a longer series\.$"):
        split_lengths(10, 0.05, 0.3)
    # the train block too short: the advice was "use larger fractions", which shortens it further
    with pytest.raises(DataError, match=r"^a series of 3000 points split by val_fraction=0\.9, test_fraction=0\.0999 "
                                        r"leaves \{'train': 0\} points \(need >= 2 each\); use smaller fractions "
                                        r"\(they leave the train block too short\) or a longer series\.$"):
        split_lengths(3000, 0.9, 0.0999)
    with pytest.raises(DataError, match="val_fraction"):
        split_lengths(10, -0.1, 0.3)


def test_csv_with_header(tmp_path: Path, series: np.ndarray) -> None:
    np.savetxt(tmp_path / "s.csv", series, delimiter=",", header="a,b,c", comments="")
    out = import_series(tmp_path / "s.csv", dt=1.0, out=tmp_path / "s.h5", name="measured", val_fraction=0.0,
                        test_fraction=0.0)
    np.testing.assert_allclose(read_split(out, "train")["states"]["x"][0], series, atol=1e-5)
    assert read_attrs(out)["name"] == "measured"


@pytest.mark.parametrize("text, match", [
    ("a,b\n1,2\n3,x\n", "line 3, column 2 holds 'x'"),
    ("1,2\n3\n4,5\n", "line 2 has 1 values but line 1 has 2"),
    ("", "no data rows"),
    ("a,b\n\n", "no data rows"),
    ("a,b\n1,2,\n3,4,\n", "line 2, column 3 holds .*a separator \\(a trailing comma\\): remove it"),
    ("a;b\n1,5;2,5\n", "separated by ';' or tabs: import-series reads comma-separated values with '.'"),
    ('"1,5","2,5"\n"3,5","4,5"\n', "holds '3,5', not a number; it looks like a decimal comma.*decimal=','"),
])
def test_bad_csv_is_one_clear_error(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(DataError, match=match):
        import_series(tmp_path / "bad.csv", dt=0.1, out=tmp_path / "o.h5")
    assert not (tmp_path / "o.h5").exists()


@pytest.mark.parametrize("array, suffix, match", [
    (np.zeros((3, 50)), ".npy", "time first"),
    (np.full((50, 2), np.nan), ".npy", "NaN"),
    (np.zeros((50, 2, 2)), ".npy", "shape"),
    (np.zeros((0, 2)), ".npy", "shape"),
    (np.array(["a", "b"]), ".npy", "real-valued"),
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


def test_command_line(tmp_path: Path, series: np.ndarray, capsys: pytest.CaptureFixture) -> None:
    from neurops.cli import main

    np.save(tmp_path / "s.npy", series)
    args = ["data", "import-series", str(tmp_path / "s.npy"), "--dt", "0.5", "--out", str(tmp_path / "s.h5"),
            "--val-fraction", "0.2", "--test-fraction", "0.1"]
    assert main(args) == 0
    assert read_split(tmp_path / "s.h5", "val")["states"]["x"].shape == (1, 40, 3)
    assert read_split(tmp_path / "s.h5", "test")["states"]["x"].shape == (1, 20, 3)
    assert main(args) == 2  # refuses to replace the file ...
    assert "already exists" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--val-fraction", "0.1"]) == 0  # ... unless told to
    assert read_split(tmp_path / "s.h5", "val")["states"]["x"].shape == (1, 20, 3)
    assert capsys.readouterr().err.startswith(f"neurops: warning: {tmp_path / 's.h5'}: the values given for states/x "
                                              "(float64: largest change ")  # a float64 series
    (tmp_path / "t.csv").write_text("1,2\n3,oops\n")
    assert main(["data", "import-series", str(tmp_path / "t.csv"), "--dt", "1", "--out", str(tmp_path / "t.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("neurops: error:") and "'oops'" in err[0]


@pytest.mark.parametrize("array, match", [
    (np.arange(200).reshape(100, 2) % 7, "holds int64 values; they are stored as float32, exactly."),
    (2**25 + 1 + np.random.default_rng(0).integers(0, 100, size=(100, 2)),
     "stored as float32, rounded: integers beyond 2\\*\\*24"),
    (np.sin(np.arange(200.0)).reshape(100, 2).astype(np.float16), "holds float16 values; they are stored as float32"),
    (np.random.default_rng(0).normal(size=(64, 50)), r"shape \(64, 50\): 64 time steps for 50 variables.*transpose"),
    (np.c_[np.sin(np.arange(100.0)), np.ones(100)], r"variables \[1\] are constant in the train block"),
    (np.c_[0.05 * np.arange(100), np.sin(np.arange(100.0))], r"variables \[0\] of .* grow by a constant step, like a "
                                                             r"time axis: drop a time column"),
])
def test_what_import_changes_or_doubts_is_said(tmp_path: Path, array: np.ndarray, match: str) -> None:
    """Integers and half floats became float32, a constant column and an [N, T] array went in, all silently."""
    np.save(tmp_path / "s.npy", array)
    with pytest.warns(NeuropsWarning, match=match):
        out = import_series(tmp_path / "s.npy", dt=1.0, out=tmp_path / "s.h5", val_fraction=0.0, test_fraction=0.0)
    np.testing.assert_array_equal(read_split(out, "train")["states"]["x"][0], array.astype(np.float32))


def test_a_bad_output_is_refused_before_the_series_is_read(tmp_path: Path) -> None:
    """A wrong --out came after the warnings about the series, as if it had been imported."""
    import warnings

    from neurops.errors import ConfigError

    np.save(tmp_path / "s.npy", np.ones((100, 2), dtype=np.int64))  # constant integers: two warnings if read
    with warnings.catch_warnings(record=True) as caught, pytest.raises(ConfigError, match="ends in '.csv'"):
        warnings.simplefilter("always")
        import_series(tmp_path / "s.npy", dt=1.0, out=tmp_path / "s.csv")
    assert caught == [] and not (tmp_path / "s.csv").exists()


def test_a_float64_series_rounded_to_float32_is_said_once(tmp_path: Path) -> None:
    """A float64 .npy was stored as float32 without a word: now the writer's warning names the field and the
    largest change, as a conversion does; standardised values (computed) and float32 sources say nothing."""
    series = np.c_[np.sin(0.1 * np.arange(200.0)), np.cos(0.37 * np.arange(200.0))]
    np.save(tmp_path / "s.npy", series)
    change = float(np.abs(series - series.astype(np.float32)).max())
    with pytest.warns(NeuropsWarning) as record:
        import_series(tmp_path / "s.npy", dt=0.1, out=tmp_path / "s.h5")
    assert [str(w.message) for w in record] == [
        f"{tmp_path / 's.h5'}: the values given for states/x (float64: largest change {change:.3g}, "
        f"{change / np.abs(series).max():.3g} of its largest magnitude) were rounded to float32, the type neurops "
        "stores fields in."]
    np.save(tmp_path / "f.npy", series.astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        import_series(tmp_path / "s.npy", dt=0.1, out=tmp_path / "z.h5", standardize=True)
        import_series(tmp_path / "f.npy", dt=0.1, out=tmp_path / "f.h5")
