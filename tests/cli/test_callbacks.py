"""Tests of the callbacks every `neurops fit|validate|test` trainer gets (neurops/cli/callbacks.py)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from neurops.cli import main
from neurops.configs import resolve_config
from tests.conftest import write_decay_file


def test_fit_of_a_rollout_task_draws_the_error_curves_next_to_their_json(tmp_path: Path) -> None:
    cfg = yaml.safe_load(resolve_config("ns_lsm").read_text())
    cfg["model"]["init_args"].update({"model": "fno", "model_kwargs": {"modes": [4], "width": 8, "n_layers": 1},
                                      "t_in": 2, "t_out": 2})
    cfg["data"]["init_args"].update({"path": str(write_decay_file(tmp_path / "decay.h5")), "t_in": 2, "t_out": 2,
                                     "batch_size": 4, "num_workers": 0})
    cfg["trainer"].update({"max_epochs": 1, "accelerator": "cpu", "enable_progress_bar": False,
                           "enable_model_summary": False, "default_root_dir": str(tmp_path / "run")})
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["fit", "--config", str(path)]) == 0
    for stage in ("val", "test"):  # the last validation of the fit, and the test run after it
        (curves,) = (tmp_path / "run").rglob(f"rollout_errors_{stage}.json")
        assert len(next(iter(json.loads(curves.read_text())["rel_l2_per_step"].values()))) == 2
        assert curves.with_suffix(".png").stat().st_size > 1000
