"""Shared pieces of the DSR benchmarks: data import, ONE training path, evaluation.

Every method of a side-by-side comparison is trained by :func:`train` (the package's one
training path: ``neurops fit`` with a DynamicsTask config) with the same model, data,
batches, epochs, learning-rate schedule and seed; only the ``task`` options differ.
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from neurops.checkpoints import load
from neurops.cli.lightning import run_lightning
from neurops.data.series_import import import_series
from neurops.errors import OutputExistsError
from neurops.metrics.dsr import evaluate_reconstruction
from neurops.tasks.callbacks import run_checkpoint_dir
from neurops.utils.bench import timed

REPO = Path(__file__).resolve().parents[1]
WORK_DIR = REPO / "benchmarks" / "work"
DEFAULT_DATA_DIR = REPO.parent / "shared" / "data" / "dsr"


def seed_list(text: str) -> list[int]:
    """``--seeds`` value ``"0,1,2"`` -> ``[0, 1, 2]``."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 0,1,2, got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("give at least one seed")
    return seeds


def data_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="folder with the reference series (default ../shared/data/dsr)")


def reference_series(parser: argparse.ArgumentParser, data_dir: Path, *names: str) -> list[Path]:
    """The paths of the reference series ``names`` in ``--data-dir``; one error line when any is missing."""
    missing = [n for n in names if not (data_dir / n).is_file()]
    if missing:
        parser.error(f"{', '.join(missing)} not found in {data_dir}; pass --data-dir with the folder of the shared "
                     "reference series (../shared/data/dsr)")
    return [data_dir / n for n in names]


def alpha_end_argument(parser: argparse.ArgumentParser, paper: str) -> None:
    parser.add_argument("--alpha-end", type=float, default=None,
                        help="anneal the GTF forcing geometrically over the run's steps from --alpha to this "
                             f"(DynamicsTask(alpha_end); {paper}: none, a fixed alpha)")


def forcing_words(alpha: float, alpha_end: float | None) -> str:
    """The forcing of a GTF label: ``0.3``, or ``0.3 -> 0.1`` when ``--alpha-end`` anneals it."""
    return f"{alpha:g}" + ("" if alpha_end is None else f" -> {alpha_end:g}")


def check_alpha_end(parser: argparse.ArgumentParser, alpha: float, alpha_end: float | None, spec: str,
                    chosen: Sequence[str], gtf_methods: Sequence[str]) -> None:
    """One error line when ``alpha_end`` is not a strength in (0, 1] a positive ``alpha`` can decay to, or none of
    the ``chosen`` methods (``--methods spec``) is one of the ``gtf_methods`` it anneals."""
    if alpha_end is None:
        return
    if not (0.0 < alpha_end <= 1.0 and alpha > 0):
        parser.error(f"--alpha-end must lie in (0, 1] and --alpha be > 0 (the forcing decays geometrically from one "
                     f"to the other), got {alpha_end:g} and {alpha:g}")
    if not set(gtf_methods) & set(chosen):
        parser.error(f"--alpha-end anneals the fixed alpha of the GTF methods ({', '.join(gtf_methods)}); --methods "
                     f"{spec} has none")


def chosen_methods(parser: argparse.ArgumentParser, spec: str, methods: dict[str, Any]) -> list[str]:
    """The method keys of a comma-separated ``--methods`` value, in order; unknown ones end the run."""
    chosen = [m.strip() for m in spec.split(",") if m.strip()]
    unknown = sorted(set(chosen) - set(methods))
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {sorted(methods)}")
    return chosen


def import_npy(src: Path, name: str, dt: float, val_fraction: float = 0.1) -> Path:
    """Write ``src`` ([T, N] .npy) as a trajectory file whose last ``val_fraction`` is the validation split."""
    out = WORK_DIR / f"{name}.h5"
    if out.exists():
        out.unlink()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    return import_series(src, dt=dt, out=out, name=name, val_fraction=val_fraction, test_fraction=0.0)


def run_folder(name: str) -> Path:
    """The folder of the :func:`train` run called ``name``."""
    return WORK_DIR / "runs" / name


def holds_trained_run(root: Path) -> bool:
    """Whether the run folder ``root`` holds a trained run (its ``last.ckpt``, saved after every epoch)."""
    return (run_checkpoint_dir(root) / "last.ckpt").is_file()


def run_folder_arguments(parser: argparse.ArgumentParser) -> None:
    """``--resume`` and ``--overwrite`` of a script that trains runs (checked by :func:`check_run_folders`)."""
    parser.add_argument("--resume", action="store_true",
                        help="continue interrupted runs of the same settings from their last.ckpt")
    parser.add_argument("--overwrite", action="store_true",
                        help="train anew in run folders that hold trained runs, deleting them (without it, and "
                             "without --resume, such a folder stops the script before any work)")


