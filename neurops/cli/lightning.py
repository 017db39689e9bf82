"""``neurops fit|validate|test`` through LightningCLI (``OperatorTask`` + ``OperatorDataModule``)."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import yaml
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from neurops.configs import resolve_config
from neurops.data.datamodule import OperatorDataModule
from neurops.errors import ConfigError
from neurops.models.registry import get_class
from neurops.tasks.operator import OperatorTask

RUNS_DIR = "runs"


def default_loggers(save_dir: str = RUNS_DIR, name: str = "neurops") -> list[dict[str, Any]]:
    """CSV logging always; TensorBoard too when it is installed."""
    loggers = [{"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": save_dir,
                                                                                    "name": name}}]
    if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
        loggers.append({"class_path": "lightning.pytorch.loggers.TensorBoardLogger",
                        "init_args": {"save_dir": f"{save_dir}/tensorboard", "name": name}})
    return loggers


def _check_keys(section: str, given: dict[str, Any], target: Any, where: Path) -> None:
    valid = [n for n in inspect.signature(target).parameters if n != "self"]
    for key in given:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" Did you mean '{section}.{close[0]}'?" if close else ""
            raise ConfigError(f"{where}: unknown config key '{section}.{key}'.{hint} "
                              f"Valid keys of '{section}': {sorted(valid)}.")


def validate_config(path: Path, task_class: type, datamodule_class: type) -> set[str]:
    """Raise one ``ConfigError`` naming the first misspelled key of a config file (with a suggestion).

    Returns the sections (``model``, ``data``) that name their class with ``class_path``.
    """
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path} must hold a mapping with sections trainer/model/data.")
    sections = {"model": task_class.__init__, "data": datamodule_class.__init__, "trainer": L.Trainer.__init__}
    top = [*sections, "seed_everything", "optimizer", "lr_scheduler", "ckpt_path", "weights_only"]
    for key, value in cfg.items():
        if key not in top:
            close = difflib.get_close_matches(key, top, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"{path}: unknown top-level config key '{key}'.{hint} Valid: {sorted(top)}.")
        if key in sections and isinstance(value, dict):
            if "class_path" in value:  # subclass form: check init_args against the named class
                target = _import_class(value["class_path"], path)
                _check_keys(key, value.get("init_args") or {}, target.__init__, path)
            else:
                _check_keys(key, value, sections[key], path)
    model = cfg.get("model")
    if isinstance(model, dict):
        name = (model.get("init_args") or {}).get("model") if "class_path" in model else model.get("model")
        if isinstance(name, str):
            get_class(name)  # an unknown model name fails here with suggestions
    return {k for k in ("model", "data") if isinstance(cfg.get(k), dict) and "class_path" in cfg[k]}


def _import_class(class_path: str, where: Path) -> type:
    module_name, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"{where}: class_path {class_path!r} cannot be imported ({exc}).") from exc


def resolve_config_args(argv: Sequence[str]) -> list[str]:
    """Replace short config names after ``--config`` (or ``--config=``) with the shipped file's path."""
    out: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--config" and i + 1 < len(args):
            out += [arg, str(resolve_config(args[i + 1]))]
            i += 2
            continue
        if arg.startswith("--config="):
            arg = "--config=" + str(resolve_config(arg.split("=", 1)[1]))
        out.append(arg)
        i += 1
    return out


class NeuropsCLI(LightningCLI):
    """LightningCLI with neurops defaults (CSV/TensorBoard logs under ``runs/``)."""

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        """The Trainer; options it rejects (``strategy fsdp`` on CPU, too many devices...) are one ConfigError."""
        try:
            return super().instantiate_trainer(**kwargs)
        except (ValueError, MisconfigurationException) as exc:
            raise ConfigError(f"the trainer options are not usable: {exc} (multi-process training: "
                              "docs/scaling.md)") from exc


def run_lightning(argv: Sequence[str], task_class: type = OperatorTask,
                  datamodule_class: type = OperatorDataModule) -> int:
    """Run ``fit``/``validate``/``test`` with ``argv`` (``["fit", "--config", ...]``)."""
    args = resolve_config_args(argv)
    for flag, value in zip(args, args[1:]):
        if flag == "--config":
            named = validate_config(Path(value), task_class, datamodule_class)
            # a config that names its classes (class_path) may use any LightningModule / DataModule
            task_class = L.LightningModule if "model" in named else task_class
            datamodule_class = L.LightningDataModule if "data" in named else datamodule_class
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
        NeuropsCLI(
            task_class,
            datamodule_class,
            args=args,
            seed_everything_default=0,
            subclass_mode_model=True,
            subclass_mode_data=True,
            trainer_defaults={"default_root_dir": RUNS_DIR, "logger": default_loggers()},
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"prog": "neurops"},
        )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_lightning(sys.argv[1:]))
