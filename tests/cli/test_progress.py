"""Plain-line training progress (what logs and pipes get instead of a redrawn bar)."""

from __future__ import annotations

import io
import re
import time

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


class _SaveMidEpoch(L.Callback):
    """Saves the run after batch 2 of epoch 2, as Lightning's SLURM handler saves ``hpc_ckpt_*.ckpt``."""

    def __init__(self, path):
        self.path = path

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if (trainer.current_epoch, batch_idx) == (1, 1):
            trainer.save_checkpoint(self.path)


def test_the_epoch_a_run_resumes_mid_epoch_shows_the_time_since_the_resume(tmp_path):
    """Lightning skips on_train_epoch_start for the epoch a mid-epoch checkpoint resumes: its line showed the time
    since the machine booted (e.g. "(58405.2 s)")."""
    ckpt = tmp_path / "hpc_ckpt_1.ckpt"
    settings = dict(max_epochs=3, limit_train_batches=4, limit_val_batches=1, logger=False,
                    enable_checkpointing=False, enable_model_summary=False, default_root_dir=tmp_path)
    torch.manual_seed(0)
    L.Trainer(**settings, callbacks=[LineProgress(io.StringIO()), _SaveMidEpoch(ckpt)]).fit(_Logged())
    stream = io.StringIO()
    started = time.perf_counter()
    L.Trainer(**settings, callbacks=[LineProgress(stream)]).fit(_Logged(), ckpt_path=ckpt)
    took = time.perf_counter() - started
    lines = stream.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 2/3", "epoch 3/3"]
    resumed = re.fullmatch(r".* \((\d+\.\d) s since the resume\)", lines[0])
    assert resumed and float(resumed[1]) <= took + 0.05, lines[0]
    assert re.fullmatch(r".* \(\d+\.\d s\)", lines[1]), lines[1]  # a whole epoch again
