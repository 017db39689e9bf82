import json

import h5py
import numpy as np
import pytest
import torch

from neurops.cli import main
from neurops.data.check import check_file
from neurops.data.generators.darcy import DarcyConfig, generate_darcy
from neurops.inverse import read_posterior
from neurops.models import build
from tests.conftest import operator_checkpoint, write_observation_file

SHORT = ["--burn", "20", "--samples", "40", "--thin", "2", "--predictive", "5"]


@pytest.fixture(scope="module")
def darcy(tmp_path_factory):
    path = tmp_path_factory.mktemp("darcy") / "d.h5"
    return generate_darcy(DarcyConfig(n_train=8, n_val=4, n_test=2, resolution=9, coefficient="lognormal", seed=0),
                          path, workers=1, progress=False)


@pytest.fixture(scope="module")
def obs(darcy, tmp_path_factory):
    out = tmp_path_factory.mktemp("obs") / "obs.h5"
    assert main(["invert", "observe", "--data", str(darcy), "--index", "1", "--n-obs", "12", "--seed", "3",
                 "--out", str(out)]) == 0
    return out


def test_reference_inversion_through_the_true_solver(obs, tmp_path, capsys):
    with h5py.File(obs) as f:
        assert f.attrs["kind"] == "observations" and f["points"].shape == (12, 2) and "generator" in f.attrs
    post = tmp_path / "post.h5"
    assert main(["invert", "pde", "--obs", str(obs), "--out", str(post), *SHORT]) == 0
    out = capsys.readouterr().out
    assert "wrote posterior" in out and "true_solver_chi2_per_obs" in out
    assert check_file(post) == [] and post.with_suffix(".png").is_file()
    r = read_posterior(post)
    assert r.method["forward"]["forward"] == "pde" and r.method["sampler"] == "gpcn"
    assert r.samples["a"].shape == (4 * 20, 9, 9) and r.predictive["checked"]
    # an existing output is not replaced without --overwrite
    assert main(["invert", "pde", "--obs", str(obs), "--out", str(post)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_surrogate_inversion_with_an_operator_checkpoint(darcy, obs, tmp_path, capsys):
    ckpt = operator_checkpoint(darcy, tmp_path / "fno.ckpt")
    post = tmp_path / "post_fno.h5"
    assert main(["invert", "surrogate", "--obs", str(obs), "--ckpt", str(ckpt), "--out", str(post), "--no-figure",
                 "--prior", '{"max_wavenumber": 4}', *SHORT]) == 0
    r = read_posterior(post)
    assert r.method["forward"] == {"forward": "surrogate", "model": "fno", "resolution": None}
    assert r.method["model_error"]["n_pairs"] == 4  # the data file's val split
    assert r.method["prior"]["max_wavenumber"] == 4 and not post.with_suffix(".png").exists()
    assert r.predictive["checked"]  # through the true solver, not the surrogate
    assert "neurops: warning:" in capsys.readouterr().err  # an untrained surrogate fails the checks
    post_off = tmp_path / "post_off.h5"
    assert main(["invert", "surrogate", "--obs", str(obs), "--ckpt", str(ckpt), "--out", str(post_off), "--no-figure",
                 "--model-error", "off", *SHORT]) == 0
    assert read_posterior(post_off).method["model_error"] is None


def test_dgno_checkpoint_samples_its_latent_space(obs, tmp_path):
    kwargs = dict(resolution=[9, 9], latent_dim=4, width=8, depth=2, encoder_hidden=[8])
    torch.manual_seed(0)
    model = build("dgno", **kwargs)
    torch.save({"neurops": {"model": "dgno", "model_kwargs": kwargs, "forcing": 1.0, "schema_version": 1},
                "state_dict": {f"net.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "dgno.ckpt")
    post = tmp_path / "post_dgno.h5"
    assert main(["invert", "surrogate", "--obs", str(obs), "--ckpt", str(tmp_path / "dgno.ckpt"), "--out", str(post),
                 "--no-figure", "--particles", "5", *SHORT]) == 0
    r = read_posterior(post)
    assert r.method["posterior"] == "dgno-latent" and r.method["sampler"] == "pcnl"
    assert r.samples["latent"].shape == (80, 4) and r.method["model_error"]["n_pairs"] == 4


def test_a_hand_made_file_is_inverted(darcy, tmp_path):
    good = write_observation_file(tmp_path / "good.h5", n=9, values=np.array([0.01, 0.02]))
    assert main(["invert", "pde", "--obs", str(good), "--data", str(darcy), "--out",
                 str(tmp_path / "p.h5"), "--no-figure", *SHORT]) == 0


def test_posterior_file_is_understood_by_data_info(obs, tmp_path, capsys):
    post = tmp_path / "post.h5"
    assert main(["invert", "pde", "--obs", str(obs), "--out", str(post), "--no-figure", *SHORT]) == 0
    assert main(["data", "info", str(post)]) == 0 and main(["data", "check", str(post)]) == 0
    out = capsys.readouterr().out
    assert "posterior file" in out and json.loads(out.split("diagnostics: ")[1].splitlines()[0])["n_chains"] == 4
