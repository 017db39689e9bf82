"""Tests of `neurops dsr fit|evaluate|analyze` (neurops/cli/dsr.py); `dsr fit` is `neurops fit`."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import matplotlib.image
import pytest
import yaml

from neurops.checkpoints import load
from neurops.cli import main
from neurops.cli.dsr import evaluate_hint
from neurops.cli.lightning_config import validate_config
from neurops.configs import available_configs, resolve_config
from neurops.data.generators import get_generator
from neurops.dynamics.evaluate import read_series
from neurops.errors import ConfigError
from neurops.metrics.dsr import prediction_error


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("dsr_cli")
    spec = get_generator("lorenz63")
    data = spec.fn(spec.make_config(n_train=1, n_val=1, n_test=1, n_steps=1000, dt=0.02, substeps=4,
                                    transient=10.0, standardize=True), tmp / "l63.h5", progress=False)
    cfg = tmp / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(dsr_config(data, tmp / "run")))
    assert main(["dsr", "fit", "--config", str(cfg), "--trainer.max_epochs", "2"]) == 0
    ckpt = tmp / "run" / "checkpoints" / "best.ckpt"
    assert ckpt.is_file()
    return data, ckpt, tmp


def dsr_config(data: Path, root: Path) -> dict:
    """A tiny version of the shipped dsr_lorenz63 config (same callbacks and classes)."""
    config = yaml.safe_load(resolve_config("dsr_lorenz63").read_text())
    config["trainer"].update({"default_root_dir": str(root), "max_epochs": 1, "check_val_every_n_epoch": 1,
                              "enable_progress_bar": False, "logger": False})
    config["model"]["init_args"].update({"model": "alrnn", "model_kwargs": {"latent_dim": 4, "n_relu": 2},
                                         "training": "agtf", "val_gen_length": None})
    config["data"]["init_args"].update({"path": str(data), "seq_len": 20, "batch_size": 4, "batches_per_epoch": 3,
                                        "val_length": 500})
    return config


def test_fit_hint_points_at_the_held_out_test_split(trained, tmp_path: Path) -> None:
    import numpy as np

    from neurops.data.series_import import import_series

    data, ckpt, _ = trained
    assert evaluate_hint(ckpt, data).endswith(f"--data {data} --split test")
    np.save(tmp_path / "s.npy", np.random.default_rng(0).normal(size=(100, 3)))
    no_test = import_series(tmp_path / "s.npy", dt=1.0, out=tmp_path / "s.h5", test_fraction=0.0)
    assert "has no test split" in evaluate_hint(ckpt, no_test)


def test_last_checkpoint_holds_the_final_state(trained, capsys: pytest.CaptureFixture) -> None:
    """``last.ckpt`` is the state after the last epoch, also when that epoch was not validated."""
    import torch

    data, _, tmp = trained
    config = dsr_config(data, tmp / "run_last")
    config["trainer"].update({"max_epochs": 3, "check_val_every_n_epoch": 2})
    cfg = tmp / "cfg_last.yaml"
    cfg.write_text(yaml.safe_dump(config))
    assert main(["fit", "--config", str(cfg)]) == 0
    best = tmp / "run_last" / "checkpoints" / "best.ckpt"
    assert f"neurops dsr evaluate --ckpt {best} --data {data} --split test" in capsys.readouterr().out
    steps = {name: torch.load(tmp / "run_last" / "checkpoints" / name, map_location="cpu",
                              weights_only=True)["global_step"] for name in ("best.ckpt", "last.ckpt")}
    assert steps == {"best.ckpt": 2 * 3, "last.ckpt": 3 * 3}  # validated after epoch 2 of 3; 3 batches each


def test_evaluate_prints_model_and_data_metrics(trained, capsys: pytest.CaptureFixture) -> None:
    data, ckpt, tmp = trained
    out_json = tmp / "eval.json"
    args = ["dsr", "evaluate", "--ckpt", str(ckpt), "--data", str(data), "--reference-split", "val", "--starts", "3",
            "--lyapunov-steps", "500", "--lyapunov-starts", "2", "--json", str(out_json)]
    assert main(args) == 0
    out = capsys.readouterr().out
    for label in ("D_stsp", "D_H", "PE(20)", "lambda_max", "3 initial conditions", "spread"):
        assert label in out
    assert "not held-out numbers" not in out  # the test split
    res = json.loads(out_json.read_text())
    assert res["floor"]["lambda_max"] == pytest.approx(0.9, abs=0.25)  # true Lorenz Jacobian, 20 time units
    assert res["floor"]["d_stsp"] is not None
    # PE(20) is the model's 20-step prediction error over the test split (the split the command evaluates)
    net = load(ckpt, "dynamics")[1].net.double()
    assert res["models"][0]["pe"] == pytest.approx(prediction_error(net, read_series(data, "test"), 20), rel=1e-9)
    model = res["models"][0]
    assert len(model["per_start"]["d_stsp"]) == 3 and len(model["per_start"]["lambda_max"]) == 2
    assert sum(model["verdict"].values()) == 3 and res["settings"]["n_bins"] == 30
    # an existing --json file is refused (before any work) unless --overwrite
    out_json.write_text("my notes")
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err and out_json.read_text() == "my notes"
    assert main([*args, "--overwrite"]) == 0 and json.loads(out_json.read_text())["split"] == "test"


def _decaying_checkpoint(path: Path, data: Path, radius: float = 0.9) -> Path:
    """A hand-built model whose orbits spiral into a fixed point (``radius`` > 1: out to infinity), saved as a
    DynamicsTask checkpoint."""
    import math

    import lightning as L
    import torch

    from neurops.data.datamodule import DynamicsDataModule
    from neurops.tasks.dynamics import DynamicsTask

    task = DynamicsTask(model="alrnn", model_kwargs={"obs_dim": 3, "latent_dim": 3, "n_relu": 0})
    trainer = L.Trainer(max_epochs=0, logger=False, enable_progress_bar=False, enable_model_summary=False,
                        enable_checkpointing=False, default_root_dir=path.parent)
    trainer.fit(task, datamodule=DynamicsDataModule(data, seq_len=20, batch_size=2, batches_per_epoch=1))
    with torch.no_grad():
        c, s = radius * math.cos(0.3), radius * math.sin(0.3)
        task.net.A.zero_()
        task.net.W.copy_(torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 0.5]]))
        task.net.h.zero_()
    trainer.save_checkpoint(path)
    return path


def test_evaluate_on_a_split_the_fit_used_says_so(trained, capsys: pytest.CaptureFixture) -> None:
    data, ckpt, _ = trained
    for split, role in (("train", "trained on"), ("val", "selected its checkpoints with")):
        assert main(["dsr", "evaluate", "--ckpt", str(ckpt), "--data", str(data), "--split", split,
                     "--reference-split", "test", "--starts", "1", "--lyapunov-steps", "100",
                     "--lyapunov-starts", "1"]) == 0
        out = capsys.readouterr().out
        assert f"note: split '{split}' is the one a fit {role}: these are not held-out numbers" in out


def test_evaluate_floor_of_a_split_against_itself_is_zero(trained, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """--reference-split equal to --split printed '-' as the data floor, a reference split the file lacks too,
    both without a word (the missing one is now refused before any model is evaluated)."""
    data, ckpt, _ = trained
    args = ["dsr", "evaluate", "--ckpt", str(ckpt), "--data", str(data), "--starts", "1", "--lyapunov-steps", "100",
            "--lyapunov-starts", "1"]
    assert main([*args, "--reference-split", "test", "--json", str(tmp_path / "self.json")]) == 0
    out = capsys.readouterr().out
    floor = json.loads((tmp_path / "self.json").read_text())["floor"]
    assert floor["d_stsp"] == pytest.approx(0.0, abs=1e-12) and floor["d_h"] == pytest.approx(0.0, abs=1e-12)
    assert "note: the data floor compares split 'test' with itself: D_stsp and D_H are 0 by construction" in out
    from neurops.dynamics import evaluate

    monkeypatch.setattr(evaluate, "_evaluate_members", lambda *a, **k: pytest.fail("evaluated before the check"))
    assert main([*args, "--reference-split", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"neurops: error: {data} has no split 'nope' to compute the data floor with (--reference-split); "
                   "it has ['test', 'train', 'val']."]


def test_evaluate_json_never_replaces_an_input_or_a_folder(trained, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """--json CKPT --overwrite replaced the checkpoint with the evaluation; --json FOLDER failed after all the work
    with a hint to 'data.h5'."""
    import shutil

    from neurops.dynamics import evaluate

    data, ckpt, _ = trained
    ckpt = Path(shutil.copy(ckpt, tmp_path / "model.ckpt"))
    before = ckpt.read_bytes()
    monkeypatch.setattr(evaluate, "_evaluate_members", lambda *a, **k: pytest.fail("evaluated before the check"))
    args = ["dsr", "evaluate", "--ckpt", str(ckpt), "--data", str(data)]
    for target in (ckpt, data):
        assert main([*args, "--json", str(target), "--overwrite"]) == 2
        assert capsys.readouterr().err.strip() == (f"neurops: error: output {target} is also an input of this command "
                                                    f"({target}); writing it would replace the data it reads: choose "
                                                    "another output path.")
    assert ckpt.read_bytes() == before
    (tmp_path / "out").mkdir()
    assert main([*args, "--json", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == (f"neurops: error: --json {tmp_path / 'out'} is a folder; give a file "
                                               f"name (e.g. {tmp_path / 'out' / 'eval.json'}).")


def test_evaluate_flags_a_collapsed_model_among_several(trained, capsys: pytest.CaptureFixture) -> None:
    data, ckpt, tmp = trained
    decaying = _decaying_checkpoint(tmp / "decaying.ckpt", data)
    assert main(["dsr", "evaluate", "--ckpt", str(ckpt), str(decaying), "--data", str(data), "--starts", "2",
                 "--lyapunov-steps", "300", "--lyapunov-starts", "1", "--json", str(tmp / "two.json")]) == 0
    out = capsys.readouterr().out
    res = json.loads((tmp / "two.json").read_text())
    assert res["models"][1]["verdict"] == {"collapsed to a fixed point": 2}
    assert "model 1       collapsed to a fixed point (2/2 starts)" in out and "all models" in out
    warning = next(line for line in out.splitlines() if line.startswith("WARNING: collapsed to a fixed point: "))
    assert warning.endswith("model 1") and 1 in res["verdicts"]["collapsed to a fixed point"]
    assert res["models"][1]["lambda_max"] == pytest.approx(math.log(0.9) / 0.02, rel=0.03)  # per time unit
    assert max(res["models"][1]["spread"]) < 1e-6 and res["summary"]["d_stsp"]["n"] == 2


def test_evaluate_says_when_a_series_is_too_short(trained, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import numpy as np

    from neurops.data.series_import import import_series

    _, ckpt, _ = trained
    np.save(tmp_path / "short.npy", np.random.default_rng(0).normal(size=(400, 3)))
    short = import_series(tmp_path / "short.npy", dt=0.02, out=tmp_path / "short.h5", val_fraction=0.0,
                          test_fraction=0.18)  # a 72-point test split
    assert main(["dsr", "evaluate", "--ckpt", str(ckpt), "--data", str(short), "--lyapunov-steps", "100",
                 "--pe-steps", "80"]) == 0
    out = capsys.readouterr().out
    assert "T = 72 points" in out
    assert "note: D_H: the power spectrum of 72 points has 37 frequency bins" in out
    assert "note: D_stsp: the 72 test points fill" in out and "note: PE(80) needs more than 80" in out


def _not_json(constant: str) -> None:
    raise AssertionError(f"{constant} is not JSON (jq and JavaScript refuse it): write null")


def test_analyze_writes_tables_and_figures(trained, capsys: pytest.CaptureFixture) -> None:
    data, ckpt, tmp = trained
    assert main(["dsr", "analyze", "--ckpt", str(ckpt), "--data", str(data), "--out", str(tmp / "an"),
                 "--steps", "3000", "--max-period", "2"]) == 0
    out = capsys.readouterr().out
    assert "fixed points" in out and "linear subregions visited" in out
    report = json.loads((tmp / "an" / "analysis.json").read_text(), parse_constant=_not_json)  # strict JSON
    assert report["code_bits"] == 2 and 1 <= report["regions_visited"] <= 4
    assert len(report["fixed_points"]) == 4  # 2^P regions, each with a real or virtual fixed point
    # the test split (1000 points) is shorter than the orbit (3000 steps): the spectra compare 1000 of each
    for name in ("attractor", "power_spectra", "symbolic_graph"):  # drawn PNGs (the drawing: tests/viz)
        png = matplotlib.image.imread(report["figures"][name])
        assert png.ndim == 3 and min(png.shape[:2]) >= 300 and png.std() > 0.05


def test_analyze_says_when_the_model_collapsed(trained, capsys: pytest.CaptureFixture) -> None:
    """The text of `dsr analyze` read alike for a collapsed and a good model (only the figure said 'collapsed')."""
    data, _, tmp = trained
    decaying = _decaying_checkpoint(tmp / "decaying_an.ckpt", data)
    assert main(["dsr", "analyze", "--ckpt", str(decaying), "--data", str(data), "--out", str(tmp / "an_dec"),
                 "--steps", "400", "--max-period", "0"]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert line.startswith("orbit: collapsed to a fixed point; spread ")
    assert line.endswith("(std per variable over its second half; data [test]: "
                         + " ".join(f"{v:.3g}" for v in read_series(data, "test", 400).std(axis=0)) + ")")
    report = json.loads((tmp / "an_dec" / "analysis.json").read_text(), parse_constant=_not_json)["orbit"]
    assert report["verdict"] == "collapsed to a fixed point" and max(report["spread"]) < 1e-6


def test_analyze_of_a_diverging_model_writes_strict_json(trained, capsys: pytest.CaptureFixture) -> None:
    """A diverged orbit has no spread (NaN): analysis.json said `NaN`, which jq and JavaScript refuse; now null."""
    data, _, tmp = trained
    growing = _decaying_checkpoint(tmp / "growing_an.ckpt", data, radius=1.1)
    assert main(["dsr", "analyze", "--ckpt", str(growing), "--data", str(data), "--out", str(tmp / "an_grow"),
                 "--steps", "400", "--max-period", "0"]) == 0
    report = json.loads((tmp / "an_grow" / "analysis.json").read_text(), parse_constant=_not_json)["orbit"]
    assert report["verdict"] == "diverged" and report["spread"] == [None, None, None]


def test_analyze_keeps_an_earlier_analysis(trained, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Each checkpoint gets its own default folder; an earlier analysis is refused before any work, unless
    --overwrite, which also removes the spectra that a run without data does not draw."""
    data, ckpt, _ = trained
    last = tmp_path / "last.ckpt"
    shutil.copy(ckpt.parent / "last.ckpt", last)
    shutil.copy(ckpt, tmp_path / "best.ckpt")
    quick = ["--steps", "300", "--max-period", "2"]
    for name in ("best", "last"):
        assert main(["dsr", "analyze", "--ckpt", str(tmp_path / f"{name}.ckpt"), "--data", str(data), *quick]) == 0
    first = (tmp_path / "last_analysis" / "analysis.json").read_text()
    assert json.loads(first)["checkpoint"] == str(last)
    assert json.loads((tmp_path / "best_analysis" / "analysis.json").read_text())["checkpoint"].endswith("best.ckpt")
    pngs = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "last_analysis").glob("*.png")}
    assert set(pngs) == {"attractor.png", "power_spectra.png", "symbolic_graph.png"}
    capsys.readouterr()

    assert main(["dsr", "analyze", "--ckpt", str(last), "--data", str(data), "--seed", "3", *quick]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("neurops: error: ") and "already holds an earlier analysis" in err
    assert "--overwrite" in err and len(err.splitlines()) == 1
    assert (tmp_path / "last_analysis" / "analysis.json").read_text() == first  # untouched
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "last_analysis").glob("*.png")} == pngs

    assert main(["dsr", "analyze", "--ckpt", str(last), "--out", str(last), *quick]) == 2
    assert "is a file; analyze writes a folder" in capsys.readouterr().err

    assert main(["dsr", "analyze", "--ckpt", str(last), "--seed", "3", "--overwrite", *quick]) == 0  # no data
    report = json.loads((tmp_path / "last_analysis" / "analysis.json").read_text())
    assert set(report["figures"]) == {"attractor", "symbolic_graph"}
    assert sorted(p.name for p in (tmp_path / "last_analysis").iterdir()) == [
        "analysis.json", "attractor.png", "symbolic_graph.png"]


