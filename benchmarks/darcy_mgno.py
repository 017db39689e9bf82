"""MgNO vs our FNO vs neuraloperator's FNO on the same generated Darcy data, in one run.

All three models are trained by the ONE shared loop (``benchmarks/common.py::train_eval``)
on the same piecewise-constant Darcy file, with the same normalization, optimizer
(AdamW), schedule, loss, batches and seed. MgNO uses the paper's rough-Darcy preset
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

    python -m benchmarks.darcy_mgno --quick     # 200 train / 50 test at 33^2, a few minutes
    python -m benchmarks.darcy_mgno --quick --bf16   # also MgNO under bf16 autocast (bf16-mixed)
    python -m benchmarks.darcy_mgno             # 1000 train / 200 test at 65^2 (+129^2)
    # paper-like scale, for a GPU: MgNO's optimizer settings and Fourier H1 loss
    python -m benchmarks.darcy_mgno --n-train 1000 --n-test 200 --resolution 65 \
        --test-resolution 129 --epochs 500 --batch-size 8 --lr 5e-4 --scheduler onecycle \
        --loss rel_h1_fourier --device cuda
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    Bf16Autocast,
    OperatorData,
    darcy_argument_parser,
    darcy_file,
    load_operator_data,
    n_parameters,
    parse_darcy_args,
    train_eval,
)
from benchmarks.darcy_fno import _Wrap, interleaved_step_ratio, neuralop_fno, neurops_fno
from neurops.models import build
from neurops.utils.bench import markdown_table, save_results

MGNO = "neurops MgNO"
FNO = "neurops FNO"
NEURALOP_FNO = "neuraloperator FNO"
MGNO_BF16 = "neurops MgNO, bf16 autocast"


def builders(width: int, modes: tuple[int, int], bf16: bool = False) -> dict[str, Any]:
    """Model constructors by display name (our FNO first: it sets the time budget)."""
    makers = {
        FNO: lambda: neurops_fno(modes, width),
        NEURALOP_FNO: lambda: _Wrap(neuralop_fno(modes, width)),
        MGNO: lambda: build("mgno", in_channels=1, out_channels=1, preset="darcy"),
    }
    if bf16:
        makers[MGNO_BF16] = lambda: Bf16Autocast(build("mgno", in_channels=1, out_channels=1, preset="darcy"))
    return makers


def train_all(makers: dict[str, Any], data: OperatorData, epochs: dict[str, int], args: argparse.Namespace,
              step: int) -> dict[str, dict[str, Any]]:
    """Train every model (fresh, same seed) for its number of epochs."""
    results = {}
    for name, make in makers.items():
        torch.manual_seed(args.seed)
        model = make().to(args.device)
        print(f"{name}: {n_parameters(model):,} parameters, {epochs[name]} epochs", flush=True)
        res = train_eval(model, data, epochs=epochs[name], batch_size=args.batch_size, lr=args.lr,
                         scheduler=args.scheduler, step_size=max(1, round(step * epochs[name] / args.epochs)),
                         gamma=0.5, loss=args.loss, seed=args.seed, name=name)
        res["parameters"] = n_parameters(model)
        results[name] = res
    return results


def to_device(data: OperatorData, device: str) -> OperatorData:
    """The same splits on ``device``."""
    def move(pair: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return pair[0].to(device), pair[1].to(device)

    return OperatorData(train=move(data.train), tests={k: move(v) for k, v in data.tests.items()})


def rows_of(results: dict[str, dict[str, Any]], res: int, test_res: int,
            step_times: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """One table row per model."""
    rows = []
    for name, r in results.items():
        t = r["tests"]
        row = {"model": name, "parameters": r["parameters"], "epochs": r["epochs_run"],
               f"rel L2 @{res}": t["test"]["rel_l2"], f"rel H1 @{res}": t["test"]["rel_h1"],
               f"rel L2 @{test_res} (zero-shot)": t[f"test@{test_res}"]["rel_l2"],
               f"rel H1 @{test_res} (zero-shot)": t[f"test@{test_res}"]["rel_h1"],
               "s/epoch": r["seconds_per_epoch"], "train s": r["train_seconds"]}
        if step_times is not None:
            row["fwd+bwd s/step (interleaved)"] = step_times[name]
        rows.append(row)
    return rows


def main() -> None:
    ap = darcy_argument_parser(__doc__)
    ap.add_argument("--scheduler", choices=["step", "onecycle"], default="step",
                    help="step: halve the lr three times over the run (FNO); onecycle: MgNO's")
    ap.add_argument("--loss", default="rel_l2", help="rel_l2, rel_h1 or rel_h1_fourier (MgNO's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (models and data are moved there)")
    ap.add_argument("--no-equal-time", action="store_true", help="skip the equal wall-clock comparison")
    ap.add_argument("--timing-rounds", type=int, default=10, help="rounds of the interleaved step timing")
    ap.add_argument("--name", default=None, help="results file name (default darcy_mgno[_quick])")
    ap.add_argument("--bf16", action="store_true",
                    help="also train MgNO under bf16 autocast (Lightning's bf16-mixed precision)")
    args = parse_darcy_args(ap)
    torch.set_num_threads(args.threads)
    modes = (args.modes, args.modes + 1)
    step = max(1, args.epochs // 3)
    path = darcy_file(args.n_train, args.n_test, args.resolution, (args.test_resolution,), seed=args.seed)
    data = to_device(load_operator_data(path), args.device)
    makers = builders(args.width, modes, bf16=args.bf16)

    torch.manual_seed(args.seed)
    step_times = interleaved_step_ratio({k: make().to(args.device) for k, make in makers.items()},
                                        data.train[0][: args.batch_size], rounds=args.timing_rounds)
    print("interleaved fwd+bwd s/step:", {k: round(v, 4) for k, v in step_times.items()}, flush=True)

    print("== equal epochs ==", flush=True)
    results = train_all(makers, data, {k: args.epochs for k in makers}, args, step)
    table = markdown_table(rows_of(results, args.resolution, args.test_resolution, step_times))
    print(table, flush=True)

    equal_time: dict[str, dict[str, Any]] = {}
    if not args.no_equal_time:
        epochs = {k: max(1, round(args.epochs * step_times[FNO] / step_times[k])) for k in makers}
        print(f"== equal wall-clock (epochs {epochs}) ==", flush=True)
        redo = {k: m for k, m in makers.items() if epochs[k] != args.epochs}
        equal_time = {k: v for k, v in results.items() if k not in redo}
        equal_time.update(train_all(redo, data, epochs, args, step))
        equal_time = {k: equal_time[k] for k in makers}
        table_time = markdown_table(rows_of(equal_time, args.resolution, args.test_resolution))
        print(table_time, flush=True)

    mg, fno = results[MGNO], results[FNO]
    ratios = {
        "mgno_over_fno_rel_l2": mg["tests"]["test"]["rel_l2"] / fno["tests"]["test"]["rel_l2"],
        "mgno_over_fno_rel_h1": mg["tests"]["test"]["rel_h1"] / fno["tests"]["test"]["rel_h1"],
        "mgno_over_fno_step_time": step_times[MGNO] / step_times[FNO],
        "mgno_over_fno_epoch_time": mg["seconds_per_epoch"] / fno["seconds_per_epoch"],
    }
    if MGNO_BF16 in results:
        ratios["mgno_bf16_over_fno_step_time"] = step_times[MGNO_BF16] / step_times[FNO]
        ratios["mgno_bf16_over_mgno_rel_l2"] = results[MGNO_BF16]["tests"]["test"]["rel_l2"] / mg["tests"]["test"]["rel_l2"]
    if equal_time:
        ratios["mgno_over_fno_rel_l2_equal_time"] = (equal_time[MGNO]["tests"]["test"]["rel_l2"]
                                                     / equal_time[FNO]["tests"]["test"]["rel_l2"])
    summary = (
        f"### Equal epochs ({args.epochs})\n\n{table}\n\n"
        + (f"### Equal wall-clock (the time of {args.epochs} epochs of our FNO, from interleaved step "
           f"times)\n\n{table_time}\n\n" if equal_time else "")
        + f"Ratios MgNO / our FNO: rel. L2 {ratios['mgno_over_fno_rel_l2']:.2f}, rel. H1 "
        f"{ratios['mgno_over_fno_rel_h1']:.2f}, step time {ratios['mgno_over_fno_step_time']:.2f}, "
        f"epoch time {ratios['mgno_over_fno_epoch_time']:.2f}"
        + (f", rel. L2 at equal wall-clock {ratios['mgno_over_fno_rel_l2_equal_time']:.2f}" if equal_time else "")
        + ".\n\n"
        + (f"MgNO under bf16 autocast: step time {ratios['mgno_bf16_over_fno_step_time']:.2f}x our FNO's, rel. L2 "
           f"{ratios['mgno_bf16_over_mgno_rel_l2']:.2f}x MgNO's in float32.\n\n" if MGNO_BF16 in results else "")
        + f"Data: piecewise-constant Darcy (`darcy` generator), {args.n_train} train / {args.n_test} test at "
        f"{args.resolution}^2, zero-shot {args.test_resolution}^2; {args.epochs} epochs, batch {args.batch_size}, "
        f"AdamW lr {args.lr} ({args.scheduler} schedule), loss {args.loss}, seed {args.seed}, "
        f"{args.threads} CPU threads. Errors are relative L2 / H1 (finite differences) of the decoded "
        f"outputs, mean over test samples."
    )
    print("\n" + summary)
    name = args.name or ("darcy_mgno_quick" if args.quick else "darcy_mgno")
    save_results(name, {"settings": vars(args), "results": results, "equal_time": equal_time,
                        "step_seconds": step_times, "ratios": ratios}, summary)


if __name__ == "__main__":
    main()
