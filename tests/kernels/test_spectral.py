"""Every spectral-convolution path against the reference (forward and backward, 1D/2D/3D, float32)."""

from __future__ import annotations

import math

import pytest
import torch

from neurops.kernels._common import swap_blocks
from neurops.kernels.spectral import (
    PATHS,
    fft_friendly,
    select_path,
    spectral_conv,
    spectral_conv_reference,
)
from neurops.kernels.spectral_fft import half_spectrum_weights, padded_irfftn, spectral_conv_fft, truncated_rfftn

CASES = [
    ((16,), (5,)),
    ((15,), (8,)),  # odd grid, every mode of the half spectrum
    ((16,), (9,)),  # even grid up to the Nyquist frequency
    ((12, 10), (4, 6)),
    ((11, 16), (5, 9)),
    ((8, 9, 10), (3, 4, 6)),
    ((6, 8, 7), (3, 4, 4)),
]
#: the CPU paths; the triton path has its own tests with shapes the interpreter runs quickly
FAST_PATHS = [p for p in PATHS if p not in ("reference", "triton")]


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).detach().norm() / b.detach().norm())


def _inputs(spatial, modes, seed=0, ci=3, co=4, batch=2):
    g = torch.Generator().manual_seed(seed)
    kept = [2 * m for m in modes[:-1]] + [modes[-1]]
    x = torch.randn(batch, ci, *spatial, generator=g, requires_grad=True)
    w = torch.randn(ci, co, *kept, 2, generator=g, requires_grad=True)
    return x, w


@pytest.mark.parametrize("path", FAST_PATHS)
@pytest.mark.parametrize("spatial,modes", CASES)
def test_path_matches_reference_forward_and_backward(path, spatial, modes):
    x, w = _inputs(spatial, modes)
    ref = spectral_conv_reference(x, w, modes)
    out = PATHS[path](x, w, modes)
    assert out.shape == ref.shape and out.dtype == torch.float32
    assert _rel(out, ref) < 1e-5
    g = torch.randn_like(ref)
    ref_grads = torch.autograd.grad(ref, (x, w), g)
    out_grads = torch.autograd.grad(out, (x, w), g)
    for a, b in zip(out_grads, ref_grads):
        assert _rel(a, b) < 1e-5


@pytest.mark.parametrize("path", FAST_PATHS)
def test_float64_gradcheck(path):
    x, w = _inputs((6, 5), (2, 3), ci=2, co=2, batch=1)
    x, w = x.detach().double().requires_grad_(True), w.detach().double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: PATHS[path](a, b, (2, 3)), (x, w))


@pytest.mark.parametrize("spatial,modes", [((6, 5), (2, 3)), ((7,), (4,)), ((4, 5, 6), (2, 2, 4))])
def test_fft_path_second_derivatives(spatial, modes):
    """The pruned transforms differentiate each other, so double backward works too."""
    x, w = _inputs(spatial, modes, ci=2, co=1, batch=1)
    x, w = x.detach().double().requires_grad_(True), w.detach().double().requires_grad_(True)
    assert torch.autograd.gradgradcheck(lambda a, b: spectral_conv_fft(a, b, modes), (x, w))


