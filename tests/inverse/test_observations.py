import h5py
import numpy as np
import pytest
import torch

from neurops.data.metadata import DatasetMeta
from neurops.data.writer import H5Writer
from neurops.errors import ConfigError, DataError, SchemaError
from neurops.inverse import (
    Observations,
    make_observations,
    observations_from_file,
    read_observations,
    write_observations,
)
from tests.conftest import write_observation_file


def _fields(res: int = 21):
    x = np.linspace(0, 1, res)
    u = np.sin(np.pi * x)[:, None] * np.sin(np.pi * x)[None, :]
    a = 1 + x[:, None] + 0 * x[None, :]
    return {"x": x, "y": x}, a, u


def test_noise_level_follows_the_snr_and_points_are_interior_nodes():
    coords, a, u = _fields()
    obs = make_observations(u, coords, n_obs=300, snr_db=25.0, seed=0, a=a)
    clean = np.sin(np.pi * obs.points[:, 0]) * np.sin(np.pi * obs.points[:, 1])
    assert obs.noise_std == pytest.approx(np.sqrt(np.mean(clean**2) / 10**2.5))
    noise = obs.values - clean
    assert noise.std() == pytest.approx(obs.noise_std, rel=0.15)
    assert (obs.points > 0).all() and (obs.points < 1).all()
    # NumPy numbers for the SNR and the seed are numbers: the shared checks refused them for a while
    same = make_observations(u, coords, n_obs=300, snr_db=np.float32(25.0), seed=np.int64(0), a=a)
    assert np.array_equal(same.points, obs.points) and same.noise_std == pytest.approx(obs.noise_std, rel=1e-6)
    assert len(np.unique(obs.points, axis=0)) == 300
    assert set(obs.truth) == {"a", "u"} and obs.grid_shape == (21, 21)


def test_same_seed_same_observations():
    coords, _, u = _fields()
    one, two = (make_observations(u, coords, 50, 20.0, seed=4) for _ in range(2))
    three = make_observations(u, coords, 50, 20.0, seed=5)
    assert np.array_equal(one.points, two.points) and np.array_equal(one.values, two.values)
    assert not np.array_equal(one.points, three.points)


def test_file_round_trip(tmp_path):
    coords, a, u = _fields()
    obs = make_observations(u, coords, 40, 25.0, seed=1, a=a, source={"note": "x"})
    path = write_observations(obs, tmp_path / "obs.h5")
    back = read_observations(path)
    assert np.array_equal(back.points, obs.points) and np.array_equal(back.values, obs.values)
    assert back.noise_std == obs.noise_std and back.snr_db == 25.0 and back.source["note"] == "x"
    assert np.allclose(back.truth["u"], u) and list(back.coords) == ["x", "y"]
    with pytest.raises(FileExistsError):
        write_observations(obs, path)


def test_observations_from_a_labelled_file(tmp_path):
    coords, a, u = _fields(9)
    with H5Writer(tmp_path / "d.h5", DatasetMeta(kind="operator", name="toy", dims=("x", "y"),
                                                 parameters={"forcing": 10.0})) as w:
        w.add_split("test", coords=coords, inputs={"a": np.stack([a, 2 * a]).astype(np.float32)},
                    outputs={"u": np.stack([u, 2 * u]).astype(np.float32)})
    obs = observations_from_file(tmp_path / "d.h5", "test", 1, n_obs=10, snr_db=30, seed=0)
    assert np.allclose(obs.truth["a"], 2 * a) and obs.source["index"] == 1 and obs.source["forcing"] == 10.0
    with pytest.raises(DataError, match="out of range"):
        observations_from_file(tmp_path / "d.h5", "test", 5)
    with pytest.raises(DataError, match="no outputs field 'p'"):
        observations_from_file(tmp_path / "d.h5", "test", 0, output_field="p")


