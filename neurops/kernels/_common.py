"""Helpers every spectral-convolution path shares: mode limits, input checks, channel mixing, block transposes.

:mod:`neurops.kernels.spectral` (the reference path and the dispatcher) and the ``fft``, ``dft``
and ``triton`` paths import them from here, so no path imports the dispatcher back.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import torch
from jaxtyping import Complex
from torch import Tensor

from neurops.errors import ConfigError, ModelError

#: input dtypes the triton path takes
TRITON_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def max_modes(spatial: Sequence[int]) -> tuple[int, ...]:
    """The most Fourier modes a grid of ``spatial`` points per axis holds: ``n // 2`` on every axis
    but the last, ``n // 2 + 1`` on the last (the half-spectrum of ``rfftn``)."""
    return tuple(n // 2 + 1 if i == len(spatial) - 1 else n // 2 for i, n in enumerate(spatial))


def is_whole(value: object) -> bool:
    """True for an integer of any kind (numpy, torch) but not a bool or a float."""
    if isinstance(value, bool):
        return False
    try:
        operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return False
    return True


def check_modes(spatial: Sequence[int], modes: Sequence[Any]) -> None:
    """Raise :class:`~neurops.errors.ModelError` if the grid cannot hold the requested number of modes;
    the message gives the maximum of every axis (:func:`max_modes`)."""
    if not all(isinstance(m, torch.SymInt) or is_whole(m) for m in modes):
        raise ModelError(f"Fourier mode counts must be whole numbers, got modes={tuple(modes)!r}; pass integers, "
                         "e.g. (12, 12).")
    if len(spatial) != len(modes):
        raise ModelError(f"input has {len(spatial)} spatial dims but {len(modes)} mode counts were given "
                         f"(modes={tuple(modes)}); use one mode count per spatial dimension.")
    limits = max_modes(spatial)
    if any(m < 1 or m > limit for m, limit in zip(modes, limits)):
        raise ModelError(f"{tuple(int(m) for m in modes)} Fourier modes do not fit a {'x'.join(map(str, spatial))} "
                         f"grid, which holds at most {limits} modes per axis; use a finer grid or at most {limits} "
                         "modes (and at least 1).")


def check_inputs(x: Tensor, weight: Tensor, modes: Sequence[Any], *, same_dtype: bool = True) -> None:
    """Raise :class:`~neurops.errors.ModelError` unless ``x : [B, C_in, *spatial]`` and ``weight : [C_in, C_out,
    *K, 2]`` fit each other and ``modes`` (:func:`check_modes`, and the weight layout of
    :mod:`neurops.kernels.spectral`), naming what was expected and what was given.

    ``same_dtype``: the weights must have the input's dtype (a real floating one), except under autocast, which
    casts per operation; the triton path converts the weights itself and checks its dtypes on its own.
    """
    spatial = tuple(x.shape[2:])
    check_modes(spatial, modes)
    modes = tuple(int(m) for m in modes)
    if x.dim() < 3 or weight.dim() < 3 or x.shape[1] != weight.shape[0]:
        raise ModelError(f"the input {tuple(x.shape)} has {x.shape[1] if x.dim() > 1 else 'no'} channels but the "
                         f"spectral weights {tuple(weight.shape)} = [C_in, C_out, *K, 2] take "
                         f"{weight.shape[0] if weight.dim() else 'no'}; give the input the channels the weights were "
                         "made for (x: [B, C_in, *spatial]).")
    expected = (x.shape[1], weight.shape[1], *[2 * m for m in modes[:-1]], modes[-1], 2)
    if tuple(weight.shape) != expected:
        raise ModelError(f"spectral weights have shape {tuple(weight.shape)}, expected {expected} = [C_in, C_out, *K, "
                         f"2] for {x.shape[1]} input channels and modes {modes} (K: 2 m per axis, m on the last); "
                         "pass the modes the weights were made for.")
    if weight.device != x.device:
        raise ConfigError(f"the spectral weights are on {weight.device} but the input is on {x.device}; move the "
                          f"input or the layer (.to({str(weight.device)!r})).")
    if not same_dtype:
        return
    if not x.is_floating_point():
        raise ModelError(f"the spectral convolution takes a real floating-point input, got {x.dtype}; pass "
                         f"x.to({weight.dtype}).")
    if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
        raise ModelError(f"the input is {x.dtype} but the spectral weights are {weight.dtype}; pass x.to("
                         f"{weight.dtype}) (or convert the weights: the layer's .to({x.dtype})).")


def fft_unsupported(x: Tensor) -> bool:
    """Whether torch.fft cannot transform ``x`` outside autocast: bfloat16 on any device, float16 off CUDA."""
    if torch.is_autocast_enabled(x.device.type):
        return False
    return x.dtype == torch.bfloat16 or (x.dtype == torch.float16 and x.device.type != "cuda")


def check_fft_dtype(x: Tensor, path: str) -> None:
    """Raise :class:`~neurops.errors.ConfigError` for an input the FFT-based ``path`` cannot transform."""
    if fft_unsupported(x):
        raise ConfigError(f"the {path} spectral path cannot take {x.dtype} input on {x.device.type} (torch.fft does "
                          "not transform it); use path='dft' (or 'auto', which takes it), or convert the input and "
                          "the layer to float32.")


def mix_channels(x: Complex[Tensor, "batch in_channel *kept"],
                 w: Complex[Tensor, "in_channel out_channel *kept"]) -> Complex[Tensor, "batch out_channel *kept"]:
    """Per-mode channel mixing ``y[b, o, k] = sum_i x[b, i, k] w[i, o, k]``.

    Parameters
    ----------
    x : [B, C_in, *K] complex; w : [C_in, C_out, *K] complex.

    Returns
    -------
    [B, C_out, *K]. Computed as ONE batched matmul over the modes on contiguous
    ``[K, B, C_in] @ [K, C_in, C_out]`` operands, reached by 2-D transposes
    (:func:`swap_blocks`): ``torch.einsum`` on the mode-last layout and strided batched
    products are orders of magnitude slower on CPU, and so are N-d permuting copies.
    """
    b, ci, *k = x.shape
    co = w.shape[1]
    xm = swap_blocks(x, 2).view(-1, b, ci)
    wm = swap_blocks(w, 2).view(-1, ci, co)
    return swap_blocks(_ContiguousBmm.apply(xm, wm).view(*k, b, co), len(k))


def swap_blocks(t: torch.Tensor, split: int) -> torch.Tensor:
    """``[*A, *B] -> [*B, *A]`` (``A = t.shape[:split]``), contiguous, differentiable.

    The same data movement as ``permute(...).contiguous()``, done as one 2-D transpose:
    PyTorch copies 2-D transposes in cache blocks but general N-d permutes element by element,
    which was 5-7x slower for spectral weights on CPU.
    """
    return _SwapBlocks.apply(t, split)


class _SwapBlocks(torch.autograd.Function):
    """:func:`swap_blocks`; its gradient is the swap back."""

    @staticmethod
    def forward(ctx, t: torch.Tensor, split: int) -> torch.Tensor:  # type: ignore[override]
        a, b = t.shape[:split], t.shape[split:]
        ctx.split_back = len(b)
        return t.reshape(math.prod(a), math.prod(b)).t().contiguous().view(*b, *a)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return _SwapBlocks.apply(grad, ctx.split_back), None


class _ContiguousBmm(torch.autograd.Function):
    """``torch.bmm`` whose backward products run on contiguous (or conjugate-transposed) operands.

    Autograd's own bmm backward multiplies the incoming gradient as it arrives, which can be a
    view with batch stride 1: the slow strided case.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, w)
        return torch.bmm(x, w)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:  # type: ignore[override]
        x, w = ctx.saved_tensors
        grad = grad.contiguous()
        gx = torch.bmm(grad, w.mH) if ctx.needs_input_grad[0] else None
        gw = torch.bmm(x.mH, grad) if ctx.needs_input_grad[1] else None
        return gx, gw
