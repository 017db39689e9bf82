"""Tests for the 2D Navier-Stokes generator (FNO setup)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from neurops.data.check import check_file
from neurops.data.generators import get_generator
from neurops.data.generators.grf import gaussian_random_field
from neurops.data.generators.navier_stokes import FNO_NS_SIGMA, NavierStokesConfig, generate_navier_stokes
from neurops.data.reader import list_splits, read_attrs, read_split
from neurops.data.rollout import H5RolloutDataset
from neurops.errors import ConfigError
from neurops.solvers.timestepping.pseudospectral import NavierStokes2D, fno_forcing
from tests.conftest import recipe_configs

SMALL = dict(n_train=2, n_val=0, n_test=2, resolution=16, solver_resolution=32, t_final=1.0, record_dt=0.25,
             dt=0.01, batch_size=3)


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("ns") / "ns.h5"
    cfg = NavierStokesConfig(**SMALL, test_resolutions=(32,))
    return generate_navier_stokes(cfg, out, workers=1, progress=False), cfg


def test_registered_and_fno_defaults():
    spec = get_generator("navier_stokes")
    assert spec.config_cls is NavierStokesConfig and spec.fn is generate_navier_stokes
    cfg = NavierStokesConfig()
    assert (cfg.resolution, cfg.solver_resolution, cfg.nu, cfg.t_final) == (64, 256, 1e-3, 50.0)
    assert (cfg.alpha, cfg.tau) == (2.5, 7.0) and cfg.sigma == pytest.approx(math.sqrt(2) * 7**1.5)
    np.testing.assert_allclose(cfg.record_times(), np.arange(1, 51))  # FNO: frame 0 is t = 1


def test_file_layout(small_file):
    path, cfg = small_file
    assert check_file(path) == []
    attrs = read_attrs(path)
    assert attrs["kind"] == "trajectory" and attrs["dims"] == ["x", "y"]
    assert attrs["boundary"] == {"x": "periodic", "y": "periodic"} and attrs["parameters"]["nu"] == cfg.nu
    train = read_split(path, "train")
    assert train["states"]["w"].shape == (2, 4, 16, 16)
    np.testing.assert_allclose(train["time"], [0.25, 0.5, 0.75, 1.0])
    assert sorted(list_splits(path)) == ["test", "test@32", "train"]  # n_val = 0: no val split
    fine = read_split(path, "test@32")["states"]["w"]
    np.testing.assert_array_equal(fine[..., ::2, ::2], read_split(path, "test")["states"]["w"])


def test_first_sample_is_the_seeded_grf_solved_by_navier_stokes(small_file):
    path, cfg = small_file
    seed0 = np.random.SeedSequence(cfg.seed).spawn(4)[0]
    w0 = gaussian_random_field((32, 32), np.random.default_rng(seed0), alpha=2.5, tau=7.0, sigma=FNO_NS_SIGMA,
                               boundary="periodic")
    solver = NavierStokes2D(cfg.nu, forcing=fno_forcing(32), dt=cfg.dt)
    expected = solver.solve(torch.as_tensor(w0), cfg.record_times()).numpy()[:, ::2, ::2]
    np.testing.assert_allclose(read_split(path, "train")["states"]["w"][0], expected, rtol=1e-5, atol=1e-5)


def test_same_seed_same_numbers_whatever_batch(tmp_path, small_file):
    path, cfg = small_file
    again = generate_navier_stokes(dataclasses.replace(cfg, batch_size=1), tmp_path / "a.h5", workers=1,
                                   progress=False)
    np.testing.assert_array_equal(read_split(again, "test")["states"]["w"], read_split(path, "test")["states"]["w"])


def test_include_initial_and_operator_layout(tmp_path):
    cfg = NavierStokesConfig(**SMALL, include_initial=True)
    traj = generate_navier_stokes(cfg, tmp_path / "t.h5", workers=1, progress=False)
    states = read_split(traj, "train")["states"]["w"]
    np.testing.assert_allclose(read_split(traj, "train")["time"], [0, 0.25, 0.5, 0.75, 1.0])
    op = generate_navier_stokes(dataclasses.replace(cfg, include_initial=False, layout="operator"),
                                tmp_path / "o.h5", workers=1, progress=False)
    assert read_attrs(op)["kind"] == "operator"
    np.testing.assert_array_equal(read_split(op, "train")["inputs"]["w0"], states[:, 0])
    np.testing.assert_allclose(read_split(op, "train")["outputs"]["w"], states[:, -1], atol=1e-6)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"nu": -1.0}, "nu must be > 0"),
        ({"record_dt": 0.3}, "not a multiple of record_dt"),
        ({"record_dt": 2.0}, "record_dt <= t_final"),
        ({"resolution": 12}, "does not divide"),
        ({"scheme": "rk3"}, "scheme"),
        ({"n_test": 0, "test_resolutions": (32,)}, "n_test is 0; pass --n-test N > 0"),
        ({"device": "nodevice"}, "device"),
        ({"sigma": -1.0}, "GRF needs alpha > 0, tau > 0, sigma >= 0"),
        ({"forcing_amplitude": float("nan")}, "forcing_amplitude must be a finite number"),
    ],
)
def test_bad_config_raises_one_clear_error(tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message):
        generate_navier_stokes(NavierStokesConfig(**{**SMALL, **changes}), tmp_path / "bad.h5", workers=1,
                               progress=False)
    assert not (tmp_path / "bad.h5").exists()


def test_trajectory_file_feeds_rollout_windows(small_file):
    path, _ = small_file
    ds = H5RolloutDataset(path, "train", t_in=2, t_out=2)
    sample = ds[0]
    assert sample["x"].shape == (2, 16, 16) and sample["y"].shape == (2, 16, 16)
    w = read_split(path, "train")["states"]["w"]
    np.testing.assert_array_equal(sample["y"].numpy(), w[0, 2:4])


def test_dataset_card_recipes_are_valid_configs():
    nus = set()
    for name, (cfg, options) in recipe_configs("navier_stokes").items():
        assert str(options["out"]).startswith("data/ns_"), name
        nus.add(cfg.nu)
    assert {1e-3, 1e-4, 1e-5} <= nus


@pytest.mark.parametrize("name, message", [
    ("foo", "device 'foo' is not a torch device name (cpu, cuda, cuda:1, mps...); use --device cpu."),
    ("cuda", "device 'cuda' is not available here (torch finds no CUDA GPU); use --device cpu."),
], ids=["foo", "cuda"])
def test_a_device_this_machine_lacks_is_one_line_and_writes_nothing(name, message, tmp_path, monkeypatch, capsys):
    from neurops.cli import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["data", "generate", "navier_stokes", "--device", name, "--n-train", "1", "--n-val", "0",
                 "--n-test", "0", "--out", str(tmp_path / "ns.h5"), "--no-progress"]) == 2
    assert capsys.readouterr().err == f"neurops: error: {message}\n" and list(tmp_path.iterdir()) == []
