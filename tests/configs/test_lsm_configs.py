"""The shipped LSM configs (neurops/configs/darcy_lsm.yaml, ns_lsm.yaml) parse and build."""

from __future__ import annotations

import numpy as np
import pytest
from lightning.pytorch.cli import LightningCLI

from neurops.configs import resolve_config
from neurops.data.datamodule import OperatorDataModule
from neurops.data.datamodule import RolloutDataModule
from neurops.data.writer import H5Writer
from neurops.tasks.operator import OperatorTask
from neurops.tasks.rollout import RolloutTask


@pytest.fixture
def data_files(tmp_path):
    x = np.linspace(0, 1, 8)
    darcy, ns = tmp_path / "darcy.h5", tmp_path / "ns.h5"
    with H5Writer(darcy, kind="operator", name="darcy", dims=["x", "y"]) as w:
        for split in ("train", "val", "test"):
            w.add_split(split, coords={"x": x, "y": x}, inputs={"a": np.ones((2, 8, 8))},
                        outputs={"u": np.ones((2, 8, 8))})
    with H5Writer(ns, kind="trajectory", name="ns", dims=["x", "y"]) as w:
        for split in ("train", "val", "test"):
            w.add_split(split, coords={"x": x, "y": x}, time=np.arange(20.0), states={"w": np.ones((2, 20, 8, 8))})
    return {"darcy_lsm": darcy, "ns_lsm": ns}


def _cli(name: str, path) -> LightningCLI:
    # subclass mode: configs may name a task/datamodule subclass (RolloutTask) by class_path
    key = "--data.init_args.path" if name == "ns_lsm" else "--data.path"
    return LightningCLI(OperatorTask, OperatorDataModule, subclass_mode_model=True, subclass_mode_data=True,
                        run=False, save_config_callback=None,
                        args=["--config", str(resolve_config(name)), key, str(path), "--trainer.logger", "false"])


@pytest.mark.parametrize("name, task_cls, dm_cls, lr", [
    ("darcy_lsm", OperatorTask, OperatorDataModule, 5e-4),
    ("ns_lsm", RolloutTask, RolloutDataModule, 5e-4),
])
def test_config_builds_the_paper_setup(data_files, name, task_cls, dm_cls, lr):
    cli = _cli(name, data_files[name])
    assert type(cli.model) is task_cls and type(cli.datamodule) is dm_cls
    assert cli.model.hparams.model == "lsm" and cli.model.hparams.lr == lr
    assert cli.model.hparams.scheduler == "step" and cli.trainer.max_epochs == 500
    assert cli.datamodule.batch_size == 20
    if name == "ns_lsm":
        assert (cli.model.hparams.t_in, cli.model.hparams.t_out, cli.model.hparams.step) == (10, 10, 1)
        assert cli.datamodule.in_channels == 10 and cli.model.hparams.training == "rollout"
