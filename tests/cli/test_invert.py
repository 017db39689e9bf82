import json
import shutil

import h5py
import numpy as np
import pytest
import torch

from neurops.cli import main
from neurops.data.check import check_file
from neurops.data.generators.darcy import DarcyConfig, generate_darcy
from neurops.errors import DataError
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


def _dgno(path, forcing, a_likelihood="gaussian"):
    """A DGNO checkpoint for the 9 x 9 problem, trained (as its hyperparameters say) with ``forcing``: a smooth
    (lognormal) one, or with ``a_likelihood="bernoulli"`` a piecewise one of a in {5, 10}."""
    kwargs = dict(resolution=[9, 9], latent_dim=4, width=8, depth=2, encoder_hidden=[8], a_likelihood=a_likelihood)
    torch.manual_seed(0)
    model = build("dgno", **kwargs)
    torch.save({"neurops": {"model": "dgno", "model_kwargs": kwargs, "forcing": forcing, "schema_version": 1},
                "hyper_parameters": {"forcing": forcing},
                "state_dict": {f"net.{k}": v for k, v in model.state_dict().items()}}, path)
    return path


def test_dgno_checkpoint_samples_its_latent_space(obs, tmp_path):
    post = tmp_path / "post_dgno.h5"
    assert main(["invert", "surrogate", "--obs", str(obs), "--ckpt", str(_dgno(tmp_path / "dgno.ckpt", 1.0)), "--out",
                 str(post), "--no-figure", "--particles", "5", *SHORT]) == 0
    r = read_posterior(post)
    assert r.method["posterior"] == "dgno-latent" and r.method["sampler"] == "pcnl"
    assert r.samples["latent"].shape == (80, 4) and r.method["model_error"]["n_pairs"] == 4


def test_a_hand_made_file_is_inverted(darcy, tmp_path):
    good = write_observation_file(tmp_path / "good.h5", n=9, values=np.array([0.01, 0.02]))
    assert main(["invert", "pde", "--obs", str(good), "--data", str(darcy), "--out",
                 str(tmp_path / "p.h5"), "--no-figure", *SHORT]) == 0


def test_a_hand_made_file_without_its_problem_names_everything_missing_at_once(tmp_path, capsys):
    """Without --data, --forcing and --prior it used to ask for the forcing, and once that was given, for the prior."""
    hand = write_observation_file(tmp_path / "hand.h5", n=9, values=np.array([0.01, 0.02]))
    run = ["invert", "pde", "--obs", str(hand), "--out", str(tmp_path / "p.h5"), "--no-figure", *SHORT]
    assert main(run) == 2
    assert capsys.readouterr().err == (
        "neurops: error: invert pde needs the problem's forcing and prior of a: pass --data FILE (the Darcy data file "
        "the observations come from) or --forcing F and --prior '{\"coefficient\": \"lognormal\", \"resolution\": "
        "33, \"alpha\": 2, \"tau\": 3}'.\n")
    assert main([*run, "--prior", '{"resolution": 9}']) == 2
    assert capsys.readouterr().err == ("neurops: error: invert pde needs the problem's forcing: pass --data FILE (the "
                                       "Darcy data file the observations come from) or --forcing F.\n")
    assert main([*run, "--prior", '{"resolution": 9}', "--forcing", "1"]) == 0


def test_posterior_file_is_understood_by_data_info(obs, tmp_path, capsys):
    post = tmp_path / "post.h5"
    assert main(["invert", "pde", "--obs", str(obs), "--out", str(post), "--no-figure", *SHORT]) == 0
    assert main(["data", "info", str(post)]) == 0 and main(["data", "check", str(post)]) == 0
    out = capsys.readouterr().out
    assert "posterior file" in out and json.loads(out.split("diagnostics: ")[1].splitlines()[0])["n_chains"] == 4


@pytest.fixture
def inputs(darcy, obs, tmp_path):
    """Copies of the data, the observations (recording that data as their source) and a checkpoint in tmp_path."""
    shutil.copy(darcy, tmp_path / "d.h5")
    with h5py.File(shutil.copy(obs, tmp_path / "o.h5"), "a") as f:
        f.attrs["source"] = json.dumps({**json.loads(f.attrs["source"]), "file": str(tmp_path / "d.h5"),
                                        "file_relative": "d.h5"})
    (tmp_path / "c.ckpt").write_bytes(b"not read: refused before")
    return tmp_path


