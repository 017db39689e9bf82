"""Checkpoint callbacks of a run folder: ``LastCheckpoint`` (resume) and ``BestCheckpoint`` (selection).

Both write into ``<run folder>/checkpoints/`` (the run folder is ``trainer.default_root_dir``), not
into a logger's ``version_N`` folder, so that ``--ckpt_path last`` finds the checkpoint of the run
that was interrupted; and both write atomically (a temporary file renamed onto the checkpoint), so
a run killed while saving keeps its previous checkpoint intact. Name them in a config::

    trainer:
      callbacks:
        - class_path: neurops.tasks.callbacks.LastCheckpoint
        - class_path: neurops.tasks.callbacks.BestCheckpoint
          init_args: {monitor: val/d_stsp}

``neurops fit`` adds a ``LastCheckpoint`` when a config names none.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from typing_extensions import override

__all__ = ["BestCheckpoint", "LastCheckpoint", "run_checkpoint_dir"]


def run_checkpoint_dir(root: str | os.PathLike) -> Path:
    """The checkpoint folder of the run folder ``root``."""
    return Path(root) / "checkpoints"


class _RunFolderCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` writing atomically into ``<default_root_dir>/checkpoints`` (unless ``dirpath`` is given)."""

    @override
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.dirpath is None:
            self.dirpath = os.fspath(run_checkpoint_dir(trainer.default_root_dir))
        super().setup(trainer, pl_module, stage)

    @override
    def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        path = Path(filepath)
        tmp = path.with_name(f".{path.name}.tmp")  # hidden: never taken for a checkpoint
        super()._save_checkpoint(trainer, os.fspath(tmp))
        if trainer.is_global_zero:
            os.replace(tmp, path)
        self._last_checkpoint_saved = filepath


class LastCheckpoint(_RunFolderCheckpoint):
    """Keep ``last.ckpt``: the state after every training epoch, and the final state of the run.

    ``--ckpt_path last`` resumes from it; with the random states it holds (see
    :class:`~neurops.tasks.base.Task`), the resumed run ends where an uninterrupted one would.

    Parameters
    ----------
    dirpath
        folder of the checkpoint (default: ``<trainer.default_root_dir>/checkpoints``).
    every_n_epochs
        save after every n-th training epoch (the final state is always saved).
    """

    def __init__(self, dirpath: str | None = None, every_n_epochs: int = 1) -> None:
        super().__init__(dirpath=dirpath, filename=self.CHECKPOINT_NAME_LAST, monitor=None, save_top_k=1,
                         every_n_epochs=every_n_epochs, save_on_train_epoch_end=True)

    @override
    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # the final state, also when the run stopped inside an epoch (max_steps) or between saves
        if self._last_global_step_saved != trainer.global_step and not trainer.fast_dev_run:
            self._save_none_monitor_checkpoint(trainer, self._monitor_candidates(trainer))


class BestCheckpoint(_RunFolderCheckpoint):
    """Keep ``best.ckpt``: the checkpoint with the best value of a validation metric.

    Parameters
    ----------
    monitor
        the logged metric (``val/d_stsp`` for dynamics, ``val/rel_l2`` for operators).
    mode
        ``"min"`` or ``"max"``.
    dirpath
        folder of the checkpoint (default: ``<trainer.default_root_dir>/checkpoints``).
    filename
        name of the file, without ``.ckpt``.
    """

    def __init__(self, monitor: str, mode: Literal["min", "max"] = "min", dirpath: str | None = None,
                 filename: str = "best") -> None:
        super().__init__(dirpath=dirpath, filename=filename, monitor=monitor, mode=mode, save_top_k=1,
                         auto_insert_metric_name=False)
