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

import os
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch

from neurops.data.datamodule import SplitLoaders
from neurops.data.reader import H5OperatorDataset, list_splits, read_attrs
from neurops.data.schema import SCHEMA_VERSION, is_test_split, resolution_tag
from neurops.errors import ConfigError, DataError, ModelError
from neurops.metrics.field import relative_lp
from neurops.models.dgno import DGNO
from neurops.models.registry import build
from neurops.physics.pdes import DarcyProblem
from neurops.physics.weak_form import WeakFormSampler

__all__ = ["GenerativeDataModule", "GenerativeOperatorTask"]


class GenerativeDataModule(SplitLoaders, L.LightningDataModule):
    """Unlabelled training coefficients and labelled evaluation pairs, from one or two files.

    Parameters
    ----------
    train_path : file whose ``train_split`` provides the coefficient field (kind
        ``input_only`` or ``operator``; outputs, if any, are passed on as labels ``y``).
    eval_path : ``operator`` file with labelled ``val_split`` / ``test*`` splits
        (default: ``train_path``).
    batch_size : batch size of all loaders.
    num_workers : DataLoader worker processes.
    input_field, output_field : names of the coefficient and solution fields.
    train_split, val_split : split names (``val_split=None`` skips validation).
    test_splits : test split names of ``eval_path`` (default: every ``test*`` split).
    """

    def __init__(self, train_path: str | os.PathLike, eval_path: str | os.PathLike | None = None,
                 batch_size: int = 25, num_workers: int = 0, input_field: str = "a", output_field: str = "u",
                 train_split: str = "train", val_split: str | None = "val",
                 test_splits: list[str] | None = None) -> None:
        super().__init__()
        self.train_path = Path(train_path)
        self.eval_path = Path(eval_path) if eval_path is not None else self.train_path
        self.batch_size, self.num_workers = batch_size, num_workers
        train_kind = read_attrs(self.train_path)["kind"]
        outputs = [output_field] if train_kind == "operator" else None
        self.train_set = H5OperatorDataset(self.train_path, train_split, [input_field], outputs)
        eval_splits = list_splits(self.eval_path)
        wanted = [s for s in [val_split, *(test_splits or [])] if s is not None]
        missing = [s for s in wanted if s not in eval_splits]
        if missing:
            raise DataError(f"{self.eval_path} has no split(s) {missing}; it has {eval_splits}. Pass "
                            "eval_path= a labelled file (neurops data generate darcy ...) or fix the split names.")
        if read_attrs(self.eval_path)["kind"] != "operator" and (val_split or test_splits):
            raise DataError(f"{self.eval_path} has no labels (kind {read_attrs(self.eval_path)['kind']!r}); "
                            "validation and tests need an 'operator' file: pass eval_path=.")
        self.val_set = (H5OperatorDataset(self.eval_path, val_split, [input_field], [output_field])
                        if val_split else None)
        names = test_splits if test_splits is not None else sorted(
            (s for s in eval_splits if is_test_split(s)), key=lambda s: (s != "test", s))
        self.test_splits = names
        self.test_sets = [H5OperatorDataset(self.eval_path, s, [input_field], [output_field]) for s in names]

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return tuple(self.train_set.spatial_shape)

    @property
    def test_tags(self) -> list[str]:
        """Metric suffix of each test loader: its resolution, unique per loader."""
        tags = [resolution_tag(ds.spatial_shape) for ds in self.test_sets]
        return [t if tags.count(t) == 1 else f"{t}_{s}" for t, s in zip(tags, self.test_splits)]



