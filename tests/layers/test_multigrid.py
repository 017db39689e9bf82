"""Tests for neurops.layers.multigrid (the MgNO V-cycle linear operator)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neurops.layers.multigrid import (
    MultigridConv,
    default_smoothing,
    parse_smoothing,
)


def _seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_parse_smoothing_forms():
    assert parse_smoothing([1, 1, 2]) == ((1, 0), (1, 0), (2, 0))
    assert parse_smoothing([(1, 1), [2, 0]]) == ((1, 1), (2, 0))
    assert default_smoothing(6) == ((1, 0),) * 5 + ((2, 0),)
    assert default_smoothing(1) == ((2, 0),)


@pytest.mark.parametrize(
    ("schedule", "exc", "match"),
    [
        ([], ValueError, "empty"),
        ("111", TypeError, "one entry per level"),
        ([0, 1], ValueError, "at least one pre-smoothing"),
        ([1, (1, 1)], ValueError, "coarsest level cannot post-smooth"),
        ([1, -1], ValueError, ">= 0"),
        ([1, (1, 2, 3)], ValueError, "neither an int"),
    ],
)
def test_parse_smoothing_errors(schedule, exc, match):
    with pytest.raises(exc, match=match):
        parse_smoothing(schedule)


def test_default_smoothing_rejects_zero_levels():
    with pytest.raises(ValueError, match="levels"):
        default_smoothing(0)


def _expected_params(cf: int, cu: int, schedule, ndim: int) -> int:
    k3, k4 = 3**ndim, 4**ndim
    steps = sum(pre + post for pre, post in schedule)
    n_transfer = len(schedule) - 1
    smoothing = (2 * steps - 1) * cf * cu * k3  # the first step has S only
    return smoothing + n_transfer * (cu * cu * k3 + cf * cf * k3 + cu * cu * k4)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_parameter_count(ndim):
    schedule = [(1, 1), (2, 1), 2]
    layer = MultigridConv(2, 5, schedule, ndim=ndim)
    n = sum(p.numel() for p in layer.parameters())
    assert n == _expected_params(2, 5, parse_smoothing(schedule), ndim)


@pytest.mark.parametrize(
    ("ndim", "shape"),
    [(1, (37,)), (2, (29, 20)), (3, (9, 6, 7))],
)
@pytest.mark.parametrize("boundary", ["dirichlet", "periodic", "neumann"])
def test_shapes_and_gradients_reach_every_parameter(ndim, shape, boundary):
    torch.manual_seed(0)
    layer = MultigridConv(2, 3, [(1, 1), (1, 1), 2], boundary=boundary, ndim=ndim)
    f = torch.randn(2, 2, *shape, requires_grad=True)
    u = layer(f)
    assert u.shape == (2, 3, *shape)
    u.square().sum().backward()
    assert f.grad is not None and f.grad.abs().sum() > 0
    for name, p in layer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("n", [29, 61, 85, 100, 211])
def test_any_grid_size_with_six_levels(n):
    layer = MultigridConv(1, 2, [1, 1, 1, 1, 1, 2], ndim=1)
    assert layer(torch.randn(3, 1, n)).shape == (3, 2, n)


def test_non_power_of_two_2d_grids():
    layer = MultigridConv(1, 2, [1, 1, 1, 1, 1, 2], ndim=2)
    for shape in [(29, 29), (61, 85), (100, 33)]:
        assert layer(torch.randn(1, 1, *shape)).shape == (1, 2, *shape)


def test_is_linear():
    g = _seeded(3)
    layer = MultigridConv(2, 3, [(1, 1), 1, 2], ndim=2).double()
    f1 = torch.randn(2, 2, 13, 16, generator=g, dtype=torch.float64)
    f2 = torch.randn(2, 2, 13, 16, generator=g, dtype=torch.float64)
    torch.testing.assert_close(layer(2.0 * f1 - 3.0 * f2), 2.0 * layer(f1) - 3.0 * layer(f2))


class _ReferenceTwoLevel(nn.Module):
    """Two-level V-cycle built from torch.nn modules as the official code does (zeros)."""

    def __init__(self, mg: MultigridConv) -> None:
        super().__init__()
        self.mg = mg

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        mg = self.mg
        S0, A1, S1 = mg.pre_S[0], mg.pre_A[0], mg.pre_S[1]
        u = F.conv2d(f, S0, padding=1)
        fc = F.conv2d(f, mg.restrict_f[0], stride=2, padding=1)
        uc = F.conv2d(u, mg.restrict_u[0], stride=2, padding=1)
        uc = uc + F.conv2d(fc - F.conv2d(uc, A1, padding=1), S1, padding=1)
        up = nn.functional.conv_transpose2d(uc, mg.prolong[0], stride=2, padding=1)
        return u + up[..., : f.shape[-2], : f.shape[-1]]


@pytest.mark.parametrize("shape", [(16, 16), (15, 13)])
def test_matches_hand_written_two_level_cycle(shape):
    torch.manual_seed(1)
    mg = MultigridConv(2, 3, [1, 1], ndim=2).double()
    f = torch.randn(2, 2, *shape, dtype=torch.float64)
    torch.testing.assert_close(mg(f), _ReferenceTwoLevel(mg)(f))


def test_periodic_prolongation_matches_tiled_transposed_conv():
    """On a periodic grid the prolongation equals a transposed conv on a tiled copy."""
    torch.manual_seed(2)
    mg = MultigridConv(1, 2, [1, 1], boundary="periodic", ndim=2).double()
    uc = torch.randn(1, 2, 5, 6, dtype=torch.float64)
    got = mg._prolongate(uc, mg.prolong[0], torch.zeros(1, 2, 10, 12, dtype=torch.float64))
    tiled = uc.repeat(1, 1, 3, 3)
    full = F.conv_transpose2d(tiled, mg.prolong[0], stride=2, padding=1)
    torch.testing.assert_close(got, full[..., 10:20, 12:24])


def test_periodic_cycle_commutes_with_coarse_grid_shifts():
    torch.manual_seed(4)
    layer = MultigridConv(1, 2, [1, 1, 1, 2], boundary="periodic", ndim=2).double()
    f = torch.randn(2, 1, 16, 24, dtype=torch.float64)
    for shift in [(8, 0), (0, 16), (8, -8)]:
        rolled = layer(torch.roll(f, shifts=shift, dims=(2, 3)))
        torch.testing.assert_close(rolled, torch.roll(layer(f), shifts=shift, dims=(2, 3)))


def test_channels_last_input_gives_same_result():
    torch.manual_seed(5)
    layer = MultigridConv(3, 4, [1, 1, 2], boundary=("periodic", "neumann"), ndim=2)
    f = torch.randn(2, 3, 12, 11)
    ref = layer(f)
    out = layer(f.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="ndim"):
        MultigridConv(1, 1, ndim=4)
    with pytest.raises(ValueError, match="positive"):
        MultigridConv(0, 1)
    layer = MultigridConv(2, 3, [1, 2], ndim=2)
    with pytest.raises(ValueError, match=r"expects \[B, 2"):
        layer(torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"expects \[B, 2"):
        layer(torch.randn(1, 2, 8))
    assert layer.levels == 2 and "schedule" in repr(layer)
