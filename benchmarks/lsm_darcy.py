"""LSM vs MgNO vs FNO on 2D Darcy flow at 64x64, in one run.

All three models train through ``OperatorTask`` on the same generated piecewise-constant
Darcy data (the ``darcy`` generator, FNO's setup) from the same seed, with a relative L2
loss and Gaussian normalizers; the table reports the test relative L2 and H1 errors, the
parameter count and the median seconds per training epoch.

Reference (LSM paper, Wu et al., ICML 2023, Darcy 85x85, 1000 train / 200 test, 500 epochs):
LSM 0.0065 vs FNO 0.0108 relative L2.

Usage::

    python -m benchmarks run lsm_darcy --quick        # CPU, reduced widths, a few minutes
    python -m benchmarks run lsm_darcy                # paper scale (1000/200 samples, 500 epochs,
                                                  # paper widths); meant for a GPU

Model settings:

* LSM: ``preset="darcy"`` (width 64, 5 scales, 4 tokens, 12 basis functions) with 4x4
  patches for the 64-point grid (the paper uses 6x6 at 85 points); ``--quick``: width 16.
* MgNO: ``preset="darcy"`` (4 layers, width 24, 6 levels), also in ``--quick``.
* FNO: 12x12 modes, width 32, 4 layers (the FNO paper's Darcy model); ``--quick``: width 20.

The full run uses the papers' learning rates (LSM 5e-4, MgNO 5e-4, FNO 1e-3), weight decay
1e-4, and halves the rate every ``epochs / 5`` epochs; ``--quick`` uses lr 1e-3 for all with a
one-cycle schedule.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import Any

import torch

import neurops.models.mgno  # noqa: F401  (registers "mgno" until neurops.models imports it)
from benchmarks.lightning_runs import comparison_parser, fit_and_test, parse_sized
from benchmarks.runner import positive_int
from neurops.data.datamodule import OperatorDataModule
from neurops.data.generators.darcy import DarcyConfig, generate_darcy
from neurops.tasks.operator import OperatorTask
from neurops.tasks.schedules import OneCycle, StepDecay
from neurops.utils.bench import markdown_table, save_results

REFERENCE = {"lsm": 0.0065, "fno": 0.0108}  # LSM paper, Darcy 85x85, relative L2

MODELS: dict[str, dict[str, Any]] = {
    "full": {
        "lsm": dict(model_kwargs=dict(preset="darcy", patch_size=[4, 4]), lr=5e-4),
        "mgno": dict(model_kwargs=dict(preset="darcy"), lr=5e-4),
        "fno": dict(model_kwargs=dict(modes=[12, 12], width=32, n_layers=4), lr=1e-3),
    },
    "quick": {
        "lsm": dict(model_kwargs=dict(preset="darcy", patch_size=[4, 4], width=16), lr=1e-3),
        "mgno": dict(model_kwargs=dict(preset="darcy"), lr=1e-3),
        "fno": dict(model_kwargs=dict(modes=[12, 12], width=20, n_layers=4), lr=1e-3),
    },
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = comparison_parser(__doc__, "Darcy file", "lsm_darcy")
    p.add_argument("--resolution", type=positive_int, default=64, help="grid points per axis")
    return parse_sized(p, argv, quick=dict(n_train=100, n_test=50, epochs=10, batch_size=10),
                       full=dict(n_train=1000, n_test=200, epochs=500, batch_size=20))


def darcy_data(args: argparse.Namespace) -> Path:
    if args.data is not None:
        return args.data
    path = Path("data/bench") / f"darcy_r{args.resolution}_n{args.n_train}_{args.n_test}_s{args.seed}.h5"
    if not path.exists():
        cfg = DarcyConfig(n_train=args.n_train, n_val=0, n_test=args.n_test, resolution=args.resolution,
                          seed=args.seed)
        generate_darcy(cfg, path, workers=2, progress=True)
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = "quick" if args.quick else "full"
    path = darcy_data(args)
    dm = OperatorDataModule(path, batch_size=args.batch_size, val_split=None)
    tag = dm.test_tags[0]
    rows, runs = [], {}
    for name in args.models.split(","):
        spec = MODELS[mode][name]
        # quick: one cycle; full: the paper's halving every fifth of the epochs
        schedule = OneCycle() if args.quick else StepDecay(every=0.2, gamma=0.5)
        sched = {"lr_scheduler": repr(schedule)}

        def make_task(name=name, spec=spec, schedule=schedule):
            return OperatorTask(model=name, model_kwargs=dict(spec["model_kwargs"]), loss="rel_l2",
                                optimizer=partial(torch.optim.AdamW, lr=spec["lr"], weight_decay=1e-4),
                                lr_scheduler=schedule)

        print(f"training {name} ({mode}) on {path} ...", flush=True)
        run = fit_and_test(make_task, dm, epochs=args.epochs, seed=args.seed, accelerator=args.accelerator)
        run.pop("task")
        runs[name] = {"model_kwargs": spec["model_kwargs"], "lr": spec["lr"], **sched, **run}
        rows.append({"model": name, "params": run["params"], "rel_l2": run["test"][f"test/rel_l2@{tag}"],
                     "rel_h1": run["test"][f"test/rel_h1@{tag}"], "s/epoch": run["seconds_per_epoch"],
                     "cpu s/epoch": run["cpu_seconds_per_epoch"], "paper rel_l2 (85^2)": REFERENCE.get(name, "")})
        print(rows[-1], flush=True)
    columns = ["model", "params", "rel_l2", "rel_h1", "s/epoch", "cpu s/epoch", "paper rel_l2 (85^2)"]
    table = markdown_table(rows, columns)
    print(table)
    name = args.name or ("lsm_darcy_quick" if args.quick else "lsm_darcy")
    notes = (f"Darcy (piecewise, FNO setup) at {args.resolution}^2, {args.n_train} train / {args.n_test} test "
             f"samples, {args.epochs} epochs, batch {args.batch_size}, relative L2 loss, seed {args.seed}. "
             "Paper column: LSM paper's 85^2 numbers after 500 epochs on 1000 samples, for reference only. "
             "s/epoch is wall-clock time (it grows with the load of a shared machine); cpu s/epoch is the CPU time "
             "of this process, which the load changes much less.")
    save_results(name, {**vars(args), "data": path}, rows, notes + "\n\n" + table, args.results_dir,
                 details={"results": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