class GenerativeOperatorTask(L.LightningModule):
    """Train a DGNO with the coefficient reconstruction and the weak Darcy residual [1]_.

    Parameters
    ----------
    model_kwargs : keyword arguments of :class:`neurops.models.dgno.DGNO` (``resolution`` is
        taken from the training data when absent).
    pde : the physics; ``"darcy"`` (``-div(a grad u) = forcing``).
    forcing : source ``f`` (DGNO: 10).
    a_interpolation : reading ``a`` at quadrature points: ``"nearest"`` (piecewise) or ``"linear"``.
    w_data, w_pde, w_label : loss weights (paper: (1, 1) piecewise, (0.25, 1) smooth; labels 0).
    n_particles : test functions per step (paper: 100).
    radius_min, radius_max : test-function radii (paper: 1e-4 both).
    n_quad_per_axis : grid points per axis of the ball quadrature (paper: 7 piecewise, 9 smooth).
    residual_weight : ``w_r`` of :class:`~neurops.physics.pdes.DarcyProblem` (None: paper's choice).
    top_k : top-k squared residual term (paper: 1000 for smooth Darcy; 0 off).
    lr, weight_decay : AdamW settings (paper: 5e-4, 1e-4).
    step_size, gamma : StepLR in epochs (None: max_epochs / 5, as in the paper) and its factor.
    seed : seed of the particle draws.
    """

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
        lr: float = 5e-4,
        weight_decay: float = 1e-4,
        step_size: int | None = None,
        gamma: float = 0.5,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if pde != "darcy":
            raise ConfigError(f"unknown pde {pde!r}; GenerativeOperatorTask supports 'darcy'.")
        if min(w_data, w_pde, w_label) < 0:
            raise ConfigError("loss weights w_data, w_pde, w_label must be >= 0.")
        self.save_hyperparameters()
        self.problem = DarcyProblem(forcing, a_interpolation, residual_weight, top_k)
        self.net: DGNO | None = None
        self.sampler: WeakFormSampler | None = None
        self._gen = torch.Generator().manual_seed(int(seed))
        self._test_tags: list[str] = []
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

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if self.net is None:
            if dm is None or not hasattr(dm, "spatial_shape"):
                raise ConfigError("the DGNO resolution is unknown: pass model_kwargs.resolution or train with a "
                                  "GenerativeDataModule.")
            self._build(dm.spatial_shape)
        if dm is not None and hasattr(dm, "test_tags"):
            self._test_tags = dm.test_tags

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

    def on_train_epoch_start(self) -> None:
        self._stats = None

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out = self.losses(batch)
        beta, pde = out.pop("_beta"), out.pop("_pde_per_sample")
        batch_stats = [torch.tensor(float(len(beta)), device=beta.device), beta.sum(0), (beta**2).sum(0), pde.sum()]
        self._stats = batch_stats if self._stats is None else [s + b for s, b in zip(self._stats, batch_stats)]
        n = len(batch["x"])
        for key, value in out.items():
            self.log(f"train/{key}", value, prog_bar=key == "loss", on_step=False, on_epoch=True, batch_size=n)
        return out["loss"]

    def on_train_epoch_end(self) -> None:
        if self._stats is None or self.net is None:
            return
        count, s1, s2, pde = self._stats
        mean = s1 / count
        self.net.latent_mean.copy_(mean)
        self.net.latent_std.copy_((s2 / count - mean**2).clamp_min(1e-8).sqrt())
        self.net.residual_rms.copy_((pde / count).clamp_min(1e-12).sqrt())

    # evaluation ------------------------------------------------------------------------------
    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        pred = self(batch["x"])
        self.log("val/rel_l2", relative_lp(pred, batch["y"]), prog_bar=True, batch_size=len(pred))

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        pred = self(batch["x"])
        tag = self._test_tags[dataloader_idx] if dataloader_idx < len(self._test_tags) else str(dataloader_idx)
        self.log(f"test/rel_l2@{tag}", relative_lp(pred, batch["y"]), batch_size=len(pred),
                 add_dataloader_idx=False)

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        return self(batch["x"])

    # optimisation ----------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        hp = self.hparams
        opt = torch.optim.AdamW(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        step = hp.step_size or max(1, int(self.trainer.max_epochs or 5) // 5)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=step, gamma=hp.gamma)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

    # checkpoints -----------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from neurops import __version__

        checkpoint["neurops"] = {"schema_version": SCHEMA_VERSION, "neurops_version": __version__,
                                 "model": "dgno", "model_kwargs": dict(self.hparams.model_kwargs or {}),
                                 "forcing": float(self.hparams.forcing)}
