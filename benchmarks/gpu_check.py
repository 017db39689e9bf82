"""The prepared GPU check: CUDA tests, spectral and MG-PCG benchmarks, short bf16-mixed fits; one result.

Runs every part on one device, records each part's numbers or its error (a failing part does
not stop the others) and rewrites the results after every part, so a run stopped by a time
limit still leaves what it measured. Results: ``<out>/gpu_check_<device>.json`` and ``.md``
(``<device>`` from the GPU's name, e.g. ``nvidia_h200``; ``cpu_dry_run`` for a dry run).

Parts
-----
``tests``
    ``pytest --device cuda`` over ``tests/``: exactly the device-parametrised tests (models,
    kernels, solvers, metrics, dynamics, tasks) on the GPU, compiled Triton kernels included.
``spectral``
    Forward + backward of one spectral convolution, batch 16, C_in = C_out = 32/64, grids
    64^2/128^2/256^2, 12/16 modes, float32 and bfloat16: our ``triton`` path against our
    ``fft`` (pruned ``torch.fft``), ``reference`` (``rfftn``/``irfftn``) and ``dft`` paths and
    neuraloperator's ``SpectralConv`` (when installed), interleaved, same weights. cuFFT has no
    bfloat16 transforms, so in the bfloat16 rows the torch.fft-based contenders run on the
    float32 upcast of the input. Targets: ``triton`` fwd+bwd >= 2x the ``fft`` path, and the
    Triton forward moving its bytes (input read + output written + spectrum, weights) at >= 50 %
    of the copy bandwidth measured on the device at the start.
``solvers``
    Darcy MG-PCG to a relative residual of 1e-8 at 512^2 and 1024^2 (setup + solve): on the GPU
    with the Triton stencil kernels, on the GPU with the torch stencil path, on the CPU, and
    pyamg's smoothed-aggregation PCG (when installed); then 64 fields at 256^2 in one batched call
    on the GPU and on the CPU against a loop of pyamg.
``fits``
    A short bf16-mixed ``fit`` through Lightning of FNO, MgNO, LSM (shipped Darcy configs, 85^2
    data), DGNO (shipped piecewise config, 29^2) and a GTF-trained shPLRNN (Lorenz-63 config):
    steps per second (median over the steps after the warm-up) and peak device memory.

Usage (repository root)::

    python -m benchmarks run gpu_check --results-dir $OUT                # on the GPU machine, <= 8 min
    python -m benchmarks run gpu_check --cpu-dry-run --results-dir /tmp/check   # every part, tiny sizes, CPU
    python -m benchmarks run gpu_check --parts spectral solvers          # a subset

The dry run sets ``TRITON_INTERPRET=1`` (Triton's interpreter runs the kernels on CPU tensors);
docs/kernels.md gives the one-line command with the wheels the GPU machine lacks.
"""

from __future__ import annotations

import os
import sys

if "--cpu-dry-run" in sys.argv or "--quick" in sys.argv:
    os.environ.setdefault("TRITON_INTERPRET", "1")  # before anything imports Triton

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402
from collections import deque  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from benchmarks.runner import benchmark_parser  # noqa: E402
from benchmarks.solvers_darcy import coefficients  # noqa: E402
from neurops.configs import resolve_config  # noqa: E402
from neurops.kernels.spectral import spectral_conv  # noqa: E402
from neurops.solvers.linear.cg import pcg  # noqa: E402
from neurops.solvers.linear.diffusion import DiffusionOperator  # noqa: E402
from neurops.solvers.linear.multigrid import Multigrid  # noqa: E402
from neurops.utils.bench import clock, interleaved_times, markdown_table, save_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("tests", "spectral", "solvers", "fits")
RTOL = 1e-8


@dataclass(frozen=True)
class Sizes:
    """Problem sizes of one run (the GPU check, or its CPU dry run)."""

    spectral_batch: int
    spectral_channels: tuple[int, ...]
    spectral_grids: tuple[int, ...]
    spectral_modes: tuple[int, ...]
    spectral_repeat: int
    copy_bytes: int
    mg_nodes: tuple[int, ...]
    mg_batch: int
    mg_batch_nodes: int
    mg_repeat: int
    fit_steps: int
    fit_warmup: int
    darcy_nodes: int
    darcy_samples: int
    dgno_nodes: int
    lorenz_steps: int
    test_selection: tuple[str, ...]
    tests_timeout: int


GPU = Sizes(spectral_batch=16, spectral_channels=(32, 64), spectral_grids=(64, 128, 256), spectral_modes=(12, 16),
            spectral_repeat=15, copy_bytes=1 << 30, mg_nodes=(513, 1025), mg_batch=64, mg_batch_nodes=257, mg_repeat=2,
            fit_steps=40, fit_warmup=10, darcy_nodes=85, darcy_samples=100, dgno_nodes=29, lorenz_steps=20_000,
            test_selection=("tests",), tests_timeout=300)
