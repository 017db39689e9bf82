"""Physics-aware generative operator learning (DGNO): ``GenerativeOperatorTask``.

The task trains :class:`neurops.models.dgno.DGNO` on **unlabelled** coefficient fields: the
loss is ``w_data * (reconstruction of a) + w_pde * (weak PDE residual of u)``, with an
optional supervised term ``w_label * relL2(u, u_true)`` for batches that carry labels.
Validation and test use labelled pairs and report the relative L2 error of ``u``
(``val/rel_l2``, ``test/rel_l2@29``...).

During each training epoch the task also records the mean and standard deviation of the
latent codes and the typical physics loss; they are stored in the model's buffers and used as
the latent prior and the residual scale of inverse problems (:mod:`neurops.inverse`).

References
----------
.. [1] Y. Zang, P.-S. Koutsourelakis, "DGenNO: a novel physics-aware neural operator for
   solving forward and inverse PDE problems based on deep, generative probabilistic
   modeling", J. Comput. Phys. 538, 114137 (2025), arXiv:2502.06250.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

import torch
from jsonargparse import lazy_instance
from lightning.pytorch.cli import OptimizerCallable
from typing_extensions import override

from neurops.data.reader import read_meta
from neurops.errors import ConfigError, ModelError
from neurops.metrics.field import relative_lp
from neurops.models.dgno import DGNO
from neurops.models.registry import build
from neurops.physics.pdes import DarcyProblem
from neurops.physics.weak_form import WeakFormSampler
from neurops.tasks.base import Scheduler, Task
from neurops.tasks.schedules import StepDecay

__all__ = ["GenerativeOperatorTask"]


class GenerativeOperatorTask(Task):
    """Train a DGNO with the coefficient reconstruction and the weak Darcy residual [1]_.

    Parameters
    ----------
    model_kwargs
        keyword arguments of :class:`neurops.models.dgno.DGNO` (``resolution`` is
        taken from the training data when absent).
    pde
        the physics; ``"darcy"`` (``-div(a grad u) = forcing``).
    forcing
        source ``f`` (DGNO: 10).
    a_interpolation
        reading ``a`` at quadrature points: ``"nearest"`` (piecewise) or ``"linear"``.
    w_data
        weight of the data (coefficient reconstruction) loss (paper: 1 piecewise, 0.25 smooth).
    w_pde
        weight of the weak-form residual loss (paper: 1).
    w_label
        weight of the loss on labelled solutions (paper: 0).
    n_particles
        test functions per step (paper: 100).
    radius_min
        smallest test-function radius (paper: 1e-4).
    radius_max
        largest test-function radius (paper: 1e-4).
    n_quad_per_axis
        grid points per axis of the ball quadrature (paper: 7 piecewise, 9 smooth).
    residual_weight
        ``w_r`` of :class:`~neurops.physics.pdes.DarcyProblem` (None: paper's choice).
    top_k
        top-k squared residual term (paper: 1000 for smooth Darcy; 0 off).
    optimizer
        default AdamW with the paper's lr 5e-4 and weight decay 1e-4.
    lr_scheduler
        default :class:`~neurops.tasks.schedules.StepDecay` halving the learning rate
        every fifth of the epochs, as in the paper.
    seed
        seed of the particle draws (their generator travels with checkpoints).
    """

    default_optimizer = partial(torch.optim.AdamW, lr=5e-4, weight_decay=1e-4)

    def __init__(
        self,
        model_kwargs: dict[str, Any] | None = None,
        pde: Literal["darcy"] = "darcy",
        forcing: float = 10.0,
        a_interpolation: Literal["nearest", "linear"] = "nearest",
        w_data: float = 1.0,
        w_pde: float = 1.0,
        w_label: float = 0.0,
        n_particles: int = 100,
        radius_min: float = 1e-4,
        radius_max: float = 1e-4,
        n_quad_per_axis: int = 7,
        residual_weight: float | None = None,
        top_k: int = 0,
        optimizer: OptimizerCallable | None = None,
        lr_scheduler: Scheduler = lazy_instance(StepDecay, every=0.2, gamma=0.5),
        seed: int = 0,
    ) -> None:
        super().__init__(optimizer, lr_scheduler)
        if pde != "darcy":
            raise ConfigError(f"unknown pde {pde!r}; GenerativeOperatorTask supports 'darcy'.")
        if not all(w >= 0 for w in (w_data, w_pde, w_label)):  # also NaN
            raise ConfigError(f"loss weights w_data, w_pde, w_label must be >= 0, got {w_data}, {w_pde}, {w_label}.")
        self.save_hyperparameters(ignore=Task.NOT_SAVED)
        self.problem = DarcyProblem(forcing, a_interpolation, residual_weight, top_k)
        self.sampler: WeakFormSampler | None = None
        self._gen = torch.Generator().manual_seed(int(seed))
        self._stats: list[torch.Tensor] | None = None
        if "resolution" in (model_kwargs or {}):
            self._build(tuple(model_kwargs["resolution"]))

    def _build(self, resolution: tuple[int, ...]) -> None:
        kwargs = dict(self.hparams.model_kwargs or {})
        kwargs.setdefault("resolution", list(resolution))
        self.hparams.model_kwargs = kwargs
        net = build("dgno", **kwargs)
        assert isinstance(net, DGNO)
        if net.out_channels != 1:
            raise ModelError("the Darcy residual needs a scalar solution: set model_kwargs.out_channels=1.")
        self.net = net
        r = (self.hparams.radius_min, self.hparams.radius_max)
        self.sampler = WeakFormSampler(net.dim, self.hparams.n_particles, r if r[0] != r[1] else r[0],
                                       self.hparams.n_quad_per_axis, net.domain)

    @override
    def setup(self, stage: str) -> None:
        super().setup(stage)
        dm = self.datamodule()
        if self.net is None:
            if dm is None or not hasattr(dm, "spatial_shape"):
                raise ConfigError("the DGNO resolution is unknown: pass model_kwargs.resolution or train with a "
                                  "GenerativeDataModule.")
            self._build(dm.spatial_shape)
        for path in dict.fromkeys(getattr(dm, name) for name in ("train_path", "eval_path") if hasattr(dm, name)):
            self._check_physics(path)

    def _check_physics(self, path: Any) -> None:
        """Refuse a data file whose recorded Darcy generator had another forcing, or (for the two-phase decoder)
        other coefficient values, than the task; files without such a record (converted data) are taken as
        they are."""
        generator = read_meta(path).generator
        if generator.get("name") != "darcy" or self.net is None:
            return
        ours: dict[str, Any] = {"forcing": float(self.hparams.forcing)}
        if self.net.a_likelihood == "bernoulli":  # the decoder draws a in {a_low, a_high}: the data's two phases
            ours.update(coefficient="piecewise", a_low=self.net.a_low, a_high=self.net.a_high)
        theirs = {k: generator.get(k) for k in ours}
        if theirs.get("coefficient", "piecewise") != "piecewise":  # a lognormal file's a_low, a_high mean nothing
            ours.pop("a_low"), ours.pop("a_high")
        differ = [k for k, v in ours.items() if theirs[k] is not None and theirs[k] != v]  # None: not recorded
        if not differ:
            return
        options = {"forcing": "forcing", "coefficient": "model_kwargs.a_likelihood", "a_low": "model_kwargs.a_low",
                   "a_high": "model_kwargs.a_high"}
        model = " ".join(f"--model.{options[k]} {'gaussian' if k == 'coefficient' else theirs[k]}" for k in differ)
        data = " ".join(f"--{k.replace('_', '-')} {ours[k]}" for k in differ)
        raise ConfigError(f"{path} was generated with {', '.join(f'{k} {theirs[k]}' for k in differ)}, but this "
                          f"DGNO's physics has {', '.join(f'{k} {ours[k]}' for k in differ)}: pass {model}, or data "
                          f"generated with `neurops data generate darcy ... {data}`.")

    @override
    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """Coefficient ``[B, 1, *spatial]`` -> solution ``[B, 1, *spatial]``."""
        if self.net is None:
            raise ModelError("the model is not built yet; call trainer.fit or pass model_kwargs.resolution.")
        return self.net(a)

    # training --------------------------------------------------------------------------------
    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """All loss terms of one batch (``data``, ``pde``, optional ``label`` and ``loss``)."""
        assert self.net is not None and self.sampler is not None
        a = batch["x"]
        beta = self.net.encode(a)
        tf = self.sampler(self._gen, device=a.device)
        res = self.problem.residuals(self.net, beta, tf, a_grid=a)
        per_sample = self.problem.per_sample_loss(res)
        out = {"data": self.net.a_nll(a, beta), "pde": self.problem.loss(res)}
        loss = self.hparams.w_data * out["data"] + self.hparams.w_pde * out["pde"]
        if self.hparams.w_label > 0 and "y" in batch:
            out["label"] = relative_lp(self.net.decode_solution(beta, a.shape[2:]), batch["y"])
            loss = loss + self.hparams.w_label * out["label"]
        out["loss"] = loss
        out["_beta"], out["_pde_per_sample"] = beta.detach(), per_sample.detach()
        return out

    @override
    def on_train_epoch_start(self) -> None:
        self._stats = None

    @override
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out = self.losses(batch)
        beta, pde = out.pop("_beta"), out.pop("_pde_per_sample")
        batch_stats = [torch.tensor(float(len(beta)), device=beta.device), beta.sum(0), (beta**2).sum(0), pde.sum()]
        self._stats = batch_stats if self._stats is None else [s + b for s, b in zip(self._stats, batch_stats)]
        n = len(batch["x"])
        for key, value in out.items():
            self.log(f"train/{key}", value, prog_bar=key == "loss", on_step=False, on_epoch=True, batch_size=n,
                     sync_dist=True)
        return out["loss"]

    @override
    def on_train_epoch_end(self) -> None:
        if self._stats is None or self.net is None:
            return
        # sums over the training samples of every process (under DDP each encodes its own share of the epoch)
        count, s1, s2, pde = (self.trainer.strategy.reduce(s, reduce_op="sum") for s in self._stats)
        mean = s1 / count
        self.net.latent_mean.copy_(mean)
        self.net.latent_std.copy_((s2 / count - mean**2).clamp_min(1e-8).sqrt())
        self.net.residual_rms.copy_((pde / count).clamp_min(1e-12).sqrt())

    # evaluation ------------------------------------------------------------------------------
    @override
    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        pred = self(batch["x"])
        self.log_mean("val/rel_l2", relative_lp(pred, batch["y"]), len(pred), prog_bar=True)

    @override
    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        pred = self(batch["x"])
        self.log_mean(f"test/rel_l2@{self.test_tag(dataloader_idx)}", relative_lp(pred, batch["y"]), len(pred))

    @override
    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        return self(batch["x"])

    # checkpoints -----------------------------------------------------------------------------
    def checkpoint_extra(self) -> dict[str, Any]:
        return {"forcing": float(self.hparams.forcing)}

    def generators(self) -> dict[str, torch.Generator]:
        return {"particles": self._gen}
