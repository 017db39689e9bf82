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

A run resumed from its folder under another spelling (``runs/r1``, ``$PWD/runs/r1``), or from a
copy of the folder somewhere else, goes on writing ``last.ckpt`` and ``best.ckpt`` there: the
folder is resolved to an absolute path, the paths a checkpoint stored are moved into the folder it
is resumed in, and no ``-v1`` versions are written (``neurops fit`` refuses a new run in a used
folder, so a second ``last.ckpt`` can only come from a resumed run).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Literal

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only
from typing_extensions import override

__all__ = ["BestCheckpoint", "LastCheckpoint", "run_checkpoint_dir"]


def run_checkpoint_dir(root: str | os.PathLike) -> Path:
    """The checkpoint folder of the run folder ``root``."""
    return Path(root) / "checkpoints"


def _absolute(path: str) -> str:
    """``path`` absolute with symbolic links resolved, as Lightning resolves a given ``dirpath`` (URLs as given)."""
    return path if "://" in path else os.path.realpath(os.path.expanduser(path))


@rank_zero_only
def _note(message: str) -> None:
    print(f"neurops: note: {message}", file=sys.stderr)


class _RunFolderCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` writing atomically into ``<default_root_dir>/checkpoints`` (unless ``dirpath`` is given),
    that goes on with the checkpoints of a resumed run also when its folder is spelled otherwise or was moved."""

    def __init__(self, **kwargs: Any) -> None:
        # no last-v1.ckpt: a version counter would only hide a resumed run that does not continue its own files
        super().__init__(enable_version_counter=False, **kwargs)

    @override
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.dirpath is None:
            self.dirpath = _absolute(os.fspath(run_checkpoint_dir(trainer.default_root_dir)))
        super().setup(trainer, pl_module, stage)

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # Lightning keeps the best score and the paths only when the stored folder is spelled exactly as this
        # one: the folder of the checkpoint (another spelling, a moved or copied run folder) is this one
        stored = state_dict.get("dirpath")
        if stored is not None and self.dirpath is not None and stored != self.dirpath:
            state_dict = self._moved(state_dict, os.fspath(stored), os.fspath(self.dirpath))
        super().load_state_dict(state_dict)

    def _moved(self, state: dict[str, Any], old: str, new: str) -> dict[str, Any]:
        """``state`` with the checkpoint paths in ``old`` moved into ``new``."""
        def move(path: Any) -> Any:
            inside = isinstance(path, str) and path and os.path.dirname(os.path.normpath(path)) == os.path.normpath(old)
            return os.path.join(new, os.path.basename(path)) if inside else path

        state = dict(state, dirpath=new, best_k_models={move(k): v for k, v in state.get("best_k_models", {}).items()},
                     **{key: move(state.get(key)) for key in ("best_model_path", "kth_best_model_path",
                                                               "last_model_path") if key in state})
        best = state.get("best_model_path")
        if self.monitor is not None and best and not os.path.isfile(best):
            _note(f"{best} does not exist (a run folder copied without it?): the best {self.monitor} before this "
                  f"checkpoint is unknown, so {os.path.basename(best)} keeps the best of the epochs from here on.")
            state.update(best_model_score=None, best_model_path="", best_k_models={}, kth_best_model_path="",
                         kth_value=self.kth_value, current_score=None)
        return state

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
