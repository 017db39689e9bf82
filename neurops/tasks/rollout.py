"""Autoregressive rollout training of time-dependent operators: ``RolloutTask``.

A time-dependent operator maps the last ``T_in`` frames to the next ``step``
frames; applying it ``T_out / step`` times, each time feeding its own prediction
back as input, predicts ``T_out`` frames. Frames are stacked time-major into
channels (see :mod:`neurops.data.rollout`).

Two ways to train:

* ``training="rollout"``: back-propagate through the whole autoregressive rollout
  (FNO and LSM on Navier-Stokes, 10 -> 10);
* ``training="teacher_forcing"``: every step sees the true previous frames, all
  steps in one batched forward pass (MgNO on Navier-Stokes, 1 -> 10).

Validation and test always roll out freely. The relative L2 error of every step
is logged (``val/rel_l2_step3``, ``test/rel_l2_step3@64``). The mean per-step errors
of the last validation of a fit, of a validation run and of a test run are saved as
JSON (``rollout_errors_<stage>.json`` in the logger's directory, when there is a logger);
``neurops fit|validate|test`` also plots them next to it (``.png``,
:class:`neurops.cli.callbacks.RolloutErrorFigures`).

References
----------
.. [1] Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
   Equations", ICLR 2021, arXiv:2010.08895.
.. [2] H. Wu et al., "Solving High-Dimensional PDEs with Latent Spectral Models",
   ICML 2023, arXiv:2301.12664.
.. [3] J. He, X. Liu, J. Xu, "MgNO: Efficient Parameterization of Linear Operators
   via Multigrid", ICLR 2024, arXiv:2310.19809.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
from typing_extensions import override

from neurops.errors import ConfigError, DataError, ModelError
from neurops.metrics.field import relative_h1, relative_lp
from neurops.tasks.operator import OperatorTask
from neurops.utils.io import atomic_path, strict_json

__all__ = ["RolloutTask", "autoregressive_rollout", "teacher_forcing_windows"]

Training = Literal["rollout", "teacher_forcing"]


def autoregressive_rollout(step_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                           n_steps: int) -> torch.Tensor:
    """Apply ``step_fn`` ``n_steps`` times, feeding its predictions back.

    Parameters
    ----------
    step_fn
        maps the last frames ``[B, C_in, *spatial]`` to the next ones
        ``[B, C_step, *spatial]`` (time-major channels).
    x
        [B, C_in, *spatial], the initial input frames.
    n_steps
        K, number of applications.

    Returns
    -------
    [B, K * C_step, *spatial], the predictions of all steps, in time order.
    """
    window = x.shape[1]
    preds = []
    for _ in range(n_steps):
        pred = step_fn(x)
        preds.append(pred)
        x = torch.cat([x, pred], dim=1)[:, -window:]
    return torch.cat(preds, dim=1)


def teacher_forcing_windows(x: torch.Tensor, y: torch.Tensor, n_steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets of every step when each step sees the true previous frames.

    Parameters
    ----------
    x
        [B, C_in, *spatial], input frames.
    y
        [B, K * C_step, *spatial], the true frames that follow.
    n_steps
        K.

    Returns
    -------
    inputs : [K * B, C_in, *spatial], step-major (step ``k`` is rows ``k*B:(k+1)*B``).
    targets : [K * B, C_step, *spatial].
    """
    window, step_ch = x.shape[1], y.shape[1] // n_steps
    full = torch.cat([x, y], dim=1)
    inputs = torch.cat([full[:, k * step_ch:k * step_ch + window] for k in range(n_steps)], dim=0)
    targets = torch.cat(y.split(step_ch, dim=1), dim=0)
    return inputs, targets


