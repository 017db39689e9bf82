"""``neurops fit|validate|test``: every task through one LightningCLI.

A config names its task and data module (``class_path``, the one config dialect of every
shipped config). Runs live in run folders: ``--trainer.default_root_dir DIR`` (default
``runs/<config name>``) holds ``checkpoints/`` (``last.ckpt``, ``best.ckpt``: see
:mod:`neurops.tasks.callbacks`) and the logs of each attempt (``logs/version_N``);
``--ckpt_path last`` resumes the run of that folder, ``--ckpt_path best`` names its best
checkpoint. Checkpoints given with ``--ckpt_path`` are read by :func:`neurops.checkpoints.read`.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.util
import logging
import re
import shutil
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import yaml
from jsonargparse import ArgumentError
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, ProgressBar
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger, Logger
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from neurops import checkpoints
from neurops.cli import LIGHTNING_COMMANDS
from neurops.cli.callbacks import RolloutErrorFigures
from neurops.cli.progress import progress_callback
from neurops.configs import resolve_config
from neurops.errors import CheckpointError, ConfigError, NeuropsError
from neurops.models.registry import get_class
from neurops.tasks.base import Task
from neurops.tasks.callbacks import LastCheckpoint, _RunFolderCheckpoint, run_checkpoint_dir
from neurops.utils.signature import init_parameters

#: parent of the default run folders (``runs/<config name>``)
RUNS_DIR = "runs"
#: top-level keys of a config
TOP_KEYS = ("model", "data", "trainer", "seed_everything", "ckpt_path", "weights_only")
#: files a run writes before its first step; a failed run that left only these leaves nothing
_STUB_FILES = {"config.yaml", "hparams.yaml"}


def default_loggers(root: str | Path) -> list[Logger]:
    """CSV logs in ``<root>/logs/version_N`` always; TensorBoard in ``<root>/tensorboard`` when it is installed."""
    loggers: list[Logger] = [CSVLogger(save_dir=str(root), name="logs")]
    if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(save_dir=str(root), name="tensorboard"))
    return loggers


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
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
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
            _check_keys(f"{key}.init_args", value.get("init_args") or {}, _import_class(value["class_path"], path),
                        path)
    model = cfg.get("model")
    if isinstance(model, dict):
        name = (model.get("init_args") or {}).get("model")
        if isinstance(name, str):
            get_class(name)  # an unknown model name fails here with suggestions


def _import_class(class_path: str, where: Path) -> type:
    module_name, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"{where}: class_path {class_path!r} cannot be imported ({exc}).") from exc


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


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from (``__cause__``, else ``__context__``), outermost first."""
    chain: list[BaseException] = []
    while exc is not None and all(exc is not seen for seen in chain):
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def _short(message: str) -> str:
    """jsonargparse's multi-line report as one line: the key, what it expects or accepts, and the value given."""
    key = ".".join(dict.fromkeys(re.findall(r'Parser key "([^"]+)"', message)))  # nested sections: data.batch_size
    option = re.search(r"Option '([^']+)' is not accepted", message)
    class_path = re.search(r"class_path '([^']+)'", message)
    if key and option and class_path:
        valid = init_parameters(_import_class(class_path.group(1), Path("config")))
        close = difflib.get_close_matches(option.group(1), valid, n=1)
        hint = f"; did you mean --{key}.{close[0]}?" if close else ""
        return f"--{key}.{option.group(1)}: {class_path.group(1)} has no option {option.group(1)!r}{hint} " \
               f"Valid: {sorted(valid)}."
    inner = re.search(r"Expected a <class '([^']+)'>\. Got value: (.*)", message)  # a section's own key
    expected = [inner.group(1)] if inner else re.findall(r"Expected a <class '([^']+)'>", message)
    given = inner or re.search(r"Given value: (.*)", message)
    if key and expected and given:
        names = " or ".join(dict.fromkeys(name.replace("NoneType", "null") for name in expected))
        return f"--{key} expects {names}, got {given.groups()[-1].strip()!r}."
    skip = ("Does not validate against any of the Union subtypes", "Subtypes:", "Errors:", "Given value type:")
    lines = [line.strip().lstrip("- ").strip() for line in message.splitlines()]
    text = "; ".join(line for line in lines if line and not line.startswith(skip))
    return text if len(text) <= 400 else text[:397] + "..."