@pytest.mark.parametrize("spatial,modes", CASES)
def test_pruned_transforms_are_adjoint(spatial, modes):
    """<F x, z> = <x, F* z> with F* = irfftn(z / c) / prod(N) (the identity the backward pass uses)."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, *spatial, dtype=torch.float64, generator=g)
    kept = [2 * m for m in modes[:-1]] + [modes[-1]]
    z = torch.randn(2, *kept, dtype=torch.complex128, generator=g)
    c = half_spectrum_weights(spatial[-1], modes[-1], torch.float64, torch.device("cpu"))
    lhs = (truncated_rfftn(x, modes).conj() * z).real.sum()
    rhs = (x * padded_irfftn(z / c, spatial)).sum() / math.prod(spatial)
    torch.testing.assert_close(lhs, rhs)
    full = torch.fft.rfftn(x, dim=tuple(range(1, 1 + len(spatial))), norm="forward")
    torch.testing.assert_close(truncated_rfftn(x, modes)[(..., *[slice(0, m) for m in modes])],
                               full[(..., *[slice(0, m) for m in modes])])


@pytest.mark.parametrize("path", FAST_PATHS)
def test_is_a_convolution_shift_equivariant(path):
    x, w = _inputs((16, 12), (4, 3))
    y = PATHS[path](x, w, (4, 3))
    y_shift = PATHS[path](torch.roll(x, (3, 5), dims=(2, 3)), w, (4, 3))
    torch.testing.assert_close(y_shift, torch.roll(y, (3, 5), dims=(2, 3)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("path", FAST_PATHS)
def test_resolution_change_keeps_the_low_modes(path):
    """A band-limited input sampled at two resolutions gives the same band-limited output."""
    n1, n2, m = 16, 32, 3
    x1 = torch.sin(2 * torch.pi * torch.arange(n1) / n1)[None, None].repeat(1, 2, 1)
    x2 = torch.sin(2 * torch.pi * torch.arange(n2) / n2)[None, None].repeat(1, 2, 1)
    _, w = _inputs((n1,), (m,), ci=2, co=2, batch=1)
    y1, y2 = PATHS[path](x1, w, (m,)), PATHS[path](x2, w, (m,))
    torch.testing.assert_close(y2[..., ::2], y1, rtol=1e-4, atol=1e-5)


def test_swap_blocks_is_a_permute_with_its_gradient():
    t = torch.randn(3, 4, 5, 2, dtype=torch.float64, requires_grad=True)
    out = swap_blocks(t, 2)
    torch.testing.assert_close(out, t.permute(2, 3, 0, 1))
    assert out.is_contiguous()
    assert torch.autograd.gradcheck(lambda a: swap_blocks(a, 2), (t,))


def test_auto_selection_and_override():
    x, w = _inputs((64, 64), (8, 8), batch=1)
    assert select_path(x, w, (8, 8)) == "dft"
    x_small, w_big = _inputs((16, 16), (8, 8), batch=1)
    assert select_path(x_small, w_big, (8, 8)) == "fft"
    # 12 of 64 points: FFT; 12 of 65 (= 5 * 13, slow for FFTs): DFT
    assert select_path(torch.zeros(1, 1, 64, 64), None, (12, 12)) == "fft"
    assert select_path(torch.zeros(1, 1, 65, 65), None, (12, 12)) == "dft"
    assert [n for n in range(60, 70) if fft_friendly(n)] == [60, 63, 64]
    torch.testing.assert_close(spectral_conv(x, w, (8, 8)), spectral_conv(x, w, (8, 8), path="reference"),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("path", FAST_PATHS)
def test_bad_inputs(path):
    x, w = _inputs((16, 16), (4, 4))
    with pytest.raises(ValueError, match="path"):
        spectral_conv(x, w, (4, 4), path="fourier")
    with pytest.raises(ValueError, match="Fourier modes"):
        PATHS[path](x, w, (9, 4))
    with pytest.raises(ValueError, match="mode counts"):
        PATHS[path](x, w, (4,))


@pytest.mark.parametrize("path", ["reference", *FAST_PATHS])
def test_weights_that_do_not_fit_the_input_or_modes_are_named(path):
    """A weight for other modes or other input channels, or an input of another dtype, failed in torch's bmm
    ("Expected size for first two dimensions of batch2 tensor to be: [264, 4] but got: [288, 4]"). Run as users
    run it: without the tests' jaxtyping checks, which catch some of these first."""
    import inspect

    from neurops.errors import ModelError

    run = inspect.unwrap(PATHS[path])
    x, w = _inputs((32, 32), (12, 12), ci=4)
    assert run(x, w, (12, 12)).shape == (2, 4, 32, 32)
    with pytest.raises(ModelError, match=r"^spectral weights have shape \(4, 4, 24, 12, 2\), expected \(4, 4, 24, 11, "
                                         r"2\) = \[C_in, C_out, \*K, 2\] for 4 input channels and modes \(12, 11\) "
                                         r"\(K: 2 m per axis, m on the last\); pass the modes the weights were made "
                                         r"for\.$"):
        run(x, w, (12, 11))
    with pytest.raises(ModelError, match=r"^the input \(2, 3, 32, 32\) has 3 channels but the spectral weights "
                                         r"\(4, 4, 24, 12, 2\) = \[C_in, C_out, \*K, 2\] take 4; give the input the "
                                         r"channels the weights were made for"):
        run(x[:, :3], w, (12, 12))
    with pytest.raises(ModelError, match=r"^the input is torch\.float64 but the spectral weights are torch\.float32; "
                                         r"pass x\.to\(torch\.float32\)"):
        run(x.double(), w, (12, 12))
    with pytest.raises(ModelError, match=r"^the spectral convolution takes a real floating-point input, got "
                                         r"torch\.int64; pass x\.to\(torch\.float32\)\.$"):
        run(x.long(), w, (12, 12))
    with pytest.raises(ModelError, match="spectral weights have shape"):
        spectral_conv(x, w, (12, 11))  # the dispatcher reaches the same checks


