"""``neurops fit|test`` under Lightning's FSDP strategy in two real CPU processes: a run resumed with another
optimizer, and a fit followed by its test and by ``neurops test --ckpt_path``.

Lightning's ``fsdp`` needs GPUs; ``tests/cli/cpu_fsdp.CPUFSDP`` is the same strategy with the settings that let it
run on CPU (its docstring says which and why). Under FSDP, Lightning restores a checkpoint after ``setup`` and loads
the optimizer states itself (``FSDPStrategy.load_checkpoint``), before the task's ``on_load_checkpoint``; ``neurops
fit`` compares the optimizer classes before the Trainer starts, and the task compares them again for runs started
from Python.

The subprocesses import neurops from this checkout (``PYTHONPATH``), which also holds the strategy.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.cli.test_lightning_ddp import RTOL, _config, _run_args, _test_metrics

ROOT = Path(__file__).resolve().parents[2]
STRATEGY = "{class_path: tests.cli.cpu_fsdp.CPUFSDP}"

_RESUME_FROM_PYTHON = """
import sys
from functools import partial

import lightning as L
import torch

from neurops.data.datamodule import OperatorDataModule
from neurops.tasks import OperatorTask
from neurops.tasks.callbacks import LastCheckpoint
from tests.cli.cpu_fsdp import CPUFSDP

data, root, ckpt = sys.argv[1:]
task = OperatorTask("fno", {"modes": [4, 4], "width": 8, "n_layers": 2}, optimizer=partial(torch.optim.SGD, lr=0.01))
trainer = L.Trainer(strategy=CPUFSDP(), accelerator="cpu", devices=2, max_epochs=3, default_root_dir=root,
                    logger=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[LastCheckpoint()])
trainer.fit(task, OperatorDataModule(data, num_workers=0), ckpt_path=ckpt)
"""


def _env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}


def _fit(config: Path, root: Path, *extra: str) -> subprocess.CompletedProcess:
    """``neurops fit --config CONFIG`` under FSDP in two CPU processes, its run folder ``root``."""
    return subprocess.run([sys.executable, "-m", "neurops", "fit", "--config", str(config), "--trainer.strategy",
                           STRATEGY, "--trainer.devices", "2", "--test_after_fit", "false", *_run_args(root), *extra],
                          cwd=config.parent, env=_env(), capture_output=True, text=True, timeout=300)


def _refusal(ckpt: Path) -> str:
    return (f"{ckpt}: its optimizer state is AdamW's, which this run's SGD cannot continue; resume with the "
            "checkpoint's optimizer (--model.optimizer torch.optim.AdamW), or train with SGD in a new run folder "
            "(--trainer.default_root_dir DIR; a run cannot start from a checkpoint's weights alone).")


@pytest.mark.processes  # ~50-80 s: three runs of two processes, each imports Lightning
def test_resuming_an_fsdp_run_with_another_optimizer_class_is_one_error_line(operator_file, tmp_path):
    config = _config(tmp_path, operator_file)  # FNO with AdamW
    root = tmp_path / "fsdp"
    done = _fit(config, root, "--trainer.max_epochs", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Starting with 2 processes" in done.stderr + done.stdout
    last = root / "checkpoints" / "last.ckpt"
    saved = torch.load(last, weights_only=True)  # one file, gathered on rank zero
    assert saved["neurops"]["optimizers"] == ["torch.optim.AdamW"] and saved["optimizer_states"][0]["state"]
    before = {p.name: p.read_bytes() for p in last.parent.iterdir()}

    # neurops fit: one line, before any process starts or any state is restored
    done = _fit(config, root, "--ckpt_path", "last", "--model.optimizer", "torch.optim.SGD",
                "--model.optimizer.lr", "0.01")
    assert done.returncode == 2, done.stderr[-3000:]
    assert (done.stdout + done.stderr).strip().splitlines() == [f"neurops: error: {_refusal(last)}"]
    assert {p.name: p.read_bytes() for p in last.parent.iterdir()} == before  # the run's checkpoints are untouched

    # from Python: Lightning's FSDP restores the checkpoint, optimizer states included, then the task refuses them
    # in every process before the first step
    script = tmp_path / "resume.py"
    script.write_text(_RESUME_FROM_PYTHON)
    done = subprocess.run([sys.executable, str(script), str(operator_file), str(root), str(last)], cwd=tmp_path,
                          env=_env(), capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out[-3000:]
    assert "Restoring states from the checkpoint path" in out and f"CheckpointError: {_refusal(last)}" in out
    assert {p.name: p.read_bytes() for p in last.parent.iterdir()} == before


def _table(out: str) -> dict[str, float]:
    """The metrics of the test table a command printed: ``{"test/rel_l2@16": 0.94, ...}``."""
    found = re.findall(r"(test/\S+@\d+)\s+(\d\S*)(?:\s+(\d\S*))?", out)
    return {name: float(value) for name, value, _ in found}


@pytest.mark.processes  # ~30-40 s: two runs of two processes
def test_an_fsdp_fit_tests_its_final_weights_and_neurops_test_evaluates_the_checkpoint(operator_file, tmp_path):
    """``fit`` then its test under FSDP: Lightning's ``trainer.test`` wrapped the task in a second FSDP wrapper inside
    fit's (``RuntimeError: size mismatch, got input (1024), mat (1024x3), vec (24)``); ``neurops test --ckpt_path``
    hung after its table (rank zero alone asked for the log folder, a collective)."""
    config = _config(tmp_path, operator_file)
    root = tmp_path / "fsdp"
    done = _fit(config, root, "--trainer.max_epochs", "2", "--test_after_fit", "true")
    assert done.returncode == 0, done.stderr[-3000:]
    after_fit = _table(done.stdout)
    last = root / "checkpoints" / "last.ckpt"
    expected = _test_metrics(last, operator_file)  # the saved final weights, tested in one process
    assert set(after_fit) == set(expected) and len(expected) == 6
    for key, value in expected.items():
        assert abs(after_fit[key] - value) <= RTOL * value, key

    done = subprocess.run([sys.executable, "-m", "neurops", "test", "--config", str(config), "--trainer.strategy",
                           STRATEGY, "--trainer.devices", "2", "--ckpt_path", str(last)],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    tested = _table(done.stdout)
    assert set(tested) == set(expected)
    for key, value in expected.items():
        assert abs(tested[key] - value) <= RTOL * value, key
    assert f"logs: {root / 'logs'}" in done.stdout
