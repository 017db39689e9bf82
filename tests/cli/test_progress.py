"""Plain-line training progress (what logs and pipes get instead of a redrawn bar)."""

from __future__ import annotations

import io

import lightning as L
import torch
from lightning.pytorch.demos.boring_classes import BoringModel

from neurops.cli.progress import LineProgress, progress_callback


class _Logged(BoringModel):
    def training_step(self, batch, batch_idx):
        out = super().training_step(batch, batch_idx)
        self.log("train/loss", out["loss"], prog_bar=True, on_step=False, on_epoch=True)
        return out

    def validation_step(self, batch, batch_idx):
        loss = self.step(batch)
        self.log("val/loss", loss, prog_bar=True)


def test_one_line_per_epoch_with_the_bar_metrics(tmp_path):
    stream = io.StringIO()
    trainer = L.Trainer(max_epochs=3, limit_train_batches=4, limit_val_batches=2, logger=False,
                        enable_checkpointing=False, enable_model_summary=False, default_root_dir=tmp_path,
                        callbacks=[LineProgress(stream)])
    torch.manual_seed(0)
    trainer.fit(_Logged())
    lines = stream.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    last = trainer.progress_bar_metrics
    assert f"train/loss {last['train/loss']:.4g}" in lines[-1] and f"val/loss {last['val/loss']:.4g}" in lines[-1]
    assert "\r" not in stream.getvalue()


def test_the_bar_is_replaced_only_when_stdout_is_not_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert progress_callback() is None
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    assert isinstance(progress_callback(), LineProgress) and progress_callback(enabled=False) is None


def test_an_epoch_without_validation_shows_no_stale_validation_values(tmp_path):
    stream = io.StringIO()
    trainer = L.Trainer(max_epochs=4, limit_train_batches=2, limit_val_batches=1, check_val_every_n_epoch=2,
                        logger=False, enable_checkpointing=False, enable_model_summary=False,
                        default_root_dir=tmp_path, callbacks=[LineProgress(stream)])
    torch.manual_seed(0)
    trainer.fit(_Logged())
    lines = stream.getvalue().splitlines()
    assert ["val/loss" in line for line in lines] == [False, True, False, True]  # validated after epochs 2 and 4
    assert all("train/loss" in line for line in lines)