def test_default_analysis_folders_differ_by_checkpoint_and_member() -> None:
    from neurops.cli.analysis import default_analysis_folder

    ckpt = Path("runs/x/checkpoints/last.ckpt")
    folders = {default_analysis_folder(ckpt), default_analysis_folder(ckpt.with_name("best.ckpt")),
               default_analysis_folder(ckpt, 0), default_analysis_folder(ckpt, 1),
               default_analysis_folder(ckpt, 1, "final")}
    assert len(folders) == 5 and all(f.parent == ckpt.parent for f in folders)
    assert default_analysis_folder(ckpt, 1, "final").name == "last_analysis_member1_final"


def test_analysis_prints_region_codes_in_full() -> None:
    from neurops.dynamics.analyze import format_analysis

    codes = ["1" * 20 + "0", "1" * 20 + "1"]  # differ only in the 21st bit
    rep = {"model": "m", "regions_visited": 2, "code_bits": 21, "lambda_max": 0.1,
           "regions": [{"code": c, "frequency": 0.5} for c in codes],
           "fixed_points": [{"region": codes[1], "real": True, "kind": "saddle", "max_abs_eigenvalue": 1.5,
                             "observed": [0.0]}],
           "cycles": {}, "topological_entropy": {"spectral": 0.0, "words_8": 0.0}, "figures": {}}
    text = format_analysis(rep)
    assert all(c in text for c in codes)


