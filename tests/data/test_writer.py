import json
import math
import warnings

import h5py
import numpy as np
import pytest

from neurops.data.json_attrs import read_json_attr
from neurops.data.metadata import DatasetMeta
from neurops.data.reader import read_attrs, read_meta, read_split
from neurops.data.writer import H5Writer
from neurops.errors import DataError, NeuropsWarning, SchemaError

TIME_FIX = "; store one time per frame, the frames in time order"


def _coords(r):
    return {"x": np.linspace(0, 1, r), "y": np.linspace(0, 1, r)}


def test_roundtrip_attrs_layout_and_chunks(tmp_path):
    path = tmp_path / "d.h5"
    a, u = np.random.rand(3, 8, 8), np.random.rand(3, 8, 8)
    with H5Writer(path, DatasetMeta(kind="operator", name="t", dims=("x", "y"),
                                    boundary={"x": "periodic", "y": "dirichlet"}, parameters={"nu": 0.1},
                                    generator={"n": 3}, seed=7), compression="gzip") as w:
        w.add_split("train", coords=_coords(8), inputs={"a": a}, outputs={"u": u})
    attrs = read_attrs(path)
    assert attrs["schema_version"] == 1 and attrs["kind"] == "operator" and attrs["seed"] == 7
    assert attrs["dims"] == ["x", "y"] and attrs["boundary"]["x"] == "periodic"
    assert attrs["parameters"] == {"nu": 0.1} and attrs["generator"] == {"n": 3}
    data = read_split(path, "train")
    np.testing.assert_allclose(data["inputs"]["a"], a.astype(np.float32))
    assert data["resolution"] == (8, 8)
    with h5py.File(path) as f:
        ds = f["train/outputs/u"]
        assert ds.dtype == np.float32 and ds.chunks == (1, 8, 8) and ds.compression == "gzip"


def test_incremental_writes_and_trajectory(tmp_path):
    path = tmp_path / "traj.h5"
    with H5Writer(path, DatasetMeta(kind="trajectory", name="l63", dims=("component",))) as w:
        w.create_split("train", 4, coords={"component": np.arange(3)}, states={"x": (10, 3)},
                       time=np.arange(10) * 0.01)
        w.write("train", 0, states={"x": np.ones((2, 10, 3))})
        w.write("train", 2, states={"x": np.zeros((2, 10, 3))})
    data = read_split(path, "train")
    assert data["states"]["x"].shape == (4, 10, 3) and data["time"][1] == pytest.approx(0.01)


def test_crash_leaves_no_file_and_keeps_existing(tmp_path):
    path = tmp_path / "d.h5"
    path.write_text("user data")
    with pytest.raises(RuntimeError):
        with H5Writer(path, DatasetMeta(kind="operator", name="t", dims=("x", "y")), overwrite=True) as w:
            w.add_split("train", coords=_coords(4), inputs={"a": np.ones((1, 4, 4))}, outputs={"u": np.ones((1, 4, 4))})
            raise RuntimeError("crash")
    assert path.read_text() == "user data"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


def test_refuses_to_overwrite_and_incomplete_splits(tmp_path):
    path = tmp_path / "d.h5"
    path.write_text("x")
    with pytest.raises(FileExistsError, match="overwrite"):
        H5Writer(path, DatasetMeta(kind="operator", name="t", dims=("x",)))
    other = tmp_path / "e.h5"
    with pytest.raises(DataError, match="never written"):
        with H5Writer(other, DatasetMeta(kind="input_only", name="t", dims=("x",))) as w:
            w.create_split("train", 3, coords={"x": np.arange(4)}, inputs={"a": (4,)})
            w.write("train", 0, inputs={"a": np.ones((2, 4))})
    assert not other.exists()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_rejects_nonfinite_values(tmp_path, bad):
    a = np.ones((2, 4))
    a[1, 2] = bad
    with pytest.raises(DataError, match="NaN or Inf"):
        with H5Writer(tmp_path / "d.h5", DatasetMeta(kind="input_only", name="t", dims=("x",))) as w:
            w.add_split("train", coords={"x": np.arange(4)}, inputs={"a": a})
    assert not (tmp_path / "d.h5").exists()