DRY_RUN = Sizes(spectral_batch=2, spectral_channels=(3,), spectral_grids=(12,), spectral_modes=(3,), spectral_repeat=2,
                copy_bytes=1 << 20, mg_nodes=(33,), mg_batch=3, mg_batch_nodes=17, mg_repeat=1, fit_steps=3,
                fit_warmup=1, darcy_nodes=29, darcy_samples=8, dgno_nodes=9, lorenz_steps=600,
                test_selection=("tests/kernels/test_stencil_triton.py", "-k", "dispatch"), tests_timeout=300)


def _median(values: list[float]) -> float:
    return float(np.median(values))


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm())


# ------------------------------------------------------------------ part 1: the CUDA tests
def run_tests(device: torch.device, sizes: Sizes) -> dict[str, Any]:
    """``pytest --device <device>`` in a subprocess; counts, failures and the output's tail."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--device", device.type,
               f"--junitxml={report}", *sizes.test_selection]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        t0 = clock()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=sizes.tests_timeout)
            output, code = proc.stdout + proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            text = "".join(s.decode(errors="replace") if isinstance(s, bytes) else s for s in (exc.stdout, exc.stderr)
                           if s)
            output, code = f"{text}\nTIMEOUT after {sizes.tests_timeout} s", -1
        seconds = clock() - t0
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        failed: dict[str, str] = {}  # test -> its report (message and the end of the traceback)
        if report.exists():
            for suite in ET.parse(report).getroot().iter("testsuite"):
                for key in counts:
                    counts[key] += int(suite.get(key, 0))
            for case in ET.parse(report).getroot().iter("testcase"):
                bad = case.find("failure")
                bad = case.find("error") if bad is None else bad
                if bad is not None:
                    text = f"{bad.get('message', '')}\n{bad.text or ''}"
                    failed[f"{case.get('classname')}::{case.get('name')}"] = text[:600] + "\n...\n" + text[-1400:]
    return {"command": " ".join(cmd[1:]), "returncode": code, "seconds": seconds, **counts,
            "passed": counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"],
            "failed": failed, "output_tail": output[-3000:]}


# ------------------------------------------------------------------ part 2: spectral convolution
def copy_bandwidth(device: torch.device, nbytes: int) -> float:
    """Bytes per second of a device-to-device copy (bytes read + bytes written), median of 10."""
    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device).normal_()
    dst = torch.empty_like(src)
    times = interleaved_times({"copy": lambda: dst.copy_(src)}, 10, device)["copy"]
    return 2 * src.numel() * src.element_size() / _median(times)


def _neuralop_conv(channels: int, modes: int, device: torch.device):
    """neuraloperator's SpectralConv keeping our ``(modes, modes)`` frequencies, or None if not installed."""
    from benchmarks.spectral_conv import neuralop_conv, our_weight_from

    try:
        conv = neuralop_conv(channels, modes).to(device)
    except ImportError:
        return None, None
    return conv, our_weight_from(conv, modes).to(device)


