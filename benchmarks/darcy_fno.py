"""Our FNO vs neuraloperator's FNO on the same generated Darcy data, in one run.

Same data, normalization, optimizer (AdamW), schedule, loss (relative L2), batches, seed
and epochs (``benchmarks/common.py::train_eval``); the models are configured alike: 4
Fourier layers, width 32, the same kept Fourier modes (ours ``modes=(12, 13)`` = theirs
``n_modes=(24, 24)``), grid embedding, pointwise skip, a 32 -> 128 -> 1 projection and no
channel MLP inside the blocks (their lifting is a two-layer MLP; ours one linear map).

Reports relative L2 / H1 at the training resolution and zero-shot at a finer one, seconds
per epoch, and an interleaved forward+backward step-time ratio (robust to load changes on a
shared machine).

Usage::

    python benchmarks/darcy_fno.py --quick          # a few minutes on 2 CPU cores
    python benchmarks/darcy_fno.py                  # 1000 train / 200 test at 65^2 (+129^2 zero-shot)
    python benchmarks/darcy_fno.py --epochs 500 --resolution 85   # FNO-paper scale (GPU)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file: the repository root is importable

from benchmarks.common import (
    darcy_argument_parser,
    darcy_file,
    load_operator_data,
    n_parameters,
    parse_darcy_args,
    train_eval,
)
from neurops.models import build
from neurops.utils.bench import markdown_table, save_results


def neurops_fno(modes: tuple[int, int], width: int) -> torch.nn.Module:
    return build("fno", modes=modes, width=width, n_layers=4, projection_channels=4 * width)


def neuralop_fno(modes: tuple[int, int], width: int) -> torch.nn.Module:
    from neuralop.models import FNO

    return FNO(n_modes=(2 * modes[0], 2 * (modes[1] - 1)), in_channels=1, out_channels=1, hidden_channels=width,
               n_layers=4, lifting_channel_ratio=1, projection_channel_ratio=4, use_channel_mlp=False,
               positional_embedding="grid", fno_skip="linear")


class _Wrap(torch.nn.Module):
    """neuraloperator's FNO takes the tensor positionally like ours."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def interleaved_step_ratio(models: dict[str, torch.nn.Module], x: torch.Tensor, rounds: int = 10) -> dict[str, float]:
    """Median forward+backward seconds per model, alternating models every round."""
    times: dict[str, list[float]] = {k: [] for k in models}
    for r in range(rounds + 1):
        for name, model in models.items():
            model.zero_grad(set_to_none=True)
            t0 = time.perf_counter()
            model(x).square().mean().backward()
            if r:  # first round warms up
                times[name].append(time.perf_counter() - t0)
    return {k: sorted(v)[len(v) // 2] for k, v in times.items()}


def main() -> None:
    args = parse_darcy_args(darcy_argument_parser(__doc__))
    modes = (args.modes, args.modes + 1)
    path = darcy_file(args.n_train, args.n_test, args.resolution, (args.test_resolution,), seed=args.seed)
    data = load_operator_data(path)
    step = max(1, args.epochs // 3)
    builders = {"neurops FNO": lambda: neurops_fno(modes, args.width),
                "neuraloperator FNO": lambda: _Wrap(neuralop_fno(modes, args.width))}
    rows, results = [], {}
    for name, make in builders.items():
        torch.manual_seed(args.seed)
        model = make()
        print(f"{name}: {n_parameters(model):,} parameters", flush=True)
        res = train_eval(model, data, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         scheduler="step", step_size=step, gamma=0.5, seed=args.seed, name=name)
        res["parameters"] = n_parameters(model)
        results[name] = res
    torch.manual_seed(args.seed)
    step_times = interleaved_step_ratio({k: make() for k, make in builders.items()},
                                        data.train[0][: args.batch_size])
    ours, theirs = results["neurops FNO"], results["neuraloperator FNO"]
    for name, res in results.items():
        t = res["tests"]
        rows.append({"model": name, "parameters": res["parameters"],
                     f"rel L2 @{args.resolution}": t["test"]["rel_l2"], f"rel H1 @{args.resolution}": t["test"]["rel_h1"],
                     f"rel L2 @{args.test_resolution} (zero-shot)": t[f"test@{args.test_resolution}"]["rel_l2"],
                     "s/epoch": res["seconds_per_epoch"], "fwd+bwd s/step (interleaved)": step_times[name]})
    ratios = {"epoch_time_ratio_ours_over_theirs": ours["seconds_per_epoch"] / theirs["seconds_per_epoch"],
              "step_time_ratio_ours_over_theirs": step_times["neurops FNO"] / step_times["neuraloperator FNO"],
              "rel_l2_ratio_ours_over_theirs": ours["tests"]["test"]["rel_l2"] / theirs["tests"]["test"]["rel_l2"]}
    table = markdown_table(rows)
    summary = (f"{table}\n\nRatios (ours / neuraloperator): time per epoch {ratios['epoch_time_ratio_ours_over_theirs']:.2f}, "
               f"interleaved step time {ratios['step_time_ratio_ours_over_theirs']:.2f}, "
               f"relative L2 {ratios['rel_l2_ratio_ours_over_theirs']:.2f}.\n\n"
               f"Data: piecewise Darcy, {args.n_train} train / {args.n_test} test at {args.resolution}^2 "
               f"(zero-shot {args.test_resolution}^2), {args.epochs} epochs, batch {args.batch_size}, AdamW lr {args.lr} "
               f"halved every {step} epochs, seed {args.seed}.")
    print("\n" + summary)
    name = "darcy_fno_quick" if args.quick else "darcy_fno"
    save_results(name, {"settings": vars(args), "results": results, "step_seconds": step_times, "ratios": ratios},
                 summary)


if __name__ == "__main__":
    main()
