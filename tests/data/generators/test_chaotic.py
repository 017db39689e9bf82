"""Tests of the chaotic-system generators (neurops/data/generators/chaotic.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurops.data.generators import get_generator
from neurops.data.reader import read_attrs, read_split
from neurops.errors import ConfigError
from neurops.metrics.dsr import data_lyapunov_max
from neurops.metrics.lyapunov import lyapunov_max_twin
from neurops.solvers.timestepping.etdrk4 import KuramotoSivashinsky


def _generate(name: str, path: Path, **options) -> Path:
    spec = get_generator(name)
    return spec.fn(spec.make_config(**options), path, progress=False)


def test_lorenz63_lyapunov_exponent_from_true_jacobian(tmp_path: Path) -> None:
    path = _generate("lorenz63", tmp_path / "l63.h5", n_train=16, n_val=0, n_test=0, n_steps=10_000,
                     transient=20.0, standardize=True)
    x = read_split(path, "train")["states"]["x"]
    assert x.shape == (16, 10_000, 3)
    lam = data_lyapunov_max(x, read_attrs(path))  # un-standardises with the stored statistics
    assert lam == pytest.approx(0.90, abs=0.03)  # literature: 0.9056 (Sprott 2003)


def test_options_noise_standardization_and_attrs(tmp_path: Path) -> None:
    opts = dict(n_train=2, n_val=1, n_test=1, n_steps=500, transient=5.0, noise=0.1, standardize=True, seed=3)
    path = _generate("lorenz63", tmp_path / "a.h5", **opts)
    again = _generate("lorenz63", tmp_path / "b.h5", **opts)
    clean = _generate("lorenz63", tmp_path / "c.h5", **{**opts, "noise": 0.0})
    attrs = read_attrs(path)
    assert attrs["kind"] == "trajectory" and attrs["dims"] == ["component"] and attrs["seed"] == 3
    assert attrs["parameters"]["dt"] == 0.01 and attrs["parameters"]["rho"] == 28.0
    assert attrs["generator"]["noise"] == 0.1
    splits = {s: read_split(path, s) for s in ("train", "val", "test")}
    np.testing.assert_array_equal(splits["train"]["states"]["x"], read_split(again, "train")["states"]["x"])
    np.testing.assert_allclose(splits["train"]["time"], 0.01 * np.arange(500))
    # train is standardised with its clean statistics; the noise has the requested size
    x_clean = read_split(clean, "train")["states"]["x"]
    np.testing.assert_allclose(x_clean.mean(axis=(0, 1)), 0.0, atol=1e-5)
    np.testing.assert_allclose(x_clean.std(axis=(0, 1)), 1.0, atol=1e-5)
    assert np.std(splits["train"]["states"]["x"] - x_clean) == pytest.approx(0.1, rel=0.1)
    # test stays clean unless noise_test
    np.testing.assert_array_equal(splits["test"]["states"]["x"], read_split(clean, "test")["states"]["x"])


@pytest.mark.parametrize("name, dim", [("rossler", 3), ("lorenz96", 6)])
def test_other_flows(tmp_path: Path, name: str, dim: int) -> None:
    extra = {"n": 6} if name == "lorenz96" else {}
    path = _generate(name, tmp_path / f"{name}.h5", n_steps=300, transient=20.0, **extra)
    x = read_split(path, "test")["states"]["x"]
    assert x.shape == (1, 300, dim) and np.isfinite(x).all() and x.std() > 0.5


def test_kuramoto_sivashinsky_statistics(tmp_path: Path) -> None:
    path = _generate("kuramoto_sivashinsky", tmp_path / "ks.h5", n_train=1, n_val=0, n_test=0, n_steps=2000,
                     transient=100.0, seed=1)
    attrs = read_attrs(path)
    split = read_split(path, "train")
    u = split["states"]["u"][0]
    assert attrs["dims"] == ["x"] and attrs["boundary"] == {"x": "periodic"} and u.shape == (2000, 64)
    assert split["coords"]["x"][1] == pytest.approx(22.0 / 64)
    # energy spectrum peaks near the most unstable wavenumber 1/sqrt(2): mode L / (2 pi sqrt 2) ~ 2.5
    energy = (np.abs(np.fft.rfft(u, axis=1)) ** 2).mean(axis=0)
    assert int(np.argmax(energy)) in (2, 3)
    # leading Lyapunov exponent for L = 22: 0.043-0.048 in the literature
    solver = KuramotoSivashinsky(22.0, 64, 0.25)
    starts = u[::500][:4]  # four states 125 time units apart
    lam = lyapunov_max_twin(lambda v: solver.solve(v, 1, transient=1)[:, 0], starts, 4000, 0.25)
    assert lam.mean() == pytest.approx(0.046, abs=0.008)


@pytest.mark.parametrize("options, match", [
    ({"n_train": 0}, "n_train"),
    ({"dt": -0.1}, "dt > 0"),
    ({"noise": -1.0}, "noise"),
    ({"method": "euler"}, "method"),
])
def test_bad_config(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        get_generator("lorenz63").make_config(**options)
    with pytest.raises(ConfigError, match="multiple"):
        get_generator("kuramoto_sivashinsky").make_config(dt=0.33, step=0.05)


def test_a_request_larger_than_memory_is_refused_before_integrating(tmp_path, monkeypatch):
    """`data generate lorenz96 --n-train 100000 --n-steps 1000000` died in numpy's allocation with a traceback
    (7.3 TiB), and a request just below what numpy refuses would have run until the system killed it; now the size
    the generator holds (float64, twice) is compared with the available memory first."""
    import io

    from neurops.utils import device  # the shared MemAvailable reader

    monkeypatch.setattr(device, "open", lambda path: io.StringIO("MemTotal: 4000 kB\nMemAvailable: 1000 kB\n"),
                        raising=False)
    spec = get_generator("lorenz63")
    with pytest.raises(ConfigError) as err:
        spec.generate(spec.make_config(n_train=2, n_val=1, n_test=1, n_steps=100_000), tmp_path / "l.h5",
                      progress=False)
    assert str(err.value) == ("lorenz63: 4 trajectories of 100000 steps x 3 values are computed in memory, about 18.3 "
                              "MiB, but 0.977 MiB is available; ask for fewer trajectories (--n-train/--n-val/"
                              "--n-test) or steps (--n-steps).")
    spec = get_generator("kuramoto_sivashinsky")
    with pytest.raises(ConfigError, match=r"^kuramoto_sivashinsky: 3 trajectories of 1000 steps x 64 values"):
        spec.generate(spec.make_config(n_steps=1000), tmp_path / "k.h5", progress=False)
    assert list(tmp_path.iterdir()) == []