INPUT = "output {out} is also an input of this command ({out}); writing it would replace the data it reads: " \
        "choose another output path."


@pytest.mark.parametrize("args, message", [
    (["--out", "o.h5"], INPUT.format(out="o.h5")),
    (["--out", "d.h5", "--data", "d.h5"], INPUT.format(out="d.h5")),
    (["--out", "p.h5", "--figure", "o.h5"], INPUT.format(out="o.h5")),
    (["--out", "p.h5", "--figure", "c.ckpt"], INPUT.format(out="c.ckpt")),
    (["--out", "c.ckpt"], INPUT.format(out="c.ckpt")),
    (["--out", "h.h5", "--figure", "h.h5"], "--figure h.h5 is also the posterior file (--out); give the figure its "
                                            "own path, e.g. --figure h.png."),
    (["--out", "p.h5", "--figure", "e.txt"], "figure e.txt: matplotlib writes no '.txt' files; name it e.png (or "
                                             ".pdf, .svg: "),
])
@pytest.mark.parametrize("mode", ["pde", "surrogate"])
def test_outputs_never_replace_inputs_or_each_other(inputs, monkeypatch, capsys, mode, args, message):
    monkeypatch.chdir(inputs)
    if "c.ckpt" in args and mode == "pde":
        pytest.skip("invert pde reads no checkpoint")
    before = {p.name: p.read_bytes() for p in inputs.iterdir()}
    ckpt = ["--ckpt", "c.ckpt"] if mode == "surrogate" else []
    assert main(["invert", mode, "--obs", "o.h5", *ckpt, "--overwrite", *args, *SHORT]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"neurops: error: {message}") and len(err.splitlines()) == 1
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} == before


def test_the_data_file_of_the_observations_is_never_an_output(inputs, capsys):
    before = (inputs / "d.h5").read_bytes()
    assert main(["invert", "pde", "--obs", str(inputs / "o.h5"), "--out", str(inputs / "d.h5"), "--overwrite"]) == 2
    assert capsys.readouterr().err == f"neurops: error: {INPUT.format(out=inputs / 'd.h5')}\n"
    assert (inputs / "d.h5").read_bytes() == before


ONE_D = ["--prior", '{"coefficient": "lognormal", "resolution": 33, "ndim": 1}', "--forcing", "1"]


def _one_d(path):
    return write_observation_file(path, n=33, points=np.array([[0.25], [0.75]]), values=np.array([0.05, 0.06]),
                                  dims='["x"]', **{"coords/y": None})


def test_a_figure_that_cannot_be_drawn_is_refused_before_any_work(tmp_path, capsys):
    obs1 = _one_d(tmp_path / "obs1.h5")
    assert main(["invert", "pde", "--obs", str(obs1), "--out", str(tmp_path / "p.h5"), *ONE_D, *SHORT]) == 2
    assert capsys.readouterr().err == ("neurops: error: the posterior figure is drawn for 2-D problems and these "
                                       "observations are 1-D; pass --no-figure (the posterior file holds every "
                                       "result).\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obs1.h5"]
    assert main(["invert", "pde", "--obs", str(obs1), "--out", str(tmp_path / "p.h5"), "--no-figure", *ONE_D,
                 *SHORT]) == 0
    assert read_posterior(tmp_path / "p.h5").samples["a"].shape == (4 * 20, 33)


def test_a_failed_figure_leaves_no_posterior(obs, tmp_path, monkeypatch, capsys):
    import neurops.viz.posterior

    def fail(*args, **kwargs):
        raise DataError("the figure failed")

    monkeypatch.setattr(neurops.viz.posterior, "plot_posterior", fail)
    assert main(["invert", "pde", "--obs", str(obs), "--out", str(tmp_path / "p.h5"), *SHORT]) == 2
    assert capsys.readouterr().err == "neurops: error: the figure failed\n"
    assert list(tmp_path.iterdir()) == []  # neither the posterior nor a temporary file: the rerun starts afresh


@pytest.fixture(scope="module")
def fno(darcy, tmp_path_factory):
    return operator_checkpoint(darcy, tmp_path_factory.mktemp("fno") / "fno.ckpt")