def check_run_folders(parser: argparse.ArgumentParser, names: Sequence[str], resume: bool, overwrite: bool) -> None:
    """One error line, before any work, when a run of ``names`` holds a trained run that training afresh would
    delete (a short trial run must not replace a long-trained one) and neither ``--resume`` nor ``--overwrite``
    says what to do with it."""
    if resume and overwrite:
        parser.error("--resume continues the trained runs and --overwrite deletes them to train anew; pass one")
    kept = [str(run_folder(n)) for n in names if holds_trained_run(run_folder(n))]
    if kept and not (resume or overwrite):
        it = "them" if len(kept) > 1 else "it"
        parser.error(f"{', '.join(kept)} {'hold trained runs' if len(kept) > 1 else 'holds a trained run'} "
                     f"(checkpoints/last.ckpt); pass --resume to continue {it}, --overwrite to train {it} anew "
                     f"(deleting {it}), or move {it} away")


def train(name: str, data: Path, task: dict[str, Any], *, epochs: int, batches: int, seq_len: int,
          batch_size: int = 16, val_every: int = 5, val_length: int = 10_000, seed: int = 0,
          seeds: Sequence[int] | None = None, resume: bool = False, overwrite: bool = False,
          snapshots: bool = False) -> tuple[Path, float]:
    """Train one configuration with ``neurops fit``; returns the checkpoint with the lowest validation D_stsp
    and the seconds taken. ``task`` holds DynamicsTask arguments plus ``lr`` / ``lr_end`` (RAdam, decayed
    exponentially per epoch). ``seeds`` trains one model per seed in one run (an ensemble,
    ``DynamicsTask(seeds=...)``; evaluate its members with :func:`evaluate_members`). ``resume`` continues
    an interrupted run of the same name and settings from its ``last.ckpt`` (``neurops fit --ckpt_path last``)
    instead of starting afresh; the seconds are then those of the resumed part. A folder that holds a trained run
    (a ``last.ckpt``) is deleted to start afresh only with ``overwrite`` (else :class:`OutputExistsError`); one
    without checkpoints (an empty or crashed start) is cleared. ``snapshots`` also keeps the
    weights at every validation in ``<run>/snapshots/`` (Lightning's ``ModelCheckpoint``, ``save_top_k=-1``)
    for the checkpoint-criterion study (``dsr_checkpoint_criteria``); adding them to a resumed run is
    allowed, they only observe."""
    torch.set_num_threads(1)
    root = run_folder(name)
    resuming = resume and holds_trained_run(root)
    if holds_trained_run(root) and not (resuming or overwrite):
        raise OutputExistsError(f"{root} holds a trained run (checkpoints/last.ckpt); pass resume=True to continue "
                                "it, overwrite=True to train it anew (deleting it), or move it away.")
    if not resuming:
        shutil.rmtree(root, ignore_errors=True)  # no stale checkpoints from earlier runs
    task = dict(task)
    lr, lr_end = task.pop("lr"), task.pop("lr_end")
    if seeds is not None:
        task["seeds"] = [int(s) for s in seeds]
    config = {
        "seed_everything": seed,
        "trainer": {"default_root_dir": str(root), "max_epochs": epochs, "check_val_every_n_epoch": val_every,
                    "accelerator": "cpu", "enable_progress_bar": False, "enable_model_summary": False,
                    "num_sanity_val_steps": 0, "logger": False,
                    "callbacks": [{"class_path": "neurops.tasks.callbacks.BestCheckpoint",
                                   "init_args": {"monitor": "val/d_stsp"}},
                                  {"class_path": "neurops.tasks.callbacks.LastCheckpoint"}]},
        "model": {"class_path": "neurops.tasks.DynamicsTask",
                  "init_args": {**task, "optimizer": {"class_path": "torch.optim.RAdam", "init_args": {"lr": lr}},
                                "lr_scheduler": {"class_path": "neurops.tasks.schedules.ExponentialTo",
                                                 "init_args": {"lr_end": lr_end}}}},
        "data": {"class_path": "neurops.data.datamodule.DynamicsDataModule",
                 "init_args": {"path": str(data), "seq_len": seq_len, "batch_size": batch_size,
                               "batches_per_epoch": batches, "val_length": val_length}},
    }
    if snapshots:
        config["trainer"]["callbacks"].append(snapshot_callback(root, val_every))
    if resuming and _without_snapshots(yaml.safe_load((root / "benchmark.yaml").read_text())) != \
            _without_snapshots(config):
        raise ValueError(f"{root} holds a run with other settings; resume it with its own settings or drop --resume.")
    root.mkdir(parents=True, exist_ok=True)
    (root / "benchmark.yaml").write_text(yaml.safe_dump(config))
    seconds, _ = timed(lambda: run_lightning(["fit", "--config", str(root / "benchmark.yaml"),
                                               *(["--ckpt_path", "last"] if resuming else [])]))
    return run_checkpoint_dir(root) / "best.ckpt", seconds


SNAPSHOTS = "lightning.pytorch.callbacks.ModelCheckpoint"  # the class of the snapshot callback


def snapshot_callback(root: Path, every: int) -> dict[str, Any]:
    """The config of a callback keeping the weights after every ``every``-th epoch in ``root/snapshots``."""
    return {"class_path": SNAPSHOTS,
            "init_args": {"dirpath": str(root / "snapshots"), "filename": "epoch{epoch:05d}",
                          "auto_insert_metric_name": False, "save_top_k": -1, "every_n_epochs": every,
                          "save_on_train_epoch_end": True, "save_weights_only": True}}


