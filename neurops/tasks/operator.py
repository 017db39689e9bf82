"""Supervised operator learning: ``OperatorTask`` (LightningModule)."""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import torch
from jsonargparse import lazy_instance
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.trainer.states import TrainerFn
from typing_extensions import override

from neurops.data.metadata import DatasetMeta
from neurops.data.normalizers import ChannelMoments, GaussianNormalizer
from neurops.data.reader import check_fields
from neurops.errors import CheckpointError, ConfigError, ModelError, NeuropsWarning
from neurops.metrics.field import get_loss, relative_h1, relative_lp
from neurops.models.registry import build, get_class
from neurops.tasks.base import Scheduler, Task, check_grid
from neurops.tasks.schedules import OneCycle


class OperatorTask(Task):
    """Train a registered operator model on input -> output field pairs.

    The model sees normalized inputs and predicts normalized outputs; losses and metrics are
    computed on the decoded (physical) outputs. Normalizers are fitted on the training split
    only and stored as buffers, so a checkpoint holds everything prediction needs: the
    model's registry name and kwargs (hyperparameters), the normalizers (state dict) and the
    data schema version.

    Parameters
    ----------
    model
        registry name (``neurops.models.available()``).
    model_kwargs
        keyword arguments of the model; ``in_channels`` / ``out_channels`` are
        filled in from the data when absent, and so are ``boundary`` (from the file's boundary
        attributes) and ``reference_resolution`` (the training grid) for models that take
        them, such as MgNO; pass ``reference_resolution: null`` to keep a model's grid-unit
        behaviour.
    loss
        ``rel_l2`` (default), ``rel_h1`` (finite differences) or another name in
        :data:`neurops.metrics.field.LOSSES`; relative losses are averaged over the batch.
    optimizer
        ``params -> Optimizer`` (default: AdamW, lr 1e-3, weight decay 1e-4), see
        :class:`~neurops.tasks.base.Task`.
    lr_scheduler
        default :class:`~neurops.tasks.schedules.OneCycle` (``pct_start`` 0.2,
        ``div_factor`` 25, ``final_div_factor`` 1e4, per step over the whole run); any torch
        scheduler, another :mod:`~neurops.tasks.schedules` schedule, or None.
    normalize
        fit Gaussian normalizers on inputs and outputs.
    normalizer_batches
        fit the normalizers on the first ``normalizer_batches * batch_size`` training
        samples (default: all). They are streamed batch by batch; under DDP every process reads
        its share and the moments are merged across processes, so all hold the same normalizers.
    compile
        run the model through ``torch.compile``: ``True`` (the default backend, inductor,
        which needs a C++ compiler on CPU) or a backend name such as ``"aot_eager"``. The first
        step compiles (a minute or more for MgNO on a small CPU); on CPU later steps of MgNO were
        no faster than eager channels-last MgNO (``benchmarks/mgno_speed.py --compile``).
        Checkpoints are the same as without it.
    """

    def __init__(
        self,
        model: str = "fno",
        model_kwargs: dict[str, Any] | None = None,
        loss: str = "rel_l2",
        optimizer: OptimizerCallable | None = None,
        lr_scheduler: Scheduler = lazy_instance(OneCycle),
        normalize: bool = True,
        normalizer_batches: int | None = None,
        compile: bool | str = False,
    ) -> None:
        super().__init__(optimizer, lr_scheduler)
        get_class(model)  # unknown names fail here, before any data is read
        get_loss(loss)
        if normalizer_batches is not None and normalizer_batches < 1:
            raise ConfigError(f"normalizer_batches={normalizer_batches}: the normalizers are fitted on that many "
                              "training batches; use normalizer_batches >= 1 (None: all of them).")
        self.save_hyperparameters(ignore=Task.NOT_SAVED)
        self.loss_fn = get_loss(loss)
        self._compiled_forward: Any = None  # torch.compile'd self.net.forward (a function, not a submodule)
        self.in_norm: GaussianNormalizer | None = None
        self.out_norm: GaussianNormalizer | None = None
        #: input/output field names of the training data (saved in checkpoints, used by predict)
        self.data_fields: dict[str, list[str]] | None = None
        #: points per axis of the (finest) training grid (saved in checkpoints, used by predict)
        self.train_resolution: list[int] | None = None
        kwargs = model_kwargs or {}
        if "in_channels" in kwargs and "out_channels" in kwargs:
            self._build(kwargs["in_channels"], kwargs["out_channels"])

    # model construction -------------------------------------------------------------
    def _build(self, in_channels: int, out_channels: int, data_meta: DatasetMeta | None = None,
               train_resolution: tuple[int, ...] | None = None) -> None:
        kwargs = dict(self.hparams.model_kwargs or {})
        accepts = inspect.signature(get_class(self.hparams.model).__init__).parameters
        if data_meta is not None and "boundary" in accepts and "boundary" not in kwargs:
            # models with boundary-aware padding (MgNO) take the data's boundary conditions by default
            kwargs["boundary"] = list(data_meta.boundary_modes())
        if train_resolution and "reference_resolution" in accepts and "reference_resolution" not in kwargs:
            # models whose stencils live on a reference grid (MgNO, LSM, fs_unet) take the training grid
            kwargs["reference_resolution"] = list(train_resolution)
        for key, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if key in kwargs and kwargs[key] != value:
                raise ModelError(f"model_kwargs.{key}={kwargs[key]} but the data has {value} "
                                 f"{key.split('_')[0]} channel(s); fix model_kwargs.{key} or remove it.")
            kwargs[key] = value
        self.hparams.model_kwargs = kwargs  # saved with the checkpoint
        self.net = build(self.hparams.model, **kwargs)
        option = self.hparams.get("compile", False)
        self._compiled_forward = None
        if option:
            try:
                self._compiled_forward = torch.compile(self.net.forward,
                                                       **({} if option is True else {"backend": option}))
            except Exception as exc:  # torch raises its own InvalidBackend
                raise ConfigError(f"compile={option!r} is not usable: {exc}; use true, false or a backend "
                                  f"from torch._dynamo.list_backends().") from exc
        self.in_norm = GaussianNormalizer(in_channels)
        self.out_norm = GaussianNormalizer(out_channels)

    @override
    def setup(self, stage: str) -> None:
        super().setup(stage)
        dm = self.datamodule()
        if self.net is None:
            if dm is None:
                raise ConfigError("the model's channel counts are unknown: pass model_kwargs.in_channels and "
                                  "out_channels, or train with an OperatorDataModule.")
            self._build(*self._model_channels(dm), getattr(dm, "meta", None), getattr(dm, "train_resolution", None))
        elif dm is not None and hasattr(dm, "in_channels"):
            self._check_channels(dm.in_channels, dm.out_channels)
        if dm is not None and hasattr(self.net, "check_grid"):
            self._check_grids(dm)
        if dm is not None and hasattr(dm, "train_set"):
            self.data_fields = {"inputs": list(dm.train_set.input_fields),
                                "outputs": list(dm.train_set.output_fields)}
        if dm is not None and getattr(dm, "train_resolution", None) is not None and stage == "fit":
            self.train_resolution = list(dm.train_resolution)
            self._warn_mixed_batch_statistics(getattr(dm, "train_strides", None))
        if stage == "fit" and self.hparams.normalize and not bool(self.in_norm.fitted):
            self._fit_normalizers(dm)

    def _model_channels(self, dm: Any) -> tuple[int, int]:
        """The model's input and output channels for the data of ``dm`` (a subclass's model may predict part of
        the data's outputs per call, as :class:`~neurops.tasks.rollout.RolloutTask`'s does)."""
        return dm.in_channels, dm.out_channels

    def _check_grids(self, dm: Any) -> None:
        """Let the model refuse a grid of the data before any step (e.g. too many Fourier modes for it)."""
        for ds in (getattr(dm, "train_set", None), getattr(dm, "val_set", None), *getattr(dm, "test_sets", ())):
            if ds is not None and hasattr(ds, "spatial_shape"):
                self.net.check_grid(ds.spatial_shape)

    def _warn_mixed_batch_statistics(self, strides: list[int] | None) -> None:
        """Warn when several training grids feed the running statistics of a fixed-grid model's batch norm."""
        batch_norm = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.track_running_stats
                         for m in self.net.modules())
        fixed_grid = getattr(self.net, "resolution_behaviour", None) == "fixed_grid"
        if strides and len(strides) > 1 and batch_norm and fixed_grid:
            warnings.warn(f"train_strides {strides} with the fixed_grid {self.hparams.model!r} model and its batch "
                          "normalisation: the running statistics average the features of the different grids, which "
                          "differ (stencils and padding in grid points), so evaluation on any one grid can be far "
                          "off (measured, LSM on Darcy: rel. L2 0.50 on the training grid after a training loss of "
                          "0.049; benchmarks/results/resolution_33.md). Keep reference_resolution "
                          "(the default), use norm='instance', or train on one grid.", NeuropsWarning, stacklevel=2)

    def _check_channels(self, in_channels: int, out_channels: int) -> None:
        kw = self.hparams.model_kwargs
        if kw["in_channels"] != in_channels or kw["out_channels"] != out_channels:
            raise ModelError(f"the model maps {kw['in_channels']} -> {kw['out_channels']} channels but the data "
                             f"has {in_channels} -> {out_channels}; use data with matching fields or retrain.")

    def _fit_normalizers(self, dm: Any) -> None:
        """Stream this process's share of the training split, then merge the moments of all processes."""
        moments_in, moments_out = ChannelMoments(self.in_norm.mean.numel()), ChannelMoments(self.out_norm.mean.numel())
        for batch in dm.train_batches(self.hparams.normalizer_batches):
            x, y = self._normalizer_samples(batch)
            moments_in.update(x)
            moments_out.update(y)
        self.in_norm.fit_moments(moments_in.all_reduce())
        self.out_norm.fit_moments(moments_out.all_reduce())

    def _normalizer_samples(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Model inputs and outputs of a training batch, as the normalizers see them."""
        return batch["x"], batch["y"]

    # forward ------------------------------------------------------------------------
    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Physical input ``[B, C_in, *spatial]`` -> physical prediction ``[B, C_out, *spatial]``."""
        if self.net is None:
            raise ModelError("the model is not built yet; call trainer.fit or pass channel counts.")
        run = self._compiled_forward or self.net
        if self.hparams.normalize:
            return self.out_norm.decode(run(self.in_norm.encode(x)))
        return run(x)

    def _step(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        pred = self(batch["x"])
        return pred, self.loss_fn(pred, batch["y"])

    @override
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        _, loss = self._step(batch)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(batch["x"]),
                 sync_dist=True)
        return loss

    def _log_metrics(self, prefix: str, suffix: str, pred: torch.Tensor, target: torch.Tensor, loss: torch.Tensor):
        n = len(target)
        self.log_mean(f"{prefix}/loss{suffix}", loss, n)
        self.log_mean(f"{prefix}/rel_l2{suffix}", relative_lp(pred, target), n, prog_bar=prefix == "val")
        self.log_mean(f"{prefix}/rel_h1{suffix}", relative_h1(pred, target), n)

    @override
    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        pred, loss = self._step(batch)
        self._log_metrics("val", "", pred, batch["y"], loss)

    @override
    def on_test_start(self) -> None:
        """Warn, as ``neurops predict`` does, for every test split on another grid than a ``fixed_grid`` model's
        training grid (known here also from a checkpoint): its metrics there are those of another operator."""
        dm = self.datamodule()
        for name, ds in zip(getattr(dm, "test_splits", ()), getattr(dm, "test_sets", ())):
            if hasattr(ds, "spatial_shape"):
                check_grid(self, ds.spatial_shape, f"test split {name!r}")

    @override
    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        pred, loss = self._step(batch)
        self._log_metrics("test", f"@{self.test_tag(dataloader_idx)}", pred, batch["y"], loss)

    @override
    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        return self(batch["x"])

    # checkpoints --------------------------------------------------------------------
    def checkpoint_extra(self) -> dict[str, Any]:
        return {"data_fields": self.data_fields, "train_resolution": self.train_resolution}

    def load_checkpoint_extra(self, record: dict[str, Any]) -> None:
        self.data_fields = record.get("data_fields")
        self.train_resolution = record.get("train_resolution")
        dm = self.datamodule()
        now = getattr(dm, "train_resolution", None) if dm is not None else None
        fitting = self._trainer is not None and self.trainer.state.fn == TrainerFn.FITTING
        if fitting and self.train_resolution and now is not None and list(now) != list(self.train_resolution):
            # the run went on on another grid while its checkpoints kept naming the first one
            grid, was = "x".join(map(str, now)), "x".join(map(str, self.train_resolution))
            strides = getattr(dm, "train_strides", None)
            strides_note = f", train_strides {strides}" if strides else ""
            raise CheckpointError(f"{self.trainer.ckpt_path} was trained on a {was} grid, but {dm.path} trains on "
                                  f"{grid} (its split {dm.train_split!r}{strides_note}); resume the run on its own "
                                  "data, or train on this data in a new run folder (--trainer.default_root_dir DIR).")
        if self.data_fields and dm is not None and hasattr(dm, "train_set"):
            # test / validate / predict / resume with a checkpoint: the data must hold the fields it was trained on
            where = f"{dm.path} split {dm.train_split!r}"
            for group, present in (("inputs", dm.train_set.input_fields), ("outputs", dm.train_set.output_fields)):
                check_fields(where, group, present, self.data_fields.get(group), "the checkpoint was trained on",
                             exact=True)
