"""Spectral convolution forward + backward: our paths against neuraloperator's ``SpectralConv``.

One run, identical weights everywhere (neuraloperator's dense complex weights are copied into
our layout: its kept modes are fft-shifted ``[-m..m-1]`` along the full axes, ours ``[0..m-1,
-m..-1]``), batch 16, 2-D grids, ``C_in = C_out``. Reported: median seconds of forward +
backward (gradients w.r.t. the input and the weights), the relative difference of outputs
and input gradients to the reference, and speed-ups of our fastest path over neuraloperator.

Paths: ``reference`` (rfftn + slice + batched matmul + irfftn), ``fft`` (pruned FFTs,
:mod:`neurops.kernels.spectral_fft`), ``dft`` (truncated DFT by real GEMMs,
:mod:`neurops.kernels.spectral_dft`), ``auto`` (the dispatcher's choice), ``neuralop``. The ``triton``
path is timed on a GPU only (``gpu_check``): on CPU tensors it runs in Triton's interpreter.

glibc returns freed blocks above its mmap threshold (at most 32 MB) to the system, so every
full-size spectrum at 128^2 is page-faulted in again on each use. That slows every path; run
with ``MALLOC_MMAP_THRESHOLD_=4000000000 --name spectral_conv_malloc`` to measure without it
(the variable is recorded in the results).

Usage::

    python -m benchmarks run spectral_conv --quick   # fewer repeats
    python -m benchmarks run spectral_conv
    python -m benchmarks run spectral_conv --grids 65 129 --name spectral_conv_odd
    MALLOC_MMAP_THRESHOLD_=4000000000 python -m benchmarks run spectral_conv --name spectral_conv_malloc
"""

from __future__ import annotations

import itertools
import os

import torch

from benchmarks.runner import benchmark_parser, positive_int
from neurops.kernels.spectral import PATHS, select_path, spectral_conv
from neurops.utils.bench import markdown_table, save_results, timed


def timed_paths(x: torch.Tensor) -> list[str]:
    """The paths timed on ``x``'s device: every path but ``triton`` on CPU tensors (Triton's kernels run on a
    CPU only in its interpreter, seconds a call: a correctness check, not a timing; see ``gpu_check``)."""
    return [name for name in PATHS if name != "triton" or x.is_cuda]


def neuralop_conv(channels: int, modes: int):
    """neuraloperator's SpectralConv keeping the same frequencies as our ``(modes, modes)``."""
    from neuralop.layers.spectral_convolution import SpectralConv

    # n_modes = total kept along each full axis (2m); along the last (rfft) axis it keeps n//2 + 1
    return SpectralConv(channels, channels, (2 * modes, 2 * (modes - 1)), bias=False)


def our_weight_from(conv, modes: int) -> torch.Tensor:
    """neuraloperator's weight [I, O, 2m (shifted), m] complex -> ours [I, O, 2m, m, 2] real."""
    w = conv.weight.to_tensor().detach()
    w = torch.roll(w, shifts=-modes, dims=2)  # [-m..m-1] -> [0..m-1, -m..-1]
    return torch.view_as_real(w).contiguous()


