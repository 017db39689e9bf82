"""Tests of neurops.solvers.timestepping.fourier: periodic grids, wavenumbers, dealiasing, spectral derivatives."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neurops.errors import ConfigError
from neurops.solvers.timestepping.fourier import (
    dealias_mask,
    periodic_grid,
    spectral_derivative,
    wavenumber_grid,
    wavenumbers,
)


def test_wavenumbers_match_numpy_fft_order():
    k = wavenumbers(8, length=2.0)
    np.testing.assert_allclose(k.numpy(), 2 * np.pi / 2.0 * np.fft.fftfreq(8, d=1 / 8))
    kr = wavenumbers(8, real=True)
    np.testing.assert_allclose(kr.numpy(), 2 * np.pi * np.arange(5))


def test_wavenumber_grid_shapes_follow_rfftn_layout():
    kx, ky, kz = wavenumber_grid((6, 4, 10), lengths=(1.0, 2.0, 3.0))
    assert kx.shape == (6, 1, 1) and ky.shape == (1, 4, 1) and kz.shape == (1, 1, 6)
    assert torch.fft.rfftn(torch.zeros(6, 4, 10)).shape == (kx + ky + kz).shape


def test_wavenumber_grid_rejects_wrong_number_of_lengths():
    with pytest.raises(ConfigError, match="one length per axis"):
        wavenumber_grid((8, 8), lengths=(1.0, 2.0, 3.0))


def test_dealias_mask_keeps_two_thirds():
    mask = dealias_mask((12,))
    # |m| < 4 kept: m = 0, 1, 2, 3 of the rfft half axis 0..6
    assert mask.tolist() == [True, True, True, True, False, False, False]
    mask2 = dealias_mask((12, 12))
    assert mask2.shape == (12, 7)
    assert mask2[4, 0].item() is False and mask2[3, 3].item() is True and mask2[-3, 2].item() is True


def test_dealiased_product_has_no_aliasing_error():
    # cos(5x)^2 = (1 + cos 10x) / 2: on 16 points mode 10 aliases onto mode 6; the 2/3 mask
    # (|m| < 16/3) keeps mode 5 and removes the alias, leaving the resolved part 1/2
    n = 16
    x = periodic_grid(n, 2 * math.pi)
    mask = dealias_mask((n,))
    u = torch.fft.irfft(torch.fft.rfft(torch.cos(5 * x)) * mask, n=n)
    assert torch.allclose(u, torch.cos(5 * x), atol=1e-14)
    raw_hat = torch.fft.rfft(u * u)
    assert raw_hat[6].abs() > 1.0  # the alias
    clean = torch.fft.irfft(raw_hat * mask, n=n)
    assert torch.allclose(clean, torch.full((n,), 0.5, dtype=torch.float64), atol=1e-14)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_spectral_derivative_is_exact_for_trigonometric_fields(ndim):
    n, length = 16, 2.0
    axes = torch.meshgrid(*[periodic_grid(n, length)] * ndim, indexing="ij")
    w = 2 * math.pi / length
    u = torch.sin(w * axes[0]) * torch.cos(2 * w * axes[-1]) if ndim > 1 else torch.sin(3 * w * axes[0])
    u = u.expand(2, *u.shape)  # a batch axis in front
    order = (1,) + (0,) * (ndim - 1)
    du = spectral_derivative(u, order, length)
    if ndim > 1:
        expected = w * torch.cos(w * axes[0]) * torch.cos(2 * w * axes[-1])
        second = spectral_derivative(u, (0,) * (ndim - 1) + (2,), length)
        assert torch.allclose(second, -(2 * w) ** 2 * u, atol=1e-10)
    else:
        expected = 3 * w * torch.cos(3 * w * axes[0])
    assert torch.allclose(du, expected.expand_as(du), atol=1e-10)


def test_spectral_derivative_rejects_negative_order():
    with pytest.raises(ConfigError, match=">= 0"):
        spectral_derivative(torch.zeros(8), (-1,))
