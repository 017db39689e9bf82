"""Tests for The Well converter: small files in The Well's exact schema, written here."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from neurops.data.check import check_file
from neurops.data.external import convert
from neurops.data.external.the_well import convert_the_well
from neurops.data.reader import list_splits, read_attrs, read_split
from neurops.data.rollout import H5RolloutDataset
from neurops.errors import ConfigError, DataError

B, T, X, Y = 3, 5, 8, 6


def write_well_file(path, *, seed=0, n_traj=B, extra_field=False):
    """A 2D The Well file: t0 (time-varying and constant), t1 and symmetric t2 fields, BCs, scalars."""
    rng = np.random.default_rng(seed)
    data = {
        "density": rng.standard_normal((n_traj, T, X, Y)).astype(np.float32),
        "mask": rng.standard_normal((n_traj, X, Y)).astype(np.float32),
        "velocity": rng.standard_normal((n_traj, T, X, Y, 2)).astype(np.float32),
        "stress": rng.standard_normal((n_traj, T, X, Y, 2, 2)).astype(np.float32),
    }
    with h5py.File(path, "w") as f:
        f.attrs.update({"dataset_name": "toy_flow", "grid_type": "cartesian", "n_spatial_dims": 2,
                        "n_trajectories": n_traj, "simulation_parameters": ["Re"], "Re": 100.0})
        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = ["x", "y"]
        for key, values in (("time", np.linspace(0, 0.4, T)), ("x", np.linspace(0, 1, X, endpoint=False)),
                            ("y", np.linspace(-1, 1, Y))):
            dims.create_dataset(key, data=values.astype(np.float32))
            dims[key].attrs["sample_varying"] = False
            dims[key].attrs["time_varying"] = False
        bcs = f.create_group("boundary_conditions")
        for name, assoc, bc_type, n in (("x_periodic", "x", "PERIODIC", X), ("y_wall", ["y"], "wall", Y)):
            g = bcs.create_group(name)
            g.attrs.update({"associated_dims": assoc, "associated_fields": [], "bc_type": bc_type,
                            "sample_varying": False, "time_varying": False})
            mask = np.zeros(n, bool)
            mask[[0, -1]] = True
            g.create_dataset("mask", data=mask)
            g.create_dataset("values", data=np.zeros(2, np.float32))
        scalars = f.create_group("scalars")
        scalars.attrs["field_names"] = ["Re", "energy"]
        scalars.create_dataset("Re", data=np.array(100.0))
        scalars["Re"].attrs.update({"sample_varying": False, "time_varying": False})
        scalars.create_dataset("energy", data=np.arange(T, dtype=np.float32))
        scalars["energy"].attrs.update({"sample_varying": False, "time_varying": True})
        t0 = f.create_group("t0_fields")
        t0.attrs["field_names"] = ["density", "mask"] + (["pressure"] if extra_field else [])
        t0.create_dataset("density", data=data["density"])
        t0["density"].attrs.update({"dim_varying": [True, True], "sample_varying": True, "time_varying": True})
        t0.create_dataset("mask", data=data["mask"])
        t0["mask"].attrs.update({"dim_varying": [True, True], "sample_varying": True, "time_varying": False})
        if extra_field:
            t0.create_dataset("pressure", data=data["density"])
            t0["pressure"].attrs.update({"dim_varying": [True, True], "sample_varying": True, "time_varying": True})
        t1 = f.create_group("t1_fields")
        t1.attrs["field_names"] = ["velocity"]
        t1.create_dataset("velocity", data=data["velocity"])
        t1["velocity"].attrs.update({"dim_varying": [True, True], "sample_varying": True, "time_varying": True})
        t2 = f.create_group("t2_fields")
        t2.attrs["field_names"] = ["stress"]
        t2.create_dataset("stress", data=data["stress"])
        t2["stress"].attrs.update({"dim_varying": [True, True], "sample_varying": True, "time_varying": True,
                                   "symmetric": True, "antisymmetric": False})
    return data


def test_single_file_fields_components_and_metadata(tmp_path):
    src = tmp_path / "toy.hdf5"
    data = write_well_file(src)
    out = convert_the_well(src, tmp_path / "toy.h5", n_test=1, progress=False)
    assert check_file(out) == []
    attrs = read_attrs(out)
    assert attrs["kind"] == "trajectory" and attrs["name"] == "toy_flow" and attrs["dims"] == ["x", "y"]
    assert attrs["boundary"] == {"x": "periodic", "y": "dirichlet"}
    assert attrs["parameters"]["Re"] == 100.0 and "energy" not in attrs["parameters"]
    assert attrs["parameters"]["boundary_conditions"]["y_wall"]["bc_type"] == "wall"
    train, test = read_split(out, "train"), read_split(out, "test")
    assert sorted(train["states"]) == ["density", "mask", "stress_xx", "stress_xy", "stress_yy",
                                       "velocity_x", "velocity_y"]
    np.testing.assert_array_equal(train["states"]["density"], data["density"][:2])
    np.testing.assert_array_equal(test["states"]["velocity_y"], data["velocity"][2:, ..., 1])
    np.testing.assert_array_equal(train["states"]["stress_xy"], data["stress"][:2, ..., 0, 1])
    # the constant field is repeated along time
    np.testing.assert_array_equal(train["states"]["mask"], np.repeat(data["mask"][:2, None], T, axis=1))
    np.testing.assert_allclose(train["time"], np.linspace(0, 0.4, T), rtol=1e-6)
    np.testing.assert_allclose(train["coords"]["y"], np.linspace(-1, 1, Y), rtol=1e-6)


def test_field_selection_and_strides(tmp_path):
    src = tmp_path / "toy.hdf5"
    data = write_well_file(src)
    out = convert(src, "the-well", tmp_path / "v.h5", fields=["velocity"], test_fraction=0.0, space_stride=2,
                  time_stride=2, progress=False)
    train = read_split(out, "train")
    assert sorted(train["states"]) == ["velocity_x", "velocity_y"]
    np.testing.assert_array_equal(train["states"]["velocity_x"], data["velocity"][:, ::2, ::2, ::2, 0])


def test_dataset_directory_keeps_its_splits(tmp_path):
    base = tmp_path / "toy_flow" / "data"
    for j, (split, names) in enumerate((("train", ["a", "b"]), ("valid", ["c"]), ("test", ["d"]))):
        (base / split).mkdir(parents=True)
        for i, n in enumerate(names):
            write_well_file(base / split / f"{n}.hdf5", seed=10 * j + i, n_traj=2)
    out = convert_the_well(tmp_path / "toy_flow", tmp_path / "dir.h5", progress=False)
    assert sorted(list_splits(out)) == ["test", "train", "val"]
    train = read_split(out, "train")["states"]["density"]
    assert train.shape == (4, T, X, Y)
    with h5py.File(base / "train" / "b.hdf5") as f:
        np.testing.assert_array_equal(train[2:], f["t0_fields/density"][()])
    with pytest.raises(ConfigError, match="keeps its own"):
        convert_the_well(tmp_path / "toy_flow", tmp_path / "x.h5", n_test=1)


def test_axes_a_field_does_not_vary_along_are_broadcast(tmp_path):
    src = tmp_path / "toy.hdf5"
    write_well_file(src)
    profile = np.arange(X, dtype=np.float32)
    with h5py.File(src, "a") as f:
        f["t0_fields"].attrs["field_names"] = ["density", "mask", "inflow"]
        f["t0_fields"].create_dataset("inflow", data=profile)  # only along x, same for all samples and times
        f["t0_fields/inflow"].attrs.update({"dim_varying": [True, False], "sample_varying": False,
                                            "time_varying": False})
    out = convert_the_well(src, tmp_path / "b.h5", fields=["inflow"], test_fraction=0.0, progress=False)
    inflow = read_split(out, "train")["states"]["inflow"]
    assert inflow.shape == (B, T, X, Y)
    np.testing.assert_array_equal(inflow, np.broadcast_to(profile[:, None], (B, T, X, Y)))


def test_files_that_do_not_follow_the_schema(tmp_path):
    other = tmp_path / "other.hdf5"
    with h5py.File(other, "w") as f:
        f.create_dataset("tensor", data=np.zeros((2, 3, 4)))
    with pytest.raises(DataError, match="not a The Well file.*t0_fields"):
        convert_the_well(other, tmp_path / "x.h5")
    src = tmp_path / "toy.hdf5"
    write_well_file(src)
    with h5py.File(src, "a") as f:
        f["t0_fields/density"].attrs["time_varying"] = False  # attributes now contradict the shape
    with pytest.raises(DataError, match="density has shape .* attributes"):
        convert_the_well(src, tmp_path / "x.h5")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(DataError, match="train/\\*.hdf5"):
        convert_the_well(tmp_path / "empty_dir", tmp_path / "x.h5")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        convert_the_well(tmp_path / "missing.hdf5", tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()


def test_files_of_different_datasets_are_not_mixed(tmp_path):
    base = tmp_path / "mixed"
    (base / "train").mkdir(parents=True)
    write_well_file(base / "train" / "a.hdf5")
    write_well_file(base / "train" / "b.hdf5", extra_field=True)
    with pytest.raises(DataError, match="convert files of one dataset together"):
        convert_the_well(base, tmp_path / "x.h5", progress=False)
    assert not (tmp_path / "x.h5").exists()


def _replace_axis(path, key, values):
    with h5py.File(path, "a") as f:
        del f[f"dimensions/{key}"]
        f[f"dimensions/{key}"] = np.asarray(values, np.float32)


@pytest.mark.parametrize("key, values, words", [
    ("x", np.linspace(0, 2, X, endpoint=False), "has a different x grid from"),
    ("time", np.linspace(0, 4, T), "has different record times from"),
])
def test_splits_of_a_directory_on_other_grids_or_times_are_refused(tmp_path, key, values, words):
    """A directory whose test files had another grid (or other record times) than its train files was converted
    without a word, every split keeping its own, though the page says the files of one call share grids and times
    (a rollout trained at one time step was then tested at another). Now one error names both files."""
    base = tmp_path / "toy_flow"
    for split in ("train", "test"):
        (base / split).mkdir(parents=True)
        write_well_file(base / split / "a.hdf5")
    _replace_axis(base / "test" / "a.hdf5", key, values)
    with pytest.raises(DataError) as err:
        convert_the_well(base, tmp_path / "x.h5", progress=False)
    assert str(err.value) == (f"{base / 'test' / 'a.hdf5'} {words} {base / 'train' / 'a.hdf5'}; convert them into "
                              "separate files.")
    assert not (tmp_path / "x.h5").exists()


def test_a_grid_that_differs_between_trajectories_is_refused(tmp_path):
    """A sample-varying grid (dimensions/x [B, X]) kept the first trajectory's, silently giving the others a
    grid they were not computed on; one that is the same for all is still read."""
    path = tmp_path / "varying.hdf5"
    write_well_file(path)
    grid = np.linspace(0, 1, X, endpoint=False)
    _replace_axis(path, "x", np.stack([grid] * B))
    out = convert_the_well(path, tmp_path / "same.h5", progress=False)
    np.testing.assert_allclose(read_split(out, "train")["coords"]["x"], grid.astype(np.float32))
    _replace_axis(path, "x", np.stack([grid * (i + 1) for i in range(B)]))
    with pytest.raises(DataError) as err:
        convert_the_well(path, tmp_path / "x.h5", progress=False)
    assert str(err.value) == (f"{path}: dimensions/x differs between the file's trajectories; a neurops split has "
                              "one grid and one time axis: convert the trajectories of each grid into a file of "
                              "their own (e.g. copied with h5py).")
    assert not (tmp_path / "x.h5").exists()


def test_parameters_that_differ_between_files_are_listed_per_file_with_their_samples(tmp_path):
    """The Well's sets hold one file per parameter value; a directory's `parameters` were the first file's alone, so
    a converted set of Re = 100 and Re = 1000 trajectories said Re = 100 for all. The values that differ are now
    listed per file, with its split and samples; the values every file shares stay as they were."""
    base = tmp_path / "toy_flow"
    for split, names in (("train", ["a", "b"]), ("test", ["c"])):
        (base / split).mkdir(parents=True)
        for n in names:
            write_well_file(base / split / f"{n}.hdf5", n_traj=2 if n == "a" else B)
    for n, re in (("b", 1000.0), ("c", 10.0)):
        with h5py.File(base / ("train" if n == "b" else "test") / f"{n}.hdf5", "a") as f:
            f.attrs["Re"] = re
            f["scalars/Re"][()] = re
    params = read_attrs(convert_the_well(base, tmp_path / "o.h5", progress=False))["parameters"]
    assert params["per_file"] == [{"file": "train/a.hdf5", "split": "train", "samples": [0, 2], "Re": 100.0},
                                  {"file": "train/b.hdf5", "split": "train", "samples": [2, 5], "Re": 1000.0},
                                  {"file": "test/c.hdf5", "split": "test", "samples": [0, 3], "Re": 10.0}]
    assert "Re" not in params and params["grid_type"] == "cartesian"
    same = tmp_path / "same"
    (same / "train").mkdir(parents=True)
    write_well_file(same / "train" / "a.hdf5")
    write_well_file(same / "train" / "b.hdf5", seed=1)
    params = read_attrs(convert_the_well(same, tmp_path / "s.h5", progress=False))["parameters"]
    assert params["Re"] == 100.0 and "per_file" not in params


def test_splits_of_other_fields_and_unknown_field_names_are_named(tmp_path):
    """A test folder whose files hold one more field gave a split-wide list of (group, name) tuples; an unknown name in
    `fields` next to a known one was dropped without a word (and alone gave 'no field to convert')."""
    base = tmp_path / "well"
    for split, extra in (("train", False), ("valid", False), ("test", True)):
        (base / split).mkdir(parents=True)
        write_well_file(base / split / "a.hdf5", extra_field=extra)
    with pytest.raises(DataError) as err:
        convert_the_well(base, tmp_path / "x.h5", progress=False)
    assert str(err.value) == (f"every split needs the same fields, but 'test' ({base / 'test' / 'a.hdf5'}) has "
                              "['states/pressure'], which 'train' lacks; convert the files of one data set (The Well: "
                              "keep the common fields with fields=..., --fields).")
    out = convert_the_well(base, tmp_path / "x.h5", fields=["density", "velocity_x"], progress=False)
    assert sorted(read_split(out, "test")["states"]) == ["density", "velocity_x"]
    with pytest.raises(DataError) as err:
        convert_the_well(base / "train" / "a.hdf5", tmp_path / "y.h5", fields=["density", "velocty"], progress=False)
    assert str(err.value) == (f"{base / 'train' / 'a.hdf5'} has no field or component ['velocty'] (option fields); it "
                              "has ['density', 'mask', 'velocity', 'velocity_x', 'velocity_y', 'stress', 'stress_xx', "
                              "'stress_xy', 'stress_yy']: name fields or components, e.g. fields=['velocity'] "
                              "(--fields velocity on the command line).")
    assert not (tmp_path / "y.h5").exists()


def test_converted_file_feeds_rollout_windows(tmp_path):
    src = tmp_path / "toy.hdf5"
    data = write_well_file(src)
    out = convert_the_well(src, tmp_path / "r.h5", fields=["density", "velocity"], test_fraction=0.0,
                           progress=False)
    ds = H5RolloutDataset(out, "train", t_in=2, t_out=1)
    sample = ds[0]
    assert sample["x"].shape == (2 * 3, X, Y) and sample["y"].shape == (3, X, Y)  # 3 fields, time-major
    np.testing.assert_array_equal(sample["y"][0].numpy(), data["density"][0, 2])
