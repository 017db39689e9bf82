import h5py
import numpy as np
import pytest

from neurops.data.metadata import DatasetMeta
from neurops.data.writer import H5Writer
from neurops.errors import DataError, SchemaError
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
