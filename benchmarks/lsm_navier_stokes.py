"""LSM vs MgNO vs FNO on 2D Navier-Stokes (nu = 1e-3, 64x64, 10 frames -> next 10), in one run.

All three models are one-step operators (10 frames in, 1 frame out) trained through
``RolloutTask`` by back-propagation through the full 10-step autoregressive rollout (the
FNO/LSM protocol), without normalization, on the same trajectories from the
``navier_stokes`` generator (FNO's setup), from the same seed. The table reports the test
relative L2 error over the 10 predicted frames, the error of the first and last frame,
the parameter count and the median wall-clock and CPU seconds per training epoch, beside
the trivial baseline that repeats the last input frame.

Reference (LSM paper, Wu et al., ICML 2023, nu = 1e-5, T = 20, 1000 train / 200 test,
500 epochs): LSM 0.1535 vs FNO 0.1556 relative L2.

Usage::

    python -m benchmarks run lsm_navier_stokes --quick   # CPU: 24 train / 8 test trajectories
                                                     # from a 64^2 solver, reduced widths
    python -m benchmarks run lsm_navier_stokes           # paper scale (1000/200 trajectories
                                                     # from a 256^2 solver, 500 epochs,
                                                     # paper widths); meant for a GPU

Model settings:

* LSM: ``preset="navier_stokes"`` (width 64, 5 scales, 4x4 patches); ``--quick``: width 16.
* MgNO: ``preset="navier_stokes"`` (5 layers, width 32, periodic); ``--quick``: width 16.
* FNO: 12x12 modes, width 20, 4 layers (the FNO paper's FNO-2D); ``--quick``: the same.

The full run uses the papers' learning rates (LSM and MgNO 5e-4, FNO 1e-3), weight decay
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
from neurops.data.datamodule import RolloutDataModule
from neurops.data.generators.navier_stokes import NavierStokesConfig, generate_navier_stokes
from neurops.metrics.field import relative_lp
from neurops.tasks.rollout import RolloutTask
from neurops.tasks.schedules import OneCycle, StepDecay
from neurops.utils.bench import markdown_table, save_results

REFERENCE = {"lsm": 0.1535, "fno": 0.1556}  # LSM paper, NS nu = 1e-5, relative L2
T_IN, T_OUT = 10, 10

MODELS: dict[str, dict[str, dict[str, Any]]] = {
    "full": {
        "lsm": dict(model_kwargs=dict(preset="navier_stokes"), lr=5e-4),
        "mgno": dict(model_kwargs=dict(preset="navier_stokes"), lr=5e-4),
        "fno": dict(model_kwargs=dict(modes=[12, 12], width=20, n_layers=4), lr=1e-3),
    },
    "quick": {
        "lsm": dict(model_kwargs=dict(preset="navier_stokes", width=16), lr=1e-3),
        "mgno": dict(model_kwargs=dict(preset="navier_stokes", width=16), lr=1e-3),
        "fno": dict(model_kwargs=dict(modes=[12, 12], width=20, n_layers=4), lr=1e-3),
    },
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = comparison_parser(__doc__, "trajectory file", "lsm_navier_stokes")
    p.add_argument("--nu", type=float, default=1e-3)
    return parse_sized(p, argv, quick=dict(n_train=24, n_test=8, epochs=10, batch_size=4),
                       full=dict(n_train=1000, n_test=200, epochs=500, batch_size=20))


def ns_data(args: argparse.Namespace) -> Path:
    if args.data is not None:
        return args.data
    nu = f"{args.nu:.0e}".replace("e-0", "e-")  # 1e-3
    if args.quick:
        path = Path("data/bench") / f"ns_{nu}_quick.h5"
        cfg = NavierStokesConfig(n_train=args.n_train, n_val=0, n_test=args.n_test, nu=args.nu,
                                 t_final=T_IN + T_OUT, solver_resolution=64, dt=1e-2, seed=args.seed)
    else:
        path = Path("data/bench") / f"ns_{nu}_n{args.n_train}_{args.n_test}.h5"
        cfg = NavierStokesConfig(n_train=args.n_train, n_val=0, n_test=args.n_test, nu=args.nu,
                                 t_final=T_IN + T_OUT, seed=args.seed)
    if not path.exists():
        generate_navier_stokes(cfg, path, workers=2, progress=True)
    return path


def persistence_row(dm: RolloutDataModule) -> dict[str, Any]:
    """The trivial baseline: every predicted frame is the last input frame."""
    errors, per_step, n = 0.0, torch.zeros(T_OUT), 0
    for batch in dm.test_dataloader()[0]:
        pred = batch["x"][:, -1:].expand_as(batch["y"])
        errors += float(relative_lp(pred, batch["y"], reduction="sum"))
        per_step += torch.stack([relative_lp(pred[:, [k]], batch["y"][:, [k]], reduction="sum") for k in range(T_OUT)])
        n += len(pred)
    per_step = (per_step / n).tolist()
    return {"model": "persistence (repeat frame 10)", "params": 0, "rel_l2": errors / n,
            "rel_l2 frame 11": per_step[0], "rel_l2 frame 20": per_step[-1], "s/epoch": "", "cpu s/epoch": "",
            "paper rel_l2 (nu=1e-5)": ""}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = "quick" if args.quick else "full"
    path = ns_data(args)
    dm = RolloutDataModule(path, t_in=T_IN, t_out=T_OUT, batch_size=args.batch_size, val_split=None,
                           max_train_trajectories=args.n_train)
    tag = dm.test_tags[0]
    rows, runs = [persistence_row(dm)], {}
    for name in args.models.split(","):
        spec = MODELS[mode][name]
        # quick: one cycle; full: the paper's halving every fifth of the epochs
        schedule = OneCycle() if args.quick else StepDecay(every=0.2, gamma=0.5)
        sched = {"lr_scheduler": repr(schedule)}

        def make_task(name=name, spec=spec, schedule=schedule):
            return RolloutTask(model=name, model_kwargs=dict(spec["model_kwargs"]), t_in=T_IN, t_out=T_OUT, step=1,
                               training="rollout", normalize=False, plot=False, loss="rel_l2",
                               optimizer=partial(torch.optim.AdamW, lr=spec["lr"], weight_decay=1e-4),
                               lr_scheduler=schedule)

        print(f"training {name} ({mode}) on {path} ...", flush=True)
        run = fit_and_test(make_task, dm, epochs=args.epochs, seed=args.seed, accelerator=args.accelerator)
        task = run.pop("task")
        per_step = task.rollout_errors["test"][tag]
        runs[name] = {"model_kwargs": spec["model_kwargs"], "lr": spec["lr"], **sched, **run,
                      "rel_l2_per_step": per_step}
        rows.append({"model": name, "params": run["params"], "rel_l2": run["test"][f"test/rel_l2@{tag}"],
                     "rel_l2 frame 11": per_step[0], "rel_l2 frame 20": per_step[-1],
                     "s/epoch": run["seconds_per_epoch"], "cpu s/epoch": run["cpu_seconds_per_epoch"],
                     "paper rel_l2 (nu=1e-5)": REFERENCE.get(name, "")})
        print(rows[-1], flush=True)
    columns = ["model", "params", "rel_l2", "rel_l2 frame 11", "rel_l2 frame 20", "s/epoch", "cpu s/epoch",
               "paper rel_l2 (nu=1e-5)"]
    table = markdown_table(rows, columns)
    print(table)
    name = args.name or ("lsm_navier_stokes_quick" if args.quick else "lsm_navier_stokes")
    notes = (f"Navier-Stokes nu={args.nu:g} at 64^2, frames 1-10 -> 11-20, one frame per step, trained through the "
             f"10-step rollout; {args.n_train} train / {args.n_test} test trajectories, {args.epochs} epochs, batch "
             f"{args.batch_size}, relative L2 loss, seed {args.seed}. Paper column: LSM paper's nu=1e-5 numbers "
             "(1000 trajectories, 500 epochs), for reference only. "
             "s/epoch is wall-clock time (it grows with the load of a shared machine); cpu s/epoch is the CPU time "
             "of this process, which the load changes much less.")
    try:
        from neurops.viz.rollout import plot_rollout_errors

        out = Path(args.results_dir) / f"{name}.png"
        plot_rollout_errors({n: r["rel_l2_per_step"] for n, r in runs.items()}, out,
                            title=f"NS nu={args.nu:g}: error per rollout step")
    except Exception as exc:  # noqa: BLE001 - the figure is optional
        print(f"no figure: {exc}")
    save_results(name, {**vars(args), "data": path}, rows, notes + "\n\n" + table, args.results_dir,
                 details={"results": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
