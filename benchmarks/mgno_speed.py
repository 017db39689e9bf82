"""Training-step time of MgNO against our FNO of similar size, in one run.

One step = forward, relative-L2 loss, backward and an Adam update on a batch of 8
fields of 64 x 64 (the issue's profiling setting), on ``--threads`` CPU threads.
The models are timed interleaved (one step of each in turn, ``--repeat`` rounds) so
that load from other processes affects all of them alike; the table reports the
median and the minimum time per step and their ratios to FNO (on a shared machine the
minimum is the closest to an unloaded run), and the forward + backward GFLOP per step
of the convolutions and matrix products (FFTs not counted).

Variants: MgNO in channels-first layout (the plain implementation), in
channels-last layout (the default), and optionally compiled with ``torch.compile``
(``--compile``), and both models under bf16 autocast (``--bf16``: Lightning's
``bf16-mixed`` precision; bfloat16 convolutions and matrix products with float32
accumulation, float32 parameters). The FNO uses width 16 and 12 modes (593k parameters against
MgNO's 573k).

    python -m benchmarks run mgno_speed --quick
    python -m benchmarks run mgno_speed --compile --repeat 30
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import Bf16Autocast, n_parameters
from benchmarks.runner import benchmark_parser, positive_int
from neurops.metrics.field import relative_l2
from neurops.models import build
from neurops.utils.bench import interleaved_times, markdown_table, save_results, timed, timeit


def gflops(model: nn.Module, x: torch.Tensor) -> float:
    """Forward + backward GFLOP of convolutions and matrix products (FFTs are not counted)."""
    counter = FlopCounterMode(display=False)
    with counter:
        model(x).square().mean().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / 1e9


def gemm_gflops(dtype: torch.dtype, n: int = 2048, repeat: int = 7) -> float:
    """Dense matrix-product rate (GFLOP/s, median of ``repeat``) in ``dtype``: what the machine sustains."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    return 2 * n**3 / timeit(lambda: torch.mm(a, b), repeat=repeat) / 1e9


def make_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    """A closure running one training step of ``model`` on ``(x, y)``."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = relative_l2(model(x), y)
        loss.backward()
        opt.step()

    return step


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser(__doc__, quick="fewer repeats (about a minute)")
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--batch", type=positive_int, default=8)
    parser.add_argument("--res", type=positive_int, default=64)
    parser.add_argument("--repeat", type=positive_int, default=20)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd MgNO")
    parser.add_argument("--bf16", action="store_true",
                        help="also time both models under bf16 autocast (Lightning's bf16-mixed precision)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="mgno_speed", help="results file name")
    args = parser.parse_args(argv)
    repeat = 6 if args.quick else args.repeat
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    gen = torch.Generator().manual_seed(args.seed)
    x = torch.randn(args.batch, 1, args.res, args.res, generator=gen)
    y = torch.randn(args.batch, 1, args.res, args.res, generator=gen)
    models: dict[str, nn.Module] = {
        "fno (width 16, 12 modes)": build("fno", in_channels=1, out_channels=1, width=16, modes=(12, 12)),
        "mgno, channels-first": build("mgno", in_channels=1, out_channels=1, preset="darcy",
                                      channels_last=False),
        "mgno, channels-last": build("mgno", in_channels=1, out_channels=1, preset="darcy"),
    }
    if args.bf16:
        models["fno, bf16 autocast"] = Bf16Autocast(build("fno", in_channels=1, out_channels=1, width=16,
                                                          modes=(12, 12)))
        models["mgno, channels-last, bf16 autocast"] = Bf16Autocast(build("mgno", in_channels=1, out_channels=1,
                                                                          preset="darcy"))
    compile_seconds = None
    if args.compile:
        mgno = build("mgno", in_channels=1, out_channels=1, preset="darcy")
        models["mgno, channels-last + torch.compile"] = torch.compile(mgno)
    steps = {name: make_step(m, x, y) for name, m in models.items()}
    for name, step in steps.items():  # warm-up (and compilation)
        first_seconds, _ = timed(step)
        if "compile" in name:
            compile_seconds = first_seconds
        step()
    times = interleaved_times(steps, repeat)

    fno_name = next(iter(steps))
    fno_median, fno_min = statistics.median(times[fno_name]), min(times[fno_name])
    rows = []
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append({
            "model": name,
            "params": n_parameters(models[name]),
            "GFLOP/step": gflops(models[name], x) if "compile" not in name else None,
            "median s/step": med,
            "min s/step": min(ts),
            "median vs fno": med / fno_median,
            "min vs fno": min(ts) / fno_min,
        })
    table = markdown_table([{k: ("-" if v is None else v) for k, v in r.items()} for r in rows],
                           floatfmt=".3g")
    gemm = {"float32": gemm_gflops(torch.float32), "bfloat16": gemm_gflops(torch.bfloat16)}
    mgno_row = next(r for r in rows if r["model"] == "mgno, channels-last")
    mgno_rate = mgno_row["GFLOP/step"] / mgno_row["min s/step"]
    table += (f"\n\nDense 2048x2048 matrix products on the same threads: {gemm['float32']:.0f} GFLOP/s in float32, "
              f"{gemm['bfloat16']:.0f} in bfloat16. MgNO (channels-last, float32) runs its convolution and matrix "
              f"work at {mgno_rate:.0f} GFLOP/s at its fastest step, {100 * mgno_rate / gemm['float32']:.0f} % of the "
              "float32 rate.")
    print(table)
    setting = (f"forward + relative-L2 loss + backward + Adam step, batch {args.batch}, "
               f"{args.res}x{args.res}, {args.threads} threads, {repeat} interleaved rounds")
    md = f"Training-step time ({setting}).\n\n{table}\n"
    if compile_seconds is not None:
        md += f"\nFirst compiled step (compilation included): {compile_seconds:.1f} s.\n"
    save_results(args.name, {**vars(args), "repeat": repeat, "setting": setting}, rows, md, args.results_dir,
                 details={"times": times, "gemm_gflops": gemm, "mgno_gflops_per_s": mgno_rate,
                          "compile_first_step_s": compile_seconds})


if __name__ == "__main__":
    main()