def test_shipped_configs_are_lightning_configs_of_the_dynamics_task() -> None:
    names = [n for n in available_configs() if n.startswith("dsr_")]
    assert {"dsr_lorenz63", "dsr_ecg", "dsr_lorenz63_alrnn", "dsr_rossler_alrnn"} <= set(names)
    for name in names:
        validate_config(resolve_config(name))
        config = yaml.safe_load(resolve_config(name).read_text())
        assert config["model"]["class_path"] == "neurops.tasks.DynamicsTask"
        assert config["model"]["init_args"]["model"] in ("clipped_shplrnn", "alrnn")
        callbacks = [c["class_path"].rpartition(".")[2] for c in config["trainer"]["callbacks"]]
        assert callbacks == ["BestCheckpoint", "LastCheckpoint"]


def test_bad_configs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    old = tmp_path / "old.yaml"  # the dialect of `neurops dsr fit` before it became `neurops fit`
    old.write_text(yaml.safe_dump({"seed": 0, "out": "runs/x", "data": {"path": "x.h5"}, "task": {"model": "alrnn"}}))
    with pytest.raises(ConfigError, match="old `neurops dsr fit` dialect"):
        validate_config(old)
    assert main(["dsr", "fit", "--config", str(old)]) == 2
    assert "old `neurops dsr fit` dialect" in capsys.readouterr().err
    assert main(["dsr", "fit", "--config", "no_such_config"]) == 2
    assert "neither a file" in capsys.readouterr().err
    assert main(["dsr", "evaluate", "--ckpt", str(tmp_path / "none.ckpt"), "--data", "x.h5"]) == 2


