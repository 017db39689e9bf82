"""Shared pieces of the operator benchmarks: command-line options, data files, parameter counts.

The models of a side-by-side comparison train through the path users run (``OperatorTask`` +
data module + Lightning ``Trainer``, :func:`benchmarks.lightning_runs.fit_and_test`) with the
same normalization, optimizer, schedule, loss, batches and seed, so differences come from the
models alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from torch import nn

from benchmarks.runner import benchmark_parser, positive_int
from neurops.data.generators import get_generator
from neurops.data.reader import read_meta

WORK_DIR = Path(__file__).resolve().parent / "work"


def darcy_argument_parser(description: str | None) -> argparse.ArgumentParser:
    """The options every Darcy operator benchmark shares (data sizes, training, FNO size, seed)."""
    ap = benchmark_parser(description, quick="200 train / 50 test at 33^2 (65^2 zero-shot), 10 epochs")
    ap.add_argument("--n-train", type=positive_int, default=1000)
    ap.add_argument("--n-test", type=positive_int, default=200)
    ap.add_argument("--resolution", type=positive_int, default=65)
    ap.add_argument("--test-resolution", type=positive_int, default=129)
    ap.add_argument("--epochs", type=positive_int, default=30)
    ap.add_argument("--batch-size", type=positive_int, default=20)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--width", type=positive_int, default=32, help="FNO width")
    ap.add_argument("--modes", type=positive_int, default=12, help="FNO modes")
    ap.add_argument("--seed", type=int, default=0)
    return ap


def parse_darcy_args(ap: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``argv`` (default: the command line), then shrink everything for ``--quick`` (minutes on 2 cores)."""
    args = ap.parse_args(argv)
    if args.quick:
        args.n_train, args.n_test, args.resolution, args.test_resolution, args.epochs = 200, 50, 33, 65, 10
        args.modes = min(args.modes, 8)
    return args


def darcy_file(n_train: int, n_test: int, resolution: int, test_resolutions: tuple[int, ...] = (),
               coefficient: str = "piecewise", seed: int = 0, workers: int = 2, **options: Any) -> Path:
    """Generate (or reuse from ``benchmarks/work``) a Darcy file with these settings."""
    spec = get_generator("darcy")
    config = spec.make_config(n_train=n_train, n_test=n_test, resolution=resolution,
                              test_resolutions=tuple(test_resolutions), coefficient=coefficient, seed=seed, **options)
    tag = "_".join(f"{k}{v}" for k, v in sorted(options.items()))
    name = (f"darcy_{coefficient}_r{resolution}_t{'-'.join(map(str, test_resolutions)) or 'none'}"
            f"_n{n_train}_{n_test}_s{seed}{'_' + tag if tag else ''}.h5")
    path = WORK_DIR / name
    if path.exists() and read_meta(path).generator.get("n_train") == n_train:
        return path
    return spec.generate(config, path, workers=workers, overwrite=True)


def n_parameters(model: nn.Module) -> int:
    """Trainable parameters (complex parameters count twice: real and imaginary part)."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters() if p.requires_grad)


class Bf16Autocast(nn.Module):
    """``model`` with its forward pass under bf16 autocast, as Lightning's ``bf16-mixed`` precision runs it.

    Parameters, gradients and optimizer state stay float32; convolutions and matrix
    products run in bfloat16 (float32 accumulation); the output is cast back to float32.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            return self.model(x).float()
