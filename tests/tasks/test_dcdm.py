"""Unsupervised DCDM training through the one training path (neurops/tasks/dcdm.py)."""

from __future__ import annotations

from functools import partial

import lightning as L
import pytest
import torch

from neurops.data.datamodule import DCDMDataModule
from neurops.errors import ConfigError
from neurops.solvers.learned.dcdm import dcdm_solve
from neurops.solvers.linear.cg import pcg
from neurops.solvers.linear.diffusion import DiffusionOperator
from neurops.tasks import DCDMTask


def _coefficient(n: int, seed: int, batch: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, n + 2, n + 2, generator=g, dtype=torch.float64) + 0.5


class _Losses(L.Callback):
    def __init__(self) -> None:
        self.values: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.values.append(float(outputs["loss"]))


def _fit(task: DCDMTask, dm: DCDMDataModule, tmp_path) -> list[float]:
    losses = _Losses()
    trainer = L.Trainer(max_epochs=1, default_root_dir=tmp_path, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", callbacks=[losses])
    trainer.fit(task, dm)
    return losses.values


def test_training_lowers_the_loss_and_the_network_transfers_to_a_larger_grid(tmp_path):
    torch.manual_seed(0)
    task = DCDMTask("dcdm", {"dim": 2, "width": 8, "fine_blocks": 1, "coarse_blocks": 2},
                    optimizer=partial(torch.optim.Adam, lr=3e-3)).double()
    dm = DCDMDataModule(_coefficient(14, 0), num_ritz=60, num_rhs=200, batch_size=8, steps_per_epoch=120, seed=0)
    losses = _fit(task, dm, tmp_path)
    assert dm.ritz_count == 60 and len(losses) == 120
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:5]) / 5
    net = task.net.eval()
    for n, seed in ((14, 0), (28, 1)):  # the training matrix, and another coefficient on a 2x finer grid
        op = DiffusionOperator.from_coefficient(_coefficient(n, seed))
        b = torch.randn(1, *op.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
        dcdm_its = dcdm_solve(op, b, net, rtol=1e-6, maxiter=300).max_iterations
        assert dcdm_its < 0.5 * pcg(op, b, rtol=1e-6).max_iterations


def test_a_conditioned_network_trains_on_several_matrices_in_turn(tmp_path):
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(0)
    a = torch.where(torch.rand(2, 12, 12, generator=g) > 0.5, 12.0, 3.0).double()
    dm = DCDMDataModule(a, n_matrices=2, num_ritz=20, num_rhs=16, batch_size=4, steps_per_epoch=4)
    seen = []

    class _Matrices(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            seen.append(batch["matrix"].tolist())

    task = DCDMTask("dcdm", {"dim": 2, "width": 4, "fine_blocks": 1, "coarse_blocks": 1, "condition_channels": 4})
    trainer = L.Trainer(max_epochs=1, default_root_dir=tmp_path, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[_Matrices()])
    trainer.fit(task, dm)
    assert dm.ritz_count == 40 and seen == [[0] * 4, [1] * 4, [0] * 4, [1] * 4]
    unconditioned = DCDMTask("dcdm", {"dim": 2, "width": 4})
    with pytest.raises(ConfigError, match="condition_channels: 4"):
        L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                  enable_model_summary=False, default_root_dir=tmp_path).fit(unconditioned, dm)