def test_seed_study_through_fit_evaluate_and_analyze(trained, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`dsr fit --model.seeds [...]` trains an ensemble; evaluate reports every member; analyze takes one."""
    data, _, _ = trained
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(dsr_config(data, tmp_path / "run")))
    assert main(["dsr", "fit", "--config", str(cfg), "--trainer.max_epochs", "2", "--model.seeds", "[4, 7]"]) == 0
    out = capsys.readouterr().out
    assert "ensemble of 2 members" in out and "member 1 (seed 7)" in out and "median" in out
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert main(["dsr", "evaluate", "--ckpt", str(last), "--data", str(data), "--starts", "2",
                 "--lyapunov-steps", "200", "--lyapunov-starts", "1", "--pe-steps", "5", "--json",
                 str(tmp_path / "ev.json")]) == 0
    out = capsys.readouterr().out
    assert "seed 4" in out and "seed 7" in out and "all models" in out and "best state" in out
    res = json.loads((tmp_path / "ev.json").read_text())
    assert [m["seed"] for m in res["models"]] == [4, 7]
    assert main(["dsr", "analyze", "--ckpt", str(last), "--data", str(data), "--steps", "400"]) == 2
    assert "choose one with --member" in capsys.readouterr().err
    assert main(["dsr", "analyze", "--ckpt", str(last), "--data", str(data), "--steps", "400", "--member", "1",
                 "--out", str(tmp_path / "an")]) == 0
    assert (tmp_path / "an" / "analysis.json").is_file()


def test_evaluate_settings_reach_the_protocol(trained, capsys: pytest.CaptureFixture) -> None:
    """--bins, --smoothing, --warmup, --orbit-length, --starts, --lyapunov-* and --max-length give the numbers of
    evaluate_reconstruction with those settings, which differ from the defaults' numbers."""
    from neurops.metrics.dsr import evaluate_reconstruction

    data, ckpt, tmp = trained
    out = tmp / "settings.json"
    assert main(["dsr", "evaluate", "--ckpt", str(ckpt), "--data", str(data), "--bins", "10", "--smoothing", "2",
                 "--warmup", "0.5", "--orbit-length", "1200", "--starts", "2", "--lyapunov-steps", "300",
                 "--lyapunov-starts", "1", "--max-length", "800", "--json", str(out)]) == 0
    assert "T = 800 points" in capsys.readouterr().out
    got = json.loads(out.read_text())["models"][0]
    net = load(ckpt, "dynamics")[1].net.double()
    x = read_series(data, "test", 800)
    kwargs = {"dt": 0.02, "n_starts": 2, "lyapunov_steps": 300, "lyapunov_starts": 1, "orbit_length": 1200}
    want = evaluate_reconstruction(net, x, n_bins=10, smoothing=2.0, warmup_fraction=0.5, **kwargs)
    default = evaluate_reconstruction(net, x, **kwargs)
    for key in ("d_stsp", "d_h", "lambda_max"):
        assert got[key] == pytest.approx(want[key], rel=1e-9)
    assert got["d_stsp"] != pytest.approx(default["d_stsp"]) and got["d_h"] != pytest.approx(default["d_h"])
    assert got["per_start"]["start"] == [0, 400]  # two initial conditions spread over the 800 points
    assert main(["dsr", "evaluate", "--ckpt", str(ckpt), "--data", str(data), "--warmup", "1000"]) == 2
    assert "fraction of the test length T, not a number of steps" in capsys.readouterr().err


def test_neurops_test_on_a_dsr_run_names_the_dsr_commands(trained, capsys: pytest.CaptureFixture) -> None:
    """DynamicsTask has no test step: `neurops test` is one error line (it was Lightning's traceback), and the
    hint after `fit` no longer offers it."""
    _, ckpt, tmp = trained
    assert main(["test", "--config", str(tmp / "cfg.yaml"), "--ckpt_path", str(ckpt)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("neurops: error: DynamicsTask has no test step")
    assert "neurops dsr evaluate --ckpt CKPT" in err[0]
    from neurops.checkpoints import KINDS

    assert "neurops test" not in KINDS["neurops.tasks.dynamics.DynamicsTask"].commands


@pytest.mark.parametrize("command", ["analyze", "evaluate"])
def test_a_negative_seed_is_one_line(command, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # numpy's ValueError "expected non-negative integer" used to come as a traceback
    out = ["--out", str(tmp_path / "out")] if command == "analyze" else ["--data", "d.h5"]
    assert main(["dsr", command, "--ckpt", "m.ckpt", *out, "--seed", "-3"]) == 2
    assert capsys.readouterr().err == ("neurops: error: seed must be an integer between 0 and 2**63 - 1 "
                                       "(9223372036854775807), got -3; give e.g. --seed 0.\n")


@pytest.mark.parametrize("option, value, message", [
    ("--model.model_kwargs.seed", "-1", "model_kwargs.seed must be an integer between 0 and 2**32 - 1 (4294967295), "
     "got -1; give e.g. --model.model_kwargs.seed 0 (the model's initialisation; torch's generator reads only a "
     "seed's lowest 32 bits)."),
    ("--model.model_kwargs.seed", str(2**32), f"model_kwargs.seed must be an integer between 0 and 2**32 - 1 "
     f"(4294967295), got {2**32}; give e.g. --model.model_kwargs.seed 0 (the model's initialisation; torch's "
     "generator reads only a seed's lowest 32 bits)."),
    ("--data.seed", "-3", "seed must be an integer between 0 and 2**32 - 1 (4294967295), got -3; give e.g. --data.seed "
     "0 (it draws the training windows; null: the run's seed)."),
])
def test_a_model_or_window_seed_torch_would_wrap_is_one_line(lorenz63_file: Path, tmp_path: Path, option: str,
                                                             value: str, message: str,
                                                             capsys: pytest.CaptureFixture) -> None:
    """They trained silently: -1 as seed 2**32 - 1, 2**32 as seed 0 (torch reads a seed's lowest 32 bits)."""
    root = tmp_path / "run"
    short = ["--trainer.max_steps", "1", "--trainer.limit_val_batches", "0", "--data.seq_len", "20"]  # had it trained
    assert main(["fit", "--config", "dsr_lorenz63", "--data.path", str(lorenz63_file), option, value,
                 "--trainer.default_root_dir", str(root), *short]) == 2
    assert capsys.readouterr().err == f"neurops: error: {message}\n"
    assert not root.exists()


def test_evaluate_refuses_member_instead_of_reading_it_as_member_state(trained, capsys: pytest.CaptureFixture) -> None:
    """argparse's prefix matching read ``--member 5`` as ``--member-state 5`` and named an option never typed."""
    data, ckpt, _ = trained
    assert main(["dsr", "evaluate", "--ckpt", str(ckpt), "--data", str(data), "--member", "5"]) == 2
    assert capsys.readouterr().err == ("neurops: error: neurops dsr evaluate: unrecognized option --member: evaluate "
                                       "has no option(s) ['member'] (it is an option of `neurops dsr analyze`); see "
                                       "`neurops dsr evaluate --help`.\n")


def test_every_generator_describes_itself_in_a_whole_sentence() -> None:
    """The help list showed the first physical line of a docstring: 'Kuramoto-Sivashinsky ...; arguments as for'."""
    from neurops.data.generators import GENERATORS

    assert get_generator("kuramoto_sivashinsky").description == (
        'Kuramoto-Sivashinsky trajectories (dims ["x"], periodic, field u [N, T, X]); arguments as for lorenz63.')
    assert all(get_generator(name).description.endswith(".") for name in GENERATORS)


def test_evaluate_refuses_an_orbit_larger_than_memory(trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture) -> None:
    """`dsr evaluate --orbit-length 100000000` ran until the system killed it; now one line before any orbit."""
    from neurops.metrics import dsr

    data, ckpt, _ = trained
    monkeypatch.setattr(dsr, "available_memory", lambda: 2**20)
    out_json = tmp_path / "eval.json"
    assert main(["dsr", "evaluate", "--ckpt", str(ckpt), "--data", str(data), "--orbit-length", "100000",
                 "--json", str(out_json)]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("neurops: error: orbit_length=100000: 5 orbits of ") and "\n" not in err
    assert err.endswith("but 1 MiB is available; use a shorter orbit_length (dsr evaluate --orbit-length) or fewer "
                        "starts (--starts).")
    assert not out_json.exists()


def test_evaluate_checks_every_checkpoints_orbit_memory_before_any_work(trained, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture) -> None:
    """With several checkpoints, a later one's orbits that did not fit were refused only when its turn came,
    after minutes of work on the earlier ones; now every checkpoint is checked before the first orbit."""
    from neurops.metrics import dsr

    data, ckpt, _ = trained
    small = _decaying_checkpoint(tmp_path / "small.ckpt", data)  # 3 latent values; the trained model has 4
    # 5 orbits of 1250 steps x 8 bytes: (2 x 3 + 3) values and 3 kept each fit in 600 kB, (2 x 4 + 3) and 3 do not
    monkeypatch.setattr(dsr, "available_memory", lambda: 600_000)
    monkeypatch.setattr(dsr, "evaluate_reconstruction", lambda *a, **k: pytest.fail("evaluated before the check"))
    assert main(["dsr", "evaluate", "--ckpt", str(small), str(ckpt), "--data", str(data)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("neurops: error: orbit_length=1000: 5 orbits of 1250 steps (4 latent and 3 observed values "
                          "each) need about 654 KiB of memory, but 586 KiB is available;") and "\n" not in err


def test_evaluate_announces_a_long_lyapunov_run_before_it_starts(trained, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture) -> None:
    """`--lyapunov-steps 1000000000` ran for days without a word; now one note with the expected time comes
    before any orbit, and a run of a few seconds gets none."""
    from neurops.metrics import dsr

    data, ckpt, _ = trained

    class Stop(Exception):
        pass

    def stop(*args: object, **kwargs: object) -> None:
        raise Stop

    monkeypatch.setattr(dsr, "evaluate_reconstruction", stop)
    for steps, note in (("1000000000", True), ("500", False)):
        with pytest.raises(Stop):
            main(["dsr", "evaluate", "--ckpt", str(ckpt), "--data", str(data), "--lyapunov-steps", steps])
        err = capsys.readouterr().err.strip()
        if note:
            assert re.fullmatch(r"neurops: note: --lyapunov-steps 1000000000: lambda_max of 1 model\(s\) will take "
                                r"about [\d.]+ (hours|days) here \([\d.e-]+ ms per step, measured\); lower it: "
                                r"--lyapunov-steps \d+ takes about 5 min\.", err), err
        else:
            assert err == ""


def test_analyze_refuses_a_cycle_search_of_hours_before_any_work(trained, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # `--max-period 100000` searched periods 2..100000 (about 7 ms x k each) for months without a word
    from neurops.dynamics import analyze

    def no_search(*args, **kwargs) -> None:
        raise AssertionError("the cycle search started")

    monkeypatch.setattr(analyze, "find_cycles", no_search)
    data, ckpt, _ = trained
    assert main(["dsr", "analyze", "--ckpt", str(ckpt), "--data", str(data), "--out", str(tmp_path / "an"),
                 "--max-period", "100000"]) == 2
    assert capsys.readouterr().err == (
        "neurops: error: max_period=100000: the cycle search solves every period 2..100000, period k in about 7 ms x "
        "k on one core (a model of 4 latent units; larger ones take longer), about 405 days in all; use max_period "
        "<= 1000 (--max-period; 4 by default), about 58 minutes at most.\n")
    assert not (tmp_path / "an").exists()
