"""MgNO vs our FNO vs neuraloperator's FNO on the same generated Darcy data, in one run.

All three models train through the path users run (``OperatorTask`` + ``OperatorDataModule``
+ Lightning ``Trainer``, ``benchmarks/lightning_runs.py::fit_and_test``; neuraloperator's FNO
as the registered model ``neuralop_fno``) on the same piecewise-constant Darcy file, with
the same normalizers, optimizer (AdamW), schedule, loss, batches and seed. MgNO uses the paper's rough-Darcy preset
(4 layers, width 24, 6 levels, Dirichlet padding: 572,661 parameters); the FNOs are the
configuration of ``benchmarks/darcy_fno.py`` (4 layers, width 32, 12 x 12 modes, grid
embedding, 32 -> 128 -> 1 projection).

Two comparisons:

1. **equal epochs**: every model trains ``--epochs`` epochs; reported are the relative
   L2 and H1 errors at the training resolution and zero-shot at ``--test-resolution``
   (about 2x), the parameter counts and the seconds per epoch;
2. **equal wall-clock**: every model gets the training time of ``--epochs`` epochs of
   our FNO. Its epoch count is that many epochs times the ratio of our FNO's step time to
   its own, from an interleaved forward+backward timing (one step of each model in turn,
   median of ``--timing-rounds``), which stays fair when other processes load the machine
   (wall-clock seconds per epoch do not: they are reported, but on a shared machine
   they vary with the load). The learning-rate schedule is laid out for the model's
   epoch count, so it runs to completion within the budget.

Usage (from the repository root)::

    python -m benchmarks run darcy_mgno --quick     # 200 train / 50 test at 33^2, a few minutes
    python -m benchmarks run darcy_mgno --quick --bf16   # also MgNO in bf16-mixed precision
    python -m benchmarks run darcy_mgno             # 1000 train / 200 test at 65^2 (+129^2)
    # paper-like scale, for a GPU: MgNO's optimizer settings and Fourier H1 loss
    python -m benchmarks run darcy_mgno --n-train 1000 --n-test 200 --resolution 65 \
        --test-resolution 129 --epochs 500 --batch-size 8 --lr 5e-4 --scheduler onecycle \
        --loss rel_h1_fourier --accelerator gpu
"""

from __future__ import annotations

import argparse
from functools import partial
from typing import Any

import torch

from benchmarks.common import Bf16Autocast, darcy_argument_parser, darcy_file, parse_darcy_args
from benchmarks.darcy_fno import FNO, first_inputs, fno_specs, step_times
from benchmarks.lightning_runs import fit_and_test
from benchmarks.runner import positive_int
from neurops.data.datamodule import OperatorDataModule
from neurops.models import build
from neurops.tasks.operator import OperatorTask
from neurops.tasks.schedules import OneCycle
from neurops.utils.bench import markdown_table, save_results

MGNO = "neurops MgNO"
MGNO_BF16 = "neurops MgNO, bf16-mixed"


def model_specs(width: int, modes: tuple[int, int], bf16: bool = False) -> dict[str, tuple[str, dict[str, Any]]]:
    """Registry name and kwargs by display name (our FNO first: it sets the time budget)."""
    specs = {**fno_specs(modes, width), MGNO: ("mgno", {"preset": "darcy"})}
    if bf16:
        specs[MGNO_BF16] = specs[MGNO]
    return specs


