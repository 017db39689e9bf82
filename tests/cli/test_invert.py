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
from tests.conftest import operator_checkpoint

SHORT = ["--burn", "20", "--samples", "40", "--thin", "2", "--predictive", "5"]


@pytest.fixture(scope="module")
def darcy(tmp_path_factory):
    path = tmp_path_factory.mktemp("darcy") / "d.h5"
    return generate_darcy(DarcyConfig(n_train=8, n_val=4, n_test=2, resolution=9, coefficient="lognormal", seed=0),
                          path, workers=1, progress=False)


@pytest.fixture(scope="module")
def obs(darcy, tmp_path_factory):
    out = tmp_path_factory.mktemp("obs") / "obs.h5"
    assert main(["invert", "--make-obs", "--data", str(darcy), "--index", "1", "--n-obs", "12", "--seed", "3",
                 "--out", str(out)]) == 0
    return out


def test_reference_inversion_through_the_true_solver(obs, tmp_path, capsys):
    with h5py.File(obs) as f:
        assert f.attrs["kind"] == "observations" and f["points"].shape == (12, 2) and "generator" in f.attrs
    post = tmp_path / "post.h5"
    assert main(["invert", "--obs", str(obs), "--forward", "pde", "--out", str(post), *SHORT]) == 0
    out = capsys.readouterr().out
    assert "wrote posterior" in out and "true_solver_chi2_per_obs" in out
    assert check_file(post) == [] and post.with_suffix(".png").is_file()
    r = read_posterior(post)
    assert r.method["forward"]["forward"] == "pde" and r.method["sampler"] == "gpcn"
    assert r.samples["a"].shape == (4 * 20, 9, 9) and r.predictive["checked"]
    # an existing output is not replaced without --overwrite
    assert main(["invert", "--obs", str(obs), "--forward", "pde", "--out", str(post)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_surrogate_inversion_with_an_operator_checkpoint(darcy, obs, tmp_path, capsys):
    ckpt = operator_checkpoint(darcy, tmp_path / "fno.ckpt")
    post = tmp_path / "post_fno.h5"
    assert main(["invert", "--obs", str(obs), "--ckpt", str(ckpt), "--out", str(post), "--no-figure",
                 "--prior", '{"max_wavenumber": 4}', *SHORT]) == 0
    r = read_posterior(post)
    assert r.method["forward"] == {"forward": "surrogate", "model": "fno", "resolution": None}
    assert r.method["model_error"]["n_pairs"] == 4  # the data file's val split
    assert r.method["prior"]["max_wavenumber"] == 4 and not post.with_suffix(".png").exists()
    assert r.predictive["checked"]  # through the true solver, not the surrogate
    assert "neurops: warning:" in capsys.readouterr().err  # an untrained surrogate fails the checks
    post_off = tmp_path / "post_off.h5"
    assert main(["invert", "--obs", str(obs), "--ckpt", str(ckpt), "--out", str(post_off), "--no-figure",
                 "--model-error", "off", *SHORT]) == 0
    assert read_posterior(post_off).method["model_error"] is None


def test_dgno_checkpoint_samples_its_latent_space(obs, tmp_path):
    kwargs = dict(resolution=[9, 9], latent_dim=4, width=8, depth=2, encoder_hidden=[8])
    torch.manual_seed(0)
    model = build("dgno", **kwargs)
    torch.save({"neurops": {"model": "dgno", "model_kwargs": kwargs, "forcing": 1.0, "schema_version": 1},
                "state_dict": {f"net.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "dgno.ckpt")
    post = tmp_path / "post_dgno.h5"
    assert main(["invert", "--obs", str(obs), "--ckpt", str(tmp_path / "dgno.ckpt"), "--out", str(post),
                 "--no-figure", "--particles", "5", *SHORT]) == 0
    r = read_posterior(post)
    assert r.method["posterior"] == "dgno-latent" and r.method["sampler"] == "pcnl"
    assert r.samples["latent"].shape == (80, 4) and r.method["model_error"]["n_pairs"] == 4


def _observation_file(path, **changes):
    x = np.linspace(0, 1, 9)
    fields = {"points": np.array([[0.25, 0.5], [0.75, 0.25]]), "values": np.array([0.01, 0.02]),
              "noise_std": 0.001, "dims": '["x", "y"]', "coords/x": x, "coords/y": x, **changes}
    with h5py.File(path, "w") as f:
        for key, value in fields.items():
            if value is None:
                continue
            if key in ("noise_std", "dims"):
                f.attrs[key] = value
            else:
                f.create_dataset(key, data=value)
    return path


BAD_OBSERVATIONS = [
    ({"dims": "[x, y"}, "not valid JSON"),
    ({"dims": '["x", "z"]'}, "coords/z"),
    ({"noise_std": None}, "noise_std"),
    ({"values": np.array([b"1", b"2"])}, "must be numbers"),
    ({"points": np.array([[5.0, -3.0], [0.5, 0.5]])}, "outside the domain"),
]


@pytest.mark.parametrize("changes,cause", BAD_OBSERVATIONS)
def test_bad_observation_files_give_one_error_line(changes, cause, darcy, tmp_path, capsys):
    bad = _observation_file(tmp_path / "bad.h5", **changes)
    out = tmp_path / "post.h5"
    assert main(["invert", "--obs", str(bad), "--forward", "pde", "--data", str(darcy), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("neurops: error:") and cause in err[0]
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_a_hand_made_file_is_inverted_and_a_truncated_one_refused(darcy, tmp_path, capsys):
    good = _observation_file(tmp_path / "good.h5")
    assert main(["invert", "--obs", str(good), "--forward", "pde", "--data", str(darcy), "--out",
                 str(tmp_path / "p.h5"), "--no-figure", *SHORT]) == 0
    data = good.read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 2])
    capsys.readouterr()
    assert main(["invert", "--obs", str(tmp_path / "cut.h5"), "--forward", "pde", "--out",
                 str(tmp_path / "q.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("neurops: error:")


@pytest.mark.parametrize("args,cause", [
    (["--forward", "pde"], "--obs"),
    (["--obs", "OBS"], "--ckpt"),
    (["--obs", "OBS", "--forward", "pde", "--prior", "{bad"], "--prior is not valid JSON"),
    (["--obs", "OBS", "--forward", "pde", "--prior", '{"tua": 3}'], "unknown prior setting"),
    (["--obs", "OBS", "--forward", "pde", "--chains", "1"], "--chains must be >= 2"),
    (["--obs", "OBS", "--ckpt", "missing.ckpt"], "does not exist"),
    (["--make-obs"], "--make-obs needs --data"),
])
def test_bad_arguments_give_one_error_line(args, cause, obs, tmp_path, capsys):
    args = [str(obs) if a == "OBS" else str(tmp_path / a) if a.endswith(".ckpt") else a for a in args]
    assert main(["invert", *args, "--out", str(tmp_path / "p.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("neurops: error:") and cause in err[0]
    assert not (tmp_path / "p.h5").exists()


def test_observations_of_too_many_points_are_refused(darcy, tmp_path, capsys):
    assert main(["invert", "--make-obs", "--data", str(darcy), "--n-obs", "500", "--out", str(tmp_path / "o.h5")]) == 2
    assert "n_obs must be between" in capsys.readouterr().err


def test_posterior_file_is_understood_by_data_info(obs, tmp_path, capsys):
    post = tmp_path / "post.h5"
    assert main(["invert", "--obs", str(obs), "--forward", "pde", "--out", str(post), "--no-figure", *SHORT]) == 0
    assert main(["data", "info", str(post)]) == 0 and main(["data", "check", str(post)]) == 0
    out = capsys.readouterr().out
    assert "posterior file" in out and json.loads(out.split("diagnostics: ")[1].splitlines()[0])["n_chains"] == 4