def test_a_grid_needs_two_points_per_axis(tmp_path):
    """The schema's rule (neurops data check) is kept when writing: no file with a 1-point axis is ever saved."""
    for kind, fields in (("operator", {"inputs": {"a": (1, 8)}, "outputs": {"u": (1, 8)}}),
                         ("input_only", {"inputs": {"a": (1, 8)}})):
        with pytest.raises(DataError, match="would have the grid 1x8: .* at least 2 points per axis"):
            with H5Writer(tmp_path / "a.h5", DatasetMeta(kind=kind, name="t", dims=("x", "y"))) as w:
                w.create_split("train", 1, coords={"x": np.zeros(1), "y": np.arange(8)}, **fields)
        assert not (tmp_path / "a.h5").exists()
    with H5Writer(tmp_path / "t.h5", DatasetMeta(kind="trajectory", name="t", dims=("component",))) as w:
        w.add_split("train", coords={"component": np.zeros(1)}, states={"x": np.ones((1, 5, 1))},
                    time=np.arange(5.0))  # a 1-variable series is a trajectory, not a grid
    assert read_split(tmp_path / "t.h5", "train")["states"]["x"].shape == (1, 5, 1)


@pytest.mark.parametrize("coords, problem", [
    (np.array([0.0, 0.5, 0.25, 1.0]), "0.5 at index 1, then 0.25"),   # decreasing
    (np.array([0.0, 0.5, 0.5, 1.0]), "0.5 at index 1, then 0.5"),     # repeated
    (np.linspace(1, 0, 4), "1 at index 0, then 0.666667"),            # stored right to left
    (np.array([0.0, np.nan, 0.5, 1.0]), "value nan at index 1"),
])
def test_coordinates_readers_refuse_are_refused_before_anything_is_written(tmp_path, coords, problem):
    """Non-increasing or non-finite coordinates used to be written, and the file then refused by every reader
    (neurops data check, training). The writer applies the readers' rule (schema.coord_problem) with the same
    message, before it writes anything: no file, no temporary file, an earlier file kept."""
    path = tmp_path / "d.h5"
    path.write_text("user data")
    a = np.ones((2, 4, 4))
    for split_of in ("create_split", "add_split"):
        with pytest.raises(DataError) as err:
            with H5Writer(path, DatasetMeta(kind="operator", name="t", dims=("x", "y")), overwrite=True) as w:
                w.add_split("train", coords=_coords(4), inputs={"a": a}, outputs={"u": a})  # a valid split first
                if split_of == "create_split":
                    w.create_split("test", 2, coords={"x": np.linspace(0, 1, 4), "y": coords}, inputs={"a": (4, 4)},
                                   outputs={"u": (4, 4)})
                else:
                    w.add_split("test", coords={"x": np.linspace(0, 1, 4), "y": coords}, inputs={"a": a},
                                outputs={"u": a})
        assert str(err.value) == (f"test: coords/y must be finite and strictly increasing ({problem}); store the "
                                  "grid's node positions in increasing order; nothing was written.")
        assert path.read_text() == "user data" and list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("time, problem", [
    (np.linspace(2, 0, 5), f"must be finite and strictly increasing (2 at index 0, then 1.5){TIME_FIX}"),  # backwards
    (np.array([0.0, 1.0, np.nan, 3.0, 4.0]),
     f"must be finite and strictly increasing (value nan at index 2){TIME_FIX}"),
    (np.array([0.0, 1.0, 1.0, 3.0, 4.0]), f"must be finite and strictly increasing (1 at index 1, then 1){TIME_FIX}"),
    (np.zeros((5, 1)), "must be one-dimensional (one time per frame), has shape (5, 1)"),
])
def test_a_trajectory_time_readers_refuse_is_refused_before_anything_is_written(tmp_path, time, problem):
    """A trajectory's time was written as given: decreasing, repeated or NaN times made a file every reader and
    `neurops data check` accepted (rollout windows and predict's extrapolated times then ran on them). It now
    follows the coordinates' rule, with the same words as the checker, before anything is written."""
    path = tmp_path / "t.h5"
    path.write_text("user data")
    with pytest.raises(DataError) as err:
        with H5Writer(path, DatasetMeta(kind="trajectory", name="t", dims=("x",)), overwrite=True) as w:
            w.add_split("train", coords={"x": np.linspace(0, 1, 4)}, states={"u": np.ones((2, 5, 4))}, time=time)
    assert str(err.value) == f"train: time {problem}; nothing was written."
    assert path.read_text() == "user data" and list(tmp_path.iterdir()) == [path]


