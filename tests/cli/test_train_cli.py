import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from neurops.cli import main
from neurops.configs import available_configs, resolve_config
from neurops.data.reader import read_split
from neurops.errors import ConfigError
from tests.conftest import write_operator_file


def _config(tmp_path: Path, data: Path, **model_overrides) -> Path:
    cfg = yaml.safe_load(resolve_config("darcy_fno").read_text())
    cfg["trainer"].update({"max_epochs": 2, "enable_progress_bar": False, "default_root_dir": str(tmp_path / "runs")})
    cfg["trainer"]["logger"] = False
    cfg["model"]["init_args"]["model_kwargs"].update({"modes": [4, 4], "width": 8})
    cfg["model"]["init_args"].update(model_overrides)
    cfg["data"]["init_args"].update({"path": str(data), "batch_size": 8, "num_workers": 0})
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_fit_test_predict_roundtrip(operator_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _config(tmp_path, operator_file)
    assert main(["fit", "--config", str(cfg)]) == 0
    ckpts = sorted((tmp_path / "runs").rglob("*.ckpt"))
    assert ckpts, "fit wrote no checkpoint"
    assert main(["test", "--config", str(cfg), "--ckpt_path", str(ckpts[-1])]) == 0
    out = tmp_path / "pred.h5"
    assert main(["predict", "--ckpt", str(ckpts[-1]), "--data", str(operator_file), "--out", str(out)]) == 0
    pred = read_split(out, "test@32")
    assert pred["outputs"]["u"].shape == (8, 32, 32) and np.isfinite(pred["outputs"]["u"]).all()
    np.testing.assert_array_equal(pred["inputs"]["a"], read_split(operator_file, "test@32")["inputs"]["a"])


def test_misspelled_key_and_unknown_model(operator_file, tmp_path, capsys):
    cfg = _config(tmp_path, operator_file, normalise=False)
    assert main(["fit", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "unknown config key 'model.init_args.normalise'" in err
    assert "Did you mean 'model.init_args.normalize'" in err
    cfg = _config(tmp_path, operator_file, model="fnoo")
    assert main(["fit", "--config", str(cfg)]) == 2
    assert "unknown model 'fnoo'" in capsys.readouterr().err


def test_shipped_configs_resolve_by_short_name():
    assert "darcy_fno" in available_configs()
    assert resolve_config("darcy_fno").is_file()
    with pytest.raises(ConfigError, match="shipped configs"):
        resolve_config("darcy_fnx")


def test_predict_checks_channels_and_files(operator_file, tmp_path, capsys):
    assert main(["predict", "--ckpt", str(tmp_path / "none.ckpt"), "--data", str(operator_file),
                 "--out", str(tmp_path / "p.h5")]) == 2
    assert "does not exist" in capsys.readouterr().err


def _table(out: str) -> dict[str, float]:
    """The test metrics Lightning printed (``test/rel_l2@16  0.123``)."""
    return {k: float(v) for k, v in re.findall(r"(test/\w+@\d+)\s+([-+\d.e]+)", out)}


@pytest.mark.usefixtures("lightning_logs_to_capsys")
def test_fit_ends_with_the_test_table_of_its_final_weights(operator_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cfg = _config(tmp_path, operator_file)
    assert main(["fit", "--config", str(cfg), "--trainer.enable_progress_bar", "true"]) == 0
    out, err = capsys.readouterr()
    after_fit = _table(out)
    assert set(after_fit) == {f"test/{m}@{r}" for m in ("loss", "rel_l2", "rel_h1") for r in (16, 32)}
    # stdout is not a terminal here: one plain line per epoch instead of a redrawn bar; no tips, no seed line
    assert [line.split(":")[0] for line in out.splitlines() if line.startswith("epoch ")] == ["epoch 1/2", "epoch 2/2"]
    assert "\r" not in out and "Tip:" not in err + out and "Seed set" not in err + out
    last = tmp_path / "runs" / "checkpoints" / "last.ckpt"
    assert main(["test", "--config", str(cfg), "--ckpt_path", str(last)]) == 0
    assert _table(capsys.readouterr().out) == pytest.approx(after_fit, rel=1e-5)
    monkeypatch.chdir(tmp_path / "runs")
    assert main(["fit", "--config", str(cfg), "--trainer.default_root_dir", "again", "--test_after_fit", "false"]) == 0
    assert _table(capsys.readouterr().out) == {}


def test_validation_is_optional(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = write_operator_file(tmp_path / "noval.h5", {"train": (8, 16), "test": (4, 16)})
    cfg = _config(tmp_path, data)
    assert main(["fit", "--config", str(cfg)]) == 2  # the shipped configs validate on 'val'
    assert "--data.val_split null" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    assert main(["fit", "--config", str(cfg), "--data.init_args.val_split", "null"]) == 0
    assert "test/rel_l2@16" in _table(capsys.readouterr().out)
    last = tmp_path / "runs" / "checkpoints" / "last.ckpt"
    assert main(["test", "--config", str(cfg), "--ckpt_path", str(last)]) == 0  # testing never needs 'val'