def spectral_case(device: torch.device, channels: int, n: int, modes: int, dtype: torch.dtype, sizes: Sizes,
                  bandwidth: float) -> dict[str, Any]:
    """One row of the spectral benchmark (times in ms, speed-ups, bandwidth, accuracy)."""
    torch.manual_seed(0)
    m = (modes, modes)
    conv, weight = _neuralop_conv(channels, modes, device)
    if weight is None:
        weight = torch.randn(channels, channels, 2 * modes, modes, 2, device=device) / channels
    weight = weight.detach().requires_grad_(True)
    x32 = torch.randn(sizes.spectral_batch, channels, n, n, device=device)
    x = x32.to(dtype).requires_grad_(True)
    x_up = x32.clone().requires_grad_(True)  # torch.fft paths get float32 (cuFFT has no bfloat16)
    g = torch.randn_like(x32)
    row: dict[str, Any] = {"channels": channels, "grid": f"{n}^2", "modes": modes, "dtype": str(dtype).split(".")[-1]}

    def fwd_bwd(path: str) -> Callable[[], Any]:
        inp = x if path == "triton" else x_up

        def run() -> None:
            y = spectral_conv(inp, weight, m, path=path)
            torch.autograd.grad(y, (inp, weight), g.to(y.dtype))
        return run

    fns = {p: fwd_bwd(p) for p in ("triton", "fft", "reference", "dft")}
    if conv is not None:
        def run_neuralop() -> None:
            y = conv(x_up)
            torch.autograd.grad(y, (x_up, conv.weight.tensor), g)
        fns["neuralop"] = run_neuralop
    def forward_only() -> None:
        with torch.no_grad():
            spectral_conv(x, weight, m, path="triton")
    fns["triton fwd"] = forward_only
    for fn in fns.values():  # warm-up: compilation, cuFFT plans, caches
        fn()
        fn()
    clock(device)  # the warm-up's work finished
    times = interleaved_times(fns, sizes.spectral_repeat, device)
    for name, t in times.items():
        row[f"{name} ms"] = 1e3 * _median(t)
    # accuracy against the float64 reference on the same (rounded) input
    with torch.no_grad():
        ref = spectral_conv(x.detach().double(), weight.detach().double(), m, path="reference")
        row["triton rel err"] = _rel(spectral_conv(x, weight, m, path="triton"), ref)
        if conv is not None and n % 2 == 0:  # the same frequencies on even grids: a check of the weight copy
            row["neuralop rel err"] = _rel(conv(x.detach().float()), ref)
    row["speedup vs fft"] = row["fft ms"] / row["triton ms"]
    row["speedup vs neuralop"] = row["neuralop ms"] / row["triton ms"] if "neuralop ms" in row else None
    kept = 2 * modes * modes
    moved = (2 * x.numel() * x.element_size()  # input read, output written (C_in = C_out)
             + weight.numel() * weight.element_size()
             + 2 * 2 * sizes.spectral_batch * channels * kept * 8)  # spectra written and read (float32 pairs)
    row["triton fwd GB/s"] = moved / (row["triton fwd ms"] / 1e3) / 1e9
    row["triton fwd bandwidth fraction"] = moved / (row["triton fwd ms"] / 1e3) / bandwidth
    return row


def run_spectral(device: torch.device, sizes: Sizes, emit: Callable[[dict[str, Any]], None] = lambda _: None
                 ) -> dict[str, Any]:
    """The spectral rows; ``emit`` gets the rows so far after each one (the isolated part saves them)."""
    bandwidth = copy_bandwidth(device, sizes.copy_bytes)
    rows: list[dict[str, Any]] = []
    for dtype, channels, n, modes in itertools.product((torch.float32, torch.bfloat16), sizes.spectral_channels,
                                                       sizes.spectral_grids, sizes.spectral_modes):
        emit({"copy bandwidth GB/s": bandwidth / 1e9, "rows": rows,
              "running": f"{str(dtype).split('.')[-1]} C={channels} {n}^2 m={modes}"})
        rows.append(spectral_case(device, channels, n, modes, dtype, sizes, bandwidth))
        r = rows[-1]
        print(f"  spectral {r['dtype']} C={channels} {n}^2 m={modes}: triton {r['triton ms']:.3f} ms, fft "
              f"{r['fft ms']:.3f} ms ({r['speedup vs fft']:.2f}x), fwd {r['triton fwd GB/s']:.0f} GB/s", flush=True)
    tolerance = {"float32": 1e-5, "bfloat16": 2e-2}
    return {"copy bandwidth GB/s": bandwidth / 1e9, "rows": rows,
            "targets": {"triton fwd+bwd >= 2x fft path (all rows)": all(r["speedup vs fft"] >= 2 for r in rows),
                        "triton forward >= 50% of copy bandwidth (best row)":
                            max(r["triton fwd bandwidth fraction"] for r in rows) >= 0.5,
                        "triton accurate (all rows)": all(r["triton rel err"] < tolerance[r["dtype"]] for r in rows)},
            "speedup vs fft (min, median, max)": _spread([r["speedup vs fft"] for r in rows]),
            "bandwidth fraction (min, median, max)": _spread([r["triton fwd bandwidth fraction"] for r in rows])}


def _spread(values: list[float]) -> list[float]:
    return [float(np.min(values)), float(np.median(values)), float(np.max(values))]


# ------------------------------------------------------------------ part 3: MG-PCG
def mg_pcg(a: torch.Tensor, cycle_dtype: torch.dtype | None = None):
    """Darcy ``-div(a grad u) = 1`` by MG-PCG on ``a``'s device (setup included)."""
    op = DiffusionOperator.from_coefficient(a)
    b = torch.ones(a.shape[0], *op.shape, dtype=a.dtype, device=a.device)
    return pcg(op, b, preconditioner=Multigrid(op, dtype=cycle_dtype), rtol=RTOL)


