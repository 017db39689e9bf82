"""Our FNO vs neuraloperator's FNO on the same generated Darcy data, in one run.

Both train through the path users run: ``OperatorTask`` (models ``fno`` and ``neuralop_fno``,
the registered wrapper of neuraloperator's FNO) with ``OperatorDataModule`` and a Lightning
``Trainer`` (``benchmarks/lightning_runs.py::fit_and_test``), with the same normalizers,
optimizer (AdamW), schedule (lr halved every third of the epochs), loss (relative L2), batches,
seed and epochs. The models are configured alike: 4 Fourier layers, width 32, the same kept
Fourier modes (ours ``modes=(12, 13)`` = theirs ``n_modes=(24, 24)``), grid embedding, pointwise
skip, a 32 -> 128 -> 1 projection and no channel MLP inside the blocks (their lifting is a
two-layer MLP; ours one linear map).

Reports relative L2 / H1 at the training resolution and zero-shot at a finer one, seconds
per epoch, and an interleaved forward+backward step-time ratio (robust to load changes on a
shared machine).

Usage::

    python -m benchmarks run darcy_fno --quick      # a few minutes on 2 CPU cores
    python -m benchmarks run darcy_fno              # 1000 train / 200 test at 65^2 (+129^2 zero-shot)
    python -m benchmarks run darcy_fno --epochs 500 --resolution 85   # FNO-paper scale (GPU)
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmarks.common import darcy_argument_parser, darcy_file, parse_darcy_args
from benchmarks.lightning_runs import fit_and_test
from neurops.data.datamodule import OperatorDataModule
from neurops.models import build
from neurops.tasks.operator import OperatorTask
from neurops.utils.bench import interleaved_times, markdown_table, save_results

FNO, NEURALOP_FNO = "neurops FNO", "neuraloperator FNO"


def fno_specs(modes: tuple[int, int], width: int) -> dict[str, tuple[str, dict[str, Any]]]:
    """Registry name and kwargs of our FNO and neuraloperator's, configured alike, by display name."""
    return {
        FNO: ("fno", {"modes": list(modes), "width": width, "n_layers": 4, "projection_channels": 4 * width}),
        NEURALOP_FNO: ("neuralop_fno", {"n_modes": [2 * modes[0], 2 * (modes[1] - 1)], "hidden_channels": width,
                                        "n_layers": 4, "lifting_channel_ratio": 1, "projection_channel_ratio": 4,
                                        "use_channel_mlp": False, "positional_embedding": "grid",
                                        "fno_skip": "linear"}),
    }


def step_times(models: dict[str, nn.Module], x: torch.Tensor, rounds: int = 10) -> dict[str, float]:
    """Median forward+backward seconds of each model on ``x``, one step of each model in turn."""
    def step(model: nn.Module) -> None:
        model.zero_grad(set_to_none=True)
        model(x).square().mean().backward()

    steps = {name: partial(step, model) for name, model in models.items()}
    for fn in steps.values():  # warm-up
        fn()
    return {name: float(np.median(t)) for name, t in interleaved_times(steps, rounds).items()}


def first_inputs(dm: OperatorDataModule, n: int) -> torch.Tensor:
    """The inputs ``[n, C, *spatial]`` of the first ``n`` training samples (for step timings)."""
    return torch.stack([dm.train_set[i]["x"] for i in range(n)])


def main(argv: list[str] | None = None) -> None:
    args = parse_darcy_args(darcy_argument_parser(__doc__), argv)
    modes = (args.modes, args.modes + 1)
    path = darcy_file(args.n_train, args.n_test, args.resolution, (args.test_resolution,), seed=args.seed)
    dm = OperatorDataModule(path, batch_size=args.batch_size, val_split=None)
    step = max(1, args.epochs // 3)
    specs = fno_specs(modes, args.width)
    results = {}
    for name, (model, kwargs) in specs.items():
        def make_task(model: str = model, kwargs: dict[str, Any] = kwargs) -> OperatorTask:
            return OperatorTask(model, dict(kwargs), loss="rel_l2",
                                optimizer=partial(torch.optim.AdamW, lr=args.lr, weight_decay=1e-4),
                                lr_scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=step, gamma=0.5))

        print(f"training {name} ...", flush=True)
        run = fit_and_test(make_task, dm, epochs=args.epochs, seed=args.seed)
        run.pop("task")
        print(f"  {run['params']:,} parameters, {run['seconds_per_epoch']:.2f} s/epoch, {run['test']}", flush=True)
        results[name] = run
    torch.manual_seed(args.seed)
    times = step_times({name: build(model, in_channels=1, out_channels=1, **kwargs)
                        for name, (model, kwargs) in specs.items()}, first_inputs(dm, args.batch_size))
    res, zero_shot = args.resolution, args.test_resolution
    rows = [{"model": name, "parameters": r["params"], f"rel L2 @{res}": r["test"][f"test/rel_l2@{res}"],
             f"rel H1 @{res}": r["test"][f"test/rel_h1@{res}"],
             f"rel L2 @{zero_shot} (zero-shot)": r["test"][f"test/rel_l2@{zero_shot}"],
             "s/epoch": r["seconds_per_epoch"], "fwd+bwd s/step (interleaved)": times[name]}
            for name, r in results.items()]
    ours, theirs = results[FNO], results[NEURALOP_FNO]
    ratios = {"epoch_time_ratio_ours_over_theirs": ours["seconds_per_epoch"] / theirs["seconds_per_epoch"],
              "step_time_ratio_ours_over_theirs": times[FNO] / times[NEURALOP_FNO],
              "rel_l2_ratio_ours_over_theirs": (ours["test"][f"test/rel_l2@{res}"]
                                                / theirs["test"][f"test/rel_l2@{res}"])}
    table = markdown_table(rows)
    summary = (f"{table}\n\nRatios (ours / neuraloperator): time per epoch "
               f"{ratios['epoch_time_ratio_ours_over_theirs']:.2f}, "
               f"interleaved step time {ratios['step_time_ratio_ours_over_theirs']:.2f}, "
               f"relative L2 {ratios['rel_l2_ratio_ours_over_theirs']:.2f}.\n\n"
               f"Both trained by OperatorTask + Lightning Trainer (models `fno` and `neuralop_fno`). Data: piecewise "
               f"Darcy, {args.n_train} train / {args.n_test} test at {res}^2 (zero-shot {zero_shot}^2), {args.epochs} "
               f"epochs, batch {args.batch_size}, AdamW lr {args.lr} halved every {step} epochs, seed {args.seed}.")
    print("\n" + summary)
    name = "darcy_fno_quick" if args.quick else "darcy_fno"
    save_results(name, vars(args), rows, summary, args.results_dir,
                 details={"results": results, "step_seconds": times, "ratios": ratios})


if __name__ == "__main__":
    main()
