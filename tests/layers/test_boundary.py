"""Tests for neurops.layers.boundary (ghost cells per boundary condition)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neurops.layers.boundary import (
    BoundaryPad,
    pad_boundary,
    pad_for_conv,
    resolve_boundary,
)

NP_MODE = {"dirichlet": "constant", "periodic": "wrap", "neumann": "reflect"}


def _np_pad(x: np.ndarray, modes, width: int) -> np.ndarray:
    """Reference: numpy pads one spatial axis at a time."""
    for i, mode in enumerate(modes):
        pad = [(0, 0)] * x.ndim
        pad[2 + i] = (width, width)
        x = np.pad(x, pad, mode=NP_MODE[mode])
    return x


@pytest.mark.parametrize(
    "modes",
    [
        ("dirichlet",),
        ("periodic",),
        ("neumann",),
        ("periodic", "periodic"),
        ("neumann", "neumann"),
        ("periodic", "dirichlet"),
        ("dirichlet", "neumann"),
        ("neumann", "periodic", "dirichlet"),
    ],
)
@pytest.mark.parametrize("width", [1, 2])
def test_pad_boundary_matches_numpy(modes, width):
    shape = (2, 3) + tuple(5 + i for i in range(len(modes)))
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = pad_boundary(x, modes, width)
    np.testing.assert_allclose(out.numpy(), _np_pad(x.numpy(), modes, width))


def test_pad_boundary_per_dim_widths():
    x = torch.randn(1, 1, 6, 7, dtype=torch.float64)
    out = pad_boundary(x, ("periodic", "neumann"), (2, 1))
    ref = np.pad(x.numpy(), [(0, 0), (0, 0), (2, 2), (0, 0)], mode="wrap")
    ref = np.pad(ref, [(0, 0), (0, 0), (0, 0), (1, 1)], mode="reflect")
    np.testing.assert_allclose(out.numpy(), ref)


def test_pad_for_conv_equals_conv_of_fully_padded_field():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 9, 8, generator=g, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 3, generator=g, dtype=torch.float64)
    for modes in [("dirichlet", "dirichlet"), ("periodic", "dirichlet"), ("neumann", "periodic")]:
        xp, conv_pad = pad_for_conv(x, modes, 1)
        assert conv_pad == tuple(1 if m == "dirichlet" else 0 for m in modes)
        got = F.conv2d(xp, w, padding=conv_pad)
        want = F.conv2d(pad_boundary(x, modes, 1), w)
        torch.testing.assert_close(got, want)
        assert got.shape == (2, 4, 9, 8)


def test_all_dirichlet_is_left_to_the_conv():
    x = torch.randn(1, 2, 5, 5)
    xp, conv_pad = pad_for_conv(x, ("dirichlet", "dirichlet"), 1)
    assert xp is x and conv_pad == (1, 1)


def test_periodic_padding_wraps_and_dirichlet_does_not():
    x = torch.zeros(1, 1, 8)
    x[..., 0] = 1.0
    assert pad_boundary(x, ("periodic",), 1)[..., -1].item() == 1.0
    assert pad_boundary(x, ("dirichlet",), 1)[..., -1].item() == 0.0


def test_neumann_on_single_point_replicates():
    x = torch.tensor([[[3.0]]])
    assert pad_boundary(x, ("neumann",), 1).flatten().tolist() == [3.0, 3.0, 3.0]


def test_too_small_grids_raise_clear_errors():
    with pytest.raises(ValueError, match="reflect"):
        pad_boundary(torch.zeros(1, 1, 2), ("neumann",), 2)
    with pytest.raises(ValueError, match="circular"):
        pad_boundary(torch.zeros(1, 1, 2), ("periodic",), 3)


def test_resolve_boundary_forms_and_aliases():
    assert resolve_boundary("periodic", 3) == ("periodic",) * 3
    assert resolve_boundary(["zeros", "circular"], 2) == ("dirichlet", "periodic")
    assert resolve_boundary(("Reflect",), 1) == ("neumann",)
    assert resolve_boundary({"y": "periodic", "x": "none"}, 2, dims=["x", "y"]) == (
        "dirichlet",
        "periodic",
    )


@pytest.mark.parametrize(
    ("boundary", "ndim", "dims", "exc", "match"),
    [
        ("robin", 2, None, ValueError, "unknown boundary condition"),
        (["periodic"], 2, None, ValueError, "one per dimension"),
        ({"x": "periodic"}, 1, None, ValueError, "dims"),
        ({"x": "periodic"}, 2, ["x", "y"], ValueError, "no entry for dimension"),
        (3, 2, None, TypeError, "boundary must be"),
        ([1, 2], 2, None, TypeError, "must be a string"),
    ],
)
def test_resolve_boundary_errors(boundary, ndim, dims, exc, match):
    with pytest.raises(exc, match=match):
        resolve_boundary(boundary, ndim, dims)


def test_boundary_pad_module():
    pad = BoundaryPad("periodic", 2, ndim=2)
    x = torch.randn(1, 1, 4, 4)
    torch.testing.assert_close(pad(x), pad_boundary(x, ("periodic", "periodic"), 2))
    assert "periodic" in repr(pad)
    with pytest.raises(ValueError, match="spatial dims"):
        pad(torch.randn(1, 1, 4))


def test_pad_boundary_wrong_number_of_modes():
    with pytest.raises(ValueError, match="one per spatial dimension"):
        pad_boundary(torch.zeros(1, 1, 4, 4), ("periodic",), 1)
