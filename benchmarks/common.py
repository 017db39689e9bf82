"""Shared pieces of the operator benchmarks: data preparation and ONE training/evaluation loop.

Every model in a side-by-side comparison is trained by :func:`train_eval` with the same
normalization, optimizer, schedule, loss, batches and seed, so differences come from the
models alone.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neurops.data.generators import get_generator
from neurops.data.normalizers import GaussianNormalizer
from neurops.data.reader import list_splits, read_attrs, read_split
from neurops.metrics.field import get_loss, relative_h1, relative_lp
from neurops.utils.seeding import seed_everything

WORK_DIR = Path(__file__).resolve().parent / "work"


def darcy_argument_parser(description: str | None) -> argparse.ArgumentParser:
    """The options every Darcy operator benchmark shares (data sizes, training, FNO size, seed)."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="200 train / 50 test at 33^2 (65^2 zero-shot), 10 epochs")
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=200)
    ap.add_argument("--resolution", type=int, default=65)
    ap.add_argument("--test-resolution", type=int, default=129)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=20)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--width", type=int, default=32, help="FNO width")
    ap.add_argument("--modes", type=int, default=12, help="FNO modes")
    ap.add_argument("--seed", type=int, default=0)
    return ap


def parse_darcy_args(ap: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, then shrink everything for ``--quick`` (a few minutes on 2 CPU cores)."""
    args = ap.parse_args()
    if args.quick:
        args.n_train, args.n_test, args.resolution, args.test_resolution, args.epochs = 200, 50, 33, 65, 10
        args.modes = min(args.modes, 8)
    return args


@dataclass
class OperatorData:
    """Whole splits of an operator file in memory: ``x``/``y`` tensors ``[N, C, *spatial]``."""

    train: tuple[torch.Tensor, torch.Tensor]
    tests: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    @property
    def resolution(self) -> int:
        return int(self.train[0].shape[-1])


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
    if path.exists() and read_attrs(path)["generator"].get("n_train") == n_train:
        return path
    return spec.generate(config, path, workers=workers, overwrite=True)


def load_operator_data(path: Path, input_field: str = "a", output_field: str = "u") -> OperatorData:
    """Train split and every ``test*`` split (keyed by split name) as tensors."""
    def pair(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        d = read_split(path, split)
        return (torch.from_numpy(d["inputs"][input_field])[:, None].float(),
                torch.from_numpy(d["outputs"][output_field])[:, None].float())

    tests = {s: pair(s) for s in list_splits(path) if s == "test" or s.startswith("test@")}
    return OperatorData(train=pair("train"), tests=tests)


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


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, in_norm: GaussianNormalizer,
             out_norm: GaussianNormalizer, batch_size: int = 32) -> dict[str, float]:
    """Relative L2 and H1 (finite differences) of a model on a whole split, mean over samples."""
    model.eval()
    preds = torch.cat([out_norm.decode(model(in_norm.encode(x[i:i + batch_size])))
                       for i in range(0, len(x), batch_size)])
    return {"rel_l2": relative_lp(preds, y).item(), "rel_h1": relative_h1(preds, y).item()}


def train_eval(model: nn.Module, data: OperatorData, *, epochs: int, batch_size: int = 20, lr: float = 1e-3,
               weight_decay: float = 1e-4, scheduler: str = "step", step_size: int = 100, gamma: float = 0.5,
               loss: str = "rel_l2", seed: int = 0, max_seconds: float | None = None,
               verbose: bool = True, name: str = "") -> dict[str, Any]:
    """Train ``model`` on ``data.train`` and evaluate on every test split.

    Parameters
    ----------
    epochs : number of epochs (the schedule is laid out for this many).
    scheduler : ``step`` (StepLR per epoch, FNO paper) or ``onecycle`` (per step).
    loss : a name in :data:`neurops.metrics.field.LOSSES`, computed on decoded outputs.
    max_seconds : stop after the epoch during which this training wall-clock time is exceeded
        (equal-time comparisons).

    Returns
    -------
    dict with ``epochs_run``, ``seconds_per_epoch`` (median), ``train_seconds``, ``final_train_loss``
    and ``tests: {split: {"rel_l2", "rel_h1"}}``.
    """
    seed_everything(seed)
    x, y = data.train
    in_norm, out_norm = GaussianNormalizer(x.shape[1]).fit([x]), GaussianNormalizer(y.shape[1]).fit([y])
    loss_fn = get_loss(loss)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    if scheduler == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch,
                                                    pct_start=0.1)
    else:
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma)
    gen = torch.Generator().manual_seed(seed)
    epoch_times, train_seconds, running = [], 0.0, float("nan")
    for epoch in range(epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            pred = out_norm.decode(model(in_norm.encode(x[idx])))
            batch_loss = loss_fn(pred, y[idx])
            batch_loss.backward()
            opt.step()
            if scheduler == "onecycle":
                sched.step()
            total += batch_loss.item() * len(idx)
        if scheduler != "onecycle":
            sched.step()
        epoch_times.append(time.perf_counter() - t0)
        train_seconds += epoch_times[-1]
        running = total / len(x)
        if verbose and (epoch % max(1, epochs // 10) == 0 or epoch == epochs - 1):
            print(f"  [{name}] epoch {epoch + 1}/{epochs}: train {loss} {running:.4f} ({epoch_times[-1]:.2f} s)",
                  flush=True)
        if max_seconds is not None and train_seconds >= max_seconds:
            break
    tests = {split: evaluate(model, xs, ys, in_norm, out_norm) for split, (xs, ys) in data.tests.items()}
    return {"epochs_run": len(epoch_times), "seconds_per_epoch": float(np.median(epoch_times)),
            "train_seconds": train_seconds, "final_train_loss": running, "tests": tests}