def test_the_writer_refuses_the_coordinates_the_checker_refuses_with_the_same_words(tmp_path):
    """One rule, one message: what `neurops data check` says of a file holding decreasing coordinates (written
    around the writer with h5py) is what the writer says when given them."""
    from neurops.data.check import check_file

    path = tmp_path / "d.h5"
    x = np.linspace(0, 1, 4)
    with H5Writer(path, DatasetMeta(kind="input_only", name="t", dims=("x",))) as w:
        w.add_split("train", coords={"x": x}, inputs={"a": np.ones((1, 4))})
    with h5py.File(path, "a") as f:
        f["train/coords/x"][...] = x[::-1]
    (checked,) = check_file(path)
    with pytest.raises(DataError) as err:
        with H5Writer(tmp_path / "e.h5", DatasetMeta(kind="input_only", name="t", dims=("x",))) as w:
            w.add_split("train", coords={"x": x[::-1]}, inputs={"a": np.ones((1, 4))})
    assert str(err.value) == f"{checked}; nothing was written."
    assert not (tmp_path / "e.h5").exists()
    with pytest.raises(DataError, match=r"train: coords/x must be one-dimensional \(the node positions of one axis\), "
                       r"has shape \(1, 4\); nothing was written"):
        with H5Writer(tmp_path / "e.h5", DatasetMeta(kind="input_only", name="t", dims=("x",))) as w:
            w.add_split("train", coords={"x": x[None]}, inputs={"a": np.ones((1, 4))})
    assert not (tmp_path / "e.h5").exists()


def test_schema_errors(tmp_path):
    with pytest.raises(SchemaError, match="unknown kind"):
        H5Writer(tmp_path / "a.h5", DatasetMeta(kind="pairs", name="t", dims=("x",)))
    with pytest.raises(SchemaError, match="boundary"):
        H5Writer(tmp_path / "a.h5", DatasetMeta(kind="operator", name="t", dims=("x",), boundary={"x": "wall"}))
    with pytest.raises(SchemaError, match="needs outputs"):
        with H5Writer(tmp_path / "a.h5", DatasetMeta(kind="operator", name="t", dims=("x",))) as w:
            w.create_split("train", 1, coords={"x": np.arange(4)}, inputs={"a": (4,)})
    with pytest.raises(DataError, match="per-sample shape"):
        with H5Writer(tmp_path / "a.h5", DatasetMeta(kind="input_only", name="t", dims=("x",))) as w:
            w.create_split("train", 1, coords={"x": np.arange(4)}, inputs={"a": (5,)})


def test_complex_values_are_refused_not_truncated(tmp_path):
    a = np.ones((2, 4)) * (1 + 2j)
    with pytest.raises(DataError, match="imaginary part; store the real and imaginary parts as two fields"):
        with H5Writer(tmp_path / "d.h5", DatasetMeta(kind="input_only", name="t", dims=("x",))) as w:
            w.add_split("train", coords={"x": np.arange(4)}, inputs={"a": a})
    assert list(tmp_path.iterdir()) == []
    with H5Writer(tmp_path / "d.h5", DatasetMeta(kind="input_only", name="t", dims=("x",))) as w:
        w.add_split("train", coords={"x": np.arange(4)}, inputs={"a": np.arange(8).reshape(2, 4)})  # ints: exact
    np.testing.assert_array_equal(read_split(tmp_path / "d.h5", "train")["inputs"]["a"], np.arange(8).reshape(2, 4))