def train_all(specs: dict[str, tuple[str, dict[str, Any]]], dm: OperatorDataModule, epochs: dict[str, int],
              args: argparse.Namespace, step: int) -> dict[str, dict[str, Any]]:
    """Train every model (fresh, same seed) for its number of epochs; the schedule spans its own epochs."""
    results = {}
    for name, (model, kwargs) in specs.items():
        n = epochs[name]
        schedule = OneCycle(pct_start=0.1) if args.scheduler == "onecycle" else partial(
            torch.optim.lr_scheduler.StepLR, step_size=max(1, round(step * n / args.epochs)), gamma=0.5)

        def make_task(model: str = model, kwargs: dict[str, Any] = kwargs, schedule: Any = schedule) -> OperatorTask:
            return OperatorTask(model, dict(kwargs), loss=args.loss,
                                optimizer=partial(torch.optim.AdamW, lr=args.lr, weight_decay=1e-4),
                                lr_scheduler=schedule)

        print(f"{name}: {n} epochs", flush=True)
        run = fit_and_test(make_task, dm, epochs=n, seed=args.seed, accelerator=args.accelerator,
                           precision="bf16-mixed" if name == MGNO_BF16 else None)
        run.pop("task")
        run["epochs_run"] = n
        print(f"  {run['params']:,} parameters, {run['seconds_per_epoch']:.2f} s/epoch, {run['test']}", flush=True)
        results[name] = run
    return results


