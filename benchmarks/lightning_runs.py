"""Train and test neurops Lightning tasks side by side, with seconds per training epoch.

Used by the operator benchmarks (``darcy_fno.py``, ``darcy_mgno.py``, ``lsm_darcy.py``,
``lsm_navier_stokes.py``, ``dgno_forward.py``, ``resolution.py``): every model is trained through the same code
path users run (``OperatorTask`` / ``RolloutTask`` ... with their datamodules and a Lightning
``Trainer``), from the same seed, on the same data, in one process. The LSM benchmarks share
their command line too (:func:`comparison_parser`, :func:`parse_sized`).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from benchmarks.common import n_parameters
from benchmarks.runner import benchmark_parser, positive_int
from neurops.utils.bench import clock, timed
from neurops.utils.io import atomic_path
from neurops.utils.seeding import seed_everything


def comparison_parser(description: str | None, data_help: str, default_name: str) -> argparse.ArgumentParser:
    """Options of a side-by-side benchmark of LSM, MgNO and FNO; sizes left ``None`` for :func:`parse_sized`."""
    p = benchmark_parser(description, quick="CPU-sized run (reduced widths, samples, epochs)")
    p.add_argument("--data", type=Path, default=None, help=f"existing {data_help} (default: generate one)")
    p.add_argument("--n-train", type=positive_int, default=None)
    p.add_argument("--n-test", type=positive_int, default=None)
    p.add_argument("--epochs", type=positive_int, default=None)
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--models", default="lsm,mgno,fno", help="comma-separated subset of lsm,mgno,fno")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--accelerator", default="auto")
    p.add_argument("--name", default=None, help=f"results name (default {default_name}[_quick])")
    return p


def parse_sized(parser: argparse.ArgumentParser, argv: list[str] | None, quick: dict[str, int],
                full: dict[str, int]) -> argparse.Namespace:
    """Parse ``argv``; sizes not given on the command line come from ``quick`` or ``full``."""
    args = parser.parse_args(argv)
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


class EpochTimer(L.Callback):
    """Wall-clock and process CPU seconds of every training epoch (validation excluded).

    On a shared machine the wall-clock time depends on the other processes; the CPU time
    of this process (all its threads) does much less, so both are recorded. With ``out``, global
    rank zero writes them to that JSON file at the end of the fit (for runs in other processes,
    such as ``neurops fit --trainer.callbacks+=benchmarks.lightning_runs.EpochTimer``); under DDP
    its epochs are the job's, since the processes step together.
    """

    def __init__(self, out: str | None = None) -> None:
        self.out = out
        self.times: list[float] = []
        self.cpu_times: list[float] = []
        self._t0 = self._c0 = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._t0, self._c0 = clock(), time.process_time()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.times.append(clock() - self._t0)
        self.cpu_times.append(time.process_time() - self._c0)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.out is not None and trainer.is_global_zero:
            record = {"epoch_seconds": self.times, "cpu_seconds": self.cpu_times, "world_size": trainer.world_size,
                      "torch_threads": torch.get_num_threads()}
            with atomic_path(Path(self.out)) as tmp:
                tmp.write_text(json.dumps(record) + "\n")


def fit_and_test(make_task: Callable[[], L.LightningModule], datamodule: L.LightningDataModule, *, epochs: int,
                 seed: int, accelerator: str = "auto", precision: str | None = None,
                 test: bool = True) -> dict[str, Any]:
    """Seed, build a task, train it ``epochs`` epochs without validation, test it (unless ``test=False``).

    ``precision`` is the Trainer's (``"bf16-mixed"`` ...; default float32).

    Returns
    -------
    dict with ``params`` (of the model), ``seconds_per_epoch`` and ``cpu_seconds_per_epoch``
    (medians over the epochs after the first, or the only one), ``epoch_seconds`` (all),
    ``train_seconds``, ``train_loss`` (the last epoch's mean training loss) and ``test`` (the test
    metrics of every test loader).
    """
    seed_everything(seed)
    task = make_task()
    timer = EpochTimer()
    trainer = L.Trainer(max_epochs=epochs, accelerator=accelerator, devices=1, logger=False, precision=precision,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[timer], num_sanity_val_steps=0, limit_val_batches=0)
    train_seconds, _ = timed(lambda: trainer.fit(task, datamodule))
    train_loss = trainer.callback_metrics.get("train/loss_epoch")
    results = trainer.test(task, datamodule, verbose=False) if test else []
    metrics: dict[str, float] = {}
    for r in results:
        metrics.update({k: float(v) for k, v in r.items()})
    return {"params": n_parameters(task.net), "seconds_per_epoch": _steady_median(timer.times),
            "cpu_seconds_per_epoch": _steady_median(timer.cpu_times), "epoch_seconds": timer.times,
            "train_seconds": train_seconds,
            "train_loss": None if train_loss is None else float(train_loss), "test": metrics, "task": task}


def _steady_median(values: list[float]) -> float:
    return float(np.median(values[1:] or values))
