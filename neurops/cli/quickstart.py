"""``neurops quickstart``: generate Darcy data, train the best model, evaluate at two resolutions.

The one-command tour of the package on a laptop CPU (a few minutes): a cached Darcy data
set (FNO-paper problem) -> Lightning training -> relative L2 at the training resolution and
zero-shot at a finer one -> checkpoint, PNG figure and a summary table.
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger

from neurops.data.check import check_file
from neurops.data.datamodule import OperatorDataModule
from neurops.data.generators import get_generator
from neurops.data.reader import read_attrs
from neurops.errors import ConfigError
from neurops.kernels.spectral import check_modes
from neurops.tasks.operator import OperatorTask
from neurops.tasks.schedules import OneCycle
from neurops.utils.io import atomic_path
from neurops.utils.seeding import seed_everything
from neurops.viz.fields import plot_prediction

#: the model the quickstart trains, and its CPU-sized settings
DEFAULT_MODEL = "fno"
MODEL_SETTINGS: dict[str, dict[str, Any]] = {
    "fno": {"modes": [12, 12], "width": 32, "n_layers": 4, "padding": 0.0},
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quickstart", help="generate Darcy data, train, evaluate at two resolutions (minutes, CPU)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("neurops_quickstart"), help="output folder (data are cached)")
    p.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(MODEL_SETTINGS))
    p.add_argument("--n-train", type=int, default=1000)
    p.add_argument("--n-test", type=int, default=100)
    p.add_argument("--resolution", type=int, default=33, help="training grid (nodes per axis)")
    p.add_argument("--test-resolution", type=int, default=65, help="zero-shot evaluation grid")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=20)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2, help="data-generation processes")
    p.set_defaults(func=lambda args: _print(run_quickstart(**{k: v for k, v in vars(args).items()
                                                               if k not in ("func", "command")})))


def _dataset(out: Path, n_train: int, n_test: int, resolution: int, test_resolution: int, seed: int,
             workers: int) -> Path:
    spec = get_generator("darcy")
    config = spec.make_config(n_train=n_train, n_test=n_test, resolution=resolution,
                              test_resolutions=(test_resolution,), seed=seed)
    path = out / "data" / f"darcy_r{resolution}_t{test_resolution}_n{n_train}_{n_test}_s{seed}.h5"
    if path.exists() and not check_file(path) and read_attrs(path).get("seed") == seed:
        print(f"using cached data {path}")
        return path
    return spec.generate(config, path, workers=workers, overwrite=True)


def run_quickstart(out: Path = Path("neurops_quickstart"), model: str = DEFAULT_MODEL, n_train: int = 1000,
                   n_test: int = 100, resolution: int = 33, test_resolution: int = 65, epochs: int = 30,
                   batch_size: int = 20, lr: float = 3e-3, seed: int = 0, workers: int = 2) -> dict[str, Any]:
    """Run the quickstart and return its summary (also written to ``out/summary.json``)."""
    out = Path(out)
    modes = MODEL_SETTINGS[model].get("modes")
    if modes is not None:
        try:
            check_modes((resolution, resolution), modes)
        except ValueError as exc:
            raise ConfigError(f"--resolution {resolution} is too coarse for the {model}'s {max(modes)} Fourier "
                              f"modes ({exc}); use --resolution {2 * max(modes) + 1} or more.") from exc
    t0 = time.perf_counter()
    seed_everything(seed)
    data = _dataset(out, n_train, n_test, resolution, test_resolution, seed, workers)
    t_data = time.perf_counter() - t0
    dm = OperatorDataModule(data, batch_size=batch_size)
    task = OperatorTask(model, dict(MODEL_SETTINGS[model]), loss="rel_l2",
                        optimizer=partial(torch.optim.AdamW, lr=lr, weight_decay=1e-4),
                        lr_scheduler=OneCycle(pct_start=0.1))
    trainer = L.Trainer(max_epochs=epochs, logger=CSVLogger(out, name="logs"), default_root_dir=out,
                        enable_checkpointing=False, enable_model_summary=False, deterministic=True)
    trainer.fit(task, dm)
    t_train = time.perf_counter() - t0 - t_data
    tests = trainer.test(task, dm, verbose=False)
    ckpt = out / "quickstart.ckpt"
    with atomic_path(ckpt) as tmp:
        trainer.save_checkpoint(tmp)
    sample = dm.test_sets[0][0]
    with torch.no_grad():
        pred = task.eval()(sample["x"][None])[0, 0].numpy()
    figure = plot_prediction(sample["x"][0].numpy(), sample["y"][0].numpy(), pred, out / "quickstart.png",
                             title=f"{model} on Darcy {resolution}x{resolution}")
    metrics = {k: v for d in tests for k, v in d.items() if "/rel_" in k}
    summary = {"model": model, "parameters": sum(p.numel() for p in task.net.parameters()), "data": str(data),
               "checkpoint": str(ckpt), "figure": str(figure), "epochs": epochs, "n_train": n_train,
               "n_test": n_test, "train_resolution": resolution, "test_resolution": test_resolution,
               "seconds_data": round(t_data, 1), "seconds_train": round(t_train, 1),
               "seconds_total": round(time.perf_counter() - t0, 1), "metrics": metrics}
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _print(summary: dict[str, Any]) -> int:
    m = summary["metrics"]
    print(f"\nneurops quickstart: {summary['model']} ({summary['parameters']:,} parameters), "
          f"{summary['n_train']} training samples, {summary['epochs']} epochs")
    print(f"{'test grid':>12} | {'relative L2':>12} | {'relative H1':>12}")
    print(f"{'-' * 12}-+-{'-' * 12}-+-{'-' * 12}")
    for res in (summary["train_resolution"], summary["test_resolution"]):
        tag = "(train)" if res == summary["train_resolution"] else "(zero-shot)"
        print(f"{f'{res}x{res}':>12} | {m[f'test/rel_l2@{res}']:>12.4f} | {m[f'test/rel_h1@{res}']:>12.4f}  {tag}")
    print(f"\ntime: data {summary['seconds_data']} s, training {summary['seconds_train']} s, "
          f"total {summary['seconds_total']} s")
    print(f"checkpoint: {summary['checkpoint']}\nfigure:     {summary['figure']}")
    print(f"predict on any resolution: neurops predict --ckpt {summary['checkpoint']} --data {summary['data']} "
          "--out predictions.h5")
    return 0
