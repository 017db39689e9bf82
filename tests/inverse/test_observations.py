import h5py
import numpy as np
import pytest

from neurops.data.writer import H5Writer
from neurops.errors import DataError, SchemaError
from neurops.inverse import make_observations, observations_from_file, read_observations, write_observations


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
    with H5Writer(tmp_path / "d.h5", kind="operator", name="toy", dims=("x", "y"), parameters={"forcing": 10.0}) as w:
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
    with pytest.raises(FileNotFoundError, match="--make-obs"):
        read_observations(tmp_path / "missing.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.attrs["kind"] = "operator"
    with pytest.raises(SchemaError, match="not an observation file"):
        read_observations(tmp_path / "other.h5")
