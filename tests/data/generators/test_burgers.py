"""Tests for the viscous Burgers generator."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from neurops.data.check import check_file
from neurops.data.generators import get_generator
from neurops.data.generators.burgers import BurgersConfig, generate_burgers
from neurops.data.generators.grf import gaussian_random_field
from neurops.data.reader import H5OperatorDataset, read_attrs, read_split
from neurops.errors import ConfigError
from neurops.solvers.timestepping.fourier import spectral_derivative
from neurops.solvers.timestepping.pseudospectral import Burgers1D
from tests.conftest import recipe_configs

SMALL = dict(n_train=3, n_val=1, n_test=2, resolution=32, solver_resolution=128, n_frames=4, t_final=0.3,
             batch_size=2)


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("burgers") / "burgers.h5"
    cfg = BurgersConfig(**SMALL, test_resolutions=(64,))
    return generate_burgers(cfg, out, workers=1, progress=False), cfg


def test_registered_with_its_config():
    spec = get_generator("burgers")
    assert spec.config_cls is BurgersConfig and spec.fn is generate_burgers


def test_file_layout_and_contents(small_file):
    path, cfg = small_file
    assert check_file(path) == []
    attrs = read_attrs(path)
    assert attrs["kind"] == "trajectory" and attrs["dims"] == ["x"] and attrs["boundary"] == {"x": "periodic"}
    assert attrs["parameters"]["nu"] == cfg.nu and attrs["generator"]["n_frames"] == cfg.n_frames
    train = read_split(path, "train")
    assert train["states"]["u"].shape == (3, 4, 32)
    np.testing.assert_allclose(train["time"], np.linspace(0, 0.3, 4))
    np.testing.assert_allclose(train["coords"]["x"], np.arange(32) / 32)
    assert read_split(path, "val")["states"]["u"].shape == (1, 4, 32)
    test, test64 = read_split(path, "test"), read_split(path, "test@64")
    assert test64["states"]["u"].shape == (2, 4, 64)
    # the same test samples, subsampled from one fine grid
    np.testing.assert_array_equal(test64["states"]["u"][..., ::2], test["states"]["u"])


def test_first_sample_is_the_seeded_grf_solved_by_burgers(small_file):
    path, cfg = small_file
    seed0 = np.random.SeedSequence(cfg.seed).spawn(6)[0]
    u0 = gaussian_random_field((128,), np.random.default_rng(seed0), alpha=cfg.alpha, tau=cfg.tau,
                               sigma=cfg.sigma, boundary="periodic")
    expected = Burgers1D(cfg.nu, dt=cfg.dt, cfl=cfg.cfl).solve(u0, np.linspace(0, 0.3, 4))
    stored = read_split(path, "train")["states"]["u"][0]
    np.testing.assert_allclose(stored, expected[:, ::4], rtol=1e-5, atol=1e-6)


def test_trajectories_satisfy_burgers_residual(small_file):
    # the stored fields obey u_t = -(u^2/2)_x + nu u_xx: check it at the fine grid by re-solving a tiny step
    path, cfg = small_file
    u = torch.as_tensor(read_split(path, "test@64")["states"]["u"][0, 1], dtype=torch.float64)
    h = 1e-4
    later = torch.as_tensor(Burgers1D(cfg.nu, dt=h).solve(u, [h])[0])
    rhs = -spectral_derivative(0.5 * u * u, (1,)) + cfg.nu * spectral_derivative(u, (2,))
    assert torch.allclose((later - u) / h, rhs, rtol=1e-2, atol=1e-3 * rhs.abs().max().item())


def test_same_seed_same_numbers_whatever_batch_and_threads(tmp_path, small_file):
    path, cfg = small_file
    other = dataclasses.replace(cfg, batch_size=5)
    again = generate_burgers(other, tmp_path / "again.h5", workers=2, progress=False)
    for split in ("train", "test", "test@64"):
        np.testing.assert_array_equal(read_split(again, split)["states"]["u"], read_split(path, split)["states"]["u"])
    diff = generate_burgers(dataclasses.replace(cfg, seed=1, test_resolutions=()), tmp_path / "s1.h5",
                            workers=1, progress=False)
    assert not np.allclose(read_split(diff, "train")["states"]["u"], read_split(path, "train")["states"]["u"])


def test_operator_layout_feeds_the_operator_dataset(tmp_path):
    cfg = BurgersConfig(**{**SMALL, "n_val": 0}, layout="operator")
    path = generate_burgers(cfg, tmp_path / "op.h5", workers=1, progress=False)
    assert read_attrs(path)["kind"] == "operator" and check_file(path) == []
    sample = H5OperatorDataset(path, "train")[0]
    assert sample["x"].shape == (1, 32) and sample["y"].shape == (1, 32)
    traj = generate_burgers(cfg.__class__(**{**SMALL, "n_val": 0}), tmp_path / "traj.h5", workers=1, progress=False)
    states = read_split(traj, "train")["states"]["u"]
    np.testing.assert_array_equal(read_split(path, "train")["inputs"]["u0"], states[:, 0])
    np.testing.assert_array_equal(read_split(path, "train")["outputs"]["u"], states[:, -1])


def test_existing_file_needs_overwrite(tmp_path, small_file):
    path, cfg = small_file
    out = tmp_path / "x.h5"
    out.write_bytes(b"keep")
    with pytest.raises(FileExistsError, match="overwrite"):
        generate_burgers(cfg, out, workers=1, progress=False)
    assert out.read_bytes() == b"keep"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"nu": 0.0}, "nu must be > 0"),
        ({"n_frames": 1}, "n_frames"),
        ({"n_train": 0}, "n_train must be >= 1"),
        ({"resolution": 48}, "does not divide the solver resolution"),
        ({"layout": "pairs"}, "layout"),
        ({"compression": "zip"}, "compression"),
        ({"sigma": -1.0}, "GRF needs alpha > 0, tau > 0, sigma >= 0"),
        ({"tau": 0.0}, "GRF needs alpha > 0, tau > 0, sigma >= 0"),
    ],
)
def test_bad_config_raises_one_clear_error(tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message):
        cfg = BurgersConfig(**{**SMALL, **changes})
        generate_burgers(cfg, tmp_path / "bad.h5", workers=1, progress=False)
    assert not (tmp_path / "bad.h5").exists()


def test_dataset_card_recipes_are_valid_configs():
    recipes = recipe_configs("burgers")
    assert len(recipes) == 3
    for name, (cfg, options) in recipes.items():
        assert str(options["out"]).startswith("data/burgers"), name
        assert cfg.resolution in (256, 1024)
