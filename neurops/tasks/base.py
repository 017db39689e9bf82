"""The one base of every neurops task: ``Task`` (a LightningModule).

Every task (:class:`~neurops.tasks.operator.OperatorTask`, :class:`~neurops.tasks.rollout.RolloutTask`,
:class:`~neurops.tasks.generative.GenerativeOperatorTask`, :class:`~neurops.tasks.dynamics.DynamicsTask`)
is a ``Task`` and trains through the same ``neurops fit|validate|test``. The base holds what they share:

* the wrapped network, always ``task.net`` (a registered model, built by name + kwargs);
* the data module of the run (:meth:`Task.datamodule`) and the metric tags of its test splits;
* optimizer and scheduler injection: ``optimizer`` is any ``params -> torch.optim.Optimizer``
  callable (in a config, the ``class_path`` of any torch optimizer), ``lr_scheduler`` any torch
  scheduler or a run-relative :class:`~neurops.tasks.schedules.RunSchedule`;
* ONE checkpoint record, ``checkpoint["neurops"]``: task class, model registry name and kwargs,
  normalizers, data schema and package versions (read back by :mod:`neurops.checkpoints`);
* the random states of the run in every checkpoint, so that a resumed run continues with the
  numbers an uninterrupted one would have drawn.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, ClassVar

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.strategies import FSDPStrategy
from lightning.pytorch.trainer.states import TrainerFn
from torch import nn
from typing_extensions import override

from neurops.data.schema import SCHEMA_VERSION
from neurops.errors import CheckpointError, ConfigError, ModelError, NeuropsWarning
from neurops.models.registry import RESOLUTION_BEHAVIOURS, resolution_behaviour, spec_of
from neurops.tasks.schedules import RunSchedule, one_cycle_lr_problem
from neurops.utils.seeding import rng_states, set_rng_states
from neurops.utils.signature import called_class

__all__ = ["Scheduler", "Task", "check_grid", "check_optimizer_classes"]

#: what ``lr_scheduler`` accepts: a run-relative schedule, any torch scheduler callable, or None (constant)
Scheduler = RunSchedule | LRSchedulerCallable | None


class Task(L.LightningModule):
    """Base LightningModule of every neurops task.

    Subclasses call ``super().__init__(optimizer, lr_scheduler)`` first, then
    ``self.save_hyperparameters(ignore=Task.NOT_SAVED)``; they build ``self.net`` with
    :func:`neurops.models.build` and may override :meth:`checkpoint_extra`,
    :meth:`load_checkpoint_extra` and :meth:`generators`.

    Parameters
    ----------
    optimizer
        callable ``params -> Optimizer``; ``None`` uses :attr:`default_optimizer`. In a
        config: ``optimizer: {class_path: torch.optim.SGD, init_args: {lr: 0.01}}``.
    lr_scheduler
        a :class:`~neurops.tasks.schedules.RunSchedule` (fitted to the run length), a
        callable ``optimizer -> scheduler`` (any ``torch.optim.lr_scheduler`` class in a config,
        stepped per epoch; ``OneCycleLR`` per step), or ``None`` for a constant learning rate.
    """

    #: the optimizer when ``optimizer=None`` (subclasses set their paper's default)
    default_optimizer: ClassVar[Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]] = partial(
        torch.optim.AdamW, lr=1e-3, weight_decay=1e-4)
    #: init arguments that are code, not hyperparameters: never saved in checkpoints
    NOT_SAVED: ClassVar[list[str]] = ["optimizer", "lr_scheduler"]

    def __init__(self, optimizer: OptimizerCallable | None = None, lr_scheduler: Scheduler = None) -> None:
        super().__init__()
        self.optimizer_factory = optimizer
        self.scheduler_factory = lr_scheduler
        self.net: nn.Module | None = None
        #: metric suffix of each test dataloader (``test/rel_l2@64``), from the data module
        self.test_tags: list[str] = []
        #: the ``neurops`` record of the checkpoint this task was loaded from (empty otherwise)
        self.record: dict[str, Any] = {}
        #: the FSDP wrapper the last ``trainer.fit`` trained this task through, in a tuple (not a submodule; the
        #: strategy drops its own reference when it reconnects the task): :meth:`_evaluate_through_fit_wrapper`
        self._fsdp_wrapper: tuple[nn.Module, ...] = ()

    # the run's data ---------------------------------------------------------------------------
    def datamodule(self) -> Any:
        """The data module of the attached trainer, or ``None``."""
        return getattr(self.trainer, "datamodule", None) if self._trainer is not None else None

    @override
    def setup(self, stage: str) -> None:
        dm = self.datamodule()
        if dm is not None and hasattr(dm, "test_tags"):
            self.test_tags = list(dm.test_tags)
        if stage != "fit":
            self._evaluate_through_fit_wrapper()

    @override
    def on_fit_start(self) -> None:
        """Under FSDP, keep the wrapper fit trains this task through, for evaluations after fit."""
        model = self.trainer.strategy.model
        if isinstance(self.trainer.strategy, FSDPStrategy) and model is not None and model is not self:
            self._fsdp_wrapper = (model,)

    def _evaluate_through_fit_wrapper(self) -> None:
        """``trainer.validate|test|predict`` after ``trainer.fit`` under FSDP (``neurops fit``'s test after fit, or
        a user's Python): Lightning reconnects the bare task and would wrap it in a second FSDP wrapper inside fit's,
        which holds the task's parameters flattened and sharded ("RuntimeError: size mismatch, got input (1024), mat
        (1024x3), vec (24)"). Lightning calls ``setup`` before it wraps the model, and keeps a model that is already
        wrapped in FSDP (``FSDPStrategy._setup_model``): the strategy gets fit's wrapper back."""
        strategy = self.trainer.strategy
        for wrapper in self._fsdp_wrapper:
            if isinstance(strategy, FSDPStrategy) and getattr(wrapper, "module", None) is self:
                strategy.model = wrapper

    def test_tag(self, dataloader_idx: int) -> str:
        """The metric suffix of test dataloader ``dataloader_idx``."""
        return self.test_tags[dataloader_idx] if dataloader_idx < len(self.test_tags) else str(dataloader_idx)

    def log_mean(self, name: str, value: torch.Tensor | float, n: int, **kwargs: Any) -> None:
        """Log ``value``, a mean over the ``n`` samples of a validation or test batch, as the epoch's mean over the
        samples of all processes (each evaluates its own share of the split, every sample once:
        :func:`~neurops.data.datamodule.loaders.evaluation_sampler`).

        Lightning sums ``value * n`` and ``n`` over the batches and, at the epoch's end, over the processes. ``n``
        goes in as a float: Lightning keeps an integer count, and its mean over the processes (``sum / P`` on gloo)
        truncates it (3 + 2 samples in 2 processes: 2, not 2.5, and the metric came out 5/4 of its value).
        """
        self.log(name, value, batch_size=float(n), sync_dist=True, add_dataloader_idx=False,  # type: ignore[arg-type]
                 **kwargs)

    # optimisation -----------------------------------------------------------------------------
    def _optimizer(self) -> torch.optim.Optimizer:
        factory = self.optimizer_factory or type(self).default_optimizer
        named = _factory_name(factory)
        try:  # the user's optimizer, with torch's own check of its settings: "Invalid learning rate: -0.1"
            optimizer = factory(self.parameters())
        except (ValueError, TypeError) as exc:
            raise ConfigError(_optimizer_problem(named, str(exc).rstrip("."))) from exc
        for group in optimizer.param_groups:  # torch lets a NaN lr pass some optimizers (SGD): weights become NaN
            for key, value in group.items():
                if isinstance(value, float) and (math.isnan(value) or (key == "lr" and math.isinf(value))):
                    raise ConfigError(_optimizer_problem(named or _class_path(type(optimizer)), (
                        f"{key} {value} is not a finite number (every weight would become nan at the first step); "
                        "give a number such as 1e-3")))
        return optimizer

    @override
    def configure_optimizers(self) -> Any:
        optimizer = self._optimizer()
        schedule = self.scheduler_factory
        if schedule is None:
            return optimizer
        if isinstance(schedule, RunSchedule):
            steps, epochs = self._run_length(schedule)
            scheduler, interval = schedule.build(optimizer, steps, epochs), schedule.interval
        else:
            problem = one_cycle_lr_problem(schedule)
            if problem:
                raise ConfigError(problem)
            try:  # the user's torch scheduler: torch checks its arguments when it is built
                scheduler = schedule(optimizer)
            except (ValueError, TypeError) as exc:
                named = _factory_name(schedule) or getattr(schedule, "__qualname__", repr(schedule))
                raise ConfigError(f"lr_scheduler {named} cannot be built: {str(exc).rstrip('.')} (set its arguments "
                                  "under model.init_args.lr_scheduler.init_args, or use a schedule fitted to the run, "
                                  "class_path: neurops.tasks.schedules.OneCycle, StepDecay, Cosine or "
                                  "ExponentialTo).") from exc
            interval = "step" if isinstance(scheduler, torch.optim.lr_scheduler.OneCycleLR) else "epoch"
        self._check_scheduler_state(scheduler, type(schedule).__name__ if isinstance(schedule, RunSchedule) else
                                    type(scheduler).__name__)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": interval}}

    def _check_scheduler_state(self, scheduler: Any, named: str) -> None:
        """Refuse to resume a schedule's state written by another scheduler class (torch takes it and fails at the
        first step, e.g. ``KeyError: 'max_lr'`` when OneCycleLR continues StepLR), before any step; checkpoints that
        do not name their schedulers are recognised by the keys of their states."""
        saved = getattr(self, "_resumed_schedulers", None)
        if not saved or self._trainer is None or self.trainer.state.fn != TrainerFn.FITTING:
            return
        names = self.record.get("lr_schedulers") or []
        ours = type(scheduler)
        theirs = names[0] if names else None
        if theirs is not None and theirs != _class_path(ours) or (
                theirs is None and set(saved[0]) != set(scheduler.state_dict())):
            which = f"is {theirs.rsplit('.', 1)[-1].lstrip('_')}'s" if theirs else "is another scheduler's"
            raise CheckpointError(
                f"{self.trainer.ckpt_path}: its learning-rate schedule state {which}, which this run's "
                f"{named} cannot continue; resume with the checkpoint's lr_scheduler (that of the config "
                "it was trained with), or train with this one in a new run folder (--trainer.default_root_dir DIR).")
        if isinstance(self.scheduler_factory, RunSchedule):
            # torch would take the saved run's length: OneCycle then stopped at the first step past it (ValueError:
            # Tried to step N times), StepDecay and the others decayed over the old length without a word
            ours_state = scheduler.state_dict()
            for key in ("total_steps", "step_size", "T_max", "gamma"):
                if key in ours_state and key in saved[0] and saved[0][key] != ours_state[key]:
                    raise CheckpointError(
                        f"{self.trainer.ckpt_path}: its {named} schedule was fitted to the length of the run it was "
                        f"saved in ({key} {saved[0][key]}), but this run's length gives {key} {ours_state[key]} "
                        "(another --trainer.max_epochs or max_steps, or another number of batches per epoch); a "
                        "schedule relative to the run cannot change its length midway: resume with the run's "
                        "max_epochs and data, or train in a new run folder (--trainer.default_root_dir DIR), or use "
                        "a torch scheduler of absolute length (e.g. --model.lr_scheduler "
                        "torch.optim.lr_scheduler.StepLR).")

    def _run_length(self, schedule: RunSchedule) -> tuple[int, int | None]:
        """Optimizer steps and epochs of the run: the epochs the steps fill, also when ``max_steps`` bounds it; one
        ``ConfigError`` for a run without a bound (``max_epochs -1``), to which ``schedule`` cannot be fitted."""
        trainer = self.trainer
        trainer.fit_loop.setup_data()  # as estimated_stepping_batches does (it skips it when max_steps bounds the run)
        if not math.isfinite(trainer.estimated_stepping_batches):
            raise ConfigError(
                f"lr_scheduler {schedule!r} is fitted to the length of the run, but this run has no bound "
                f"(max_epochs {trainer.max_epochs} and no max_steps: it trains until stopped); give "
                "--trainer.max_epochs N (N >= 1) or --trainer.max_steps N, or use a constant learning rate "
                "(--model.lr_scheduler null) or a torch scheduler of absolute length (e.g. --model.lr_scheduler "
                "torch.optim.lr_scheduler.StepLR --model.lr_scheduler.step_size 100).")
        steps = int(trainer.estimated_stepping_batches)
        per_epoch = trainer.num_training_batches
        if math.isfinite(per_epoch) and per_epoch > 0:
            return steps, max(1, math.ceil(steps * trainer.accumulate_grad_batches / per_epoch))
        return steps, (trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None)

    # checkpoints ------------------------------------------------------------------------------
    def checkpoint_record(self) -> dict[str, Any]:
        """The ``neurops`` record saved in every checkpoint of this task."""
        import lightning

        from neurops import __version__

        if self.net is None:
            raise CheckpointError(f"{type(self).__name__} has no network yet; nothing to checkpoint.")
        model, model_kwargs = spec_of(self.net)
        normalizers = {name: type(module).__name__ for name, module in self.named_children()
                       if name.endswith("_norm") and module is not None}
        return {"task": f"{type(self).__module__}.{type(self).__qualname__}", "model": model,
                "model_kwargs": model_kwargs, "normalizers": normalizers, "schema_version": SCHEMA_VERSION,
                "neurops_version": __version__, "torch_version": str(torch.__version__),
                "lightning_version": str(lightning.__version__), **self.checkpoint_extra()}

    def checkpoint_extra(self) -> dict[str, Any]:
        """Task-specific entries of the checkpoint record (plain data)."""
        return {}

    def load_checkpoint_extra(self, record: dict[str, Any]) -> None:
        """Restore task state from the entries written by :meth:`checkpoint_extra`."""

    def generators(self) -> dict[str, torch.Generator]:
        """The task's own random generators, saved and restored with checkpoints."""
        return {}

    @override
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["neurops"] = self.checkpoint_record()
        if self._trainer is not None and self.trainer.optimizers:  # whose states "optimizer_states" are
            checkpoint["neurops"]["optimizers"] = [_class_path(type(o)) for o in self.trainer.optimizers]
            checkpoint["neurops"]["lr_schedulers"] = [_class_path(type(c.scheduler))
                                                      for c in self.trainer.lr_scheduler_configs]
        checkpoint["neurops_rng"] = {"global": rng_states(),
                                     "task": {k: g.get_state() for k, g in self.generators().items()}}

    @override
    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        record = checkpoint.get("neurops") or {}
        if record.get("schema_version", SCHEMA_VERSION) > SCHEMA_VERSION:
            raise CheckpointError(f"the checkpoint was written for data schema v{record['schema_version']}; this "
                                  f"neurops reads v{SCHEMA_VERSION}. Upgrade neurops.")
        self.record = dict(record)
        self._resumed_schedulers = checkpoint.get("lr_schedulers") or []  # their states, checked when rebuilt
        if self._trainer is not None and self.trainer.state.fn == TrainerFn.FITTING:
            self._check_optimizer_states(checkpoint)
        self.load_checkpoint_extra(record)
        rng = checkpoint.get("neurops_rng")
        if rng:
            for key, generator in self.generators().items():
                if key in rng["task"]:
                    generator.set_state(rng["task"][key])
            if self._trainer is not None:
                # a trainer resumes this run: from here on it draws what the interrupted run would have drawn
                # after its checkpoint (Lightning restores a checkpoint after `setup` and before the optimizers
                # and the first training batch; the sanity check between keeps the random state it found)
                set_rng_states(rng["global"])

    def _check_optimizer_states(self, checkpoint: dict[str, Any]) -> None:
        """Refuse to resume optimizer states written by another optimizer class, before torch loads them (torch
        takes them and fails at the first step, e.g. ``KeyError: 'momentum'`` when SGD continues AdamW; under FSDP,
        Lightning has loaded them already, and the run stops here before its first step)."""
        states = checkpoint.get("optimizer_states") or []
        saved = (checkpoint.get("neurops") or {}).get("optimizers") or []
        optimizers = self.trainer.optimizers or ([self._optimizer()] if states else [])
        check_optimizer_classes(checkpoint, [type(o) for o in optimizers], self.trainer.ckpt_path)
        for state, optimizer in list(zip(states, optimizers))[len(saved):]:
            # written before checkpoints named their optimizer: hyperparameters of ours it lacks
            group = (state.get("param_groups") or [{}])[0]
            lacks = [k for k, v in optimizer.defaults.items() if k not in group and not isinstance(v, bool | None)]
            if lacks:
                raise _cannot_continue(self.trainer.ckpt_path, f"is another optimizer's (it has no {', '.join(lacks)})",
                                       type(optimizer), "CLASS")


def check_optimizer_classes(checkpoint: dict[str, Any], classes: Sequence[type], ckpt_path: object) -> None:
    """One :class:`~neurops.errors.CheckpointError` if the optimizer states of ``checkpoint`` (a checkpoint's
    contents) were written by other optimizer classes than ``classes``, the run's, as its ``neurops`` record names
    them (states it does not name are left to :meth:`Task._check_optimizer_states`).

    ``neurops fit`` calls it before the Trainer starts (no process launched, nothing restored); every task calls it
    again when Lightning restores the checkpoint, for runs started from Python.
    """
    states = checkpoint.get("optimizer_states") or []
    saved = (checkpoint.get("neurops") or {}).get("optimizers") or []
    for _, name, cls in zip(states, saved, classes):
        if name != _class_path(cls):
            raise _cannot_continue(ckpt_path, f"is {name.rsplit('.', 1)[-1]}'s", cls, name)


def _cannot_continue(ckpt_path: object, theirs: str, ours: type, resume: str) -> CheckpointError:
    name = ours.__name__
    return CheckpointError(
        f"{ckpt_path}: its optimizer state {theirs}, which this run's {name} cannot continue; resume with the "
        f"checkpoint's optimizer (--model.optimizer {resume}), or train with {name} in a new run folder "
        "(--trainer.default_root_dir DIR; a run cannot start from a checkpoint's weights alone).")


def _factory_name(factory: object) -> str | None:
    """How a config names the class ``factory`` builds (``torch.optim.AdamW``), ``None`` when not known."""
    called = called_class(factory)
    return _class_path(called[0]) if called else None


def _optimizer_problem(named: str | None, problem: str) -> str:
    return (f"the optimizer settings are not usable{f' ({named})' if named else ''}: {problem} (set them under "
            "model.init_args.optimizer.init_args, e.g. --model.init_args.optimizer.init_args.lr 0.001).")


def _class_path(cls: type) -> str:
    """How a config names an optimizer or scheduler class: ``torch.optim.AdamW`` (not ``torch.optim.adamw.AdamW``),
    ``torch.optim.lr_scheduler.StepLR``."""
    return f"torch.optim.{cls.__name__}" if getattr(torch.optim, cls.__name__, None) is cls else \
        f"{cls.__module__}.{cls.__qualname__}"


def check_grid(task, shape: Sequence[int], what: str = "the data", data: str | os.PathLike | None = None) -> bool:
    """Refuse a grid the model cannot take; warn (:class:`~neurops.errors.NeuropsWarning`) if a ``fixed_grid``
    model meets another grid than its training grid.

    The refusal is the model's own ``check_grid`` (e.g. an FNO on a grid too coarse for its Fourier modes),
    which the tasks also run on every split before training; it raises one
    :class:`~neurops.errors.ModelError` naming the split.

    Parameters
    ----------
    task : a loaded operator or rollout task (its ``train_resolution`` comes from the checkpoint).
    shape : points per axis of the grid to predict on.
    what : names the data in the messages (``"split 'test'"``).
    data : the file the data comes from, named in the error.

    Returns
    -------
    True if a warning was given.
    """
    trained = task.train_resolution
    refuse = getattr(task.net, "check_grid", None)
    if refuse is not None:
        try:
            refuse(tuple(int(n) for n in shape))
        except ModelError as exc:
            where = f"{data} {what}" if data is not None else what
            on = f" (trained on {'x'.join(map(str, trained))})" if trained else ""
            raise ModelError(f"{where} cannot be predicted with the checkpoint's {task.hparams.model!r} model{on}: "
                             f"{exc}") from None
    if not trained or tuple(shape) == tuple(trained) or resolution_behaviour(task.net) != "fixed_grid":
        return False
    grid = "x".join(map(str, shape))
    warnings.warn(f"{what} is on a {grid} grid but the {task.hparams.model!r} model was trained on "
                  f"{'x'.join(map(str, trained))} and is fixed_grid ({RESOLUTION_BEHAVIOURS['fixed_grid']}): expect "
                  "large errors. Predict on the training grid, or retrain with reference_resolution set (MgNO, LSM) "
                  "or a function-space model (see docs/resolution.md).", NeuropsWarning, stacklevel=2)
    return True
