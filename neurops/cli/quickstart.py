"""``neurops quickstart``: generate Darcy data, train the best model, evaluate at two resolutions.

The one-command tour of the package on a laptop CPU (a few minutes): a cached Darcy data
set (FNO-paper problem) -> ``neurops fit --config darcy_fno_quickstart`` (the one training
path: the run folder ``<out>/run`` holds its logs and ``checkpoints/last.ckpt``) -> relative
L2 at the training resolution and zero-shot at a finer one -> PNG figure and a summary table.
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any, Literal

import torch
import yaml

from neurops.cli.builder import Command
from neurops.configs import resolve_config
from neurops.data.check import check_file
from neurops.data.generators import get_generator
from neurops.data.reader import read_meta
from neurops.errors import ConfigError
from neurops.kernels import check_modes
from neurops.utils.io import atomic_path, check_output_folder, strict_json
from neurops.utils.seeding import check_seed, seed_everything
from neurops.viz.fields import plot_prediction

#: the model the quickstart trains -> the shipped config of its run (CPU-sized settings)
DEFAULT_MODEL = "fno"
CONFIGS: dict[str, str] = {"fno": "darcy_fno_quickstart"}


def _dataset(out: Path, n_train: int, n_test: int, resolution: int, test_resolution: int, seed: int,
             workers: int) -> Path:
    spec = get_generator("darcy")
    config = spec.make_config(n_train=n_train, n_test=n_test, resolution=resolution,
                              test_resolutions=(test_resolution,), seed=seed)
    path = out / "data" / f"darcy_r{resolution}_t{test_resolution}_n{n_train}_{n_test}_s{seed}.h5"
    if path.exists() and not check_file(path) and read_meta(path).seed == seed:
        print(f"using cached data {path}")
        return path
    return spec.generate(config, path, workers=workers, overwrite=True)


def _check_settings(out: Path, epochs: int | None, batch_size: int | None, lr: float | None) -> None:
    """One ``ConfigError`` for a setting the run would refuse, before the data are generated (minutes)."""
    check_output_folder(out, "the quickstart writes a folder (data, run, figure, summary)")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {value}.")
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise ConfigError(f"--lr must be a finite learning rate > 0, got {lr}.")


def run_quickstart(out: Path = Path("neurops_quickstart"), model: str = DEFAULT_MODEL, n_train: int = 1000,
                   n_test: int = 100, resolution: int = 33, test_resolution: int = 65, epochs: int | None = None,
                   batch_size: int | None = None, lr: float | None = None, seed: int = 0,
                   workers: int = 2) -> dict[str, Any]:
    """Generate Darcy data, train, evaluate at two resolutions (minutes, CPU); return the summary.

    The summary is also written to ``out/summary.json``.

    Parameters
    ----------
    out : output folder (the data are cached in ``out/data``; the run folder is ``out/run``).
    model : the model trained; fno trains the shipped config darcy_fno_quickstart.
    n_train : training samples.
    n_test : test samples (at both resolutions).
    resolution : training grid (nodes per axis).
    test_resolution : zero-shot evaluation grid.
    epochs : training epochs (default: the config's, 30).
    batch_size : batch size (default: the config's, 20).
    lr : peak learning rate (default: the config's, 3e-3).
    seed : the one seed of data and training.
    workers : data-generation processes.
    """
    from neurops.cli.lightning import run_cli

    out = Path(out)
    _check_settings(out, epochs, batch_size, lr)
    config = resolve_config(CONFIGS[model])
    modes = yaml.safe_load(config.read_text())["model"]["init_args"]["model_kwargs"].get("modes")
    if modes is not None:
        try:
            check_modes((resolution, resolution), modes)
        except ValueError as exc:
            raise ConfigError(f"--resolution {resolution} is too coarse for the {model}'s {max(modes)} Fourier "
                              f"modes ({exc}); use --resolution {2 * max(modes) + 1} or more.") from exc
    check_seed(seed, bits=32)  # it is also the run's seed_everything, which Lightning takes below 2**32
    t0 = time.perf_counter()
    seed_everything(seed)
    data = _dataset(out, n_train, n_test, resolution, test_resolution, seed, workers)
    t_data = time.perf_counter() - t0
    run = out / "run"
    if run.exists():  # the quickstart's own run folder: a new quickstart replaces it
        print(f"replacing the previous quickstart run in {run}")
        shutil.rmtree(run)
    options = {"--data.init_args.path": data, "--trainer.default_root_dir": run, "--seed_everything": seed,
               "--trainer.max_epochs": epochs, "--data.init_args.batch_size": batch_size,
               "--model.init_args.optimizer.init_args.lr": lr}
    argv = ["fit", "--config", CONFIGS[model]] + [str(a) for k, v in options.items() if v is not None for a in (k, v)]
    cli = run_cli(argv)
    t_train = time.perf_counter() - t0 - t_data
    task, dm = cli.model, cli.datamodule
    tests = cli.test_results  # neurops fit tests the final weights after training (the config keeps no best)
    sample = dm.test_sets[0][0]
    with torch.no_grad():
        pred = task.eval()(sample["x"][None])[0, 0].numpy()
    figure = plot_prediction(sample["x"][0].numpy(), sample["y"][0].numpy(), pred, out / "quickstart.png",
                             title=f"{model} on Darcy {resolution}x{resolution}")
    metrics = {k: v for d in tests for k, v in d.items() if "/rel_" in k}
    summary = {"model": model, "parameters": sum(p.numel() for p in task.net.parameters()), "data": str(data),
               "command": "neurops " + " ".join(argv), "run": str(run),
               "checkpoint": str(run / "checkpoints" / "last.ckpt"), "figure": str(figure),
               "epochs": cli.trainer.max_epochs, "n_train": n_train, "n_test": n_test,
               "train_resolution": resolution, "test_resolution": test_resolution,
               "seconds_data": round(t_data, 1), "seconds_train": round(t_train, 1),
               "seconds_total": round(time.perf_counter() - t0, 1), "metrics": metrics}
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(strict_json(summary, indent=2) + "\n")  # a diverged run's NaN error: null
    return summary


def _print(summary: dict[str, Any]) -> int:
    """Print the quickstart's table, times and the next commands."""
    m = summary["metrics"]
    print(f"\nneurops quickstart: {summary['model']} ({summary['parameters']:,} parameters), "
          f"{summary['n_train']} training samples, {summary['epochs']} epochs")
    print(f"{'test grid':>12} | {'relative L2':>12} | {'relative H1':>12}")
    print(f"{'-' * 12}-+-{'-' * 12}-+-{'-' * 12}")
    for res in (summary["train_resolution"], summary["test_resolution"]):
        tag = "(train)" if res == summary["train_resolution"] else "(zero-shot)"
        print(f"{f'{res}x{res}':>12} | {m[f'test/rel_l2@{res}']:>12.4f} | {m[f'test/rel_h1@{res}']:>12.4f}  {tag}")
    print(f"\nthe run: {summary['command']}")
    print(f"time: data {summary['seconds_data']} s, training {summary['seconds_train']} s, "
          f"total {summary['seconds_total']} s")
    print(f"checkpoint: {summary['checkpoint']} (run folder {summary['run']})\nfigure:     {summary['figure']}")
    print(f"predict on any resolution: neurops predict --ckpt {summary['checkpoint']} --data {summary['data']} "
          "--out predictions.h5")
    return 0


COMMAND = Command(lambda **options: _print(run_quickstart(**options)), signature=[run_quickstart],
                  types={"model": Literal[tuple(sorted(CONFIGS))]},
                  help="generate Darcy data, train, evaluate at two resolutions (minutes, CPU)")
