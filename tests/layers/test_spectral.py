import numpy as np
import pytest
import torch

from neurops.errors import ModelError
from neurops.layers.spectral import SpectralConv


def direct_dft_spectral_conv(x, w, modes):
    """Spectral convolution in float64 from explicit DFT sums (2D), independent of torch.fft."""
    b, ci, n1, n2 = x.shape
    m1, m2 = modes
    k1s = list(range(m1)) + list(range(-m1, 0))
    n1g, n2g = np.meshgrid(np.arange(n1), np.arange(n2), indexing="ij")
    y = np.zeros((b, w.shape[1], n1, n2))
    for a, k1 in enumerate(k1s):
        for k2 in range(m2):
            phase = np.exp(-2j * np.pi * (k1 * n1g / n1 + k2 * n2g / n2))
            xk = (x * phase).sum(axis=(2, 3)) / (n1 * n2)  # [B, Ci]
            yk = xk @ w[:, :, a, k2]  # [B, Co]
            weight = 1.0 if k2 == 0 else 2.0  # the half spectrum stands for its conjugate too
            y += weight * np.real(yk[:, :, None, None] * np.conj(phase)[None, None])
    return y


def test_fft_path_equals_direct_dft():
    torch.manual_seed(0)
    conv = SpectralConv(3, 2, (3, 2)).double()
    x = torch.randn(2, 3, 10, 8, dtype=torch.float64)
    w = torch.view_as_complex(conv.weight.detach()).numpy()
    np.testing.assert_allclose(conv(x).detach().numpy(), direct_dft_spectral_conv(x.numpy(), w, (3, 2)), atol=1e-12)


@pytest.mark.parametrize("modes,shape", [((5,), (17,)), ((4, 3), (12, 9)), ((2, 3, 2), (6, 7, 5))])
def test_shapes_and_real_output(modes, shape):
    conv = SpectralConv(2, 4, modes)
    y = conv(torch.randn(3, 2, *shape))
    assert y.shape == (3, 4, *shape) and y.dtype == torch.float32


def test_resolution_consistency_on_band_limited_input():
    """norm='forward' transforms: the same weights map a band-limited function the same way on any grid."""
    torch.manual_seed(1)
    conv = SpectralConv(1, 1, (4, 4))

    def field(n):
        t = torch.arange(n, dtype=torch.float32) / n
        return (torch.sin(2 * torch.pi * t)[:, None] * torch.cos(4 * torch.pi * t)[None, :])[None, None]

    coarse, fine = conv(field(16)), conv(field(32))
    torch.testing.assert_close(fine[..., ::2, ::2], coarse, atol=1e-5, rtol=1e-4)


def test_too_many_modes_is_a_clear_error():
    with pytest.raises(ModelError, match=r"\(6, 6\) Fourier modes do not fit a 8x8 grid, which holds at most \(4, 5\)"):
        SpectralConv(1, 1, (6, 6))(torch.randn(1, 1, 8, 8))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"modes": (-1, 4)}, "modes is one whole number >= 1 per spatial axis, for 1, 2 or 3 axes, e.g. (12, 12); "
                         "got (-1, 4)."),
    ({"modes": (0, 4)}, "modes is one whole number >= 1 per spatial axis, for 1, 2 or 3 axes, e.g. (12, 12); "
                        "got (0, 4)."),
    ({"modes": ()}, "modes is one whole number >= 1 per spatial axis, for 1, 2 or 3 axes, e.g. (12, 12); got ()."),
    ({"modes": (2, 2, 2, 2)}, "modes is one whole number >= 1 per spatial axis, for 1, 2 or 3 axes, e.g. (12, 12); "
                              "got (2, 2, 2, 2)."),
    ({"in_channels": 0}, "in_channels must be a whole number >= 1, got 0."),
    ({"out_channels": -2}, "out_channels must be a whole number >= 1, got -2."),
])
def test_bad_constructor_arguments_are_named(kwargs, message):
    """Negative modes raised torch's "negative dimension", empty modes an IndexError, in_channels=0 a
    ZeroDivisionError; zero modes and 4-D modes built a layer that failed (or ran outside the documented 1-3 axes)
    at the first forward pass."""
    import re

    args = {"in_channels": 2, "out_channels": 3, "modes": (4, 4), **kwargs}
    with pytest.raises(ModelError, match="^" + re.escape("SpectralConv: " + message) + "$"):
        SpectralConv(**args)