def _model_error(obs, ckpt, out):
    assert main(["invert", "surrogate", "--obs", str(obs), "--ckpt", str(ckpt), "--out", str(out), "--no-figure",
                 "--prior", '{"max_wavenumber": 4}', *SHORT]) == 0
    return read_posterior(out).method["model_error"]


def test_the_observations_find_their_data_file_from_any_directory(darcy, fno, tmp_path, monkeypatch, capsys):
    (tmp_path / "run").mkdir()
    shutil.copy(darcy, tmp_path / "run" / "d.h5")
    monkeypatch.chdir(tmp_path / "run")
    assert main(["invert", "observe", "--data", "d.h5", "--n-obs", "12", "--out", "obs.h5"]) == 0
    with h5py.File("obs.h5") as f:
        source = json.loads(f.attrs["source"])
    assert (source["file"], source["file_relative"]) == (str(tmp_path / "run" / "d.h5"), "d.h5")
    here = _model_error("obs.h5", fno, "p1.h5")
    assert here["n_pairs"] == 4
    monkeypatch.chdir(tmp_path)  # elsewhere: the same model error
    assert _model_error("run/obs.h5", fno, "p2.h5") == here
    # moved together with its data (the absolute path is gone): found relative to the observation file
    (tmp_path / "run").rename(tmp_path / "moved")
    assert _model_error("moved/obs.h5", fno, "p3.h5") == here
    # a file written before observations recorded where their data are: relative to the observation file too
    with h5py.File("moved/obs.h5", "a") as f:
        f.attrs["source"] = json.dumps({**source, "file": "d.h5", "file_relative": None})
    assert _model_error("moved/obs.h5", fno, "p4.h5") == here


def test_model_error_auto_without_the_data_file_is_one_error(obs, fno, tmp_path, monkeypatch, capsys):
    lone = shutil.copy(obs, tmp_path / "obs.h5")
    with h5py.File(lone, "a") as f:
        f.attrs["source"] = json.dumps({**json.loads(f.attrs["source"]), "file": "gone.h5", "file_relative": None})
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["invert", "surrogate", "--obs", "obs.h5", "--ckpt", str(fno), "--out", "p.h5", *SHORT]) == 2
    assert capsys.readouterr().err == (
        "neurops: error: the data file gone.h5 recorded as the source of obs.h5 cannot be found (neither relative to "
        "the observation file nor from the current directory), so the surrogate's error statistics are unknown; pass "
        "--data FILE (the data file the observations come from) or --model-error off.\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obs.h5"]
    assert main(["invert", "surrogate", "--obs", "obs.h5", "--ckpt", str(fno), "--out", "p.h5", "--no-figure",
                 "--model-error", "off", *SHORT]) == 0
    assert read_posterior("p.h5").method["model_error"] is None


@pytest.mark.parametrize("name, message", [
    ("foo", "device 'foo' is not a torch device name (cpu, cuda, cuda:1, mps...); use --device cpu."),
    ("cuda", "device 'cuda' is not available here (torch finds no CUDA GPU); use --device cpu."),
], ids=["foo", "cuda"])
def test_a_device_this_machine_lacks_is_one_line_not_a_corrupt_checkpoint(obs, fno, name, message, tmp_path,
                                                                          monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["invert", "surrogate", "--obs", str(obs), "--ckpt", str(fno), "--out", str(tmp_path / "p.h5"),
                 "--device", name, *SHORT]) == 2
    assert capsys.readouterr().err == f"neurops: error: {message}\n" and list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def darcy10(tmp_path_factory):
    """The data of another problem than ``obs``'s: forcing 10 and piecewise coefficients."""
    path = tmp_path_factory.mktemp("darcy10") / "d10.h5"
    return generate_darcy(DarcyConfig(n_train=2, n_val=2, n_test=1, resolution=9, coefficient="piecewise",
                                      forcing=10.0, seed=0), path, workers=1, progress=False)


MADE = "neurops: error: the observations ({obs}) were made with "


