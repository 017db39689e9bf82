"""The shipped MgNO config (neurops/configs/darcy_mgno.yaml) parses, builds and trains a step."""

from __future__ import annotations

import numpy as np
import pytest
from lightning.pytorch.cli import LightningCLI

from neurops.configs import resolve_config
from neurops.data.datamodule import OperatorDataModule
from neurops.data.writer import H5Writer
from neurops.tasks.operator import OperatorTask


@pytest.fixture
def darcy_file(tmp_path):
    x = np.linspace(0, 1, 12)
    rng = np.random.default_rng(0)
    path = tmp_path / "darcy.h5"
    with H5Writer(path, kind="operator", name="darcy", dims=["x", "y"],
                  boundary={"x": "dirichlet", "y": "dirichlet"}) as w:
        for split in ("train", "val", "test"):
            w.add_split(split, coords={"x": x, "y": x}, inputs={"a": rng.random((4, 12, 12))},
                        outputs={"u": rng.random((4, 12, 12))})
    return path


def _cli(path, *extra: str) -> LightningCLI:
    return LightningCLI(OperatorTask, OperatorDataModule, run=False, save_config_callback=None,
                        args=["--config", str(resolve_config("darcy_mgno")), "--data.path", str(path),
                              "--trainer.logger", "false", *extra])


def test_darcy_mgno_config_builds_the_paper_setup(darcy_file):
    cli = _cli(darcy_file)
    hp = cli.model.hparams
    assert hp.model == "mgno" and hp.model_kwargs["preset"] == "darcy"
    assert hp.loss == "rel_h1_fourier" and hp.lr == 5e-4 and hp.scheduler == "onecycle"
    assert (hp.div_factor, hp.final_div_factor, hp.pct_start) == (2.0, 100.0, 0.2)
    assert cli.trainer.max_epochs == 500 and cli.datamodule.batch_size == 8


def test_darcy_mgno_config_trains_one_step(darcy_file, tmp_path):
    cli = _cli(darcy_file, "--trainer.fast_dev_run", "true", "--trainer.enable_progress_bar", "false",
               "--trainer.default_root_dir", str(tmp_path), "--data.num_workers", "0",
               "--data.batch_size", "2")
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    n_params = sum(p.numel() for p in cli.model.net.parameters())
    assert n_params == 572_661
