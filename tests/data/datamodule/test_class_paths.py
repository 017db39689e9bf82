"""Configs and checkpoints written before the data modules became a package still load.

They name the classes ``neurops.data.datamodule.<Class>`` (``class_path``) and keep each data
module's state under its class name; both stay valid after the split into submodules.
"""

from pathlib import Path

import pytest
import torch
import yaml

import neurops.data.datamodule as datamodule
from neurops.cli import main
from neurops.cli.argument_errors import import_class
from neurops.configs import CONFIG_DIR
from tests.conftest import write_operator_file

CLASSES = ["DCDMDataModule", "DynamicsDataModule", "GenerativeDataModule", "OperatorDataModule", "RolloutDataModule"]


@pytest.mark.parametrize("name", CLASSES)
def test_the_old_class_path_names_the_class_of_its_submodule(name):
    cls = import_class(f"neurops.data.datamodule.{name}", Path("config"))
    assert cls is getattr(datamodule, name) and cls.__module__.startswith("neurops.data.datamodule.")
    assert cls.__qualname__ == name  # the key of its state in a checkpoint


def test_every_shipped_config_names_a_data_module_by_the_package_path():
    paths = {yaml.safe_load(p.read_text())["data"]["class_path"] for p in sorted(Path(CONFIG_DIR).glob("*.yaml"))}
    assert paths and paths <= {f"neurops.data.datamodule.{name}" for name in CLASSES}


def test_a_run_saved_under_the_old_class_path_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = write_operator_file(tmp_path / "d.h5", {"train": (8, 9), "val": (2, 9), "test": (2, 9)})
    fit = ["fit", "--config", "darcy_fno", "--data.init_args.path", str(data), "--model.init_args.model_kwargs.modes",
           "[3, 3]", "--model.init_args.model_kwargs.width", "4", "--trainer.default_root_dir", "run",
           "--trainer.logger", "false", "--test_after_fit", "false"]
    assert main([*fit, "--trainer.max_epochs", "1"]) == 0
    saved = tmp_path / "run" / "config.yaml"  # LightningCLI's record of the run, as a user would keep it
    assert yaml.safe_load(saved.read_text())["data"]["class_path"] == "neurops.data.datamodule.OperatorDataModule"
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False, map_location="cpu")
    assert ckpt["OperatorDataModule"] == {"epoch": 1}  # the data module's state, under its class name
    assert main(["fit", "--config", str(saved), "--trainer.max_epochs", "2", "--ckpt_path", "last"]) == 0
    resumed = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False, map_location="cpu")
    assert resumed["epoch"] == 1 and resumed["OperatorDataModule"] == {"epoch": 2}