def _with_stencil_path(path: str, fn: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        old = os.environ.get("NEUROPS_STENCIL_PATH")
        os.environ["NEUROPS_STENCIL_PATH"] = path
        try:
            return fn()
        finally:
            if old is None:
                os.environ.pop("NEUROPS_STENCIL_PATH")
            else:
                os.environ["NEUROPS_STENCIL_PATH"] = old
    return run


def _pyamg_loop(a: torch.Tensor) -> Callable[[], list[np.ndarray]] | None:
    try:
        import pyamg
    except ImportError:
        return None
    from neurops.solvers.linear.adapters import to_scipy

    mats = to_scipy(DiffusionOperator.from_coefficient(a))
    b = np.ones(mats[0].shape[0])

    def run() -> list[np.ndarray]:
        return [pyamg.smoothed_aggregation_solver(m, symmetry="symmetric").solve(b, tol=RTOL, accel="cg", maxiter=500)
                for m in mats]
    return run


def solver_contenders(a_cpu: torch.Tensor, device: torch.device, kernels: bool) -> dict[str, Callable[[], Any]]:
    """Name -> solve of ``a_cpu`` (on ``device`` and the CPU); ``kernels``: include the Triton stencil path."""
    a_dev = a_cpu.to(device)
    fns: dict[str, Callable[[], Any]] = {}
    if device.type == "cuda":
        fns["mg-pcg cuda triton"] = _with_stencil_path("triton", lambda: mg_pcg(a_dev))
        fns["mg-pcg cuda torch"] = _with_stencil_path("torch", lambda: mg_pcg(a_dev))
        fns["mg-pcg cuda triton f32 cycle"] = _with_stencil_path("triton", lambda: mg_pcg(a_dev, torch.float32))
    elif kernels:  # dry run: the kernel path through the interpreter (slow: the single field only)
        fns["mg-pcg cpu triton (interpreter)"] = _with_stencil_path("triton", lambda: mg_pcg(a_dev))
    fns["mg-pcg cpu"] = _with_stencil_path("torch", lambda: mg_pcg(a_cpu))
    amg = _pyamg_loop(a_cpu)
    if amg is not None:
        fns["pyamg"] = amg
    return fns


def solver_row(label: str, a_cpu: torch.Tensor, device: torch.device, repeat: int,
               kernels: bool = True) -> dict[str, Any]:
    """Timings (median of ``repeat`` interleaved rounds), iterations and residuals of every contender."""
    outputs: dict[str, Any] = {}

    def keeping(name: str, fn: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            outputs[name] = fn()
        return run

    fns = {name: keeping(name, fn) for name, fn in solver_contenders(a_cpu, device, kernels).items()}
    for name, fn in fns.items():
        if "cuda" in name or "triton" in name:  # warm-up: kernel compilation, allocator, cuSPARSE handles
            fn()
    times = interleaved_times(fns, repeat, device)
    row: dict[str, Any] = {"problem": label}
    for name, t in times.items():
        row[f"{name} s"] = _median(t)
    for name, out in outputs.items():  # the last run of each contender
        if name == "pyamg":
            from neurops.solvers.linear.adapters import to_scipy

            mats = to_scipy(DiffusionOperator.from_coefficient(a_cpu))
            b = np.ones(mats[0].shape[0])
            row["pyamg res"] = max(float(np.linalg.norm(b - m @ x) / np.linalg.norm(b)) for m, x in zip(mats, out))
        else:
            row[f"{name} its"] = out.max_iterations
            row[f"{name} res"] = float(out.residual.max())
    fastest_gpu = min((row[f"{n} s"] for n in fns if "cuda" in n), default=None)
    if fastest_gpu is not None:
        row["speedup cuda vs cpu"] = row["mg-pcg cpu s"] / fastest_gpu
        row["speedup triton vs torch stencils"] = row["mg-pcg cuda torch s"] / row["mg-pcg cuda triton s"]
        if "pyamg s" in row:
            row["speedup cuda vs pyamg"] = row["pyamg s"] / fastest_gpu
    return row


def run_solvers(device: torch.device, sizes: Sizes) -> dict[str, Any]:
    rows = []
    for i, nodes in enumerate(sizes.mg_nodes):
        a = torch.as_tensor(coefficients(nodes, 1, seed=0), device="cpu")
        rows.append(solver_row(f"{nodes - 1}^2", a, device, sizes.mg_repeat, kernels=device.type == "cuda" or i == 0))
        print(f"  solvers {rows[-1]}", flush=True)
    a = torch.as_tensor(coefficients(sizes.mg_batch_nodes, sizes.mg_batch, seed=1), device="cpu")
    rows.append(solver_row(f"{sizes.mg_batch} x {sizes.mg_batch_nodes - 1}^2 batched", a, device, 1,
                           kernels=device.type == "cuda"))
    print(f"  solvers {rows[-1]}", flush=True)
    residuals_ok = all(v <= RTOL * 1.01 for r in rows for k, v in r.items() if k.endswith(" res"))
    return {"rtol": RTOL, "rows": rows, "all residuals <= rtol": residuals_ok}


# ------------------------------------------------------------------ part 4: short bf16-mixed fits
class StepTimer:
    """Lightning callback: seconds of every training step (device synchronised) and the devices of the
    parameters during the steps."""

    def __init__(self, device: torch.device) -> None:
        import lightning as L

        class _Timer(L.Callback):
            def __init__(inner) -> None:
                inner.times: list[float] = []
                inner.t0 = 0.0
                inner.devices: set[str] = set()

            def on_train_batch_start(inner, *args: Any) -> None:
                inner.t0 = clock(device)

            def on_train_batch_end(inner, trainer: Any, module: Any, *args: Any) -> None:
                inner.times.append(clock(device) - inner.t0)
                # read during training: Lightning moves the model back to the CPU when the fit ends
                inner.devices.update(p.device.type for p in module.parameters())

        self.callback = _Timer()


def _config(name: str) -> dict[str, Any]:
    return yaml.safe_load(resolve_config(name).read_text())


def fit_setups(work: Path, sizes: Sizes) -> dict[str, Callable[[], tuple[Any, Any]]]:
    """Model name -> ``() -> (task, datamodule)``: the shipped configs as ``neurops fit`` builds them, on data
    written to ``work``."""
    from neurops.cli.lightning import instantiate
    from neurops.data.generators import get_generator
    from neurops.data.generators.darcy import DarcyConfig, generate_darcy

    workers = max(1, min(8, (os.cpu_count() or 2) - 1))
    darcy = generate_darcy(DarcyConfig(n_train=sizes.darcy_samples, n_val=4, n_test=0, resolution=sizes.darcy_nodes),
                           work / "darcy.h5", workers=workers, progress=False)
    dgno_data = dict(resolution=sizes.dgno_nodes, coefficient="piecewise", a_high=10.0, a_low=5.0, forcing=10.0)
    coef = generate_darcy(DarcyConfig(n_train=sizes.darcy_samples, n_val=0, n_test=0, unlabelled=True, **dgno_data),
                          work / "dgno_coef.h5", workers=workers, progress=False)
    labelled = generate_darcy(DarcyConfig(n_train=1, n_val=4, n_test=0, **dgno_data), work / "dgno_lab.h5",
                              workers=workers, progress=False)
    spec = get_generator("lorenz63")
    l63 = spec.fn(spec.make_config(n_train=1, n_val=1, n_test=0, n_steps=sizes.lorenz_steps, standardize=True),
                  work / "l63.h5", progress=False)

    def operator(config: str) -> Callable[[], tuple[Any, Any]]:
        return lambda: instantiate(config, "--data.init_args.path", str(darcy), "--data.init_args.num_workers", "0")

    def dgno() -> tuple[Any, Any]:
        kwargs = {**_config("dgno_darcy_piecewise")["model"]["init_args"]["model_kwargs"],
                  "resolution": [sizes.dgno_nodes] * 2}
        return instantiate("dgno_darcy_piecewise", "--model.init_args.model_kwargs", json.dumps(kwargs),
                           "--data.init_args.train_path", str(coef), "--data.init_args.eval_path", str(labelled))

    def gtf_shplrnn() -> tuple[Any, Any]:
        return instantiate("dsr_lorenz63", "--data.init_args.path", str(l63), "--data.init_args.val_length", "null")

    return {"fno": operator("darcy_fno"), "mgno": operator("darcy_mgno"), "lsm": operator("darcy_lsm"),
            "dgno": dgno, "gtf_shplrnn": gtf_shplrnn}


def fit_row(name: str, make: Callable[[], tuple[Any, Any]], device: torch.device, sizes: Sizes) -> dict[str, Any]:
    import lightning as L

    L.seed_everything(0, verbose=False)
    task, dm = make()
    timer = StepTimer(device)
    trainer = L.Trainer(accelerator="gpu" if device.type == "cuda" else "cpu", devices=1, precision="bf16-mixed",
                        max_steps=sizes.fit_steps, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        limit_val_batches=0, callbacks=[timer.callback])
    if device.type == "cuda":
        torch.empty(1, device=device)  # the allocator exists (a fresh process: reset_peak_memory_stats fails before)
        torch.cuda.reset_peak_memory_stats(device)
    t0 = clock(device)
    trainer.fit(task, dm)
    steps = timer.callback.times[sizes.fit_warmup:] or timer.callback.times
    params = sum(p.numel() for p in task.parameters())
    losses = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("train/")}
    return {"model": name, "params": params, "steps": len(timer.callback.times),
            "steps/s": 1.0 / _median(steps), "fit s": clock(device) - t0,
            "peak memory MiB": torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None,
            "finite losses": bool(losses) and all(math.isfinite(v) for v in losses.values()),
            "parameters on device": timer.callback.devices == {device.type}}


def run_fits(device: torch.device, sizes: Sizes, models: list[str] | None = None) -> dict[str, Any]:
    logging.getLogger("lightning").setLevel(logging.ERROR)
    rows, errors = [], {}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        setups = fit_setups(Path(tmp), sizes)
        for name, make in setups.items():
            if models is not None and name not in models:
                continue
            try:
                rows.append(fit_row(name, make, device, sizes))
                print(f"  fit {rows[-1]}", flush=True)
            except Exception as exc:  # noqa: BLE001 - recorded, the other models still run
                errors[name] = _error(exc)
                print(f"  fit {name} FAILED: {errors[name]['error']}", flush=True)
    return {"precision": "bf16-mixed", "rows": rows, "errors": errors}


# ------------------------------------------------------------------ spectral launch-config probe
def _one_config(tuned: Any, raw: Any, index: int) -> Any:
    """A copy of the autotuned launcher ``tuned`` of kernel ``raw`` that runs its config ``index`` only."""
    from neurops.kernels.spectral_triton import _KEY, _Tuned

    return _Tuned(raw, [tuned.configs[index]], _KEY)


def probe_items(device: torch.device, sizes: Sizes) -> dict[str, Callable[[], float]]:
    """Name -> check (relative error against torch.fft in float64) of each launch config of the Triton DFT
    kernels alone, then of the autotuned spectral convolution, at the first spectral row's sizes."""
    import neurops.kernels.spectral_triton as st
    from neurops.kernels.spectral_fft import padded_irfftn, truncated_rfftn

    channels, n, m = sizes.spectral_channels[0], sizes.spectral_grids[0], sizes.spectral_modes[0]
    planes = sizes.spectral_batch * channels

    def dft(dtype: torch.dtype, index: int) -> Callable[[], float]:
        def run() -> float:
            x = torch.randn(planes, n, n, device=device).to(dtype)
            old, st._dft = st._dft, _one_config(st._dft, st.truncated_dft_kernel, index)
            try:
                z = st.truncated_dft(x, (m, m))
            finally:
                st._dft = old
            return _rel(z, torch.view_as_real(truncated_rfftn(x.double(), (m, m))))
        return run

    def idft(dtype: torch.dtype, index: int) -> Callable[[], float]:
        def run() -> float:
            z = torch.randn(planes, 2 * m, m, 2, device=device)
            old, st._idft = st._idft, _one_config(st._idft, st.truncated_idft_kernel, index)
            try:
                y = st.truncated_idft(z, (n, n), dtype)
            finally:
                st._idft = old
            return _rel(y, padded_irfftn(torch.view_as_complex(z.double()), (n, n)))
        return run

    def conv(dtype: torch.dtype) -> Callable[[], float]:
        def run() -> float:
            x = torch.randn(sizes.spectral_batch, channels, n, n, device=device).to(dtype).requires_grad_(True)
            w = (torch.randn(channels, channels, 2 * m, m, 2, device=x.device) / channels).requires_grad_(True)
            y = spectral_conv(x, w, (m, m), path="triton")
            torch.autograd.grad(y, (x, w), torch.randn_like(y))
            return _rel(y, spectral_conv(x.detach().double(), w.detach().double(), (m, m), path="reference"))
        return run

    items: dict[str, Callable[[], float]] = {}
    for dtype in (torch.float32, torch.bfloat16):
        name = str(dtype).split(".")[-1]
        for kind, tuned, make in (("dft", st._dft, dft), ("idft", st._idft, idft)):
            for i, cfg in enumerate(tuned.configs):
                items[f"{kind} config {i} ({cfg.kwargs}, {cfg.num_warps} warps, {cfg.num_stages} stages) "
                      f"{name}"] = make(dtype, i)
        items[f"spectral_conv fwd+bwd autotuned {name}"] = conv(dtype)
    return items


def run_probe_items(device: torch.device, sizes: Sizes, skip: set[str],
                    emit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Runs the probe items not in ``skip`` one by one, emitting before each which one runs: a launch
    that kills the process (an illegal memory access) is then named by the last emit."""
    done: dict[str, Any] = {}
    for name, check in probe_items(device, sizes).items():
        if name in skip:
            continue
        emit({"probes": done, "running": name})
        torch.manual_seed(0)
        try:
            done[name] = {"rel err": check()}
            clock(device)
        except Exception as exc:  # noqa: BLE001 - a CUDA error poisons the process: the parent restarts it
            done[name] = _error(exc)
            if "CUDA" in str(exc) or "cuda" in type(exc).__name__.lower():
                emit({"probes": done, "running": None, "fatal": name})
                os._exit(3)
        print(f"  probe {name}: {done[name].get('rel err', done[name].get('error'))}", flush=True)
    emit({"probes": done, "running": None})
    return {"probes": done}


def run_probe(dry_run: bool) -> dict[str, Any]:
    """The probe in child processes with ``CUDA_LAUNCH_BLOCKING=1`` (errors at the faulty launch); each
    launch that kills its process is recorded and the probe goes on in a new process."""
    probes: dict[str, Any] = {}
    for _ in range(12):
        res = run_isolated("probe", dry_run, ["--probe-skip", json.dumps(sorted(probes))],
                           {"CUDA_LAUNCH_BLOCKING": "1"})
        probes.update(res.get("probes", {}))
        culprit = res.get("fatal") or res.get("running")
        if "error" not in res or not culprit:
            break
        probes[culprit] = probes.get(culprit) or {"error": f"killed its process: {res['error']}",
                                                  "output_tail": res.get("output_tail", "")}
    return {"probes": probes}


# ------------------------------------------------------------------ isolated parts
def run_isolated(part: str, dry_run: bool, extra: list[str] | None = None,
                 env: dict[str, str] | None = None) -> dict[str, Any]:
    """``part`` in a child process (a CUDA fault in one part cannot poison the next), its output shown as it
    comes; the part's result, or what it saved before it died plus the error and the output's tail."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "part.json"
        cmd = [sys.executable, "-m", "benchmarks.gpu_check", "--child-part", part, "--child-out", str(out),
               *(["--cpu-dry-run"] if dry_run else []), *(extra or [])]
        child_env = {**os.environ, **(env or {}),
                     "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        tail: deque[str] = deque(maxlen=60)
        with subprocess.Popen(cmd, cwd=ROOT, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("  "):  # the part's progress lines
                    print(line, end="", flush=True)
                tail.append(line)
        saved = json.loads(out.read_text()) if out.exists() else {}
        if proc.returncode == 0 and "error" not in saved:
            return saved
        return {**saved, "error": saved.get("error") or f"its process ended with exit code {proc.returncode}",
                "output_tail": "".join(tail)[-4000:]}


def _child(part: str, out: Path, device: torch.device, sizes: Sizes, probe_skip: set[str]) -> None:
    """One part in this (child) process: the result, or the progress so far, written to ``out``."""
    def emit(res: dict[str, Any]) -> None:
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(res, default=str))
        tmp.replace(out)

    if part == "probe":
        emit(run_probe_items(device, sizes, probe_skip, emit))
    elif part == "spectral":
        emit(run_spectral(device, sizes, emit))
    else:
        emit({"tests": run_tests, "solvers": run_solvers, "fits": run_fits}[part](device, sizes))


# ------------------------------------------------------------------ driver
def _error(exc: BaseException) -> dict[str, str]:
    return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-4000:]}


def device_slug(device: torch.device, dry_run: bool) -> str:
    if dry_run:
        return "cpu_dry_run"
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


SPECTRAL_COLUMNS = ["dtype", "channels", "grid", "modes", "triton ms", "fft ms", "reference ms", "dft ms",
                    "neuralop ms", "speedup vs fft", "speedup vs neuralop", "triton fwd ms", "triton fwd GB/s",
                    "triton fwd bandwidth fraction", "triton rel err", "neuralop rel err"]


def _spectral_markdown(res: dict[str, Any]) -> list[str]:
    out = []
    if "error" in res:
        out.append(f"FAILED{' at ' + res['running'] if res.get('running') else ''}: {res['error']}\n")
    else:
        out.append(f"Copy bandwidth {res['copy bandwidth GB/s']:.0f} GB/s. Targets: "
                   + "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in res["targets"].items()) + "\n")
    if res.get("rows"):
        out.append(markdown_table(res["rows"], SPECTRAL_COLUMNS))
    if "probe" in res:
        out.append("\nEach launch config alone (`CUDA_LAUNCH_BLOCKING=1`), first row's sizes, against torch.fft in "
                   "float64:\n")
        out.append(markdown_table([{"probe": k, "rel err": v.get("rel err"), "error": v.get("error", "")[:200]}
                                   for k, v in res["probe"]["probes"].items()], ["probe", "rel err", "error"]))
    if "untuned" in res:
        out.append("\nAgain with the first launch config only (no autotuning):\n")
        out.extend(_spectral_markdown(res["untuned"]))
    return out


def markdown(results: dict[str, Any]) -> str:
    out = [f"Device: {results['device']}; parts: {', '.join(results['parts'])}; total {results['seconds']:.0f} s."]
    for part in results["parts"]:
        res = results.get(part)
        out.append(f"\n## {part}\n")
        if part == "spectral" and res is not None:
            out.extend(_spectral_markdown(res))
        elif res is None or "error" in res:
            out.append(f"FAILED: {res['error'] if res else 'not run'}")
        elif part == "tests":
            out.append(f"`{res['command']}`: {res['passed']} passed, {res['failures']} failed, {res['errors']} errors, "
                       f"{res['skipped']} skipped in {res['seconds']:.0f} s.")
            for test, report in res["failed"].items():
                out.append(f"\nFailed: `{test}`: {report.strip().splitlines()[0][:300] if report.strip() else ''}")
        elif part == "solvers":
            out.append(f"Relative residual <= {res['rtol']:g}, setup + solve, float64: "
                       f"{'all met' if res['all residuals <= rtol'] else 'NOT all met'}.\n")
            cols = sorted({k for r in res["rows"] for k in r if k.endswith(" s") or k.startswith("speedup")})
            out.append(markdown_table(res["rows"], ["problem", *cols]))
        elif part == "fits":
            out.append(markdown_table(res["rows"], ["model", "params", "steps", "steps/s", "peak memory MiB",
                                                    "finite losses", "parameters on device"]))
            for name, err in res["errors"].items():
                out.append(f"\n{name} FAILED: {err['error']}")
    return "\n".join(out)


def run_part(part: str, device: torch.device, sizes: Sizes, dry_run: bool) -> dict[str, Any]:
    """``tests`` (a pytest process of its own) here, every other part in a child process; a spectral part that
    fails is followed by the launch-config probe and a run with the first config only."""
    if part == "tests":
        return run_tests(device, sizes)
    res = run_isolated(part, dry_run)
    if part == "spectral" and "error" in res:
        print("[gpu_check] spectral failed: probing each launch config alone ...", flush=True)
        res["probe"] = run_probe(dry_run)
        print("[gpu_check] spectral again with the first launch config only ...", flush=True)
        res["untuned"] = run_isolated("spectral", dry_run, ["--untuned"])
    return res


def main(argv: list[str] | None = None) -> Path:
    parser = benchmark_parser(__doc__, quick="the same as --cpu-dry-run")
    parser.add_argument("--cpu-dry-run", action="store_true", help="every part at tiny sizes on the CPU")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    # the child process of one part (run_isolated)
    parser.add_argument("--child-part", choices=[*PARTS, "probe"], help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--probe-skip", default="[]", help=argparse.SUPPRESS)
    parser.add_argument("--untuned", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.cpu_dry_run = args.cpu_dry_run or args.quick
    if args.cpu_dry_run:
        device, sizes = torch.device("cpu"), DRY_RUN
    elif torch.cuda.is_available():
        device, sizes = torch.device("cuda", 0), GPU
    else:
        parser.error("torch sees no CUDA device; run on a GPU machine or pass --cpu-dry-run.")
    if args.child_part:
        if args.child_out is None:
            parser.error("--child-part needs --child-out")
        if args.untuned:
            import neurops.kernels.spectral_triton as st

            st.TUNE_MIN_POINTS = 1 << 62  # every field takes the first launch config
        _child(args.child_part, args.child_out, device, sizes, set(json.loads(args.probe_skip)))
        return args.child_out
    settings = {k: v for k, v in vars(args).items() if k not in ("child_part", "child_out", "probe_skip", "untuned")}
    name = f"gpu_check_{device_slug(device, args.cpu_dry_run)}"
    settings.update(device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                    sizes=asdict(sizes))
    results: dict[str, Any] = {"device": settings["device"], "parts": args.parts}
    t_start = clock(device)
    path = None
    for part in args.parts:
        print(f"[gpu_check] {part} ...", flush=True)
        t0 = clock(device)
        try:
            results[part] = run_part(part, device, sizes, args.cpu_dry_run)
        except Exception as exc:  # noqa: BLE001 - recorded; the next parts still run
            results[part] = _error(exc)
            print(f"[gpu_check] {part} FAILED: {results[part]['error']}", flush=True)
        results[part]["part seconds"] = clock(device) - t0
        results["seconds"] = clock(device) - t_start
        rows = [{"part": p, "ok": "error" not in results[p], "seconds": results[p]["part seconds"]}
                for p in args.parts if p in results]
        path = save_results(name, settings, rows, markdown(results), args.results_dir,
                            details={p: results[p] for p in args.parts if p in results})
    print(markdown(results))
    return path


if __name__ == "__main__":
    main()
