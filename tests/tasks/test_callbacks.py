"""Checkpoint callbacks of a run folder (neurops/tasks/callbacks.py)."""

from __future__ import annotations

from functools import partial

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