class RolloutTask(OperatorTask):
    """Learn a time-dependent operator ``T_in`` frames -> next ``step`` frames, rolled out to ``T_out``.

    Works with :class:`~neurops.data.datamodule.RolloutDataModule`; the model is any
    registered operator (``lsm``, ``fno``, ``mgno`` ...) with ``in_channels = T_in * F``
    and ``out_channels = step * F`` for F fields per frame (filled in from the data). The model is
    built as :class:`~neurops.tasks.operator.OperatorTask` builds it: ``boundary`` from the file's
    boundary conditions and ``reference_resolution`` = the training grid for models that take them
    (MgNO, LSM, fs_unet), unless ``model_kwargs`` sets them; the checkpoint records the training grid.
    Normalizers act per input and per output channel, and predictions are fed back
    in physical units, so a normalized model rolls out consistently.

    Parameters
    ----------
    model
        registry name of the one-step model.
    model_kwargs
        keyword arguments of the one-step model (``reference_resolution: null`` keeps MgNO's or LSM's
        grid-unit, ``fixed_grid`` behaviour).
    t_in
        input frames (default: the datamodule's).
    t_out
        rolled-out frames (default: the datamodule's).
    step
        frames predicted per model call; ``t_out`` must be a multiple of it.
    training
        ``"rollout"`` (back-propagation through the rollout) or
        ``"teacher_forcing"`` (each step sees the true previous frames).
    plot
        save per-step error curves (JSON; the command's trainer adds the PNG) after validation/test runs.
    **kwargs : every other argument of :class:`~neurops.tasks.operator.OperatorTask` (``loss``,
        ``optimizer``, ``lr_scheduler``, ``normalize``, ``compile`` ...); the loss is averaged
        over the rollout steps.
    """

    def __init__(
        self,
        model: str = "fno",
        model_kwargs: dict[str, Any] | None = None,
        t_in: int | None = None,
        t_out: int | None = None,
        step: int = 1,
        training: Training = "rollout",
        plot: bool = True,
        **kwargs: Any,
    ) -> None:
        if training not in ("rollout", "teacher_forcing"):
            raise ConfigError(f"training={training!r} is unknown; use 'rollout' or 'teacher_forcing'.")
        if step < 1:
            raise ConfigError(f"step must be >= 1, got {step}.")
        for name, value in (("t_in", t_in), ("t_out", t_out)):
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}.")
        if t_out is not None and t_out % step:
            raise ConfigError(f"t_out={t_out} is not a multiple of step={step}; choose step dividing t_out.")
        super().__init__(model=model, model_kwargs=model_kwargs, **kwargs)
        # OperatorTask.save_hyperparameters() also records this subclass's arguments (t_in, step, ...)
        self._step_errors: dict[str, dict[str, torch.Tensor]] = {}
        #: mean relative L2 error per rollout step of the last validation/test run, ``{stage: {tag: [K]}}``
        self.rollout_errors: dict[str, dict[str, list[float]]] = {}
        #: where the training data's evaluation windows sit, ``{"start", "time_stride"}`` (from the data module;
        #: saved in checkpoints, so that ``neurops predict`` cuts the same input frames); ``None`` when unknown
        self.window: dict[str, float] | None = None

    # sizes ---------------------------------------------------------------------------
    @property
    def n_steps(self) -> int:
        """K = t_out / step model applications per rollout."""
        if self.hparams.t_out is None:
            raise ConfigError("t_out is unknown: pass t_out or train with a RolloutDataModule.")
        return self.hparams.t_out // self.hparams.step

    @override
    def setup(self, stage: str) -> None:
        dm = self.datamodule()
        if dm is not None and hasattr(dm, "n_fields"):
            for name in ("t_in", "t_out"):
                ours, theirs = self.hparams[name], getattr(dm, name)
                if ours is None:
                    self.hparams[name] = theirs
                elif ours != theirs:
                    raise ConfigError(f"the task has {name}={ours} but the datamodule gives {name}={theirs}; "
                                      "set them equal (or leave the task's unset).")
            if self.hparams.t_out % self.hparams.step:
                raise ConfigError(f"t_out={self.hparams.t_out} is not a multiple of step={self.hparams.step}.")
            if hasattr(dm, "window"):  # and the time step the model learns, for `neurops predict` to compare
                self.window = {key: int(value) for key, value in dm.window.items()}
                if (dt := getattr(dm.train_set, "frame_dt", None)) is not None:
                    self.window["dt"] = dt
        super().setup(stage)

    def _model_channels(self, dm: Any) -> tuple[int, int]:
        # OperatorTask.setup builds the model (with the data's boundary conditions and training grid, as for an
        # operator); it maps the T_in input frames to the next `step` frames of the F fields
        if not hasattr(dm, "n_fields"):
            return super()._model_channels(dm)
        return dm.in_channels, self.hparams.step * dm.n_fields

    def _check_channels(self, in_channels: int, out_channels: int) -> None:
        # data: x has t_in * F channels, y has t_out * F; the model predicts step * F per call
        kw, hp = self.hparams.model_kwargs, self.hparams
        expected_out = out_channels // hp.t_out * hp.step
        if kw["in_channels"] != in_channels or kw["out_channels"] != expected_out:
            raise ModelError(f"the model maps {kw['in_channels']} -> {kw['out_channels']} channels but the data "
                             f"needs {in_channels} -> {expected_out} (t_in={hp.t_in}, step={hp.step}, "
                             f"{out_channels // hp.t_out} field(s)); fix model_kwargs or the windows.")

    def _normalizer_samples(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        # every step's target frames are one output sample of the model
        return batch["x"], teacher_forcing_windows(batch["x"], batch["y"], self.n_steps)[1]

    # rollout -------------------------------------------------------------------------
    def rollout(self, x: torch.Tensor, n_steps: int | None = None) -> torch.Tensor:
        """Physical input frames ``[B, T_in * F, *spatial]`` -> predicted frames ``[B, K * step * F, *spatial]``."""
        return autoregressive_rollout(self, x, self.n_steps if n_steps is None else n_steps)

    def _per_step(self, pred: torch.Tensor, target: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        k = self.n_steps
        return list(zip(pred.chunk(k, dim=1), target.chunk(k, dim=1)))

    @override
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch["x"], batch["y"]
        if self.hparams.training == "teacher_forcing":
            inputs, targets = teacher_forcing_windows(x, y, self.n_steps)
            pred = self(inputs)
            # same weight per step and per sample as the rollout loss below
            steps = zip(pred.chunk(self.n_steps), targets.chunk(self.n_steps))
            loss = torch.stack([self.loss_fn(p, t) for p, t in steps]).mean()
        else:
            pred = self.rollout(x)
            loss = torch.stack([self.loss_fn(p, t) for p, t in self._per_step(pred, y)]).mean()
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(x), sync_dist=True)
        return loss

    def _evaluate(self, stage: str, tag: str, batch: dict[str, torch.Tensor]) -> None:
        x, y = batch["x"], batch["y"]
        pred = self.rollout(x)
        n = len(y)
        suffix = f"@{tag}" if tag else ""
        steps = self._per_step(pred, y)
        loss = torch.stack([self.loss_fn(p, t) for p, t in steps]).mean()
        self.log_mean(f"{stage}/loss{suffix}", loss, n)
        self.log_mean(f"{stage}/rel_l2{suffix}", relative_lp(pred, y), n, prog_bar=stage == "val")
        self.log_mean(f"{stage}/rel_h1{suffix}", relative_h1(pred, y), n)
        per_step = torch.stack([relative_lp(p, t, reduction="sum") for p, t in steps]).detach()
        for k, value in enumerate(per_step):
            self.log_mean(f"{stage}/rel_l2_step{k + 1}{suffix}", value / n, n)
        acc = self._step_errors.setdefault(stage, {})
        prev = acc.get(tag)
        count = torch.tensor([float(n)], device=per_step.device)
        acc[tag] = torch.cat([per_step, count]) if prev is None else prev + torch.cat([per_step, count])

    @override
    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate("val", "", batch)

    @override
    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        self._evaluate("test", self.test_tag(dataloader_idx), batch)

    @override
    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        return self.rollout(batch["x"])

    # checkpoints --------------------------------------------------------------------
    def checkpoint_extra(self) -> dict[str, Any]:
        return {**super().checkpoint_extra(), "window": self.window}

    def load_checkpoint_extra(self, record: dict[str, Any]) -> None:
        super().load_checkpoint_extra(record)
        recorded = record.get("window") or {}
        if self.window is None:  # a run's data module (set up before the checkpoint is restored) has the last word
            self.window = record.get("window")
        elif None not in (dt := recorded.get("dt"), ours := self.window.get("dt")) and abs(dt - ours) > 1e-6 * dt:
            raise DataError(f"the checkpoint's model steps {dt:g} time units (the frame spacing of its training data), "
                            f"but this run's training split holds frames {ours:g} apart (time_stride "
                            f"{self.window['time_stride']:g}), so each step would stand for the wrong time; use data "
                            "stored at the checkpoint's spacing, or set --data.time_stride so the spacings agree.")

    # per-step error curves ----------------------------------------------------------
    @override
    def on_validation_epoch_start(self) -> None:
        self._step_errors.pop("val", None)

    @override
    def on_test_epoch_start(self) -> None:
        self._step_errors.pop("test", None)

    @override
    def on_validation_epoch_end(self) -> None:
        self._finish_curves("val")
        if self._trainer is not None and self.trainer.state.fn == "validate":
            self._save_curves("val")  # during fit the curves are saved once, at the end

    @override
    def on_fit_end(self) -> None:
        self._save_curves("val")

    @override
    def on_test_epoch_end(self) -> None:
        self._finish_curves("test")
        self._save_curves("test")

    def _finish_curves(self, stage: str) -> None:
        acc = self._step_errors.pop(stage, {})
        if self._trainer is not None:  # error sums and counts over the samples of all processes
            acc = {tag: self.trainer.strategy.reduce(v, reduce_op="sum") for tag, v in acc.items()}
        if acc and not (self._trainer is not None and self.trainer.sanity_checking):
            self.rollout_errors[stage] = {tag or stage: (v[:-1] / v[-1]).tolist() for tag, v in acc.items()}

    def curves_to_save(self, stage: str) -> tuple[Path, dict[str, list[float]]] | None:
        """The folder the per-step error curves of ``stage`` are saved to and the curves ``{tag: [K]}``,
        or ``None`` where nothing is saved (no curves, ``plot=False``, no trainer or logger, or not the
        global rank zero). Every process must call it (the logger's folder is a broadcast under DDP)."""
        curves = self.rollout_errors.get(stage)
        trainer = self._trainer
        if not curves or not self.hparams.plot or trainer is None or not trainer.loggers:
            return None  # files go to the logger's directory; no logger, no files
        out_dir = Path(trainer.log_dir or trainer.default_root_dir)  # a broadcast under DDP: every process asks
        return (out_dir, curves) if trainer.is_global_zero else None

    def _save_curves(self, stage: str) -> None:
        target = self.curves_to_save(stage)
        if target is None:
            return
        out_dir, curves = target
        record = {"stage": stage, "epoch": int(self.current_epoch), "t_in": self.hparams.t_in,
                  "t_out": self.hparams.t_out, "step": self.hparams.step, "rel_l2_per_step": curves}
        with atomic_path(out_dir / f"rollout_errors_{stage}.json") as tmp:
            tmp.write_text(strict_json(record, indent=2) + "\n")  # a diverged step's NaN: null