def _without_snapshots(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without the snapshot callback (it does not change the training)."""
    out = copy.deepcopy(config)
    out["trainer"]["callbacks"] = [c for c in out["trainer"]["callbacks"]
                                   if c["class_path"] != SNAPSHOTS]
    return out


def run_checkpoint(name: str) -> Path:
    """The validation-selected checkpoint of an earlier :func:`train` run called ``name``."""
    best = run_checkpoint_dir(run_folder(name)) / "best.ckpt"
    if not best.exists() or not best.with_name("last.ckpt").exists():
        raise FileNotFoundError(f"{best.parent} holds no best.ckpt and last.ckpt; train the run first "
                                "(the same command without --evaluate-only).")
    return best


def load_model(ckpt: Path) -> torch.nn.Module:
    """The trained PWL RNN of a DynamicsTask checkpoint."""
    return load(ckpt, "dynamics")[1].net


def best_members(ckpt: Path) -> tuple[list[torch.nn.Module], list[str], dict[str, Any]]:
    """The members of a DynamicsTask checkpoint at their best states (float64, eval), their labels (the run folder's
    name, with ``seed S`` for an ensemble member, as ``neurops dsr evaluate`` names them) and the task's hparams."""
    task = load(ckpt, "dynamics")[1]
    seeds, run = task.hparams.get("seeds"), ckpt.parent.parent.name
    labels = [f"{run} seed {s}" for s in seeds] if seeds else [run]
    return [m.double().eval() for m in task.member_models("best")], labels, dict(task.hparams)


def evaluate(ckpt: Path, x_test: np.ndarray, dt: float, *, lyapunov_steps: int = 20_000) -> dict[str, float]:
    """The GTF paper's protocol on the whole test series (see :func:`evaluate_reconstruction`)."""
    return evaluate_reconstruction(load_model(ckpt).double(), x_test, dt=dt, lyapunov_steps=lyapunov_steps)


def evaluate_members(ckpt: Path, x_test: np.ndarray, dt: float, state: str, *,
                     lyapunov_steps: int = 20_000) -> list[dict[str, float]]:
    """:func:`evaluate` for every member of an ensemble checkpoint, at its ``best`` or ``final`` state."""
    task = load(ckpt, "dynamics")[1]
    return [evaluate_reconstruction(m.double(), x_test, dt=dt, lyapunov_steps=lyapunov_steps)
            for m in task.member_models(state)]


def seed_rows(label: str, seeds: Sequence[int], runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a seed study: one per seed (``label, seed s``), then the medians over the seeds."""
    if len(seeds) == 1:
        return [row_of(label, runs[0])]
    rows = [row_of(f"{label}, seed {s}", r) for s, r in zip(seeds, runs)]
    return rows + [row_of(f"{label}, median of {len(seeds)} seeds", median_run(runs))]


def verdict_counts(runs: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many models' orbits ended bounded / collapsed to a fixed point / diverged (majority over their starts)."""
    counts: dict[str, int] = {}
    for r in runs:
        verdicts = r.get("verdict") or {"diverged": 1}
        v = max(verdicts, key=verdicts.get)
        counts[v] = counts.get(v, 0) + 1
    return counts


def run_jobs(fn: Callable[[Any], list[dict[str, Any]]], jobs: Sequence[Any],
             workers: int = 1) -> list[list[dict[str, Any]]]:
    """``[fn(job) for job in jobs]``, with up to ``workers`` jobs at once in separate processes, in job order.

    Each job gives a list of results (one per trained model), printed as they come."""
    if workers <= 1:
        return [_report(fn(job)) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return [_report(result) for result in pool.map(fn, jobs)]


def _report(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for run in runs:
        print({k: v for k, v in run.items() if k != "checkpoint"}, flush=True)
    return runs


METRICS = ("d_stsp", "d_h", "pe", "lambda_max", "train_seconds")


def median_run(runs: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Per-metric medians over seeds; a diverged run counts as infinitely far (its lambda_max is left out)."""
    out = {}
    for m in METRICS:
        if m == "lambda_max":
            values = [r[m] for r in runs if "error" not in r]
            out[m] = float(np.median(values)) if values else float("nan")
        else:
            out[m] = float(np.median([r.get(m, float("inf")) for r in runs]))
    return out


def row_of(label: str, run: dict[str, Any]) -> dict[str, Any]:
    """One results-table row of a trained (or diverged) run."""
    if "error" in run:
        return {"method": f"{label}: training diverged", "D_stsp": float("nan"), "D_H": float("nan"),
                "PE(20)": float("nan"), "lambda_max": float("nan"), "train s": run["train_seconds"]}
    return {"method": label, "D_stsp": run["d_stsp"], "D_H": run["d_h"], "PE(20)": run["pe"],
            "lambda_max": run["lambda_max"], "train s": run["train_seconds"]}
