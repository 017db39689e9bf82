"""Dynamical-systems reconstruction: ``DynamicsTask`` (LightningModule).

The task trains a PWL RNN (:mod:`neurops.models.plrnn`, :mod:`neurops.models.shallow_plrnn`) on random windows
(:class:`neurops.data.datamodule.DynamicsDataModule`) with one of

* ``gtf``: generalized teacher forcing with a fixed ``alpha`` (or one annealed to ``alpha_end``);
* ``agtf``: adaptive GTF, ``alpha`` re-estimated from Jacobian-product bounds;
* ``stf``: sparse teacher forcing every ``tau`` steps;
* ``bptt``: plain back-propagation through time (free running, ``alpha = 0``);

with RAdam and an exponential learning-rate decay from ``lr`` to ``lr_end`` over the epochs
(:class:`~neurops.tasks.schedules.ExponentialTo`), the latent, manifold-attractor and observation regularisers, and
validation by free-running generation (``val/d_stsp``, ``val/d_h``; choose checkpoints by the minimum ``val/d_stsp``
as in the AL-RNN paper, with :class:`~neurops.tasks.callbacks.BestCheckpoint`).

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

import os
from functools import partial
from typing import Any, Literal

import numpy as np
import torch
from jsonargparse import lazy_instance
from lightning.pytorch.cli import OptimizerCallable
from typing_extensions import override

from neurops.dynamics import teacher_forcing
from neurops.dynamics.teacher_forcing import AdaptiveAlpha, annealed_alpha, check_alpha, gtf_rollout, stf_rollout
from neurops.errors import ConfigError, DataError, ModelError
from neurops.metrics.dsr import MAX_SMOOTHING_FRACTION, generate_like, orbit_distances, shortest_unblurred
from neurops.models.registry import build, get_class
from neurops.tasks.base import Scheduler, Task
from neurops.tasks.member_best import MemberBest
from neurops.tasks.member_shards import gather_members, member_view, spread_members
from neurops.tasks.members import build_members, check_model_seed, check_seeds, member_models, seeds_not_finite
from neurops.tasks.schedules import ExponentialTo

Training = Literal["gtf", "agtf", "stf", "bptt"]
TRAININGS: tuple[str, ...] = ("gtf", "agtf", "stf", "bptt")


class DynamicsTask(Task):
    """Train a PWL RNN for dynamical-systems reconstruction.

    Parameters
    ----------
    model
        registry name (``plrnn``, ``shplrnn``, ``clipped_shplrnn``, ``alrnn``, ``dendplrnn``).
    model_kwargs
        model arguments (``latent_dim`` ...); ``obs_dim`` is filled in from the data.
    training
        ``gtf``, ``agtf``, ``stf`` or ``bptt``.
    alpha
        GTF forcing strength (``gtf``).
    alpha_end
        anneal ``gtf``'s alpha geometrically over the run's optimizer steps, from ``alpha`` to ``alpha_end``
        (:func:`~neurops.dynamics.teacher_forcing.annealed_alpha`; ``None``: fixed ``alpha``).
    alpha_method
        how ``agtf`` estimates alpha: ``product_upper_bound``, ``arithmetic_mean`` or ``batch_maximum``.
    alpha_every
        batches between two alpha estimates (``agtf``).
    alpha_rate
        how fast alpha decays towards lower estimates (``agtf``; the paper's 1e-3 suits ~10^5 steps, fewer need more).
    tau
        sparse-forcing interval in steps (``stf``).
    optimizer
        default RAdam with lr 1e-3.
    lr_scheduler
        default :class:`~neurops.tasks.schedules.ExponentialTo` decaying the learning rate per epoch to ``lr_end``
        1e-6 at the last epoch.
    lambda_latent
        weight of ``||1-A||^2 + ||W||^2 + ||h||^2``.
    lambda_mar
        weight of the manifold-attractor regulariser (0: off).
    mar_fraction
        the fraction of the latent units the manifold-attractor regulariser acts on.
    lambda_obs
        weight of the condition-number regulariser of an affine observation.
    input_noise
        std of Gaussian noise added to each training batch.
    n_bins
        D_stsp bins per dimension (validation).
    smoothing
        D_H smoothing in frequency bins (validation; a validation series too short for it gets a warning).
    val_gen_length
        points of the free-running orbit whose state-space histogram gives ``val/d_stsp`` (after the protocol's
        ``0.25 T`` warm-up; the orbit starts at the validation series' first point); at least ``T`` (``None``:
        ``T``, the protocol). A longer orbit makes the checkpoint choice less noisy; ``val/d_h`` always compares the
        first ``T`` points with the validation series.
    val_reference
        the series the orbit's state-space distribution is compared with for ``val/d_stsp``, the checkpoint
        criterion: ``"train"`` (default) the whole training split, ``"val"`` the validation series. On Lorenz-63 the
        training split's follows the test D_stsp best (docs/dsr.md, checkpoint criteria). Never the test split.
    gradient_clip
        clip the gradient norm to this value (0: off; GTF needs none); an ensemble's members each on its own norm.
    seeds
        train one model per seed, all at once: an ensemble of ``R = len(seeds)`` members (distinct integers in
        ``[0, 2**32)``; one batched rollout, :mod:`neurops.tasks.members`); member ``r`` is initialised with
        ``seeds[r]`` and draws its own windows with it (:class:`~neurops.data.windows.MemberWindowSampler`), so it
        trains as a single run with ``--seed_everything seeds[r]`` would, at a fraction of R runs' cost.
        Validation logs ``val/d_stsp/member_r`` and ``val/d_h/member_r`` and their medians as ``val/d_stsp`` /
        ``val/d_h``; the checkpoint keeps each member's best state (:meth:`member_models`). Under DDP
        (``--trainer.strategy ddp --trainer.devices W``, with a :class:`~neurops.data.datamodule.DynamicsDataModule`)
        the members are spread over the W processes, each training and validating its own block of them
        (:mod:`neurops.tasks.member_shards`): the same members as in one process, W times the cores. ``None``: one
        model, initialised with the run's seed (``seed`` in ``model_kwargs`` overrides it).

    References
    ----------
    Seed studies: [1]_ and [3]_ report medians over 10-20 independently trained models.
    """

    default_optimizer = partial(torch.optim.RAdam, lr=1e-3)

    def __init__(self, model: str = "clipped_shplrnn", model_kwargs: dict[str, Any] | None = None,
                 training: Training = "gtf", alpha: float = 0.1, alpha_end: float | None = None,
                 alpha_method: str = "product_upper_bound", alpha_every: int = 5, alpha_rate: float = 1e-3,
                 tau: int = 10, optimizer: OptimizerCallable | None = None,
                 lr_scheduler: Scheduler = lazy_instance(ExponentialTo, lr_end=1e-6),
                 lambda_latent: float = 0.0, lambda_mar: float = 0.0,
                 mar_fraction: float = 0.5, lambda_obs: float = 0.0, input_noise: float = 0.0, n_bins: int = 30,
                 smoothing: float = 20.0, gradient_clip: float = 0.0, val_gen_length: int | None = None,
                 val_reference: Literal["train", "val"] = "train", seeds: list[int] | None = None) -> None:
        super().__init__(optimizer, lr_scheduler)
        if training not in TRAININGS:
            raise ConfigError(f"training {training!r} is unknown; use one of {TRAININGS}.")
        check_alpha(training, alpha, alpha_end, alpha_method)
        if val_gen_length is not None and val_gen_length < 1:
            raise ConfigError(f"val_gen_length must be >= 1 (or None), got {val_gen_length}.")
        if val_reference not in ("train", "val"):
            raise ConfigError(f"val_reference must be 'train' or 'val' (the series val/d_stsp compares the "
                              f"validation orbit with), got {val_reference!r}.")
        if tau < 1:
            raise ConfigError(f"need tau >= 1, got tau={tau}.")
        for name, value, what in (("lambda_latent", lambda_latent, "a regularisation weight"),
                                  ("lambda_mar", lambda_mar, "a regularisation weight"),
                                  ("lambda_obs", lambda_obs, "a regularisation weight"),
                                  ("input_noise", input_noise, "a standard deviation"),
                                  ("gradient_clip", gradient_clip, "the largest gradient norm (a negative one would "
                                                                   "turn the gradient around)"),
                                  ("smoothing", smoothing, "a width in frequency bins")):
            if not value >= 0:  # also NaN
                raise ConfigError(f"{name}={value}: it is {what}; use {name} >= 0 (0: off).")
        seeds = check_seeds(seeds)  # saved below as the checked ints (NumPy integers load with weights_only)
        model_kwargs = check_model_seed(model_kwargs)  # likewise
        get_class(model)  # unknown names fail here, with suggestions
        self.save_hyperparameters(ignore=Task.NOT_SAVED)
        self.alpha_schedule = (AdaptiveAlpha(alpha_method, every=alpha_every, rate=alpha_rate)
                               if training == "agtf" else None)
        self.dt = 1.0
        self._member_val: list[np.ndarray] = []  # per validation series: [R here, 2] (D_stsp, D_H) of the members
        self._shard: range | None = None  # the members this process trains when they are spread over DDP processes
        self._validations = 0  # member-best updates in this process (member_summary: did validation run?)
        self._train_series: np.ndarray | None = None  # [sum of T, N]: the training split (val_reference "train")
        if model_kwargs and "obs_dim" in model_kwargs:
            self._build()

    def _build(self) -> None:
        kwargs = dict(self.hparams.model_kwargs or {})
        if "latent_dim" not in kwargs:
            raise ConfigError(f"model_kwargs of {self.hparams.model!r} need latent_dim (the number of latent units).")
        seeds = self.hparams.seeds
        if seeds is None:
            kwargs.setdefault("seed", int(os.environ.get("PL_GLOBAL_SEED", 0)))  # the run's seed
            self.hparams.model_kwargs = kwargs
            self.net = build(self.hparams.model, **kwargs)
            return
        self.net = build_members(self.hparams.model, kwargs, seeds)
        # each member's best state so far (buffers: checkpointed and moved with the task, never optimised)
        self.member_best = MemberBest(self.net)

    @property
    def members(self) -> int:
        """R for an ensemble (``seeds``), 0 for one model."""
        return len(self.hparams.seeds) if self.hparams.seeds is not None else 0

    # -- setup ---------------------------------------------------------------------------
    @override
    def setup(self, stage: str) -> None:
        super().setup(stage)
        dm = self.datamodule()
        if dm is None:
            if self.net is None:
                raise ConfigError("DynamicsTask needs model_kwargs['obs_dim'] or a DynamicsDataModule to infer it.")
            return
        self.dt = float(getattr(dm, "dt", 1.0))
        if self.hparams.val_reference == "train" and getattr(dm, "train_series", None) is not None:
            # [S, T, N] -> all points, [S * T, N]: the states val/d_stsp compares with
            self._train_series = np.asarray(dm.train_series, dtype=np.float64).reshape(-1, dm.obs_dim)
        ref = getattr(dm, f"{self.hparams.val_reference}_series", None)  # val/d_stsp's histogram is built on it
        if stage == "fit" and getattr(dm, "val_series", None) is not None and ref is not None and (
                constant := np.flatnonzero(np.ptp(np.reshape(ref, (-1, dm.obs_dim)), axis=0) == 0).tolist()):
            raise DataError(f"variables {constant} of {dm.path} are constant in the {self.hparams.val_reference} "
                            "split, which val/d_stsp's histogram is built on: it is inf for almost any orbit and "
                            "picks no checkpoint; drop them, import the series again (neurops data import-series).")
        if stage in ("fit", "validate") and hasattr(dm, "check_val_spectrum"):
            dm.check_val_spectrum(s := self.hparams.smoothing, shortest_unblurred(s), MAX_SMOOTHING_FRACTION)
        kwargs = dict(self.hparams.model_kwargs or {})
        if kwargs.get("obs_dim", dm.obs_dim) != dm.obs_dim:
            raise ModelError(f"model_kwargs obs_dim={kwargs['obs_dim']} but the data has {dm.obs_dim} variables.")
        if self.net is None:
            kwargs["obs_dim"] = dm.obs_dim
            self.hparams.model_kwargs = kwargs
            self._build()
        if hasattr(dm, "member_seeds"):
            dm.member_seeds = None if self.hparams.seeds is None else list(self.hparams.seeds)
            world = self._world_size()
            if self.members and world > 1:  # spread the members over the processes (neurops.tasks.member_shards)
                self._shard = dm.member_shard = spread_members(self, self.trainer)

    def _world_size(self) -> int:
        return self.trainer.world_size if self._trainer is not None else 1

    def _local_net(self) -> torch.nn.Module:
        """The model this process rolls out: the ensemble, or its view of this process's members."""
        assert self.net is not None  # built in __init__ or setup
        return self.net if self._shard is None else member_view(self.net, self._shard)

    def _gather(self, local: torch.Tensor) -> torch.Tensor:
        """Per-member values ``[R, ...]`` from this process's ``[len(shard), ...]``."""
        return gather_members(local, self.members, self.trainer.world_size, self.all_gather)

    # -- training ----------------------------------------------------------------------
    def current_alpha(self, x: torch.Tensor) -> float | torch.Tensor:
        """The forcing strength used for batch ``x : [B, T+1, N]`` (``[R, B, T+1, N]`` for an ensemble; aGTF
        then gives one alpha per member, ``[R]``)."""
        if self.hparams.training == "agtf":
            if self._shard is None:  # under plain DDP, x is this process's share of the batch's windows
                reduce = None if self._world_size() == 1 else partial(teacher_forcing.max_over_processes,
                                                                        all_gather=self.all_gather)
                return self.alpha_schedule(self.net, x, windows_max=reduce)
            alpha = self.alpha_schedule(self._local_net(), x, self._gather)  # [R], the same on every process
            return alpha[self._shard.start: self._shard.stop]
        h = self.hparams
        if h.training != "gtf" or h.get("alpha_end") is None:
            return h.alpha if h.training == "gtf" else 0.0
        return annealed_alpha(h.alpha, h.alpha_end, self.global_step, self.trainer.estimated_stepping_batches)

    def rollout(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions ``[B, T, N]`` of ``x[:, 1:]`` under the configured forcing (``[R, B, T, N]`` for an ensemble)."""
        if self.hparams.training == "stf":
            return stf_rollout(self._local_net(), x, self.hparams.tau)[0]
        return gtf_rollout(self._local_net(), x, self.current_alpha(x))[0]

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

    @override
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x = batch["x"]
        shard = self._shard or range(self.members)  # the members trained here
        if self.members:  # [R * B, T+1, N], member r's windows in block r -> [R, B, T+1, N]
            x = x.reshape(len(shard), -1, *x.shape[1:])
        if self.hparams.input_noise:  # spread members: drawn for all in every process, the noise one process draws
            noise = torch.randn_like(x) if self._shard is None else torch.randn(
                self.members, *x.shape[1:], dtype=x.dtype, device=x.device)[shard.start: shard.stop]
            x = x + self.hparams.input_noise * noise
        pred = self.rollout(x)
        # the members' losses are summed, so member r gets exactly the gradient of its own loss (times W when the
        # members are spread over W processes: DDP averages, and each member's loss is on one process only)
        mse = (pred - x[..., 1:, :]).square().flatten(start_dim=int(bool(self.members))).mean(-1)
        world = self._world_size()
        loss = (1 if self._shard is None else world) * mse.sum() + self.regularization()
        if world == 1 and not torch.isfinite(loss):  # under DDP: on_before_optimizer_step, on synchronised gradients
            self._diverged("training loss", float(loss), seeds_not_finite(self.hparams.seeds, mse.reshape(-1).tolist()))
        # spread members: the sum over this process's members times W / R, whose mean over the W processes is the
        # mean over all R members (as in one process)
        self._log_train("mse", mse.mean() if self._shard is None else mse.sum() * world / self.members)
        if self.hparams.training in ("gtf", "agtf"):
            alpha = self.current_alpha(x) if self.hparams.training == "gtf" else self.alpha_schedule.alpha
            self._log_train("alpha", float(alpha.mean()) if isinstance(alpha, torch.Tensor) else float(alpha))
        return loss

    def _log_train(self, name: str, value: torch.Tensor | float) -> None:
        """Log ``train/<name>`` as the epoch's mean over its steps (each counts once), in one process as under
        DDP (the processes' means are averaged once an epoch: no per-step collective, docs/scaling.md)."""
        self.log(f"train/{name}", value, prog_bar=name == "mse", on_step=False, on_epoch=True, sync_dist=True,
                 batch_size=1)

    def _diverged(self, what: str, value: float, seeds: list[int]) -> None:
        where = f" (members with seeds {seeds})" if seeds else ""
        data = getattr(self.datamodule(), "train_series", None)  # the scale of the data can be the cause
        advice = teacher_forcing.divergence_advice(self.hparams.training, data)
        raise ModelError(f"the {what} became {value} at step {self.global_step}{where}; {advice}")

    @override
    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Clip each member's gradient norm to ``gradient_clip``; under DDP, stop every process together when a
        gradient is not finite (the gradients are the same on all of them)."""
        clip, world = self.hparams.gradient_clip, self._world_size()
        if not clip and world == 1:
            return
        grads = [p.grad for p in self.net.parameters() if p.grad is not None]
        norms = torch.stack([g.reshape(self.members or 1, -1).square().sum(1) for g in grads]).sum(0).sqrt()  # [R]
        if world > 1 and not torch.isfinite(norms).all():
            self._diverged("gradient norm", float(norms.sum()), seeds_not_finite(self.hparams.seeds, norms.tolist()))
        if clip:
            scale = (clip / (norms + 1e-6)).clamp(max=1.0)  # [R]: each member clipped on its own norm
            for g in grads:
                g.mul_(scale.reshape(-1, *(1,) * (g.ndim - 1)) if self.members else scale)

    # -- validation -----------------------------------------------------------------------
    @override
    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        x = batch["x"][0].detach().cpu().numpy().astype(np.float64)
        with torch.no_grad():  # one batched rollout for the members of an ensemble here: [R, n, N]
            x_gen = generate_like(self._local_net(), x, n_steps=max(len(x), self.hparams.val_gen_length or 0))
        if not self.members:
            d_stsp, d_h = self._orbit_scores(x, x_gen)
            self.log_mean("val/d_stsp", d_stsp, 1, prog_bar=True)  # the means over the series of all processes
            self.log_mean("val/d_h", d_h, 1, prog_bar=True)
            return
        self._member_val.append(np.array([self._orbit_scores(x, orbit) for orbit in x_gen]))  # [R here, 2]

    def _orbit_scores(self, x: np.ndarray, orbit: np.ndarray) -> tuple[float, float]:
        """``(val/d_stsp, val/d_h)`` of a free-running ``orbit : [n, N]`` started on the validation series
        ``x : [T, N]``: D_stsp against ``val_reference``'s series, D_H against ``x``."""
        train = self.hparams.val_reference == "train"
        if train and self._train_series is None:
            raise ConfigError("val_reference='train' compares validation orbits with the training split, which "
                              "comes from a DynamicsDataModule; fit with one, or set val_reference='val'.")
        return orbit_distances(x, orbit, n_bins=self.hparams.n_bins, smoothing=self.hparams.smoothing,
                               x_states=self._train_series if train else None)

    @override
    def on_validation_epoch_start(self) -> None:
        self._member_val = []

    @override
    def on_validation_epoch_end(self) -> None:
        """Log each member's ``val/d_stsp/member_r`` and ``val/d_h/member_r`` (means over the validation series)
        and their medians over the members as ``val/d_stsp`` / ``val/d_h``; keep each member's best state (the
        lowest ``val/d_stsp``)."""
        if not self.members:
            return
        here = len(self._shard or range(self.members))
        values = torch.as_tensor(np.array(self._member_val).reshape(-1, here, 2), dtype=torch.float64,
                                 device=self.device)  # [series, R here, 2]
        sums, count = values.sum(0), torch.tensor(float(len(values)), dtype=torch.float64, device=self.device)
        world = self.trainer.world_size
        if self._shard is not None:  # every process validated its own members on every series
            sums = self._gather(sums)
        elif world > 1:  # the validation series are spread over the processes
            sums, count = self.all_gather(sums).sum(0), self.all_gather(count).sum()
        if count == 0:
            return
        means = (sums / count).cpu().numpy()  # [R, 2]
        for r, (d_stsp, d_h) in enumerate(means):
            self.log(f"val/d_stsp/member_{r}", float(d_stsp), sync_dist=world > 1)
            self.log(f"val/d_h/member_{r}", float(d_h), sync_dist=world > 1)
        self.log("val/d_stsp", float(np.median(means[:, 0])), prog_bar=True, sync_dist=world > 1)
        self.log("val/d_h", float(np.median(means[:, 1])), prog_bar=True, sync_dist=world > 1)
        if not self.trainer.sanity_checking:
            self.member_best.update(self.net, torch.from_numpy(means[:, 0]), self.global_step)
            self._validations += 1

    # -- ensembles -----------------------------------------------------------------------------
    def member_models(self, state: Literal["best", "final"] = "best") -> list[torch.nn.Module]:
        """The members of an ensemble as plain models: each at its own ``best`` validation state (a member
        never validated keeps its final state), or all at their ``final`` state; ``[net]`` for one model."""
        return member_models(self.net, self.member_best if self.members else None, state)

    def member_summary(self) -> str:
        """Each member's seed, best validation D_stsp and its step, and their mean +- sem and median over the
        members with a finite one (ensembles; ``""`` for one model). ``neurops fit`` prints it at the end."""
        if not self.members:
            return ""
        every = self._trainer.check_val_every_n_epoch if self._trainer is not None else None
        return self.member_best.summary(self.hparams.seeds, self._validations, every)

    # -- checkpoints ------------------------------------------------------------------------
    def checkpoint_extra(self) -> dict[str, Any]:
        return {"dt": self.dt, "alpha": None if self.alpha_schedule is None else self.alpha_schedule.state_dict()}

    def load_checkpoint_extra(self, record: dict[str, Any]) -> None:
        self.dt = float(record.get("dt", 1.0))
        if self.alpha_schedule is not None and record.get("alpha"):
            self.alpha_schedule.load_state_dict(record["alpha"])


__all__ = ["TRAININGS", "DynamicsTask"]