def test_a_split_that_cannot_fit_on_the_disk_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    """`data generate darcy --n-train 1000000 --resolution 1025` (7.6 TiB) started writing and ran until the disk
    was full, hours later; now the writer compares the uncompressed size of the samples still to write with the free
    space of the target's folder when a split is declared."""
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**6, 10**6 - 20_000, 20_000))
    path = tmp_path / "d.h5"
    meta = DatasetMeta(kind="operator", name="t", dims=("x", "y"))
    with H5Writer(path, meta) as w:  # 2 fields of 8x8 float32: 512 B a sample
        w.create_split("train", 30, coords=_coords(8), inputs={"a": (8, 8)}, outputs={"u": (8, 8)})
        w.write("train", 0, inputs={"a": np.ones((30, 8, 8))}, outputs={"u": np.ones((30, 8, 8))})
        w.create_split("test", 39, coords=_coords(8), inputs={"a": (8, 8)}, outputs={"u": (8, 8)})  # 19968 B
        w.write("test", 0, inputs={"a": np.ones((39, 8, 8))}, outputs={"u": np.ones((39, 8, 8))})
    with pytest.raises(DataError) as err, H5Writer(path, meta, overwrite=True) as w:
        w.create_split("train", 30, coords=_coords(8), inputs={"a": (8, 8)}, outputs={"u": (8, 8)})
        w.create_split("test", 10, coords=_coords(8), inputs={"a": (8, 8)}, outputs={"u": (8, 8)})
    assert str(err.value) == (f"{path} needs 20 KiB more: split 'test' (10 samples of 512 B) and the samples of the "
                              f"splits before it, but {tmp_path} has 19.5 KiB free; nothing was saved: write to a disk "
                              "with more space, or ask for fewer samples, a coarser grid or compression (gzip/lzf).")
    assert read_split(path, "test")["inputs"]["a"].shape == (39, 8, 8)  # the file of the first block is kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5"]  # no temporary file left
    with H5Writer(tmp_path / "c.h5", meta, compression="gzip") as w:  # compressed sizes are not known: not refused
        w.add_split("train", coords=_coords(8), inputs={"a": np.ones((40, 8, 8))}, outputs={"u": np.ones((40, 8, 8))})


def test_float64_rounded_to_float32_is_said_once_per_write_naming_the_field(tmp_path):
    """float64 arrays were stored as float32 without a word; now the write ends with one NeuropsWarning naming
    each field whose values float32 changed (over all its splits and blocks), its type and the largest change, as
    the converters say it; float32 values and float64 values float32 holds exactly say nothing."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 8, 8))
    u32 = rng.standard_normal((4, 8, 8)).astype(np.float32)
    path = tmp_path / "d.h5"
    change = float(np.abs(a - a.astype(np.float32)).max())
    with pytest.warns(NeuropsWarning) as record:
        with H5Writer(path, DatasetMeta(kind="operator", name="t", dims=("x", "y"))) as w:
            w.create_split("train", 4, coords=_coords(8), inputs={"a": (8, 8)}, outputs={"u": (8, 8)})
            w.write("train", 0, inputs={"a": a[:2]}, outputs={"u": u32[:2]})
            w.write("train", 2, inputs={"a": a[2:]}, outputs={"u": u32[2:].astype(np.float64)})  # exact: no word
            w.add_split("test", coords=_coords(8), inputs={"a": a}, outputs={"u": u32})
    assert [str(r.message) for r in record] == [
        f"{path}: the values given for inputs/a (float64: largest change {change:.3g}, "
        f"{change / np.abs(a).max():.3g} of its largest magnitude) were rounded to float32, the type neurops "
        "stores fields in."]
    assert record[0].filename == __file__  # points at the code that wrote the file
    np.testing.assert_array_equal(read_split(path, "train")["inputs"]["a"], a.astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with H5Writer(tmp_path / "e.h5", DatasetMeta(kind="operator", name="t", dims=("x", "y"))) as w:
            w.add_split("train", coords=_coords(8), inputs={"a": a.astype(np.float32)},
                        outputs={"u": np.arange(4 * 64, dtype=np.int64).reshape(4, 8, 8)})  # small integers: exact
    with pytest.warns(NeuropsWarning, match="outputs/u \\(int64: largest change 1,"):
        with H5Writer(tmp_path / "i.h5", DatasetMeta(kind="operator", name="t", dims=("x", "y"))) as w:
            w.add_split("train", coords=_coords(8), inputs={"a": u32},
                        outputs={"u": 2**24 + np.arange(4 * 64, dtype=np.int64).reshape(4, 8, 8)})


def test_a_failed_write_says_nothing_about_rounding(tmp_path):
    """Nothing is saved, so nothing was rounded: the error alone."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match="never written"):
            with H5Writer(tmp_path / "d.h5", DatasetMeta(kind="operator", name="t", dims=("x", "y"))) as w:
                w.create_split("train", 4, coords=_coords(8), inputs={"a": (8, 8)}, outputs={"u": (8, 8)})
                w.write("train", 0, inputs={"a": np.random.rand(2, 8, 8)}, outputs={"u": np.random.rand(2, 8, 8)})
    assert not (tmp_path / "d.h5").exists()