@pytest.mark.parametrize("mode", ["pde", "surrogate"])
def test_data_of_another_problem_is_refused_unless_the_problem_is_stated(obs, darcy, darcy10, fno, mode, tmp_path,
                                                                         capsys):
    run = ["invert", mode, "--obs", str(obs), *(["--ckpt", str(fno)] if mode == "surrogate" else []), "--data",
           str(darcy10), "--no-figure", *SHORT]
    assert main([*run, "--out", str(tmp_path / "p.h5")]) == 2
    assert capsys.readouterr().err == (
        f"{MADE.format(obs=obs)}forcing 1.0 and coefficient 'lognormal', the data file {darcy10} with forcing 10.0 "
        f"and coefficient 'piecewise': they describe different problems. State the problem yourself (--forcing F and "
        f"--prior '{{\"coefficient\": ...}}'), or pass --data with the file they came from ({darcy}).\n")
    assert main([*run, "--out", str(tmp_path / "p.h5"), "--forcing", "1"]) == 2  # the coefficient still differs
    assert capsys.readouterr().err.startswith(f"{MADE.format(obs=obs)}coefficient 'lognormal', the data file ")
    assert list(tmp_path.iterdir()) == []
    # stated: the user's values win, with a note each
    stated = ["--forcing", "2", "--prior", '{"coefficient": "lognormal"}']
    assert main([*run, "--out", str(tmp_path / "p.h5"), *stated]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "note" in line]
    assert notes == [f"neurops: note: the observations ({obs}) were made with forcing 1.0, the data file {darcy10} "
                     "with forcing 10.0; using forcing 2.0 as given.",
                     f"neurops: note: the observations ({obs}) were made with coefficient 'lognormal', the data file "
                     f"{darcy10} with coefficient 'piecewise'; using coefficient 'lognormal' as given."]
    r = read_posterior(tmp_path / "p.h5")
    assert r.method["prior"]["coefficient"] == "lognormal"
    assert mode == "surrogate" or r.method["forward"]["forcing"] == 2.0


def test_a_forcing_other_than_the_observations_gets_a_note_where_the_data_agree(obs, darcy, tmp_path, capsys):
    """`invert pde --forcing 2` on observations made (as their data file) with forcing 1 used forcing 2 without a
    word; the note came only where the data file differed from the observations."""
    out = tmp_path / "p.h5"
    assert main(["invert", "pde", "--obs", str(obs), "--out", str(out), "--no-figure", "--forcing", "2",
                 *SHORT]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "note" in line]
    assert notes == [f"neurops: note: the observations ({obs}) were made with forcing 1.0; using forcing 2.0 as given."]
    assert read_posterior(out).method["forward"]["forcing"] == 2.0


def test_a_dgno_of_another_forcing_is_refused_unless_the_forcing_is_stated(obs, tmp_path, capsys):
    ckpt = _dgno(tmp_path / "dgno10.ckpt", 10.0)
    run = ["invert", "surrogate", "--obs", str(obs), "--ckpt", str(ckpt), "--out", str(tmp_path / "p.h5"),
           "--no-figure", "--particles", "5", *SHORT]
    assert main(run) == 2
    assert capsys.readouterr().err == (
        f"{MADE.format(obs=obs)}forcing 1.0, the DGNO checkpoint {ckpt} with forcing 10.0: they describe different "
        "problems. State the problem yourself (--forcing F), or pass --ckpt with a DGNO trained on their problem.\n")
    assert not (tmp_path / "p.h5").exists()
    assert main([*run, "--forcing", "1"]) == 0
    assert f"neurops: note: the observations ({obs}) were made with forcing 1.0, the DGNO checkpoint {ckpt} with " \
           "forcing 10.0; using forcing 1.0 as given." in capsys.readouterr().err


