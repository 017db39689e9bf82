"""What ``neurops fit|validate|test`` checks in a config before LightningCLI parses it, and its one-line errors.

:func:`validate_config` refuses the old ``dsr fit`` dialect, a section that names no class, a
misspelled key (with the closest valid one) and an unknown model name; :func:`resolve_config_args`
turns short config names into the shipped files; :func:`check_run_values` refuses, once parsed, the
values Lightning takes without a check (or silently ignores); :func:`neurops_error` and
:func:`argument_error` turn jsonargparse's and Lightning's wrapped errors into one
:class:`~neurops.errors.NeuropsError`.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import yaml
from jsonargparse import ArgumentError

from neurops.cli import LIGHTNING_COMMANDS
from neurops.cli.argument_errors import command_line_error, import_class, one_line, yaml_problem
from neurops.configs import resolve_config
from neurops.errors import CheckpointError, ConfigError, NeuropsError
from neurops.models.registry import get_class
from neurops.utils.seeding import check_seed
from neurops.utils.signature import init_parameters

#: top-level keys of a config
TOP_KEYS = ("model", "data", "trainer", "seed_everything", "ckpt_path", "weights_only", "test_after_fit")


def _check_keys(section: str, given: dict[str, Any], target: type, where: Path) -> None:
    valid = init_parameters(target)
    for key in given:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" Did you mean '{section}.{close[0]}'?" if close else ""
            section_of = section.removesuffix(".init_args")
            raise ConfigError(f"{where}: unknown config key '{section}.{key}'.{hint} "
                              f"Valid keys of '{section_of}': {sorted(valid)}.")


def validate_config(path: Path) -> None:
    """Raise one ``ConfigError`` for the first problem of a config file: the old ``dsr fit`` dialect, a
    section that names no class, a misspelled key (with a suggestion) or an unknown model name."""
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(yaml_problem(path, exc)) from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path} must hold a mapping with sections trainer/model/data.")
    if {"task", "out", "seed"} & set(cfg):
        raise ConfigError(
            f"{path} is written in the old `neurops dsr fit` dialect (sections seed/out/data/task/trainer); "
            "configs are LightningCLI configs now: `model: {class_path: neurops.tasks.DynamicsTask, init_args: "
            "<the task section>}`, `data: {class_path: neurops.data.datamodule.DynamicsDataModule, init_args: <the "
            "data section>}`, `seed_everything: <seed>` and `trainer: {default_root_dir: <out>, ...}`; lr/lr_end "
            "became `optimizer` and `lr_scheduler` (see the shipped config dsr_lorenz63 and docs/dsr.md).")
    for key, value in cfg.items():
        if key not in TOP_KEYS:
            close = difflib.get_close_matches(key, TOP_KEYS, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"{path}: unknown top-level config key '{key}'.{hint} Valid: {sorted(TOP_KEYS)}.")
        if key == "trainer" and isinstance(value, dict):
            _check_keys(key, value, L.Trainer, path)
        elif key in ("model", "data") and isinstance(value, dict):
            if "class_path" not in value:
                example = ("neurops.tasks.OperatorTask" if key == "model"
                           else "neurops.data.datamodule.OperatorDataModule")
                raise ConfigError(f"{path}: section '{key}' names no class; write it as `{key}: {{class_path: "
                                  f"{example}, init_args: {{...}}}}` (as every shipped config does).")
            _check_keys(f"{key}.init_args", value.get("init_args") or {}, import_class(value["class_path"], path),
                        path)
    model = cfg.get("model")
    if isinstance(model, dict):
        name = (model.get("init_args") or {}).get("model")
        if isinstance(name, str):
            get_class(name)  # an unknown model name fails here with suggestions


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_run_values(cfg: Any, subcommand: str | None) -> None:
    """One ``ConfigError`` for a trainer value Lightning takes without a check and fails on later (a traceback from
    inside the run) or silently ignores; ``cfg`` is the parsed config of ``subcommand`` (``None``: only built).

    Every command: ``seed_everything``, ``check_val_every_n_epoch`` (>= 1), ``accumulate_grad_batches`` (>= 1; 0
    divided by zero in Lightning's step count, -1 trained as if 1) and ``gradient_clip_val`` (>= 0; Lightning skips
    clipping at a negative value). ``fit`` also refuses a run of zero epochs or steps, which trains nothing.
    """
    seed = cfg.get("seed_everything")
    if _is_int(seed):  # true or null: a random seed
        check_seed(seed, "seed_everything", "--seed_everything", bits=32, note=" (true: a random seed)")
    trainer = cfg.get("trainer") or {}
    every = trainer.get("check_val_every_n_epoch")
    if _is_int(every) and every < 1:
        raise ConfigError(f"check_val_every_n_epoch must be a positive integer or null, got {every}; "
                          "--trainer.check_val_every_n_epoch N validates after every N-th epoch (to train without "
                          "validation: --data.val_split null).")
    accumulate = trainer.get("accumulate_grad_batches")
    if _is_int(accumulate) and accumulate < 1:
        raise ConfigError(f"accumulate_grad_batches must be an integer >= 1, got {accumulate}; "
                          "--trainer.accumulate_grad_batches K sums the gradients of K batches before each optimizer "
                          "step (1: a step after every batch).")
    clip = trainer.get("gradient_clip_val")
    if isinstance(clip, (int, float)) and not isinstance(clip, bool) and not clip >= 0:  # also NaN
        raise ConfigError(f"gradient_clip_val must be a number >= 0, got {clip}; 0 or null means no clipping "
                          "(--trainer.gradient_clip_val 1.0 clips the gradients' norm at 1).")
    if subcommand == "fit":
        _check_run_length(trainer)


def _check_run_length(trainer: Any) -> None:
    """A ``fit`` of zero epochs or zero steps trains nothing (it wrote no checkpoint and tested the untrained model)."""
    for key in ("max_epochs", "max_steps"):
        if trainer.get(key) == 0 and _is_int(trainer.get(key)):
            raise ConfigError(f"a run of {key} 0 trains nothing; give --trainer.{key} N with N >= 1, or evaluate "
                              "a checkpoint with `neurops test --config ... --ckpt_path CKPT`.")


def check_resume_epochs(checkpoint: dict[str, Any], max_epochs: object, ckpt_path: object) -> None:
    """One :class:`~neurops.errors.CheckpointError` if ``neurops fit --ckpt_path`` would resume ``checkpoint`` (a
    checkpoint's contents) with a ``max_epochs`` below the epoch it was saved in; checked before the Trainer starts.

    It refuses exactly what Lightning's checkpoint connector refuses (``current_epoch > max_epochs`` once the fit
    loop's progress is restored; a ``max_epochs`` of ``None`` or -1 is not checked here), which it would report as a
    ``MisconfigurationException`` traceback.
    """
    try:
        progress = checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]
        epoch, finished = int(progress["completed"]), int(progress["processed"])
    except (KeyError, TypeError, ValueError):
        return  # no loop state: Lightning restores no epoch, so it refuses no max_epochs
    if not _is_int(max_epochs) or max_epochs == -1 or epoch <= max_epochs:  # type: ignore[operator]
        return
    raise CheckpointError(f"{ckpt_path} was saved in epoch {epoch} (counting from 0), but --trainer.max_epochs is "
                          f"{max_epochs}, which ends the run before it; to train on, give --trainer.max_epochs N with "
                          f"N > {finished} (the epochs it has finished), or evaluate it with "
                          f"`neurops test --config ... --ckpt_path {ckpt_path}`.")


def resolve_config_args(argv: Sequence[str]) -> tuple[list[str], list[Path]]:
    """``argv`` with short config names (``--config darcy_fno``) replaced by the shipped files' paths,
    and the config files named."""
    out: list[str] = []
    configs: list[Path] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--config", "-c") and i + 1 < len(args):
            configs.append(resolve_config(args[i + 1]))
            out += [arg, str(configs[-1])]
            i += 2
            continue
        if arg.startswith("--config="):
            configs.append(resolve_config(arg.split("=", 1)[1]))
            arg = f"--config={configs[-1]}"
        out.append(arg)
        i += 1
    return out, configs


def _chain(exc: BaseException | None) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from (``__cause__``, else ``__context__``), outermost first."""
    chain: list[BaseException] = []
    while exc is not None and all(exc is not seen for seen in chain):
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def neurops_error(exc: BaseException) -> NeuropsError:
    """The :class:`NeuropsError` an exception was raised from, or a ``ConfigError`` stating its innermost cause."""
    chain = _chain(exc)
    for inner in chain:
        if isinstance(inner, NeuropsError):
            return inner
    return ConfigError(f"invalid configuration: {one_line(str(chain[-1]))}")


def argument_error(exc: ArgumentError, parser: Any, args: Sequence[str] | None) -> ConfigError:
    """One line for a command line jsonargparse refused, in the words of every other command
    (:func:`neurops.cli.builder.one_line`), with the closest valid option for an unknown one."""
    sub = next((a for a in args or () if a in LIGHTNING_COMMANDS), None)
    subcommands = getattr(getattr(parser, "_subcommands_action", None), "_name_parser_map", {})  # jsonargparse's
    return command_line_error(str(exc), subcommands.get(sub, parser), f"neurops {sub or 'fit'}")


__all__ = ["TOP_KEYS", "argument_error", "check_run_values", "neurops_error", "resolve_config_args", "validate_config"]
