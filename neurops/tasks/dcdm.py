"""Unsupervised training of the deep conjugate direction method's network: ``DCDMTask``.

The network ``f`` (:class:`neurops.models.dcdm.DCDMNet`, registered ``"dcdm"``) should map a
residual to (a multiple of) ``A^{-1}`` applied to it. No solutions are needed: for right-hand
sides ``b`` built from the Ritz vectors of the training matrices
(:class:`~neurops.data.datamodule.DCDMDataModule`), the loss is the residual after the optimal
step along the network's direction, ``|| b - A q (q^T b) / (q^T A q) ||^2`` with ``q = f(b)``
(:func:`neurops.solvers.learned.dcdm.dcdm_loss`). The trained network solves with
:func:`neurops.solvers.learned.dcdm.dcdm_solve` on any grid.

References
----------
.. [1] A. Kaneda, O. Akar, J. Chen, V. A. T. Kala, D. Hyde, J. Teran, "A deep conjugate
   direction method for iteratively solving linear systems", ICML 2023, PMLR 202:15720-15736.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from typing_extensions import override

from neurops.errors import ConfigError
from neurops.models.registry import build, get_class
from neurops.solvers.learned.dcdm import dcdm_loss
from neurops.solvers.linear.operators import LinearOperator
from neurops.tasks.base import Scheduler, Task

__all__ = ["DCDMTask"]


class DCDMTask(Task):
    """Train a DCDM network without labels on the matrices of a :class:`~neurops.data.datamodule.DCDMDataModule` [1]_.

    Parameters
    ----------
    model
        registry name of the network (``"dcdm"``).
    model_kwargs
        its arguments (``width``, ``fine_blocks``, ``coarse_blocks``,
        ``condition_channels``); ``dim`` is filled in from the data. Several training matrices
        need a conditioned network (``condition_channels = 2 * dim``).
    optimizer
        default Adam with lr 1e-3, as in the paper.
    lr_scheduler
        default None (a constant learning rate).
    """

    default_optimizer = partial(torch.optim.Adam, lr=1e-3)

    def __init__(self, model: str = "dcdm", model_kwargs: dict[str, Any] | None = None,
                 optimizer: OptimizerCallable | None = None, lr_scheduler: Scheduler = None) -> None:
        super().__init__(optimizer, lr_scheduler)
        get_class(model)  # unknown names fail here
        self.save_hyperparameters(ignore=Task.NOT_SAVED)
        #: the training matrices (set from the data module), in the network's dtype and device
        self.operators: list[LinearOperator] = []
        if model_kwargs and "dim" in model_kwargs:
            self.net = build(model, **model_kwargs)

    @override
    def setup(self, stage: str) -> None:
        super().setup(stage)
        dm = self.datamodule()
        if dm is None or not hasattr(dm, "operator"):
            if self.net is None:
                raise ConfigError("the grid dimension is unknown: pass model_kwargs.dim or train with a "
                                  "DCDMDataModule.")
            return
        if self.net is None:
            kwargs = {"dim": dm.dim, **(self.hparams.model_kwargs or {})}
            self.hparams.model_kwargs = kwargs
            self.net = build(self.hparams.model, **kwargs)
        if dm.operator.batch_size > 1 and not getattr(self.net, "condition_channels", 0):
            raise ConfigError(f"training on {dm.operator.batch_size} matrices needs a conditioned network "
                              f"(model_kwargs.condition_channels: {2 * dm.dim}); the paper's network trains on "
                              "one matrix (n_matrices: 1).")
        self.operators = [dm.operator.select(i) for i in range(dm.operator.batch_size)]

    @override
    def on_fit_start(self) -> None:
        super().on_fit_start()
        dtype = next(self.net.parameters()).dtype
        self.operators = [op.to(dtype=dtype, device=self.device) for op in self.operators]

    @override
    def forward(self, r: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Residuals ``[B, 1, *shape]`` (and the ``condition`` of a conditioned network) -> ``[B, 1, *shape]``."""
        return self.net(r) if condition is None else self.net(r, condition)

    @override
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        op = self.operators[int(batch["matrix"][0])]  # a batch holds right-hand sides of one matrix
        b = batch["b"].to(next(self.net.parameters()).dtype)
        loss = dcdm_loss(self.net, op, b)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(b), sync_dist=True)
        return loss
