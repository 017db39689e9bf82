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
import importlib.util
import json
import logging
import re
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
from jsonargparse import ArgumentError
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, ProgressBar
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger, Logger
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from neurops import checkpoints
from neurops.cli import note, signal_connector, sigterm
from neurops.cli.argument_errors import import_class
from neurops.cli.builder import accept_negative_numbers
from neurops.cli.callbacks import RolloutErrorFigures
from neurops.cli.lightning_config import (
    argument_error,
    check_resume_epochs,
    check_run_values,
    neurops_error,
    resolve_config_args,
    validate_config,
)
from neurops.cli.progress import progress_callback
from neurops.errors import CheckpointError, ConfigError, NeuropsError
from neurops.tasks.base import Task, check_optimizer_classes
from neurops.tasks.callbacks import LastCheckpoint, _RunFolderCheckpoint, run_checkpoint_dir
from neurops.utils.signature import init_parameters

#: parent of the default run folders (``runs/<config name>``)
RUNS_DIR = "runs"
#: files a run writes before its first step; a failed run that left only these leaves nothing
_STUB_FILES = {"config.yaml", "hparams.yaml"}


def _overridden(key: str, configured: Any, saved: Any) -> list[str]:
    """``"key SAVED (the config's: CONFIGURED)"`` for each setting the config gives otherwise than the checkpoint
    (one level into dicts such as ``model_kwargs``; what the config leaves unset is not listed)."""
    if configured is None:
        return []
    if isinstance(configured, Mapping) and isinstance(saved, Mapping):
        return [line for k, v in configured.items() for line in _overridden(f"{key}.{k}", v, saved.get(k, "unset"))]
    same = json.dumps(configured, sort_keys=True, default=str) == json.dumps(saved, sort_keys=True, default=str)
    return [] if same else [f"{key} {saved} (the config's: {configured})"]


def default_loggers(root: str | Path) -> list[Logger]:
    """CSV logs in ``<root>/logs/version_N`` always; TensorBoard in ``<root>/tensorboard`` when it is installed."""
    loggers: list[Logger] = [CSVLogger(save_dir=str(root), name="logs")]
    if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(save_dir=str(root), name="tensorboard"))
    return loggers


