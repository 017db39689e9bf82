"""Checkpoint callbacks of a run folder (neurops/tasks/callbacks.py)."""

from __future__ import annotations

import os
import shutil
from functools import partial
from pathlib import Path

import lightning as L
import torch

from neurops.data.datamodule import OperatorDataModule
from neurops.tasks import OperatorTask
from neurops.tasks.callbacks import BestCheckpoint, LastCheckpoint


class _ValLog(L.Callback):
    def __init__(self) -> None:
        self.values: list[float] = []

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.values.append(float(trainer.callback_metrics["val/rel_l2"]))


def test_last_and_best_checkpoints_live_in_the_run_folder(operator_file, tmp_path):
    torch.manual_seed(0)
    task = OperatorTask("fno", {"modes": [4, 4], "width": 8, "n_layers": 1},
                        optimizer=partial(torch.optim.AdamW, lr=3e-2), lr_scheduler=None)
    log = _ValLog()
    # 24 samples / batch 8 = 3 steps an epoch; 7 steps stop inside epoch 3
    trainer = L.Trainer(max_steps=7, default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0,
                        callbacks=[LastCheckpoint(), BestCheckpoint(monitor="val/rel_l2"), log])
    trainer.fit(task, OperatorDataModule(operator_file, batch_size=8))
    folder = tmp_path / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["best.ckpt", "last.ckpt"]  # no temporary file left
    last = torch.load(folder / "last.ckpt", weights_only=True)
    assert last["global_step"] == 7  # the final state, saved although the run stopped inside an epoch
    for key, value in task.state_dict().items():
        assert torch.equal(last["state_dict"][key], value), key
    best = torch.load(folder / "best.ckpt", weights_only=True)
    assert len(log.values) == 2  # validated after epochs 1 and 2
    assert best["global_step"] == 3 * (1 + log.values.index(min(log.values)))


def test_a_resumed_run_goes_on_with_its_checkpoints_under_another_spelling_and_in_a_copied_folder(
        operator_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    log = _ValLog()

    def fit(root: str, epochs: int, resume: str | None = None) -> None:
        task = OperatorTask("fno", {"modes": [4, 4], "width": 8, "n_layers": 1},
                            optimizer=partial(torch.optim.AdamW, lr=3e-2), lr_scheduler=None)
        # mode "max": the error falls as the run trains, so every later epoch is worse than the best one: a best
        # state that was dropped on resuming would show as a best.ckpt of a later epoch
        trainer = L.Trainer(max_epochs=epochs, default_root_dir=root, logger=False, enable_progress_bar=False,
                            enable_model_summary=False, num_sanity_val_steps=0,
                            callbacks=[LastCheckpoint(), BestCheckpoint(monitor="val/rel_l2", mode="max"), log])
        trainer.fit(task, OperatorDataModule(operator_file, batch_size=8), ckpt_path=resume)

    def saved(folder: Path) -> dict[str, int]:
        return {p.name: torch.load(p, weights_only=True)["global_step"] for p in sorted(folder.iterdir())}

    def best_step(values: list[float]) -> int:
        return 3 * (1 + values.index(max(values)))  # 3 steps an epoch

    fit("run", 2)
    # the same folder spelled otherwise: last.ckpt is the one written (it used to be a new last-v1.ckpt, leaving
    # last.ckpt, which the next `--ckpt_path last` resumes from, at epoch 2)
    fit(os.fspath(tmp_path / "run"), 3, resume="run/checkpoints/last.ckpt")
    assert len(log.values) == 3
    assert saved(tmp_path / "run" / "checkpoints") == {"best.ckpt": best_step(log.values), "last.ckpt": 9}
    # a copy of the run folder resumed there: its own last.ckpt and best.ckpt go on; the original is untouched
    shutil.copytree("run", "moved/run")
    fit("moved/run", 4, resume="moved/run/checkpoints/last.ckpt")
    assert len(log.values) == 4
    assert saved(tmp_path / "moved" / "run" / "checkpoints") == {"best.ckpt": best_step(log.values), "last.ckpt": 12}
    assert saved(tmp_path / "run" / "checkpoints") == {"best.ckpt": best_step(log.values[:3]), "last.ckpt": 9}
    # a copy without best.ckpt: the best score before the checkpoint is unknown there, and a note says so
    shutil.copytree("run", "partial")
    (tmp_path / "partial" / "checkpoints" / "best.ckpt").unlink()
    capsys.readouterr()
    fit("partial", 4, resume="partial/checkpoints/last.ckpt")
    best = tmp_path / "partial" / "checkpoints" / "best.ckpt"
    assert capsys.readouterr().err.splitlines() == [
        f"neurops: note: {best} does not exist (a run folder copied without it?): the best val/rel_l2 before this "
        "checkpoint is unknown, so best.ckpt keeps the best of the epochs from here on."]
    assert saved(tmp_path / "partial" / "checkpoints") == {"best.ckpt": 12, "last.ckpt": 12}
