"""The shipped MgNO config (neurops/configs/darcy_mgno.yaml) parses, builds and trains a step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lightning.pytorch.cli import LightningCLI

from neurops.configs import resolve_config
from neurops.data.datamodule import OperatorDataModule
from neurops.data.metadata import DatasetMeta
from neurops.data.writer import H5Writer
from neurops.tasks.base import Task
from neurops.tasks.schedules import OneCycle


@pytest.fixture
def darcy_file(tmp_path):
    x = np.linspace(0, 1, 12)
    rng = np.random.default_rng(0)
    path = tmp_path / "darcy.h5"
    with H5Writer(path, DatasetMeta(kind="operator", name="darcy", dims=["x", "y"],
                                    boundary={"x": "dirichlet", "y": "dirichlet"})) as w:
        for split in ("train", "val", "test"):
            w.add_split(split, coords={"x": x, "y": x}, inputs={"a": rng.random((4, 12, 12))},
                        outputs={"u": rng.random((4, 12, 12))})
    return path


def _cli(path, *extra: str) -> LightningCLI:
    return LightningCLI(Task, OperatorDataModule, subclass_mode_model=True, subclass_mode_data=True, run=False,
                        save_config_callback=None, auto_configure_optimizers=False,
                        args=["--config", str(resolve_config("darcy_mgno")), "--data.init_args.path", str(path),
                              "--trainer.logger", "false", *extra])


def test_darcy_mgno_config_builds_the_paper_setup(darcy_file):
    cli = _cli(darcy_file)
    hp = cli.model.hparams
    assert hp.model == "mgno" and hp.model_kwargs["preset"] == "darcy"
    optimizer = cli.model.optimizer_factory([torch.nn.Parameter(torch.zeros(1))])
    assert hp.loss == "rel_h1_fourier" and type(optimizer) is torch.optim.AdamW
    assert (optimizer.defaults["lr"], optimizer.defaults["weight_decay"]) == (5e-4, 1e-4)
    schedule = cli.model.scheduler_factory
    assert isinstance(schedule, OneCycle)
    assert (schedule.div_factor, schedule.final_div_factor, schedule.pct_start) == (2.0, 100.0, 0.2)
    assert cli.trainer.max_epochs == 500 and cli.datamodule.batch_size == 8


def test_darcy_mgno_config_trains_one_step(darcy_file, tmp_path):
    cli = _cli(darcy_file, "--trainer.fast_dev_run", "true", "--trainer.enable_progress_bar", "false",
               "--trainer.default_root_dir", str(tmp_path), "--data.init_args.num_workers", "0",
               "--data.init_args.batch_size", "2")
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    n_params = sum(p.numel() for p in cli.model.net.parameters())
    assert n_params == 572_661


def test_darcy_mgno_config_takes_the_files_boundary_and_axes(tmp_path):
    """The config set ``boundary: dirichlet``, so the task's fill-in of the file's boundary was skipped: on a
    periodic file MgNO padded with zeros without a word, and on a 1-D file it was a 2-D model that refused the
    data's grid. Now the boundary (and with it the number of axes) is the file's."""
    x = np.linspace(0, 1, 16, endpoint=False)
    rng = np.random.default_rng(0)
    path = tmp_path / "burgers.h5"
    with H5Writer(path, DatasetMeta(kind="operator", name="burgers", dims=["x"], boundary={"x": "periodic"})) as w:
        for split in ("train", "val", "test"):
            w.add_split(split, coords={"x": x}, inputs={"u0": rng.random((2, 16))}, outputs={"u": rng.random((2, 16))})
    cli = _cli(path, "--trainer.fast_dev_run", "true", "--trainer.enable_progress_bar", "false",
               "--trainer.default_root_dir", str(tmp_path), "--data.init_args.batch_size", "2")
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.model.net.ndim == 1 and list(cli.model.net.boundary) == ["periodic"]
    assert cli.model.hparams.model_kwargs["boundary"] == ["periodic"]
