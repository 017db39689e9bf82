import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neurops.layers.boundary import pad_boundary
from neurops.layers.kernel_interp import KernelInterpConv, stencil_resampling


def _smooth(n: int, ndim: int, channels: int = 2) -> torch.Tensor:
    """Periodic smooth field on n points per axis: [1, channels, n, ...]."""
    c = torch.arange(n, dtype=torch.float64) / n
    xs = torch.meshgrid(*[c] * ndim, indexing="ij")
    f1 = sum(torch.sin(2 * math.pi * (k + 1) * x) for k, x in enumerate(xs))
    f2 = math.prod(torch.cos(2 * math.pi * x) for x in xs)
    return torch.stack([f1, f2][:channels])[None]


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_reference_spacing_is_the_ordinary_convolution(ndim):
    torch.manual_seed(0)
    conv = KernelInterpConv(2, 3, 3, reference_spacing=1 / 8, boundary="periodic", ndim=ndim).double()
    x = _smooth(8, ndim)
    expected = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[ndim](pad_boundary(x, ("periodic",) * ndim, 1),
                                                           conv.weight, conv.bias)
    torch.testing.assert_close(conv(x), expected)


@pytest.mark.parametrize("ndim", [1, 2])
def test_outputs_on_refined_grids_converge(ndim):
    """Output at h and at h/2 differ by a discretisation error that shrinks ~ h^2."""
    torch.manual_seed(1)
    conv = KernelInterpConv(2, 2, 5, reference_spacing=1 / 8, boundary="periodic", ndim=ndim).double()
    every_second = (Ellipsis, *[slice(None, None, 2)] * ndim)
    with torch.no_grad():
        out = {n: conv(_smooth(n, ndim)) for n in (16, 32, 64)}
    diffs = [(out[n] - out[2 * n][every_second]).abs().max().item() for n in (16, 32)]
    assert diffs[0] / diffs[1] > 3.5


def test_stencil_resampling_matrix():
    np.testing.assert_allclose(stencil_resampling(3, 1.0), np.eye(3))
    # twice as fine: 3 taps -> 5, the kernel's samples times the trapezoidal weights of h/2
    m = stencil_resampling(3, 2.0)
    np.testing.assert_allclose(m @ np.array([1.0, 0.0, 0.0]), [0.5, 0.5, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(m @ np.array([0.0, 1.0, 0.0]), [0.0, 0.25, 0.5, 0.25, 0.0])
    assert stencil_resampling(5, 4.0).shape == (17, 5)
    # the sum of the taps (the response to a constant) is kept on nested grids
    for ratio in (2.0, 3.0, 4.0):
        np.testing.assert_allclose(stencil_resampling(5, ratio).sum(0), np.ones(5))
    assert stencil_resampling(1, 3.0).shape == (1, 1)
    with pytest.raises(ValueError, match="odd"):
        stencil_resampling(4, 1.0)


def test_constant_field_gives_the_same_output_on_nested_grids_and_grid_units_option():
    torch.manual_seed(2)
    conv = KernelInterpConv(1, 2, 3, reference_spacing=1 / 16, boundary="periodic").double()
    outs = [conv(torch.ones(1, 1, n, n, dtype=torch.float64)) for n in (16, 32, 64)]
    for out in outs:
        torch.testing.assert_close(out, outs[0][..., :1, :1].expand_as(out))
    grid_units = KernelInterpConv(1, 2, 3, reference_spacing=None, boundary="periodic").double()
    grid_units.load_state_dict(conv.state_dict())
    x = torch.randn(1, 1, 32, 32, dtype=torch.float64)
    assert grid_units.stencil(x.shape[2:]).shape[-1] == 3 and conv.stencil(x.shape[2:]).shape[-1] == 5


def test_gradients_reach_the_reference_stencil_and_bad_input():
    conv = KernelInterpConv(2, 2, 3, reference_spacing=1 / 8)
    conv(torch.randn(2, 2, 33, 33)).square().sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="expects"):
        conv(torch.randn(2, 3, 8, 8))
    with pytest.raises(ValueError, match="odd"):
        KernelInterpConv(1, 1, 2)


@pytest.mark.parametrize("layer", ["interp", "disco"])
def test_inputs_and_sizes_the_grid_convolutions_cannot_take_are_named(layer):
    """A float64 or int input failed in torch's conv ("Input type (double) and bias type (float) should be the
    same"), a grid with a 1-point axis in the spacing (ZeroDivisionError), and in_channels=0 / out_channels=-1 built
    an empty layer or failed in torch (LocalIntegralConv: ZeroDivisionError)."""
    import inspect
    import re

    from neurops.errors import ModelError
    from neurops.layers.local_integral import LocalIntegralConv

    cls = KernelInterpConv if layer == "interp" else LocalIntegralConv
    name = cls.__name__
    conv = cls(2, 3)
    x = torch.randn(1, 2, 9, 9)
    assert conv(x).shape == (1, 3, 9, 9)
    with pytest.raises(ModelError, match="^" + re.escape(
            f"{name}: the input is torch.float64 but the layer's parameters are torch.float32; pass "
            "x.to(torch.float32), or convert the layer: .to(torch.float64).") + "$"):
        conv(x.double())
    with pytest.raises(ModelError, match="^" + re.escape(
            f"{name}: the input is torch.int64 but the layer's parameters are torch.float32; pass "
            "x.to(torch.float32).") + "$"):
        inspect.unwrap(type(conv).forward)(conv, x.long())  # as users call it: without the tests' jaxtyping check
    with pytest.raises(ModelError, match="^" + re.escape(
            "a grid of shape (9, 1) (dirichlet, dirichlet) has an axis with no grid spacing: a non-periodic axis "
            "needs at least 2 points; pass a finer grid.") + "$"):
        conv(x[..., :1])
    for kwargs, message in [({"in_channels": 0}, "in_channels must be a whole number >= 1, got 0."),
                            ({"out_channels": -1}, "out_channels must be a whole number >= 1, got -1.")]:
        with pytest.raises(ModelError, match="^" + re.escape(f"{name}: {message}") + "$"):
            cls(**{"in_channels": 2, "out_channels": 3, **kwargs})
    assert conv.double()(x.double()).dtype == torch.float64  # a converted layer takes float64 fields