def test_a_file_with_other_field_names_is_told_what_to_do(tmp_path):
    coords, a, u = _fields(9)
    with H5Writer(tmp_path / "c.h5", DatasetMeta(kind="operator", name="toy", dims=("x", "y"))) as w:
        w.add_split("test", coords=coords, inputs={"coeff": a[None].astype(np.float32)},
                    outputs={"sol": u[None].astype(np.float32)})
    with pytest.raises(DataError) as err:
        observations_from_file(tmp_path / "c.h5", n_obs=5)
    assert str(err.value) == (
        f"{tmp_path / 'c.h5'} split 'test' has no inputs field 'a' (the observed pair is inputs/a -> outputs/u); it "
        "has inputs ['coeff'] and outputs ['sol']: name its fields a and u (`neurops data convert ... --input-key a "
        "--output-key u`), or in Python pass input_field and output_field.")
    obs = observations_from_file(tmp_path / "c.h5", n_obs=5, input_field="coeff", output_field="sol")
    assert np.allclose(obs.truth["a"], a)


@pytest.mark.parametrize("snr_db, message", [
    (1e6, "snr_db 1e+06 is above 313.0 dB: a noise std below 2.2e-16 times the values' RMS is lost in their float64 "
          "rounding; give at most 313.0 (DGNO uses 25)."),
    (313.1, "snr_db 313.1 is above 313.0 dB: a noise std below 2.2e-16 times the values' RMS is lost in their "
            "float64 rounding; give at most 313.0 (DGNO uses 25)."),
    (-1000, "snr_db -1000 is below -14.7 dB, the least for 30 observations: all of them together would carry less "
            "signal than one noise variance and could not tell u from 0; give at least -14.7 or observe more points "
            "(DGNO uses 25)."),
    (float("nan"), "snr_db must be a finite number of dB, got nan; DGNO uses 25."),
    (True, "snr_db must be a finite number of dB, got True; DGNO uses 25."),
])
def test_snr_outside_the_range_a_noise_std_means_something_is_refused(snr_db, message):
    # 1e6 used to overflow (OverflowError), -1000 gave a noise std of 4e48
    coords, _, u = _fields()
    with pytest.raises(DataError) as err:
        make_observations(u, coords, 30, snr_db, seed=0)
    assert str(err.value) == message


def test_snr_at_the_ends_of_the_range_gives_a_finite_positive_noise():
    coords, _, u = _fields()
    for snr_db in (313.0, -14.7):
        sigma = make_observations(u, coords, 30, snr_db, seed=0).noise_std
        assert 0 < sigma < np.inf


def test_a_negative_seed_is_one_clear_error():
    coords, _, u = _fields()
    with pytest.raises(ConfigError, match=r"seed must be an integer between 0 and 2\*\*63 - 1 .*got -3"):
        make_observations(u, coords, 30, 25.0, seed=-3)


