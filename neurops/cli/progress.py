"""Training progress as plain lines, for logs and pipes (where a redrawn bar floods the file).

``neurops fit|validate|test`` use :class:`LineProgress` instead of Lightning's bar when stdout
is not a terminal: one line per training epoch with the metrics the bar would show, e.g.
``epoch 3/50: train/loss_step 0.0412, val/rel_l2 0.0523, train/loss_epoch 0.0468 (12.1 s)``.
The epoch a run resumed in the middle of (from an ``hpc_ckpt_*.ckpt`` or any checkpoint saved mid-epoch) shows
the time since the resume: ``(4.3 s since the resume)``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ProgressBar


def _format(value: Any) -> str:
    value = value.item() if hasattr(value, "item") else value
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class LineProgress(ProgressBar):
    """A Lightning progress bar that prints one line per training epoch (rank zero only).

    Parameters
    ----------
    stream : where the lines go (default: ``sys.stdout`` at the time of printing).
    """

    def __init__(self, stream: Any = None) -> None:
        super().__init__()
        self.stream = stream
        self._enabled = True
        self._started = 0.0
        self._resumed = False
        self._validated = False

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # a run resumed mid-epoch continues its epoch without on_train_epoch_start: its time starts here
        self._started, self._resumed, self._validated = time.perf_counter(), True, False

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started, self._resumed, self._validated = time.perf_counter(), False, False

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._validated = self._validated or not trainer.sanity_checking

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._enabled:
            return
        # an epoch without validation (check_val_every_n_epoch > 1) shows no stale val* values of an earlier one
        metrics = {k: v for k, v in self.get_metrics(trainer, pl_module).items()
                   if k != "v_num" and (self._validated or not k.startswith("val"))}
        total = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        shown = ", ".join(f"{k} {_format(v)}" for k, v in metrics.items())
        took = f"{time.perf_counter() - self._started:.1f} s{' since the resume' if self._resumed else ''}"
        self.print(f"epoch {trainer.current_epoch + 1}{total}: {shown} ({took})", file=self.stream or sys.stdout,
                   flush=True)


def progress_callback(enabled: bool = True) -> ProgressBar | None:
    """:class:`LineProgress` when stdout is not a terminal (and progress is ``enabled``), else ``None``
    (Lightning's own bar)."""
    return LineProgress() if enabled and not sys.stdout.isatty() else None
