"""Callbacks every ``neurops fit|validate|test`` trainer gets: the figures of a run.

Tasks sit below :mod:`neurops.viz` in the layers of the package, so they record what a figure
shows and draw nothing themselves; the command's trainer draws it from the task. Add the same
callbacks to a ``lightning.Trainer`` of your own to get the same files.
"""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import Callback
from typing_extensions import override

from neurops.tasks.rollout import RolloutTask
from neurops.viz.rollout import plot_rollout_errors


class RolloutErrorFigures(Callback):
    """``rollout_errors_<stage>.png`` next to the ``rollout_errors_<stage>.json`` a
    :class:`~neurops.tasks.rollout.RolloutTask` saves: the mean relative L2 error of every rollout
    step, after a validation run (``val``), at the end of a fit (its last validation) and after a
    test run (``test``, one curve per test resolution)."""

    @override
    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == "validate":  # during fit the curves are drawn once, at the end
            self._draw(pl_module, "val")

    @override
    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._draw(pl_module, "val")

    @override
    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._draw(pl_module, "test")

    @staticmethod
    def _draw(task: L.LightningModule, stage: str) -> None:
        if not isinstance(task, RolloutTask):
            return
        target = task.curves_to_save(stage)
        if target is None:
            return
        out_dir, curves = target
        plot_rollout_errors({f"{stage}@{t}" if stage == "test" else t: c for t, c in curves.items()},
                            out_dir / f"rollout_errors_{stage}.png", frames_per_step=task.hparams.step,
                            title=f"{stage}: relative L2 error per rollout step")


__all__ = ["RolloutErrorFigures"]