def rows_of(results: dict[str, dict[str, Any]], res: int, test_res: int,
            times: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """One table row per model."""
    rows = []
    for name, r in results.items():
        t = r["test"]
        row = {"model": name, "parameters": r["params"], "epochs": r["epochs_run"],
               f"rel L2 @{res}": t[f"test/rel_l2@{res}"], f"rel H1 @{res}": t[f"test/rel_h1@{res}"],
               f"rel L2 @{test_res} (zero-shot)": t[f"test/rel_l2@{test_res}"],
               f"rel H1 @{test_res} (zero-shot)": t[f"test/rel_h1@{test_res}"],
               "s/epoch": r["seconds_per_epoch"], "train s": r["train_seconds"]}
        if times is not None:
            row["fwd+bwd s/step (interleaved)"] = times[name]
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = darcy_argument_parser(__doc__)
    ap.add_argument("--scheduler", choices=["step", "onecycle"], default="step",
                    help="step: halve the lr three times over the run (FNO); onecycle: MgNO's")
    ap.add_argument("--loss", default="rel_l2", help="rel_l2, rel_h1 or rel_h1_fourier (MgNO's)")
    ap.add_argument("--threads", type=positive_int, default=2)
    ap.add_argument("--accelerator", default="cpu", help="cpu, gpu or auto (Lightning's accelerator)")
    ap.add_argument("--no-equal-time", action="store_true", help="skip the equal wall-clock comparison")
    ap.add_argument("--timing-rounds", type=positive_int, default=10, help="rounds of the interleaved step timing")
    ap.add_argument("--name", default=None, help="results file name (default darcy_mgno[_quick])")
    ap.add_argument("--bf16", action="store_true", help="also train MgNO in bf16-mixed precision (autocast)")
    args = parse_darcy_args(ap, argv)
    torch.set_num_threads(args.threads)
    modes = (args.modes, args.modes + 1)
    step = max(1, args.epochs // 3)
    path = darcy_file(args.n_train, args.n_test, args.resolution, (args.test_resolution,), seed=args.seed)
    dm = OperatorDataModule(path, batch_size=args.batch_size, val_split=None)
    specs = model_specs(args.width, modes, bf16=args.bf16)

    torch.manual_seed(args.seed)
    device = "cuda" if args.accelerator == "gpu" else "cpu"
    models = {name: build(model, in_channels=1, out_channels=1, **kwargs).to(device)
              for name, (model, kwargs) in specs.items()}
    if MGNO_BF16 in models:  # the forward pass as Lightning's bf16-mixed precision runs it
        models[MGNO_BF16] = Bf16Autocast(models[MGNO_BF16])
    times = step_times(models, first_inputs(dm, args.batch_size).to(device), rounds=args.timing_rounds)
    print("interleaved fwd+bwd s/step:", {k: round(v, 4) for k, v in times.items()}, flush=True)

    print("== equal epochs ==", flush=True)
    results = train_all(specs, dm, {k: args.epochs for k in specs}, args, step)
    rows = rows_of(results, args.resolution, args.test_resolution, times)
    table = markdown_table(rows)
    print(table, flush=True)

    equal_time: dict[str, dict[str, Any]] = {}
    if not args.no_equal_time:
        epochs = {k: max(1, round(args.epochs * times[FNO] / times[k])) for k in specs}
        print(f"== equal wall-clock (epochs {epochs}) ==", flush=True)
        redo = {k: m for k, m in specs.items() if epochs[k] != args.epochs}
        equal_time = {k: v for k, v in results.items() if k not in redo}
        equal_time.update(train_all(redo, dm, epochs, args, step))
        equal_time = {k: equal_time[k] for k in specs}
        table_time = markdown_table(rows_of(equal_time, args.resolution, args.test_resolution))
        print(table_time, flush=True)

    res = args.resolution
    mg, fno = results[MGNO]["test"], results[FNO]["test"]
    ratios = {
        "mgno_over_fno_rel_l2": mg[f"test/rel_l2@{res}"] / fno[f"test/rel_l2@{res}"],
        "mgno_over_fno_rel_h1": mg[f"test/rel_h1@{res}"] / fno[f"test/rel_h1@{res}"],
        "mgno_over_fno_step_time": times[MGNO] / times[FNO],
        "mgno_over_fno_epoch_time": results[MGNO]["seconds_per_epoch"] / results[FNO]["seconds_per_epoch"],
    }
    if MGNO_BF16 in results:
        ratios["mgno_bf16_over_fno_step_time"] = times[MGNO_BF16] / times[FNO]
        ratios["mgno_bf16_over_mgno_rel_l2"] = (results[MGNO_BF16]["test"][f"test/rel_l2@{res}"]
                                                / mg[f"test/rel_l2@{res}"])
    if equal_time:
        ratios["mgno_over_fno_rel_l2_equal_time"] = (equal_time[MGNO]["test"][f"test/rel_l2@{res}"]
                                                     / equal_time[FNO]["test"][f"test/rel_l2@{res}"])
    summary = (
        f"### Equal epochs ({args.epochs})\n\n{table}\n\n"
        + (f"### Equal wall-clock (the time of {args.epochs} epochs of our FNO, from interleaved step "
           f"times)\n\n{table_time}\n\n" if equal_time else "")
        + f"Ratios MgNO / our FNO: rel. L2 {ratios['mgno_over_fno_rel_l2']:.2f}, rel. H1 "
        f"{ratios['mgno_over_fno_rel_h1']:.2f}, step time {ratios['mgno_over_fno_step_time']:.2f}, "
        f"epoch time {ratios['mgno_over_fno_epoch_time']:.2f}"
        + (f", rel. L2 at equal wall-clock {ratios['mgno_over_fno_rel_l2_equal_time']:.2f}" if equal_time else "")
        + ".\n\n"
        + (f"MgNO in bf16-mixed precision: step time {ratios['mgno_bf16_over_fno_step_time']:.2f}x our FNO's, rel. "
           f"L2 {ratios['mgno_bf16_over_mgno_rel_l2']:.2f}x MgNO's in float32.\n\n" if MGNO_BF16 in results else "")
        + f"All models trained by OperatorTask + Lightning Trainer. Data: piecewise-constant Darcy (`darcy` "
        f"generator), {args.n_train} train / {args.n_test} test at {args.resolution}^2, zero-shot "
        f"{args.test_resolution}^2; {args.epochs} epochs, batch {args.batch_size}, AdamW lr {args.lr} "
        f"({args.scheduler} schedule), loss {args.loss}, seed {args.seed}, {args.threads} CPU threads. Errors are "
        f"relative L2 / H1 (finite differences) of the decoded outputs, mean over test samples."
    )
    print("\n" + summary)
    name = args.name or ("darcy_mgno_quick" if args.quick else "darcy_mgno")
    save_results(name, vars(args), rows, summary, args.results_dir,
                 details={"results": results, "equal_time": equal_time, "step_seconds": times, "ratios": ratios})


if __name__ == "__main__":
    main()
