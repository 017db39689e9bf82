"""MgNO's Fourier-weighted relative H1 (``relative_h1(..., method="fourier")``) on analytic fields."""

from __future__ import annotations

import math

import pytest
import torch

from neurops.metrics.field import LOSSES, relative_h1


def _sines(n: int, k: int, dims: int = 1) -> torch.Tensor:
    """``sin(2 pi k x)`` on the periodic grid ``x_j = j / n`` (along the first axis), ``[1, 1, n...]``."""
    x = torch.arange(n, dtype=torch.float64) / n
    wave = torch.sin(2 * math.pi * k * x)
    shape = [n] + [1] * (dims - 1)
    return wave.reshape(shape).expand(*([n] * dims)).reshape(1, 1, *([n] * dims)).clone()


@pytest.mark.parametrize("dims", [1, 2])
def test_fourier_h1_of_single_mode_error(dims):
    # target mode 1, error eps * mode 3: ||e||_H1^2 = eps^2 (1 + (6 pi)^2) ||s||^2 and
    # ||target||_H1^2 = (1 + (2 pi)^2) ||s||^2 (equal discrete L2 norms of the two sines)
    n, eps = 32, 0.1
    target = _sines(n, 1, dims)
    pred = target + eps * _sines(n, 3, dims)
    want = eps * math.sqrt((1 + (6 * math.pi) ** 2) / (1 + (2 * math.pi) ** 2))
    got = relative_h1(pred, target, method="fourier", k_max=None)
    assert got.item() == pytest.approx(want, rel=1e-10)


def test_fourier_h1_cut_off_drops_high_wavenumbers_from_the_seminorm():
    n, eps = 32, 0.1
    target, pred = _sines(n, 1), _sines(n, 1) + eps * _sines(n, 3)
    want = eps * math.sqrt(1 / (1 + (2 * math.pi) ** 2))  # |k| = 3 >= k_max: L2 part only
    assert relative_h1(pred, target, method="fourier", k_max=3).item() == pytest.approx(want, rel=1e-10)


def test_fourier_h1_per_sample_and_loss_name():
    target = torch.cat([_sines(16, 1), _sines(16, 2)])
    pred = target * 1.5  # relative error 0.5 in any norm
    per_sample = relative_h1(pred, target, method="fourier", reduction="none")
    torch.testing.assert_close(per_sample, torch.full((2,), 0.5, dtype=torch.float64))
    assert LOSSES["rel_h1_fourier"](pred, target).item() == pytest.approx(0.5)


def test_fourier_h1_is_differentiable():
    target = _sines(16, 2, dims=2)
    pred = (target + 0.1 * torch.randn_like(target)).requires_grad_()
    relative_h1(pred, target, method="fourier").backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