def fwd_bwd_time(fn, x: torch.Tensor, params: list[torch.Tensor], repeat: int) -> float:
    grad = None
    for _ in range(2):
        y = fn(x)
        grad = torch.ones_like(y) if grad is None else grad
        y.backward(grad)
    times = []
    for _ in range(repeat):
        x.grad = None
        for p in params:
            p.grad = None
        times.append(timed(lambda: fn(x).backward(grad))[0])
    times.sort()
    return times[len(times) // 2]


def case(channels: int, n: int, modes: int, batch: int, repeat: int) -> dict:
    torch.manual_seed(0)
    conv = neuralop_conv(channels, modes)
    weight = our_weight_from(conv, modes).requires_grad_(True)
    x = torch.randn(batch, channels, n, n, requires_grad=True)
    m = (modes, modes)
    row = {"channels": channels, "grid": f"{n}^2", "modes": modes, "auto picks": select_path(x, weight, m)}
    g = torch.randn(batch, channels, n, n)
    ref = spectral_conv(x, weight, m, path="reference")
    (ref_gx,) = torch.autograd.grad(ref, x, g)
    y_nop = conv(x)
    (nop_gx,) = torch.autograd.grad(y_nop, x, g)

    def rel(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a - b).norm() / b.norm())

    row["neuralop vs reference (out)"] = rel(y_nop.detach(), ref.detach())
    row["neuralop vs reference (grad x)"] = rel(nop_gx, ref_gx)
    for name in timed_paths(x):
        y = spectral_conv(x, weight, m, path=name)
        (gx,) = torch.autograd.grad(y, x, g)
        row[f"{name} vs reference (out)"] = rel(y.detach(), ref.detach())
        row[f"{name} vs reference (grad x)"] = rel(gx, ref_gx)
    for name in [*timed_paths(x), "auto"]:
        row[f"{name} ms"] = 1e3 * fwd_bwd_time(lambda inp, p=name: spectral_conv(inp, weight, m, path=p), x,
                                               [weight], repeat)
    row["neuralop ms"] = 1e3 * fwd_bwd_time(conv, x, [conv.weight.tensor], repeat)
    fastest = min(timed_paths(x), key=lambda p: row[f"{p} ms"])
    row["fastest"] = fastest
    row["speedup fastest vs neuralop"] = row["neuralop ms"] / row[f"{fastest} ms"]
    row["speedup auto vs neuralop"] = row["neuralop ms"] / row["auto ms"]
    return row


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser(__doc__, quick="3 repeats instead of 7")
    parser.add_argument("--threads", type=positive_int, default=1, help="torch threads")
    parser.add_argument("--batch", type=positive_int, default=16)
    parser.add_argument("--name", default="spectral_conv", help="results file name (<results dir>/NAME.*)")
    parser.add_argument("--grids", nargs="+", type=int, default=[64, 128],
                        help="points per side (e.g. 65 129 for Darcy node grids, slow for FFTs)")
    args = parser.parse_args(argv)
    if min(args.grids) < 32:  # the 16 modes per axis measured need 2 x 16 points (checked before any timing)
        parser.error(f"--grids {args.grids}: every grid needs at least 32 points per side for the 16 Fourier modes "
                     "per axis measured; use e.g. --grids 32 64.")
    torch.set_num_threads(args.threads)
    repeat = 3 if args.quick else 7
    rows = []
    for channels, n, modes in itertools.product((32, 64), args.grids, (12, 16)):
        rows.append(case(channels, n, modes, args.batch, repeat))
        r = rows[-1]
        print(f"C={channels} {n}^2 m={modes}: " + ", ".join(f"{k[:-3]} {v:.1f} ms" for k, v in r.items()
                                                           if k.endswith(" ms")), flush=True)
    for r in rows:
        for key, value in r.items():
            # neuraloperator's layer keeps other frequencies on odd grids (same count): compared on even ones only
            odd = int(r["grid"].split("^")[0]) % 2 == 1
            if key.endswith(("vs reference (out)", "vs reference (grad x)")) and not (odd and "neuralop" in key):
                assert value < 1e-5, (key, value, r)
    cols = ["channels", "grid", "modes", "reference ms", "fft ms", "dft ms", "neuralop ms", "auto picks",
            "speedup fastest vs neuralop", "speedup auto vs neuralop", "fft vs reference (out)",
            "dft vs reference (out)", "neuralop vs reference (out)"]
    malloc = os.environ.get("MALLOC_MMAP_THRESHOLD_", "glibc default")
    odd_note = (" On odd grids neuraloperator's layer keeps other frequencies than ours (the same number), so its "
                "output differs; the timings compare the same amount of work."
                if any(n % 2 for n in args.grids) else "")
    md = (f"Forward + backward, batch {args.batch}, float32, torch threads = {args.threads}; outputs compared "
          f"with the reference (relative L2). MALLOC_MMAP_THRESHOLD_: {malloc}.{odd_note}\n\n"
          + markdown_table(rows, cols))
    print(md)
    save_results(args.name, {**vars(args), "repeat": repeat, "malloc_mmap_threshold": malloc}, rows, md,
                 args.results_dir)


if __name__ == "__main__":
    main()
