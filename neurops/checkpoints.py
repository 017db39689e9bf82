"""The one checkpoint loader: ``load(path)`` -> ``(kind, task)`` for every neurops task.

Every command that reads a checkpoint (``predict``, ``test``, ``dsr evaluate|analyze``,
``invert``) goes through :func:`load` (or :func:`read`, which only inspects):

* the file is read with ``torch.load(weights_only=True)``; an unreadable, truncated or
  unsafe file is one :class:`~neurops.errors.CheckpointError` naming the problem;
* the task class comes from the checkpoint's ``neurops`` record and must be one of
  neurops's own tasks (:data:`KINDS`): nothing a checkpoint names is imported otherwise
  (a ``_class_path`` in its hyperparameters included);
* given to a command that does not take its kind, it says which kind it is and which
  commands take it.

References
----------
The record itself is written by :class:`neurops.tasks.base.Task`.
"""

from __future__ import annotations

import importlib
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neurops.errors import CheckpointError
from neurops.utils.device import check_device
from neurops.utils.signature import init_parameters

__all__ = ["KINDS", "Checkpoint", "Kind", "kind_of", "load", "read"]


@dataclass(frozen=True)
class Kind:
    """A kind of checkpoint: the task that writes it and the commands that take it."""

    name: str
    task: str
    commands: str

    @property
    def described(self) -> str:
        """``"an operator checkpoint (OperatorTask)"``: how errors name this kind."""
        article = "an" if self.name[0] in "aeiou" else "a"
        return f"{article} {self.name} checkpoint ({self.task.rpartition('.')[2]})"


#: the task classes neurops loads from checkpoints, by qualified name (nothing else is imported)
KINDS: dict[str, Kind] = {k.task: k for k in (
    Kind("operator", "neurops.tasks.operator.OperatorTask",
         "`neurops predict --ckpt CKPT` and `neurops test --ckpt_path CKPT`"),
    Kind("rollout", "neurops.tasks.rollout.RolloutTask",
         "`neurops predict --ckpt CKPT --data TRAJECTORIES.h5` (the rolled-out frames, a trajectory file) and "
         "`neurops test --ckpt_path CKPT` (the rollout's errors per step)"),
    Kind("generative", "neurops.tasks.generative.GenerativeOperatorTask",
         "`neurops invert surrogate --ckpt CKPT` and `neurops test --ckpt_path CKPT`"),
    Kind("dynamics", "neurops.tasks.dynamics.DynamicsTask",
         "`neurops dsr evaluate --ckpt CKPT` and `neurops dsr analyze --ckpt CKPT`"),  # it has no test_step
    Kind("dcdm", "neurops.tasks.dcdm.DCDMTask",
         "`neurops.solvers.dcdm_solve(op, b, neurops.checkpoints.load(CKPT)[1].net)` in Python"),
)}

#: hyperparameter keys written by LightningCLI that name code; never used to build a task
_CLI_KEYS = ("_class_path", "_instantiator")


@dataclass(frozen=True)
class Checkpoint:
    """What :func:`read` found in a checkpoint file (nothing imported, nothing built)."""

    path: Path
    kind: Kind
    record: dict[str, Any]
    hparams: dict[str, Any]
    contents: dict[str, Any]

    @property
    def init_args(self) -> dict[str, Any]:
        """The task's init arguments saved in the checkpoint (without LightningCLI's class keys)."""
        return {k: v for k, v in self.hparams.items() if k not in _CLI_KEYS}


def _unreadable(path: Path, exc: BaseException) -> CheckpointError:
    # torch's own message may advise weights_only=False: never pass that advice on
    with open(path, "rb") as f:
        head = f.read(4)
    if isinstance(exc, pickle.UnpicklingError) and "unsupported global" in str(exc).lower():
        why = ("it holds Python objects other than tensors and plain data, which neurops refuses to load "
               "(checkpoints are read with weights_only=True); it was not written by neurops, or was altered")
    elif not head or head == b"PK\x03\x04":  # empty, or a zip archive (torch's format) that does not read
        why = "it is empty, truncated or corrupt (an interrupted copy or save?)"
    else:
        why = "it is not a PyTorch checkpoint (a text file, or another format?)"
    return CheckpointError(f"cannot read checkpoint {path}: {why}. Use a .ckpt written by `neurops fit`.")


def _task_of(record: dict[str, Any]) -> str:
    """The task class of a record; records written before the record named its task are recognised too."""
    if "task" in record:
        return str(record["task"])
    if "dt" in record:
        return "neurops.tasks.dynamics.DynamicsTask"
    if record.get("model") == "dgno":
        return "neurops.tasks.generative.GenerativeOperatorTask"
    return "neurops.tasks.operator.OperatorTask"


