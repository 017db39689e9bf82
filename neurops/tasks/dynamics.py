"""Dynamical-systems reconstruction: ``DynamicsTask`` (LightningModule).

The task trains a PWL RNN (:mod:`neurops.models.plrnn`) on random windows
(:class:`neurops.data.datamodule.DynamicsDataModule`) with one of

* ``gtf``: generalized teacher forcing with a fixed ``alpha``;
* ``agtf``: adaptive GTF, ``alpha`` re-estimated from Jacobian-product bounds;
* ``stf``: sparse teacher forcing every ``tau`` steps;
* ``bptt``: plain back-propagation through time (free running, ``alpha = 0``);

with RAdam and an exponential learning-rate decay from ``lr`` to ``lr_end`` over the
epochs (:class:`~neurops.tasks.schedules.ExponentialTo`), the latent, manifold-attractor and
observation regularisers, and validation by free-running generation (``val/d_stsp``,
``val/d_h``; choose checkpoints by the minimum ``val/d_stsp`` as in the AL-RNN paper, with
:class:`~neurops.tasks.callbacks.BestCheckpoint`).

References
----------
.. [1] Hess, F., Monfared, Z., Brenner, M., Durstewitz, D. (2023). Generalized teacher
   forcing for learning chaotic dynamics. ICML 2023, PMLR 202.
.. [2] Mikhaeil, J. M., Monfared, Z., Durstewitz, D. (2022). On the difficulty of learning
   chaotic dynamics with RNNs. NeurIPS 2022.
.. [3] Brenner, M. et al. (2024). Almost-linear RNNs yield highly interpretable symbolic
   codes in dynamical systems reconstruction. NeurIPS 2024.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

import numpy as np
import torch
from jsonargparse import lazy_instance
from lightning.pytorch.cli import OptimizerCallable

from neurops.dynamics.teacher_forcing import ALPHA_METHODS, AdaptiveAlpha, gtf_rollout, stf_rollout
from neurops.errors import ConfigError, ModelError
from neurops.metrics.dsr import generate_like, hellinger_distance, state_space_divergence
from neurops.models.registry import build, get_class
from neurops.tasks.base import Scheduler, Task
from neurops.tasks.schedules import ExponentialTo

Training = Literal["gtf", "agtf", "stf", "bptt"]
TRAININGS: tuple[str, ...] = ("gtf", "agtf", "stf", "bptt")


class DynamicsTask(Task):
    """Train a PWL RNN for dynamical-systems reconstruction.

    Parameters
    ----------
    model : registry name (``plrnn``, ``shplrnn``, ``clipped_shplrnn``, ``alrnn``, ``dendplrnn``).
    model_kwargs : model arguments (``latent_dim`` ...); ``obs_dim`` is filled in from the data.
    training : ``gtf``, ``agtf``, ``stf`` or ``bptt``.
    alpha : GTF forcing strength (``gtf``).
    alpha_method, alpha_every, alpha_rate : alpha estimation method, interval in batches and
        rate at which alpha decays towards lower estimates (``agtf``; the paper's 1e-3 suits its
        ~10^5 steps, shorter runs need a faster rate).
    tau : sparse-forcing interval in steps (``stf``).
    optimizer : default RAdam with lr 1e-3.
    lr_scheduler : default :class:`~neurops.tasks.schedules.ExponentialTo` decaying the learning
        rate per epoch to ``lr_end`` 1e-6 at the last epoch.
    lambda_latent : weight of ``||1-A||^2 + ||W||^2 + ||h||^2``.
    lambda_mar, mar_fraction : weight of the manifold-attractor regulariser and the fraction
        of units it acts on.
    lambda_obs : weight of the condition-number regulariser of an affine observation.
    input_noise : std of Gaussian noise added to each training batch.
    n_bins, smoothing : D_stsp bins per dimension and D_H smoothing (validation).
    val_gen_length : points of the free-running orbit whose state-space histogram is
        compared with the validation series for ``val/d_stsp`` (after the protocol's
        ``0.25 T`` warm-up); at least ``T`` (``None``: ``T``, the protocol). A longer orbit makes the
        checkpoint choice less noisy for short validation series; ``val/d_h`` always uses
        the first ``T`` points.
    gradient_clip : clip the gradient norm to this value (0: off; GTF needs none).
    """

    default_optimizer = partial(torch.optim.RAdam, lr=1e-3)

    def __init__(self, model: str = "clipped_shplrnn", model_kwargs: dict[str, Any] | None = None,
                 training: Training = "gtf", alpha: float = 0.1,
                 alpha_method: str = "product_upper_bound", alpha_every: int = 5, alpha_rate: float = 1e-3,
                 tau: int = 10, optimizer: OptimizerCallable | None = None,
                 lr_scheduler: Scheduler = lazy_instance(ExponentialTo, lr_end=1e-6),
                 lambda_latent: float = 0.0, lambda_mar: float = 0.0,
                 mar_fraction: float = 0.5, lambda_obs: float = 0.0, input_noise: float = 0.0, n_bins: int = 30,
                 smoothing: float = 20.0, gradient_clip: float = 0.0, val_gen_length: int | None = None) -> None:
        super().__init__(optimizer, lr_scheduler)
        if training not in TRAININGS:
            raise ConfigError(f"training {training!r} is unknown; use one of {TRAININGS}.")
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"alpha must lie in [0, 1], got {alpha}.")
        if alpha_method not in ALPHA_METHODS:
            raise ConfigError(f"alpha_method {alpha_method!r} is unknown; use one of {ALPHA_METHODS}.")
        if val_gen_length is not None and val_gen_length < 1:
            raise ConfigError(f"val_gen_length must be >= 1 (or None), got {val_gen_length}.")
        if tau < 1:
            raise ConfigError(f"need tau >= 1, got tau={tau}.")
        get_class(model)  # unknown names fail here, with suggestions
        self.save_hyperparameters(ignore=Task.NOT_SAVED)
        self.alpha_schedule = (AdaptiveAlpha(alpha_method, every=alpha_every, rate=alpha_rate)
                               if training == "agtf" else None)
        self.dt = 1.0
        if model_kwargs and "obs_dim" in model_kwargs:
            self._build()

    def _build(self) -> None:
        kwargs = dict(self.hparams.model_kwargs or {})
        if "latent_dim" not in kwargs:
            raise ConfigError(f"model_kwargs of {self.hparams.model!r} need latent_dim (the number of latent units).")
        self.net = build(self.hparams.model, **kwargs)

    # -- setup ---------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        super().setup(stage)
        dm = self.datamodule()
        if dm is None:
            if self.net is None:
                raise ConfigError("DynamicsTask needs model_kwargs['obs_dim'] or a DynamicsDataModule to infer it.")
            return
        self.dt = float(getattr(dm, "dt", 1.0))
        kwargs = dict(self.hparams.model_kwargs or {})
        if kwargs.get("obs_dim", dm.obs_dim) != dm.obs_dim:
            raise ModelError(f"model_kwargs obs_dim={kwargs['obs_dim']} but the data has {dm.obs_dim} variables.")
        if self.net is None:
            kwargs["obs_dim"] = dm.obs_dim
            self.hparams.model_kwargs = kwargs
            self._build()

    # -- training ----------------------------------------------------------------------
    def current_alpha(self, x: torch.Tensor) -> float:
        """The forcing strength used for batch ``x : [B, T+1, N]``."""
        if self.hparams.training == "agtf":
            return self.alpha_schedule(self.net, x)
        return self.hparams.alpha if self.hparams.training == "gtf" else 0.0

    def rollout(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions ``[B, T, N]`` of ``x[:, 1:]`` under the configured forcing."""
        if self.hparams.training == "stf":
            return stf_rollout(self.net, x, self.hparams.tau)[0]
        return gtf_rollout(self.net, x, self.current_alpha(x))[0]

    def regularization(self) -> torch.Tensor:
        h = self.hparams
        reg = torch.zeros((), device=self.device)
        if h.lambda_latent:
            reg = reg + h.lambda_latent * self.net.latent_regularization()
        if h.lambda_mar:
            reg = reg + h.lambda_mar * self.net.manifold_attractor_regularization(h.mar_fraction)
        if h.lambda_obs:
            reg = reg + h.lambda_obs * self.net.observation_regularization()
        return reg

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x = batch["x"]
        if self.hparams.input_noise:
            x = x + self.hparams.input_noise * torch.randn_like(x)
        pred = self.rollout(x)
        mse = torch.nn.functional.mse_loss(pred, x[:, 1:])
        loss = mse + self.regularization()
        if not torch.isfinite(loss):
            raise ModelError(f"the training loss became {float(loss)} at step {self.global_step}; use GTF/aGTF "
                             "(training: gtf) or a smaller lr.")
        self.log("train/mse", mse, prog_bar=True)
        if self.hparams.training in ("gtf", "agtf"):
            self.log("train/alpha", float(self.current_alpha(x)) if self.hparams.training == "gtf"
                     else self.alpha_schedule.alpha)
        return loss

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.hparams.gradient_clip:
            torch.nn.utils.clip_grad_norm_(self.parameters(), self.hparams.gradient_clip)

    # -- validation -----------------------------------------------------------------------
    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        x = batch["x"][0].detach().cpu().numpy().astype(np.float64)
        n_gen = max(len(x), self.hparams.val_gen_length or 0)
        with torch.no_grad():
            x_gen = generate_like(self.net, x, n_steps=n_gen)
        if np.isfinite(x_gen).all():
            d_stsp = state_space_divergence(x, x_gen, n_bins=self.hparams.n_bins)
            d_h = hellinger_distance(x, x_gen[: len(x)], smoothing=self.hparams.smoothing)
        else:
            d_stsp = d_h = float("inf")
        d_stsp = float("inf") if not np.isfinite(d_stsp) else d_stsp
        self.log("val/d_stsp", d_stsp, prog_bar=True, batch_size=1)
        self.log("val/d_h", d_h, prog_bar=True, batch_size=1)

    # -- checkpoints ------------------------------------------------------------------------
    def checkpoint_extra(self) -> dict[str, Any]:
        return {"dt": self.dt, "alpha": None if self.alpha_schedule is None else self.alpha_schedule.state_dict()}

    def load_checkpoint_extra(self, record: dict[str, Any]) -> None:
        self.dt = float(record.get("dt", 1.0))
        if self.alpha_schedule is not None and record.get("alpha"):
            self.alpha_schedule.load_state_dict(record["alpha"])


__all__ = ["TRAININGS", "DynamicsTask"]