def neurops_error(exc: BaseException) -> NeuropsError:
    """The :class:`NeuropsError` an exception was raised from, or a ``ConfigError`` stating its innermost cause."""
    chain = _chain(exc)
    for inner in chain:
        if isinstance(inner, NeuropsError):
            return inner
    return ConfigError(f"invalid configuration: {_short(str(chain[-1]))}")


def argument_error(exc: ArgumentError, parser: Any, args: Sequence[str] | None) -> ConfigError:
    """One line for a command line jsonargparse refused, with the closest valid option for an unknown one."""
    message = str(exc)
    unknown = re.match(r"unrecognized arguments: (\S+)", message)
    if unknown:
        flag = unknown.group(1).split("=", 1)[0]
        sub = next((a for a in args or () if a in LIGHTNING_COMMANDS), None)
        subcommands = getattr(getattr(parser, "_subcommands_action", None), "_name_parser_map", {})  # jsonargparse's
        target = subcommands.get(sub, parser)
        options = [o for action in target._actions for o in action.option_strings if o.startswith("--")]
        close = difflib.get_close_matches(flag, options, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        return ConfigError(f"neurops {sub or ''}: unrecognized option {flag}{hint} See `neurops {sub or 'fit'} --help` "
                           "(and --print_config for the whole configuration).")
    return ConfigError(_short(message))


class NeuropsCLI(LightningCLI):
    """LightningCLI for every neurops task, with run folders, resumption and the checkpoint loader.

    A mistake in the command line or the config, and any error while the model, data module
    and trainer are built, is one :class:`~neurops.errors.NeuropsError` (the CLI prints one line):
    jsonargparse's and Lightning's wrapped errors are unwrapped to the neurops error inside them,
    or shortened to their cause.
    """

    def parse_arguments(self, parser: Any, args: Any) -> None:
        try:
            super().parse_arguments(parser, args)
        except ArgumentError as exc:
            raise argument_error(exc, parser, args) from None

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except NeuropsError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever building the configured objects raised
            raise neurops_error(exc) from exc

    def _root(self) -> Path:
        return Path(self.config[self.config.subcommand].trainer.default_root_dir or RUNS_DIR)

    # --ckpt_path: resolved in the run folder and read by neurops's loader, never by importing what it names
    def _parse_ckpt_path(self) -> None:
        sub = self.config.get("subcommand")
        if not sub or self.config[sub].get("ckpt_path") is None:
            return
        cfg = self.config[sub]
        if cfg.ckpt_path in ("last", "best"):
            found = run_checkpoint_dir(self._root()) / f"{cfg.ckpt_path}.ckpt"
            if not found.is_file():
                if sub == "fit" and cfg.ckpt_path == "last":
                    print(f"neurops: nothing to resume ({found} does not exist); starting a new run in "
                          f"{self._root()}", file=sys.stderr)
                    cfg.ckpt_path = None
                    return
                raise CheckpointError(f"--ckpt_path {cfg.ckpt_path}: {found} does not exist; the run folder is set "
                                      "by --trainer.default_root_dir (default runs/<config name>).")
            cfg.ckpt_path = str(found)
        ckpt = checkpoints.read(cfg.ckpt_path)
        task_class = _import_class(ckpt.kind.task, Path(cfg.ckpt_path))
        configured = cfg.model.class_path
        if not issubclass(_import_class(configured, Path("config")), task_class):
            raise CheckpointError(f"{cfg.ckpt_path} is {ckpt.kind.described} but the "
                                  f"config trains {configured}; use it with a config of {task_class.__name__}, "
                                  f"or with {ckpt.kind.commands}.")
        accepted = set(init_parameters(task_class)) - set(Task.NOT_SAVED)
        # the checkpoint's settings of the task (its network above all) replace the config's; the optimizer and
        # schedule (not saved in checkpoints) stay the config's
        for key, value in ckpt.init_args.items():
            if key in accepted:
                cfg.model.init_args[key] = value

    # run folder: loggers and the resume checkpoint -----------------------------------------------
    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Callback]) -> L.Trainer:
        root = config.get("default_root_dir") or RUNS_DIR
        #: folders of the run path that this run creates (removed again, when left empty, if it fails)
        self._created_dirs = [p for p in (Path(root), *Path(root).parents) if not p.exists()]
        named = list(config.get("callbacks") or []) + list(callbacks)
        if config.get("enable_progress_bar", True) is not False and not any(isinstance(cb, ProgressBar)
                                                                             for cb in named):
            callbacks = [*callbacks, *filter(None, [progress_callback()])]
        if config.get("logger") in (None, True):
            config["logger"] = default_loggers(root)
        named = list(config.get("callbacks") or []) + list(callbacks)
        if config.get("enable_checkpointing", True) is not False and not any(
                isinstance(cb, ModelCheckpoint) for cb in named):
            callbacks = [*callbacks, LastCheckpoint()]
        if not any(isinstance(cb, RolloutErrorFigures) for cb in named):
            callbacks = [*callbacks, RolloutErrorFigures()]
        return super()._instantiate_trainer(config, callbacks)

    def before_fit(self) -> None:
        folder = run_checkpoint_dir(self.trainer.default_root_dir)
        writes_there = any(isinstance(cb, _RunFolderCheckpoint) and cb.dirpath is None for cb in self.trainer.callbacks)
        existing = sorted(p.name for p in folder.glob("*.ckpt")) if writes_there else []
        ckpt_path = self.config.fit.get("ckpt_path")
        resuming = ckpt_path is not None and Path(ckpt_path).resolve().parent == folder.resolve()
        if existing and not resuming:
            raise ConfigError(f"{self.trainer.default_root_dir} already holds the checkpoints of an earlier run "
                              f"({', '.join(existing)} in {folder}); resume it with --ckpt_path last, or give this "
                              "run its own folder with --trainer.default_root_dir DIR.")

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_argument("--test_after_fit", type=bool, default=True,
                            help="fit: evaluate the test splits at the end of training (the best checkpoint if one "
                            "is kept, else the final weights) and print the per-resolution table")

    def after_fit(self) -> None:
        self._test_after_fit()
        if not self.trainer.is_global_zero:
            return
        kind = checkpoints.KINDS.get(f"{type(self.model).__module__}.{type(self.model).__qualname__}")
        written = sorted({p for cb in self.trainer.checkpoint_callbacks
                          for p in (cb.best_model_path, cb.last_model_path) if p and Path(p).is_file()})
        if written:
            print(f"checkpoints: {', '.join(written)}" + (f"; use them with {kind.commands}" if kind else ""))
        if written and kind is not None and kind.name == "dynamics" and hasattr(self.datamodule, "path"):
            from neurops.cli.dsr import evaluate_hint

            print(evaluate_hint(written[0], self.datamodule.path))  # best.ckpt sorts before last.ckpt
        summary = getattr(self.model, "member_summary", None)
        if callable(summary) and summary():
            print(summary())

    #: the metrics of the test after fit, one dict per test loader (empty without one)
    test_results: list[dict[str, float]] = []

    def _test_after_fit(self) -> None:
        if not self.config.fit.get("test_after_fit", True) or not getattr(self.datamodule, "test_sets", None):
            return
        if self.trainer.interrupted:
            return
        best = next((cb.best_model_path for cb in self.trainer.checkpoint_callbacks
                     if getattr(cb, "monitor", None) and cb.best_model_path and Path(cb.best_model_path).is_file()),
                    None)
        self.test_results = self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best,
                                              weights_only=True)

    # failed runs leave no stub log folders --------------------------------------------------------
    def _run_subcommand(self, subcommand: str) -> None:
        try:
            super()._run_subcommand(subcommand)
        except BaseException:
            self._remove_stub_logs()
            raise

    def _remove_stub_logs(self) -> None:
        trainer = getattr(self, "trainer", None)
        if trainer is None or not trainer.is_global_zero:
            return
        stubs = []
        for logger in trainer.loggers:
            log_dir = Path(logger.log_dir) if getattr(logger, "log_dir", None) else None
            if log_dir is None or not log_dir.is_dir():
                continue
            files = [p for p in log_dir.rglob("*") if p.is_file()]
            if all(p.name in _STUB_FILES for p in files):
                shutil.rmtree(log_dir)
                stubs.append(log_dir)
        for folder in [log_dir.parent for log_dir in stubs] + getattr(self, "_created_dirs", []):
            if folder.is_dir() and not any(folder.iterdir()):  # logs/, then the run folders this run created
                folder.rmdir()

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        """The Trainer; options it rejects (``strategy fsdp`` on CPU, too many devices...) are one ConfigError."""
        try:
            return super().instantiate_trainer(**kwargs)
        except (ValueError, MisconfigurationException) as exc:
            raise ConfigError(f"the trainer options are not usable: {exc} (multi-process training: "
                              "docs/scaling.md)") from exc


