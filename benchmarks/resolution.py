"""Zero-shot resolution transfer of every operator model on Darcy flow, in one run.

Every model trains through ``OperatorTask`` + ``OperatorDataModule`` (the path users run) on the
same generated piecewise-constant Darcy data, from the same seed, with the same budget (epochs,
batch, learning rate, one-cycle schedule, relative-L2 loss). Each is then evaluated at 0.5x, 1x,
2x and 4x its training resolution (node grids 2^k + 1, all subsampled from one solve on the
finest grid, so every grid holds the same functions) next to the baseline "interpolate the 1x
prediction": predict on the training grid (for 0.5x: the input interpolated up to it) and
interpolate linearly onto the test grid.

Two training modes:

* ``single``: the training grid only;
* ``multi``: every batch on the training grid or on the grid half as fine (``train_strides``),
  the multi-resolution training of Berner et al. (2025).

Targets (issue 16): each model's error at 2x <= 1.5x its error at 1x, and <= the error of
interpolating its own 1x prediction.

Usage::

    python -m benchmarks run resolution --quick                       # minutes: 33^2, few samples
    # the committed results (shared 2-core CPU, 1 thread: about 25 min each on a lightly loaded machine)
    python -m benchmarks run resolution --resolution 33 --n-train 400 --n-test 100 --epochs 10 --name resolution_33
    python -m benchmarks run resolution --resolution 65 --n-train 200 --n-test 50 --epochs 10 --name resolution_65

Models (sizes for a 2-core CPU): FNO (12 modes, 8 when trained at 33^2 so that the 0.5x grid holds
them; width 24); MgNO, rough-Darcy preset (572,661
parameters), on the input grid (``grid``) and with its V-cycles on the training grid
(``reference``); LSM (width 16, 4x4 patches) likewise; U-Net (width 16, 4 levels) and the
function-space U-Net with kernel-interpolated stencils (same weights' shapes).
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import darcy_file
from benchmarks.lightning_runs import fit_and_test
from benchmarks.runner import benchmark_parser, positive_int
from neurops.data.datamodule import OperatorDataModule
from neurops.data.reader import read_split
from neurops.layers.resample import resample
from neurops.metrics.field import relative_lp
from neurops.tasks.operator import OperatorTask
from neurops.utils.bench import markdown_table, save_results

#: display name -> (registry name, model kwargs); ``reference_resolution: None`` keeps grid units
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "FNO": ("fno", dict(width=24)),  # modes: see fno_modes
    "MgNO (grid)": ("mgno", dict(preset="darcy", reference_resolution=None)),
    "MgNO (reference grid)": ("mgno", dict(preset="darcy")),
    "LSM (grid)": ("lsm", dict(width=16, patch_size=[4, 4], reference_resolution=None)),
    "LSM (reference grid)": ("lsm", dict(width=16, patch_size=[4, 4])),
    "U-Net": ("unet", dict(width=16, channel_multipliers=[1, 2, 4, 4])),
    "FS U-Net": ("fs_unet", dict(width=16, channel_multipliers=[1, 2, 4, 4])),
}
FACTORS = (0.5, 1.0, 2.0, 4.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = benchmark_parser(__doc__, quick="33^2, 100 train / 20 test, 3 epochs")
    p.add_argument("--resolution", type=positive_int, default=65, help="training grid (2^k + 1 nodes)")
    p.add_argument("--n-train", type=positive_int, default=1000)
    p.add_argument("--n-test", type=positive_int, default=200)
    p.add_argument("--epochs", type=positive_int, default=12)
    p.add_argument("--batch-size", type=positive_int, default=20)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated display names")
    p.add_argument("--modes", default="single,multi", help="training modes: single, multi or both")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=positive_int, default=1)
    p.add_argument("--name", default=None, help="results name (default resolution_<R>[_quick])")
    p.add_argument("--resume", action="store_true",
                   help="keep the runs already in the results file (same settings) and train only the others")
    args = p.parse_args(argv)
    if args.quick:
        args.resolution, args.n_train, args.n_test, args.epochs = 33, 100, 20, 3
    unknown = set(args.models.split(",")) - set(MODELS)
    if unknown:
        p.error(f"unknown model(s) {sorted(unknown)}; choose from {list(MODELS)}")
    return args


def fno_modes(resolution: int) -> list[int]:
    """12 modes (the FNO paper's Darcy model), fewer where the 0.5x grid could not hold them."""
    m = min(12, (resolution - 1) // 4)
    return [m, m]


def grid_of(resolution: int, factor: float) -> int:
    """Nodes of the grid ``factor`` times as fine as ``resolution`` nodes."""
    return round((resolution - 1) * factor) + 1


def subsample(x: torch.Tensor, fine: int, resolution: int) -> torch.Tensor:
    step = (fine - 1) // (resolution - 1)
    return x[..., ::step, ::step]


@torch.no_grad()
def predict(task: OperatorTask, x: torch.Tensor, batch: int = 10) -> torch.Tensor:
    return torch.cat([task(x[i:i + batch]) for i in range(0, len(x), batch)])


@torch.no_grad()
def transfer_errors(task: OperatorTask, x_fine: torch.Tensor, y_fine: torch.Tensor, resolution: int
                    ) -> dict[str, dict[str, float]]:
    """rel. L2 of the model and of "interpolate the 1x prediction" at every factor of ``FACTORS``."""
    task.eval()
    fine = x_fine.shape[-1]
    x1 = subsample(x_fine, fine, resolution)
    p1 = predict(task, x1)
    out = {}
    for factor in FACTORS:
        r = grid_of(resolution, factor)
        xr, yr = subsample(x_fine, fine, r), subsample(y_fine, fine, r)
        model = predict(task, xr)
        if factor >= 1:
            baseline = resample(p1, (r, r))
        else:  # interpolate the coarse input up to the training grid, predict there, sample back
            baseline = subsample(predict(task, resample(xr, (resolution, resolution))), resolution, r)
        out[f"{factor:g}x"] = {"grid": r, "model": relative_lp(model, yr).item(),
                               "interpolated": relative_lp(baseline, yr).item()}
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    fine = grid_of(args.resolution, max(FACTORS))  # every test grid is a subsample of this one
    path = darcy_file(args.n_train, args.n_test, args.resolution, (fine,), seed=args.seed, workers=2)
    test = read_split(path, f"test@{fine}")
    x_fine = torch.from_numpy(test["inputs"]["a"])[:, None].float()
    y_fine = torch.from_numpy(test["outputs"]["u"])[:, None].float()
    name = args.name or (f"resolution_{args.resolution}" + ("_quick" if args.quick else ""))
    runs: list[dict[str, Any]] = []
    previous = Path(args.results_dir) / f"{name}.json"
    if args.resume and previous.exists():
        runs = json.loads(previous.read_text())["details"]["runs"]
        print(f"resuming: {len(runs)} run(s) from {previous}", flush=True)
    for mode in args.modes.split(","):
        strides = None if mode == "single" else [1, 2]
        dm = OperatorDataModule(path, batch_size=args.batch_size, val_split=None, test_splits=[],
                                train_strides=strides)
        for display in args.models.split(","):
            if any(r["model"] == display and r["mode"] == mode for r in runs):
                continue
            registry_name, kwargs = MODELS[display]
            if registry_name == "fno":
                kwargs = {**kwargs, "modes": fno_modes(args.resolution)}

            def make_task(registry_name=registry_name, kwargs=kwargs):
                return OperatorTask(registry_name, dict(kwargs), loss="rel_l2",  # one-cycle schedule: the default
                                    optimizer=partial(torch.optim.AdamW, lr=args.lr, weight_decay=1e-4))

            print(f"== {display}, {mode}-resolution training (strides {strides}) ==", flush=True)
            run = fit_and_test(make_task, dm, epochs=args.epochs, seed=args.seed, accelerator="cpu", test=False)
            errors = transfer_errors(run.pop("task"), x_fine, y_fine, args.resolution)
            runs.append({"model": display, "registry": registry_name, "kwargs": kwargs, "mode": mode,
                         "train_strides": strides, "errors": errors, **run})
            print({k: (round(v["model"], 4), round(v["interpolated"], 4)) for k, v in errors.items()}, flush=True)
            save(name, args, path, runs)
    return 0


def rows_of(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per run: errors "model (interpolated 1x)" per factor, the 2x/1x ratio, targets."""
    rows = []
    for run in runs:
        e = run["errors"]
        row: dict[str, Any] = {"model": run["model"], "training": run["mode"], "params": run["params"]}
        for key, v in e.items():
            row[f"{key} ({v['grid']}^2)"] = (f"{v['model']:.4f}" if key == "1x"
                                             else f"{v['model']:.4f} ({v['interpolated']:.4f})")
        ratio = e["2x"]["model"] / e["1x"]["model"]
        row["2x / 1x"] = f"{ratio:.2f}"
        row["targets (<=1.5x, <=interp.)"] = ("yes" if ratio <= 1.5 else "no") + ", " + (
            "yes" if e["2x"]["model"] <= e["2x"]["interpolated"] else "no")
        row["train loss"] = f"{run['train_loss']:.4f}" if run.get("train_loss") is not None else "-"
        row["s/epoch"] = f"{run['seconds_per_epoch']:.1f}"
        rows.append(row)
    return rows


def save(name: str, args: argparse.Namespace, path: Path, runs: list[dict[str, Any]]) -> None:
    rows = rows_of(runs)
    table = markdown_table(rows)
    notes = (
        f"Darcy (piecewise-constant coefficient, FNO setup), trained at {args.resolution}^2 on {args.n_train} samples, "
        f"tested on {args.n_test} samples at 0.5x, 1x, 2x, 4x the training resolution. {args.epochs} epochs, batch "
        f"{args.batch_size}, AdamW lr {args.lr} (one-cycle), relative-L2 loss, seed {args.seed}, {args.threads} CPU "
        "thread(s). Cells: rel. L2 of the model (in brackets: interpolating its 1x prediction linearly onto the grid; "
        "at 0.5x: predicting on the input interpolated up to the training grid). Training 'multi': each batch on the "
        "training grid or the grid half as fine. train loss: mean relative L2 of the last training epoch (on the "
        "training grids, in training mode). s/epoch: wall-clock on a shared machine."
    )
    print(table, flush=True)
    save_results(name, {**vars(args), "data": path}, rows, notes + "\n\n" + table, args.results_dir,
                 details={"runs": runs})


if __name__ == "__main__":
    sys.exit(main())