def read(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read and check a neurops checkpoint without importing or building anything.

    Raises
    ------
    CheckpointError
        if the file is missing, unreadable, not a neurops checkpoint, or names a task class
        that is not one of :data:`KINDS`.
    ConfigError
        if ``map_location`` is not a device of this machine (:func:`~neurops.utils.device.check_device`).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist"
                              + ("" if not path.is_dir() else " (it is a folder)")
                              + "; train one with `neurops fit --config ...` (checkpoints go to "
                                "<run folder>/checkpoints/).")
    map_location = check_device(map_location)  # a device this machine lacks is not a corrupt checkpoint
    try:
        contents = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every unreadable file gets one message
        raise _unreadable(path, exc) from None
    record = contents.get("neurops") if isinstance(contents, dict) else None
    if not isinstance(record, dict) or "state_dict" not in contents:
        raise CheckpointError(f"{path} is not a neurops checkpoint (no 'neurops' record); checkpoints written by "
                              "`neurops fit` have one.")
    task = _task_of(record)
    kind = KINDS.get(task)
    if kind is None:
        raise CheckpointError(f"{path} names the task class {task!r}, which is not a neurops task; neurops only "
                              f"loads {sorted(KINDS)}.")
    hparams = dict(contents.get("hyper_parameters") or {})
    class_path = hparams.get("_class_path")  # LightningCLI's record of the config's class_path
    if class_path is not None and class_path not in (task, f"neurops.tasks.{task.rpartition('.')[2]}"):
        raise CheckpointError(f"{path} names the class {class_path!r} in its hyperparameters but was written by "
                              f"{task}; refused (neurops imports no class a checkpoint names).")
    return Checkpoint(path, kind, record, hparams, contents)


def kind_of(task_class: type) -> Kind | None:
    """The kind of checkpoint ``task_class`` writes: that of the nearest of its classes in :data:`KINDS` (a
    ``RolloutTask`` is derived from ``OperatorTask`` but writes rollout checkpoints), ``None`` for another class."""
    return next((KINDS[n] for c in task_class.__mro__ if (n := f"{c.__module__}.{c.__qualname__}") in KINDS), None)


def _task_class(kind: Kind) -> type:
    module, _, name = kind.task.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _migrate(ckpt: Checkpoint) -> dict[str, torch.Tensor]:
    """The state dict, with the names of older checkpoints brought up to date."""
    state = dict(ckpt.contents["state_dict"])
    if ckpt.kind.name == "dynamics" and any(k.startswith("model.") for k in state):
        # DynamicsTask called its network ``model`` before every task called it ``net``
        state = {("net." + k[len("model."):] if k.startswith("model.") else k): v for k, v in state.items()}
    return state


def load(path: str | os.PathLike, kinds: str | Sequence[str] | None = None, *, command: str | None = None,
         map_location: str | torch.device = "cpu") -> tuple[str, Any]:
    """Rebuild the task saved in a checkpoint.

    Parameters
    ----------
    path : a ``.ckpt`` written by any neurops task.
    kinds : the kinds the caller takes (``"operator"``, ``"rollout"``, ``"generative"``,
        ``"dynamics"``, ``"dcdm"``); another kind is a :class:`~neurops.errors.CheckpointError` saying
        which kind the checkpoint is and which commands take it. ``None`` takes every kind.
    command : the command named in that error (e.g. ``"neurops predict"``).
    map_location : device of the loaded tensors.

    Returns
    -------
    kind : the checkpoint's kind.
    task : the task (a :class:`~neurops.tasks.base.Task`) in eval mode, with its network
        ``task.net``, its normalizers and its checkpoint record ``task.record``.
    """
    ckpt = read(path, map_location)
    wanted = [kinds] if isinstance(kinds, str) else list(kinds or KINDS_BY_NAME)
    if ckpt.kind.name not in wanted:
        who = f"`{command}`" if command else "this command"
        raise CheckpointError(f"{ckpt.path} is {ckpt.kind.described}; "
                              f"{who} takes {' or '.join(wanted)} checkpoints. Use it with {ckpt.kind.commands}.")
    cls = _task_class(ckpt.kind)
    accepted = set(init_parameters(cls)) - set(cls.NOT_SAVED)
    init = {k: v for k, v in ckpt.init_args.items() if k in accepted}
    # the record names the network: its registry name (for tasks that take one) and its kwargs
    init.update({k: ckpt.record[k] for k in ("model", "model_kwargs") if k in accepted and k in ckpt.record})
    try:
        task = cls(**init)
        task.on_load_checkpoint(ckpt.contents)
        task.load_state_dict(_migrate(ckpt))
    except (TypeError, KeyError, RuntimeError) as exc:
        raise CheckpointError(f"{ckpt.path} could not be rebuilt as a {ckpt.kind.name} task: {exc}. Was it "
                              "written by another version of neurops?") from exc
    return ckpt.kind.name, task.to(map_location).eval()


#: kind name -> kind
KINDS_BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS.values()}