def test_bad_inputs_raise_clear_errors(tmp_path):
    coords, _, u = _fields(5)
    with pytest.raises(DataError, match="n_obs must be between 1 and 9"):
        make_observations(u, coords, 10, 25.0, seed=0)
    with pytest.raises(DataError, match="all zero"):
        make_observations(0 * u, coords, 3, 25.0, seed=0)
    with pytest.raises(DataError, match="coordinates have lengths"):
        make_observations(u[:4], coords, 3, 25.0, seed=0)
    with pytest.raises(FileNotFoundError, match="invert observe"):
        read_observations(tmp_path / "missing.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.attrs["kind"] = "operator"
    with pytest.raises(SchemaError, match="not an observation file"):
        read_observations(tmp_path / "other.h5")


def test_hand_made_files_with_the_documented_fields_are_read(tmp_path):
    obs = read_observations(write_observation_file(tmp_path / "o.h5"))
    assert obs.dims == ["x", "y"] and obs.noise_std == 0.01 and obs.grid_shape == (5, 5)
    dims = np.array(["x", "y"], dtype=h5py.string_dtype())
    listed = read_observations(write_observation_file(tmp_path / "l.h5", dims=dims))
    assert listed.dims == ["x", "y"]


@pytest.mark.parametrize("changes,message", [
    ({"dims": "[x, y"}, "not valid JSON"),
    ({"dims": '["x", "z"]'}, "no dataset coords/z"),
    ({"noise_std": None}, "missing root attribute 'noise_std'"),
    ({"noise_std": "small"}, "must be a positive number"),
    ({"values": np.array([b"0.1", b"0.2"])}, "values must be numbers"),
    ({"points": np.array([[5.0, -3.0], [0.5, 0.5]])}, "outside the domain"),
    ({"values": np.array([0.1, 0.2, 0.3])}, "one per point"),
])
def test_bad_observation_files_get_one_clear_error(tmp_path, changes, message):
    with pytest.raises(SchemaError, match=message):
        read_observations(write_observation_file(tmp_path / "bad.h5", **changes))


def test_truncated_and_foreign_files(tmp_path):
    good = write_observation_file(tmp_path / "good.h5")
    data = good.read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated|not an HDF5 file"):
        read_observations(tmp_path / "cut.h5")
    (tmp_path / "text.h5").write_text("points,values")
    with pytest.raises(DataError, match="not an HDF5 file"):
        read_observations(tmp_path / "text.h5")


def test_points_outside_the_domain_are_refused_in_python_too():
    coords, _, u = _fields(5)
    with pytest.raises(DataError, match="outside the domain"):
        Observations(np.array([[5.0, -3.0]]), np.array([1.0]), 0.1, coords)


def test_tensors_and_wrong_python_inputs_are_taken_or_refused_clearly():
    """A tensor that requires grad used to be a RuntimeError, a non-integer n_obs a TypeError, a noise_std array a
    ValueError, a NaN solution 'rescale u to values near 1', and zero observations were accepted."""
    coords, a, u = _fields(9)
    ref = make_observations(u, coords, 5, 25.0, seed=0, a=a)
    grad = torch.tensor(u, dtype=torch.float32, requires_grad=True)
    same = make_observations(grad, coords, 5, 25.0, seed=0, a=torch.tensor(a))
    assert np.allclose(same.values, ref.values, atol=1e-6) and np.array_equal(same.points, ref.points)
    assert np.array_equal(same.truth["a"], ref.truth["a"])
    obs = Observations(torch.tensor(ref.points, requires_grad=True), torch.tensor(ref.values), 0.1, coords)
    assert obs.points.dtype == np.float64 and np.array_equal(obs.points, ref.points)
    cases = [
        (lambda: make_observations(u, coords, 5.5, 25.0, seed=0), "n_obs must be a whole number of observed nodes, "
                                                                  "got 5.5."),
        (lambda: make_observations(np.where(u > 0.5, np.nan, u), coords, 5, 25.0, seed=0),
         "u holds NaN or Inf at 22 of its 81 nodes; observe a finite solution."),
        (lambda: make_observations(u.astype(complex), coords, 5, 25.0, seed=0),
         "u must hold real numbers, got an array of complex128 (shape (9, 9))."),
        (lambda: Observations(ref.points, ref.values, np.array([0.1, 0.2]), coords),
         "noise_std must be one number (the standard deviation of every observation's noise), got array([0.1, 0.2])."),
        (lambda: Observations(np.zeros((0, 2)), np.zeros(0), 0.1, coords),
         "there are no observations (0 points); give at least one point and value."),
    ]
    for make, message in cases:
        with pytest.raises(DataError) as err:
            make()
        assert str(err.value) == message


def test_an_infinite_noise_or_a_truth_off_the_grid_or_not_finite_is_refused_before_any_sampling(tmp_path):
    """An infinite noise_std used to be accepted (and end the inversion in torch's 'linalg.cholesky: ... not
    positive-definite'), a true field of another shape than the grid failed only after the sampling ('prediction
    shape (9, 9) differs from the true field's (5, 5)'), and one with NaN was taken: every metric against it NaN
    (null in the summary) and the coverage counting its NaN nodes as outside the interval."""
    coords, a, u = _fields(9)
    ref = make_observations(u, coords, 5, 25.0, seed=0, a=a)
    nan_a = a.copy()
    nan_a[3, 3] = np.nan
    cases = [
        (lambda: Observations(ref.points, ref.values, float("inf"), coords), "noise_std must be a finite number > 0, "
                                                                            "got inf."),
        (lambda: Observations(ref.points, ref.values, 0.1, coords, truth={"a": np.ones((5, 5))}),
         "truth 'a' has shape (5, 5), but the grid is (9, 9); give the true field on the grid of coords, or leave it "
         "out."),
        (lambda: make_observations(u, coords, 5, 25.0, seed=0, a=nan_a),
         "truth 'a' holds NaN or Inf at 1 of its 81 nodes, so every metric against it would be NaN; give a finite "
         "true field, or leave it out."),
    ]
    for make, message in cases:
        with pytest.raises(DataError) as err:
            make()
        assert str(err.value) == message
    path = tmp_path / "obs.h5"
    write_observations(ref, path)
    with h5py.File(path, "r+") as f:
        f["truth/a"][3, 3] = np.nan
    with pytest.raises(DataError) as err:
        read_observations(path)
    assert str(err.value) == (f"{path} is not a usable observation file: truth 'a' holds NaN or Inf at 1 of its 81 "
                              "nodes, so every metric against it would be NaN; give a finite true field, or leave it "
                              "out.")


def test_an_observation_or_posterior_file_in_place_of_the_data_file_says_so(tmp_path):
    """They used to be 'obs.h5 is not a valid neurops file: missing root attribute 'boundary'; ...'."""
    from neurops.inverse import prior_from_file
    from neurops.inverse.problem import data_file

    path = write_observation_file(tmp_path / "obs.h5", n=9)
    obs = read_observations(path)
    posterior = tmp_path / "post.h5"
    with h5py.File(posterior, "w") as f:
        f.attrs["kind"] = "posterior"
    for given, what in ((path, "an observation"), (posterior, "a posterior")):
        for read in (lambda p: observations_from_file(p), prior_from_file, lambda p: data_file(obs, p)):
            with pytest.raises(DataError) as err:
                read(given)
            assert str(err.value) == (f"{given} is {what} file, not a data file; give the labelled data file (kind "
                                      "'operator', made by `neurops data generate darcy`) that observations are "
                                      "made from.")


def test_non_finite_numbers_of_source_and_generator_are_strict_json_and_read_back(tmp_path):
    """Observation files held Infinity/NaN in their JSON attributes (a generator's setting, a source's number), which
    strict JSON parsers refuse; now null in the file, and read_observations gives back inf and nan."""
    import json
    import math

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    coords, a, u = _fields()
    obs = make_observations(u, coords, 40, 25.0, seed=1, a=a, source={"note": "x", "gain": math.inf, "none": None})
    obs.generator = {"name": "darcy", "contrast": -math.inf, "tau": math.nan}
    path = write_observations(obs, tmp_path / "obs.h5")
    with h5py.File(path) as f:
        for key in ("dims", "source", "generator", "json_nonfinite"):
            json.loads(f.attrs[key], parse_constant=refuse)
    back = read_observations(path)
    assert back.source["gain"] == math.inf and back.source["none"] is None
    assert json.dumps(back.generator) == json.dumps(obs.generator)
    with h5py.File(path, "a") as f:  # a file of older neurops: Infinity in the attribute, no json_nonfinite
        del f.attrs["json_nonfinite"]
        f.attrs["source"] = json.dumps({"gain": -math.inf})
    assert read_observations(path).source == {"gain": -math.inf}
