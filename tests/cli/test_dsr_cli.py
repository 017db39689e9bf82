"""Tests of `neurops dsr fit|evaluate|analyze` (neurops/cli/dsr.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from neurops.cli import main
from neurops.cli.dsr import evaluate_checkpoint, evaluate_hint, load_fit_config
from neurops.configs import available_configs
from neurops.data.generators import get_generator
from neurops.errors import ConfigError


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("dsr_cli")
    spec = get_generator("lorenz63")
    data = spec.fn(spec.make_config(n_train=1, n_val=1, n_test=1, n_steps=1000, dt=0.02, substeps=4,
                                    transient=10.0, standardize=True), tmp / "l63.h5", progress=False)
    config = {"seed": 0, "out": str(tmp / "run"),
              "data": {"path": str(data), "seq_len": 20, "batch_size": 4, "batches_per_epoch": 3, "val_length": 500},
              "task": {"model": "alrnn", "model_kwargs": {"latent_dim": 4, "n_relu": 2}, "training": "agtf"},
              "trainer": {"max_epochs": 1, "enable_progress_bar": False}}
    cfg = tmp / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(config))
    assert main(["dsr", "fit", "--config", str(cfg), "--max-epochs", "2"]) == 0
    ckpt = tmp / "run" / "checkpoints" / "best.ckpt"
    assert ckpt.is_file()
    return data, ckpt, tmp


def test_fit_hint_points_at_the_held_out_test_split(trained, tmp_path: Path) -> None:
    import numpy as np

    from neurops.data.series_import import import_series

    data, ckpt, _ = trained
    assert evaluate_hint(ckpt, data).endswith(f"--data {data} --split test")
    np.save(tmp_path / "s.npy", np.random.default_rng(0).normal(size=(100, 3)))
    no_test = import_series(tmp_path / "s.npy", dt=1.0, out=tmp_path / "s.h5", test_fraction=0.0)
    assert "has no test split" in evaluate_hint(ckpt, no_test)


def test_last_checkpoint_holds_the_final_state(trained) -> None:
    """``last.ckpt`` is the state after the last epoch, also when that epoch was not validated."""
    import torch

    data, _, tmp = trained
    config = yaml.safe_load((tmp / "cfg.yaml").read_text())
    config["out"] = str(tmp / "run_last")
    config["trainer"].update({"max_epochs": 3, "check_val_every_n_epoch": 2})
    cfg = tmp / "cfg_last.yaml"
    cfg.write_text(yaml.safe_dump(config))
    assert main(["dsr", "fit", "--config", str(cfg)]) == 0
    steps = {name: torch.load(tmp / "run_last" / "checkpoints" / name, map_location="cpu",
                              weights_only=False)["global_step"] for name in ("best.ckpt", "last.ckpt")}
    assert steps == {"best.ckpt": 2 * 3, "last.ckpt": 3 * 3}  # validated after epoch 2 of 3; 3 batches each


def test_evaluate_prints_model_and_data_metrics(trained, capsys: pytest.CaptureFixture) -> None:
    data, ckpt, tmp = trained
    assert main(["dsr", "evaluate", "--ckpt", str(ckpt), "--data", str(data), "--reference-split", "val",
                 "--json", str(tmp / "eval.json")]) == 0
    out = capsys.readouterr().out
    for label in ("D_stsp", "D_H", "PE(20)", "lambda_max"):
        assert label in out
    res = json.loads((tmp / "eval.json").read_text())
    assert res["data"]["lambda_max"] == pytest.approx(0.9, abs=0.25)  # true Lorenz Jacobian, 20 time units
    assert res["data"]["d_stsp"] is not None and res["model"]["pe"] >= 0


def test_analyze_writes_tables_and_figures(trained, capsys: pytest.CaptureFixture) -> None:
    data, ckpt, tmp = trained
    assert main(["dsr", "analyze", "--ckpt", str(ckpt), "--data", str(data), "--out", str(tmp / "an"),
                 "--steps", "1000", "--max-period", "2"]) == 0
    out = capsys.readouterr().out
    assert "fixed points" in out and "linear subregions visited" in out
    report = json.loads((tmp / "an" / "analysis.json").read_text())
    assert report["code_bits"] == 2 and 1 <= report["regions_visited"] <= 4
    assert len(report["fixed_points"]) == 4  # 2^P regions, each with a real or virtual fixed point
    for name in ("attractor", "power_spectra", "symbolic_graph"):
        assert Path(report["figures"][name]).stat().st_size > 1000


def test_shipped_configs_are_valid() -> None:
    names = [n for n in available_configs() if n.startswith("dsr_")]
    assert {"dsr_lorenz63", "dsr_ecg", "dsr_lorenz63_alrnn", "dsr_rossler_alrnn"} <= set(names)
    for name in names:
        config = load_fit_config(name)
        assert config["task"]["model"] in ("clipped_shplrnn", "alrnn")


def test_bad_configs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"data": {"path": "x.h5"}, "model": {}}))
    with pytest.raises(ConfigError, match="unknown section"):
        load_fit_config(str(bad))
    bad.write_text(yaml.safe_dump({"data": {"seq_len": 3}}))
    with pytest.raises(ConfigError, match="data.path"):
        load_fit_config(str(bad))
    assert main(["dsr", "fit", "--config", "no_such_config"]) == 2
    assert "neither a file" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="dsr fit"):
        evaluate_checkpoint(str(tmp_path / "none.ckpt"), "x.h5")