def _strict(text):
    """``json.loads`` as a strict parser (jq, JavaScript) reads: ``Infinity`` and ``NaN`` are refused."""
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_a_converted_inviscid_run_has_strict_json_attributes_and_reads_back_inf(tmp_path, capsys):
    """`neurops data convert the_well` of a run with the simulation parameter Re = inf (inviscid) wrote
    ``"Re": Infinity`` into the root attribute ``parameters``, which jq and JavaScript refuse. Now every JSON attribute
    is strict JSON (``null``, listed in ``json_nonfinite``) and the reader gives inf back."""
    from neurops.cli import main
    from tests.data.external.test_the_well import write_well_file

    write_well_file(tmp_path / "inviscid.hdf5")
    with h5py.File(tmp_path / "inviscid.hdf5", "a") as f:
        f.attrs["Re"] = np.inf
    out = tmp_path / "inviscid.h5"
    assert main(["data", "convert", "the_well", str(tmp_path / "inviscid.hdf5"), "--out", str(out),
                 "--n-test", "1"]) in (0, None)
    with h5py.File(out) as f:
        texts = {k: v for k, v in f.attrs.items() if isinstance(v, str) and v[:1] in "[{"}
    assert set(texts) == {"dims", "boundary", "parameters", "generator", "json_nonfinite"}
    records = {k: _strict(v) for k, v in texts.items()}
    assert records["parameters"]["Re"] is None
    assert records["json_nonfinite"] == {"parameters": [[["Re"], "inf"]]}
    assert read_attrs(out)["parameters"]["Re"] == math.inf
    assert "json_nonfinite" not in read_attrs(out)
    assert read_meta(out).parameters["Re"] == math.inf


def test_nonfinite_numbers_of_every_json_attribute_and_of_split_attributes_read_back(tmp_path):
    meta = DatasetMeta(kind="operator", name="t", dims=("x", "y"), parameters={"lo": -np.inf, "ok": None,
                                                                               "nu": [1.0, np.float64("nan")]},
                       generator={"clip": np.inf})
    with H5Writer(tmp_path / "t.h5", meta) as w:
        w.add_split("train", coords=_coords(4), inputs={"a": np.zeros((1, 4, 4), np.float32)},
                    outputs={"u": np.zeros((1, 4, 4), np.float32)}, attrs={"bounds": [0.0, math.inf]})
    attrs = read_attrs(tmp_path / "t.h5")
    assert attrs["parameters"]["lo"] == -math.inf and attrs["parameters"]["ok"] is None
    assert math.isnan(attrs["parameters"]["nu"][1]) and attrs["generator"]["clip"] == math.inf
    with h5py.File(tmp_path / "t.h5") as f:
        for obj in (f, f["train"]):
            for value in obj.attrs.values():
                if isinstance(value, str) and value[:1] in "[{":
                    _strict(value)
        assert _strict(f["train"].attrs["bounds"]) == [0.0, None]
        assert read_json_attr(f["train"], "bounds", None) == [0.0, math.inf]