def test_piecewise_data_or_a_dgno_of_other_values_are_refused(tmp_path, capsys):
    """Observations of a in {3, 12} inverted with data of a in {1, 50} (or a DGNO decoding {5, 10}) ran to a
    posterior over the other values without a word."""
    config = dict(n_train=2, n_val=2, n_test=1, resolution=9, coefficient="piecewise", seed=0)
    darcy = generate_darcy(DarcyConfig(**config), tmp_path / "d.h5", workers=1, progress=False)
    other = generate_darcy(DarcyConfig(**config, a_low=1.0, a_high=50.0), tmp_path / "d50.h5", workers=1,
                           progress=False)
    obs = tmp_path / "obs.h5"
    assert main(["invert", "observe", "--data", str(darcy), "--n-obs", "12", "--out", str(obs)]) == 0
    ckpt = _dgno(tmp_path / "dgno.ckpt", 1.0, "bernoulli")
    run = ["--obs", str(obs), "--out", str(tmp_path / "p.h5"), "--no-figure", *SHORT]
    assert main(["invert", "pde", *run, "--data", str(other)]) == 2
    assert capsys.readouterr().err == (
        f"{MADE.format(obs=obs)}a_low 3.0 and a_high 12.0, the data file {other} with a_low 1.0 and a_high 50.0: they "
        "describe different problems. State the problem yourself (--prior '{\"a_low\": ..., \"a_high\": ...}'), or "
        f"pass --data with the file they came from ({darcy}).\n")
    assert main(["invert", "surrogate", *run, "--ckpt", str(ckpt), "--prior", '{"a_low": 5, "a_high": 10}']) == 2
    assert capsys.readouterr().err == (
        f"{MADE.format(obs=obs)}a_low 3.0 and a_high 12.0, the DGNO checkpoint {ckpt} with a_low 5.0 and a_high 10.0: "
        "they describe different problems, and no option changes its a_low and a_high; pass --ckpt with a DGNO "
        "trained on their problem.\n")
    assert not (tmp_path / "p.h5").exists()


@pytest.mark.parametrize("args, flags, them", [
    (["--space", "latent"], "--space only applies", "it"),  # it said '--space only apply ...: drop them'
    (["--physics-weight", "3", "--particles", "20"], "--physics-weight, --particles only apply", "them"),
], ids=["space", "physics"])
def test_dgno_options_for_another_operator_are_refused_not_ignored(obs, fno, args, flags, them, tmp_path, capsys):
    """An FNO checkpoint used to take --space latent and the DGNO physics settings and ignore them."""
    out = tmp_path / "p.h5"
    assert main(["invert", "surrogate", "--obs", str(obs), "--ckpt", str(fno), "--out", str(out), *args, *SHORT]) == 2
    assert capsys.readouterr().err == (f"neurops: error: {flags} to a DGNO checkpoint, and {fno} holds a fno, which "
                                       f"is sampled through the prior's coefficients: drop {them}.\n")
    assert list(tmp_path.iterdir()) == []
    assert main(["invert", "surrogate", "--obs", str(obs), "--ckpt", str(fno), "--out", str(out), "--space", "prior",
                 "--no-figure", *SHORT]) == 0  # what an operator checkpoint does anyway


