"""The shipped LSM configs (neurops/configs/darcy_lsm.yaml, ns_lsm.yaml) parse and build."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lightning.pytorch.cli import LightningCLI

from neurops.configs import resolve_config
from neurops.data.datamodule import OperatorDataModule, RolloutDataModule
from neurops.data.metadata import DatasetMeta
from neurops.data.writer import H5Writer
from neurops.tasks.base import Task
from neurops.tasks.operator import OperatorTask
from neurops.tasks.rollout import RolloutTask
from neurops.tasks.schedules import StepDecay


@pytest.fixture
def data_files(tmp_path):
    x = np.linspace(0, 1, 8)
    darcy, ns = tmp_path / "darcy.h5", tmp_path / "ns.h5"
    with H5Writer(darcy, DatasetMeta(kind="operator", name="darcy", dims=["x", "y"])) as w:
        for split in ("train", "val", "test"):
            w.add_split(split, coords={"x": x, "y": x}, inputs={"a": np.ones((2, 8, 8))},
                        outputs={"u": np.ones((2, 8, 8))})
    with H5Writer(ns, DatasetMeta(kind="trajectory", name="ns", dims=["x", "y"])) as w:
        for split in ("train", "val", "test"):
            w.add_split(split, coords={"x": x, "y": x}, time=np.arange(20.0), states={"w": np.ones((2, 20, 8, 8))})
    return {"darcy_lsm": darcy, "ns_lsm": ns}


def _cli(name: str, path) -> LightningCLI:
    # configs name their task and datamodule by class_path, as `neurops fit` reads them
    return LightningCLI(Task, OperatorDataModule, subclass_mode_model=True, subclass_mode_data=True,
                        run=False, save_config_callback=None, auto_configure_optimizers=False,
                        args=["--config", str(resolve_config(name)), "--data.init_args.path", str(path),
                              "--trainer.logger", "false"])


@pytest.mark.parametrize("name, task_cls, dm_cls, lr", [
    ("darcy_lsm", OperatorTask, OperatorDataModule, 5e-4),
    ("ns_lsm", RolloutTask, RolloutDataModule, 5e-4),
])
def test_config_builds_the_paper_setup(data_files, name, task_cls, dm_cls, lr):
    cli = _cli(name, data_files[name])
    assert type(cli.model) is task_cls and type(cli.datamodule) is dm_cls
    optimizer = cli.model.optimizer_factory([torch.nn.Parameter(torch.zeros(1))])
    assert cli.model.hparams.model == "lsm" and type(optimizer) is torch.optim.AdamW
    assert optimizer.defaults["lr"] == lr and optimizer.defaults["weight_decay"] == 1e-4
    schedule = cli.model.scheduler_factory  # the paper's halving every 100 of its 500 epochs
    assert isinstance(schedule, StepDecay) and (schedule.every, schedule.gamma) == (0.2, 0.5)
    assert schedule.build(optimizer, 0, cli.trainer.max_epochs).step_size == 100 and cli.trainer.max_epochs == 500
    assert cli.datamodule.batch_size == 20
    if name == "ns_lsm":
        assert (cli.model.hparams.t_in, cli.model.hparams.t_out, cli.model.hparams.step) == (10, 10, 1)
        assert cli.datamodule.in_channels == 10 and cli.model.hparams.training == "rollout"