class NeuropsCLI(LightningCLI):
    """LightningCLI for every neurops task, with run folders, resumption and the checkpoint loader.

    A mistake in the command line or the config, and any error while the model, data module
    and trainer are built, is one :class:`~neurops.errors.NeuropsError` (the CLI prints one line):
    jsonargparse's and Lightning's wrapped errors are unwrapped to the neurops error inside them,
    or shortened to their cause.
    """

    def init_parser(self, **kwargs: Any) -> Any:
        """The parser of the command and of each subcommand, reading ``--model.x -1e-3`` as a negative number."""
        return accept_negative_numbers(super().init_parser(**kwargs))

    def parse_arguments(self, parser: Any, args: Any) -> None:
        self._args = list(sys.argv[1:] if args is None else args)
        try:
            super().parse_arguments(parser, args)
        except ArgumentError as exc:
            raise argument_error(exc, parser, args) from None
        sub = self.config.get("subcommand")
        check_run_values(self.config[sub] if sub else self.config, sub)

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
                    note(f"nothing to resume ({found} does not exist); starting a new run in {self._root()}")
                    cfg.ckpt_path = None
                    return
                raise CheckpointError(f"--ckpt_path {cfg.ckpt_path}: {found} does not exist; the run folder is set "
                                      "by --trainer.default_root_dir (default runs/<config name>).")
            cfg.ckpt_path = str(found)
        ckpt = checkpoints.read(cfg.ckpt_path)
        task_class = import_class(ckpt.kind.task, Path(cfg.ckpt_path))
        configured = cfg.model.class_path
        if checkpoints.kind_of(import_class(configured, Path("config"))) is not ckpt.kind:  # RolloutTask is no operator
            raise CheckpointError(f"{cfg.ckpt_path} is {ckpt.kind.described} but the "
                                  f"config trains {configured}; use it with a config of {task_class.__name__}, "
                                  f"or with {ckpt.kind.commands}.")
        if sub == "fit":  # another optimizer class: refused before any process starts or anything is restored
            optimizer = cfg.model.init_args.get("optimizer")
            default = import_class(configured, Path("config")).default_optimizer
            cls = import_class(optimizer.class_path, Path("config")) if optimizer else getattr(default, "func", default)
            if isinstance(cls, type):
                check_optimizer_classes(ckpt.contents, [cls], cfg.ckpt_path)
            check_resume_epochs(ckpt.contents, cfg.trainer.get("max_epochs"), cfg.ckpt_path)
        accepted = set(init_parameters(task_class)) - set(Task.NOT_SAVED)
        # the checkpoint's settings of the task (its network above all) replace the config's; the optimizer and
        # schedule (not saved in checkpoints) stay the config's. Say which settings of the config lose.
        replaced = []
        for key, value in ckpt.init_args.items():
            if key in accepted:
                replaced += _overridden(key, cfg.model.init_args.get(key), value)
                cfg.model.init_args[key] = value
        if replaced:
            note(f"{cfg.ckpt_path} was trained with other task settings than the config's; the checkpoint's are "
                 f"used: {'; '.join(replaced)}")

    # run folder: loggers and the resume checkpoint -----------------------------------------------
    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Callback]) -> L.Trainer:
        checkpoint_run = self._checkpoint_run_folder(config)
        if checkpoint_run is not None:  # validate/test log into the run folder of the checkpoint they evaluate
            config["default_root_dir"] = str(checkpoint_run)
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
        return signal_connector.install(super()._instantiate_trainer(config, callbacks))

    def _checkpoint_run_folder(self, config: dict[str, Any]) -> Path | None:
        """The run folder of the checkpoint ``neurops validate|test --ckpt_path RUN/checkpoints/X.ckpt`` evaluates,
        whose logs go there (a new ``logs/version_N``), not into the config's folder, where they would start a run
        that never existed; ``None`` for ``fit``, for a checkpoint outside a run folder, and when the command line
        names the folder (``--trainer.default_root_dir``) or the config a logger."""
        sub = self.config.get("subcommand")
        ckpt = self.config[sub].get("ckpt_path") if sub in ("validate", "test") else None
        named = any(arg.split("=", 1)[0] == "--trainer.default_root_dir" for arg in getattr(self, "_args", ()))
        if ckpt is None or named or config.get("logger") not in (None, True):
            return None
        folder = Path(ckpt).parent
        return folder.parent if folder.name == run_checkpoint_dir("").name else None

    def after_validate(self) -> None:
        self._print_log_dir()

    def after_test(self) -> None:
        self._print_log_dir()

    def _print_log_dir(self) -> None:  # log_dir is a collective under DDP/FSDP: every process asks
        if (log_dir := self.trainer.loggers and self.trainer.log_dir) and self.trainer.is_global_zero:
            print(f"logs: {log_dir}")

    def before_test(self) -> None:
        """A task without a test step (DynamicsTask) is one error naming its own commands, not Lightning's traceback."""
        from lightning.pytorch.utilities.model_helpers import is_overridden

        if not is_overridden("test_step", self.model):
            kind = checkpoints.KINDS.get(f"{type(self.model).__module__}.{type(self.model).__qualname__}")
            raise ConfigError(f"{type(self.model).__name__} has no test step, so `neurops test` cannot run it"
                              + (f"; evaluate its checkpoints with {kind.commands}." if kind else "."))

    def before_fit(self) -> None:
        if hasattr(self.datamodule, "test_after_fit"):  # its scan for NaN/Inf at setup covers the test splits or not
            self.datamodule.test_after_fit = bool(self.config.fit.get("test_after_fit", True))
        folder = run_checkpoint_dir(self.trainer.default_root_dir)
        writes_there = any(isinstance(cb, _RunFolderCheckpoint) and cb.dirpath is None for cb in self.trainer.callbacks)
        existing = sorted(p.name for p in folder.glob("*.ckpt")) if writes_there else []
        ckpt_path = self.config.fit.get("ckpt_path")
        resuming = ckpt_path is not None and Path(ckpt_path).resolve().parent == folder.resolve()
        if ckpt_path is None:  # a SLURM job Lightning requeued resumes from its hpc_ckpt_N.ckpt by itself
            resuming = signal_connector.slurm_requeued(self.trainer)
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
    test_results: list[Mapping[str, float]] = []

    def _test_after_fit(self) -> None:
        if not self.config.fit.get("test_after_fit", True) or not getattr(self.datamodule, "test_sets", None):
            return
        if self.trainer.interrupted:
            return
        if signal_connector.received_anywhere(self.trainer):  # after the last batch: the job has to end, untested
            raise sigterm.Terminated()
        best = next((cb.best_model_path for cb in self.trainer.checkpoint_callbacks
                     if getattr(cb, "monitor", None) and cb.best_model_path and Path(cb.best_model_path).is_file()),
                    None)
        # under FSDP the task is tested through fit's wrapper (Task._evaluate_through_fit_wrapper)
        with signal_connector.without_hpc_checkpoint(self.trainer):  # the final weights, not a requeued job's start
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
            if "enable_checkpointing=False" in str(exc):  # the config's LastCheckpoint / BestCheckpoint
                raise ConfigError("--trainer.enable_checkpointing false: the config keeps checkpoints with a callback "
                                  "(e.g. LastCheckpoint); add --trainer.callbacks '[]' to drop the config's callbacks, "
                                  "or leave checkpointing on.") from exc
            raise ConfigError(f"the trainer options are not usable: {exc} (multi-process training: "
                              "docs/scaling.md)") from exc


class _Quiet(logging.Filter):
    """Drops Lightning's advertising tips, its "Seed set to N" line (the seed is in the run's config.yaml) and
    its list of the accelerators it found (printed before any error of a run; Lightning still warns when a
    GPU is available but not used). Under DDP the other processes prefix these lines with ``[rank: N]``."""

    NOISE = ("\N{ELECTRIC LIGHT BULB} Tip:", "Seed set to", "GPU available:", "TPU available:", "HPU available:")

    def filter(self, record: logging.LogRecord) -> bool:
        message = re.sub(r"^\[rank: \d+\] ", "", record.getMessage())
        return not message.startswith(self.NOISE)


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Lightning without its noise: tips, the seed and accelerator lines, the warning that an empty
    validation list (a run without validation) has no batches, and Lightning's deprecation warnings
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
            warnings.filterwarnings("ignore", message=r"torch\.distributed\.nn\.functional\.all_gather is deprecated")
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
    finished = False
    try:
        run_cli(argv)
        finished = True
    finally:
        _close_process_group(finished)
    return 0


def _close_process_group(finished: bool) -> None:
    """Close the process group a DDP run opened, before the interpreter shuts down. Lightning does so for NCCL
    only; a gloo group left to interpreter shutdown can abort a process (SIGABRT, "terminate called without an
    active exception") as its worker threads are torn down (pytorch/pytorch#179291). After a run that finished,
    every process first waits for the others, so none closes its connections while another still uses them."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


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