@pytest.mark.parametrize("args, message", [
    (["observe", "--data", "{data}", "--n-obs", "12", "--snr-db", "1e6"], "snr_db 1e+06 is above 313.0 dB: "),
    (["observe", "--data", "{data}", "--n-obs", "12", "--snr-db", "-1000"], "snr_db -1000 is below -10.7 dB, "),
    (["observe", "--data", "{data}", "--n-obs", "12", "--seed", "-3"], "seed must be an integer between 0 "),
    (["pde", "--obs", "{obs}", "--seed", "99999999999999999999999", *SHORT], "seed must be an integer between 0 "),
    (["pde", "--obs", "{obs}", "--prior", '{{"tau": "x"}}', *SHORT], "prior setting 'tau' must be a finite number, "
                                                                     "got 'x' (str); "),
    (["pde", "--obs", "{obs}", "--prior", '{{"alpha": true}}', *SHORT], "prior setting 'alpha' must be a finite "
                                                                        "number, got True (bool); "),
    (["pde", "--obs", "{obs}", "--prior", '{{"resolution": "17"}}', *SHORT], "prior setting 'resolution' must be a "
                                                                             "whole number, got '17' (str); "),
    # the config's own error named its fields: n_samples >= 4 thin
    (["pde", "--obs", "{obs}", "--samples", "20", "--thin", "6"], "--samples must be at least 4 x --thin (24: 4 kept "
                                                                  "states per chain), got 20; pass --samples 24 or "
                                                                  "more, or a smaller --thin.\n"),
    (["pde", "--obs", "{obs}", "--samples", "0", "--thin", "1"], "--samples must be at least 4 x --thin (4: 4 kept "
                                                                 "states per chain), got 0; pass --samples 4 or "
                                                                 "more.\n"),
])
def test_bad_values_are_one_line_and_write_nothing(darcy, obs, tmp_path, capsys, args, message):
    # they used to be an OverflowError, ValueErrors and TypeErrors, or (-1000 dB, alpha true) taken silently
    args = [a.format(data=darcy, obs=obs) for a in args]
    assert main(["invert", *args, "--out", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"neurops: error: {message}") and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_an_operator_runs_on_the_grid_it_was_trained_on(obs, tmp_path, capsys):
    """Data solved on a finer grid (fine_factor 2: stored at 5 x 5, prior on 9 x 9): the operator trained on the
    5 x 5 pairs used to run on the prior's 9 x 9 grid, zero-shot and without a word."""
    data = generate_darcy(DarcyConfig(n_train=8, n_val=4, n_test=2, resolution=5, fine_factor=2, seed=0),
                          tmp_path / "d5.h5", workers=1, progress=False)
    ckpt = operator_checkpoint(data, tmp_path / "fno5.ckpt", model_kwargs={"modes": [2, 2], "width": 8,
                                                                           "n_layers": 2})
    obs5 = tmp_path / "obs5.h5"
    assert main(["invert", "observe", "--data", str(data), "--n-obs", "4", "--out", str(obs5)]) == 0
    post = tmp_path / "p.h5"
    assert main(["invert", "surrogate", "--obs", str(obs5), "--ckpt", str(ckpt), "--out", str(post), "--no-figure",
                 *SHORT]) == 0
    assert "note" not in capsys.readouterr().err
    r = read_posterior(post)
    assert r.method["forward"]["resolution"] == 5 and r.method["prior"]["resolution"] == 9
    # observations on the 9 x 9 grid need the prior's grid: the operator runs there, with a note
    assert main(["invert", "surrogate", "--obs", str(obs), "--ckpt", str(ckpt), "--out", str(tmp_path / "q.h5"),
                 "--no-figure", *SHORT]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "note" in line]
    assert notes == [f"neurops: note: {ckpt} was trained on a 5 x 5 grid and runs on the prior's 9 x 9 grid "
                     "(zero-shot); its model-error term is estimated on that grid."]
    assert read_posterior(tmp_path / "q.h5").method["forward"]["resolution"] is None


def test_model_error_auto_without_validation_pairs_says_the_term_is_left_out(fno, tmp_path, capsys):
    """A data file without a val split used to leave the model-error term out without a word."""
    data = generate_darcy(DarcyConfig(n_train=2, n_val=0, n_test=2, resolution=9, seed=0), tmp_path / "d.h5",
                          workers=1, progress=False)
    obs = tmp_path / "obs.h5"
    assert main(["invert", "observe", "--data", str(data), "--n-obs", "6", "--out", str(obs)]) == 0
    run = ["invert", "surrogate", "--obs", str(obs), "--ckpt", str(fno), "--no-figure", *SHORT]
    assert main([*run, "--out", str(tmp_path / "p.h5")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "note" in line]
    assert notes == [f"neurops: note: the posterior has no model-error term: {data} has no val split of 2 or more "
                     "pairs a -> u; --model-error off leaves it out without this note."]
    assert read_posterior(tmp_path / "p.h5").method["model_error"] is None
    assert main([*run, "--out", str(tmp_path / "q.h5"), "--model-error", "off"]) == 0
    assert "note" not in capsys.readouterr().err


def _strict(text):
    """``json.loads`` that refuses the non-standard Infinity and NaN, as jq and JavaScript do."""
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_the_summary_line_is_strict_json_with_null_for_non_finite_numbers(tmp_path, capsys):
    """An R-hat of inf (or a NaN metric) was printed as bare Infinity / NaN, which jq and JavaScript reject."""
    from neurops.cli.invert import _write
    from neurops.inverse.inversion import PosteriorResult

    result = PosteriorResult(coords={"x": np.linspace(0, 1, 3)}, summary={"a_mean": np.zeros(3)}, samples={},
                             observations={}, diagnostics={"acceptance": 0.25, "rhat_max": float("inf"),
                                                           "ess_min": float("nan")},
                             predictive={}, metrics={"rel_l2_a": 0.5}, method={"sampler": "pcn"},
                             info={"seconds": 1.0})
    assert _write(lambda: result, tmp_path / "obs.h5", tmp_path / "post.h5", (None, None), False) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"wrote posterior to {tmp_path / 'post.h5'}: ")
    assert _strict(line.split(": ", 1)[1]) == {"sampler": "pcn", "seconds": 1.0, "acceptance": 0.25,
                                               "rhat_max": None, "ess_min": None, "rel_l2_a": 0.5}