@pytest.mark.parametrize("path", ["reference", *FAST_PATHS])
def test_modes_that_are_not_whole_numbers_are_refused(path):
    """``modes=(4.5, 4)`` failed in the reference path's slicing (TypeError) and was truncated to 4 by the fft and
    dft paths without a word."""
    import inspect

    from neurops.errors import ModelError

    x, w = _inputs((16, 16), (4, 4))
    for modes in [(4.5, 4), (4.0, 4), (True, 4)]:
        with pytest.raises(ModelError, match=rf"^Fourier mode counts must be whole numbers, got modes="
                                             rf"{modes!r}".replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
            inspect.unwrap(PATHS[path])(x, w, modes)
    import numpy as np

    out = inspect.unwrap(PATHS[path])(x, w, (np.int64(4), 4))  # numpy integers are whole numbers
    torch.testing.assert_close(out, spectral_conv_reference(x, w, (4, 4)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("path", ["reference", *FAST_PATHS])
def test_weights_on_another_device_are_named(path):
    """Weights on another device than the input went into torch (a device error there, or meta results)."""
    import inspect

    from neurops.errors import ConfigError

    x, w = _inputs((16, 16), (4, 4))
    with pytest.raises(ConfigError, match=r"^the spectral weights are on meta but the input is on cpu; move the input "
                                         r"or the layer \(\.to\('meta'\)\)\.$"):
        inspect.unwrap(PATHS[path])(x, w.to("meta"), (4, 4))


def test_half_precision_on_the_cpu_is_refused_by_the_fft_paths_and_taken_by_auto():
    """bfloat16/float16 inputs failed deep in torch.fft ("Unsupported dtype BFloat16") on the reference and fft
    paths, which ``auto`` picks on coarse grids; ``auto`` now takes the dft path for them."""
    from neurops.errors import ConfigError

    x, w = _inputs((16, 16), (8, 8), batch=1)
    for dtype in (torch.bfloat16, torch.float16):
        xh, wh = x.detach().to(dtype), w.detach().to(dtype)
        for path in ("reference", "fft"):
            with pytest.raises(ConfigError, match=rf"^the {path} spectral path cannot take {dtype} input on cpu "
                                                  r"\(torch\.fft does not transform it\); use path='dft'"):
                spectral_conv(xh, wh, (8, 8), path=path)
        assert select_path(xh, wh, (8, 8)) == "dft"
        y = spectral_conv(xh, wh, (8, 8))
        assert y.dtype == dtype
        assert _rel(y.float(), spectral_conv_reference(xh.float(), wh.float(), (8, 8))) < 2e-2
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast runs torch.fft in float32: no refusal there
        assert select_path(x.detach().bfloat16(), w, (8, 8)) == "fft"
        assert spectral_conv(x.detach().bfloat16(), w.detach(), (8, 8), path="fft").dtype == torch.float32