class _Quiet(logging.Filter):
    """Drops Lightning's advertising tips, its "Seed set to N" line (the seed is in the run's config.yaml) and
    its list of the accelerators it found (printed before any error of a run; Lightning still warns when a
    GPU is available but not used)."""

    NOISE = ("\N{ELECTRIC LIGHT BULB} Tip:", "Seed set to", "GPU available:", "TPU available:", "HPU available:")

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.NOISE)


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Lightning without its noise: tips, the seed and accelerator lines, the warning that an empty
    validation list (a run without validation) has no batches, and Lightning's deprecation warning
    about its own use of torch."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch.utilities.rank_zero",
                                                    "lightning.fabric.utilities.seed")]
    quiet = _Quiet()
    for logger in loggers:
        logger.addFilter(quiet)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
            warnings.filterwarnings("ignore", message="Total length of `list` across ranks is zero")
            # Lightning's own use of a torch API that torch deprecates: nothing a user can act on
            warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
            yield
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)


def run_cli(argv: Sequence[str], run: bool = True) -> NeuropsCLI:
    """The :class:`NeuropsCLI` of ``argv`` (``["fit", "--config", ...]``), after running its subcommand;
    with ``run=False``, ``argv`` has no subcommand and the CLI only builds the trainer, task and data module."""
    args, configs = resolve_config_args(argv)
    for config in configs:
        validate_config(config)
    root = f"{RUNS_DIR}/{configs[0].stem if configs else 'neurops'}"
    with _quiet_lightning():
        return NeuropsCLI(
            Task,
            L.LightningDataModule,
            args=args,
            run=run,
            seed_everything_default=0,
            subclass_mode_model=True,
            subclass_mode_data=True,
            auto_configure_optimizers=False,  # one way to set them: the task's optimizer / lr_scheduler
            trainer_defaults={"default_root_dir": root},
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"prog": "neurops", "exit_on_error": False},
        )


def run_lightning(argv: Sequence[str]) -> int:
    """Run ``fit``/``validate``/``test`` with ``argv`` (``["fit", "--config", ...]``)."""
    run_cli(argv)
    return 0


def instantiate(config: str | Path, *overrides: str) -> tuple[Task, L.LightningDataModule]:
    """The task and data module of a config, built exactly as ``neurops fit`` builds them.

    Parameters
    ----------
    config : a shipped config's short name (``darcy_fno``) or a config file.
    overrides : command-line options, e.g. ``"--data.init_args.path", "data/d.h5"``.
    """
    cli = run_cli(["--config", str(config), *overrides], run=False)
    return cli.model, cli.datamodule


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_lightning(sys.argv[1:]))
