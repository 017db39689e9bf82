"""Pruned-FFT path of the spectral convolution: transforms that compute only what is kept.

The reference path transforms the whole grid with ``rfftn``, slices the kept modes, scatters
the mixed modes into a zero-filled spectrum and calls ``irfftn``; autograd then runs the
backward of ``rfftn`` as a full complex FFT on a zero-padded spectrum, plus a zero fill and a
scatter for every slice. This path instead:

1. transforms the last axis with ``rfft`` and keeps its ``m_d`` lowest frequencies, so every
   further FFT runs on ``m_d`` columns instead of ``N_d / 2 + 1``;
2. transforms each other axis with a complex FFT and keeps its rows ``[0..m-1, -m..-1]``
   (the weight layout, so the channel mixing needs no slicing);
3. inverts in reverse order, zero-padding each axis only when it is transformed back, and ends
   with ``irfft(n=N_d)``, which pads the half spectrum itself;
4. differentiates each transform by the other one: :class:`TruncatedRfftn` and
   :class:`PaddedIrfftn` are adjoint to each other up to the factor ``prod(N)`` and the weights
   ``c_k`` of the half spectrum (``c = 1`` for the zero and Nyquist frequencies, 2 otherwise),
   so the backward pass costs the same pruned transforms as the forward pass.

Same weight layout and normalisation (``norm="forward"``) as
:func:`neurops.kernels.spectral.spectral_conv_reference`.

References
----------
.. [1] Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations",
   ICLR 2021, arXiv:2010.08895.
.. [2] H. V. Sorensen and C. S. Burrus, "Efficient computation of the DFT with only a subset of
   input or output points", IEEE Trans. Signal Processing 41(3), 1993 (pruned FFTs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from jaxtyping import Complex, Float
from torch import Tensor

from neurops.kernels._common import check_fft_dtype, check_inputs, mix_channels


def half_spectrum_weights(n: int, m: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``c_k`` for the ``m`` lowest frequencies of an ``rfft`` of length ``n``: how often each one
    appears in the full (Hermitian) spectrum — 1 for zero and Nyquist, 2 otherwise. Shape ``[m]``."""
    c = torch.full((m,), 2.0, dtype=dtype, device=device)
    c[0] = 1.0
    if n % 2 == 0 and m == n // 2 + 1:
        c[-1] = 1.0
    return c


def truncated_rfftn(x: Float[Tensor, "*field"], modes: Sequence[int]) -> Complex[Tensor, "*kept"]:
    """Kept Fourier coefficients of a real field (no autograd shortcut; see :class:`TruncatedRfftn`).

    ``x : [..., N_1, ..., N_d]`` real -> ``[..., 2m_1, ..., 2m_{d-1}, m_d]`` complex, equal to
    ``rfftn(x, norm="forward")`` at frequencies ``[0..m-1, -m..-1]`` (full axes) and
    ``[0..m_d-1]`` (last axis).
    """
    d = len(modes)
    z = torch.fft.rfft(x, dim=-1, norm="forward")[..., : modes[-1]]
    for axis in range(d - 2, -1, -1):  # innermost first: each FFT runs on data already cut down
        dim = axis - d
        n, m = x.shape[dim], modes[axis]
        z = torch.fft.fft(z, dim=dim, norm="forward")
        z = torch.cat([z.narrow(dim, 0, m), z.narrow(dim, n - m, m)], dim=dim)
    return z


def padded_irfftn(z: Complex[Tensor, "*kept"], spatial: Sequence[int]) -> Float[Tensor, "*field"]:
    """Real field from kept coefficients (zero elsewhere); the inverse of :func:`truncated_rfftn`.

    ``z : [..., 2m_1, ..., 2m_{d-1}, m_d]`` complex -> ``[..., N_1, ..., N_d]`` real, equal to
    ``irfftn`` (``norm="forward"``) of the zero-padded spectrum.
    """
    d = len(spatial)
    for axis in range(d - 1):
        dim = axis - d
        n, m = spatial[axis], z.shape[dim] // 2
        gap = list(z.shape)
        gap[dim] = n - 2 * m
        z = torch.cat([z.narrow(dim, 0, m), z.new_zeros(gap), z.narrow(dim, m, m)], dim=dim)
        z = torch.fft.ifft(z, dim=dim, norm="forward")
    return torch.fft.irfft(z, n=spatial[-1], dim=-1, norm="forward")


class TruncatedRfftn(torch.autograd.Function):
    """:func:`truncated_rfftn` whose gradient is one :class:`PaddedIrfftn` (its adjoint):
    ``F^*(g) = irfftn(g / c) / prod(N)``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, modes: tuple[int, ...]) -> torch.Tensor:  # type: ignore[override]
        ctx.spatial = tuple(x.shape[-len(modes):])
        return truncated_rfftn(x, modes)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        spatial = ctx.spatial
        c = half_spectrum_weights(spatial[-1], grad.shape[-1], grad.real.dtype, grad.device)
        return PaddedIrfftn.apply(grad / c, spatial) / math.prod(spatial), None


class PaddedIrfftn(torch.autograd.Function):
    """:func:`padded_irfftn` whose gradient is one :class:`TruncatedRfftn` (its adjoint):
    ``G^*(g) = c * prod(N) * truncated_rfftn(g)``."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, spatial: tuple[int, ...]) -> torch.Tensor:  # type: ignore[override]
        ctx.modes = (*(s // 2 for s in z.shape[-len(spatial):-1]), z.shape[-1])
        ctx.n_last = spatial[-1]
        return padded_irfftn(z, spatial)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        c = half_spectrum_weights(ctx.n_last, ctx.modes[-1], grad.dtype, grad.device)
        return TruncatedRfftn.apply(grad, ctx.modes) * (c * math.prod(grad.shape[-len(ctx.modes):])), None


def spectral_conv_fft(x: Float[Tensor, "batch in_channel *space"],
                      weight: Float[Tensor, "in_channel out_channel *kept 2"],
                      modes: Sequence[int]) -> Float[Tensor, "batch out_channel *space"]:
    """Truncated spectral convolution by pruned FFTs.

    Same contract as :func:`neurops.kernels.spectral.spectral_conv_reference` (``x : [B, C_in,
    *spatial]``, weight ``[C_in, C_out, *K, 2]`` -> ``[B, C_out, *spatial]``), equal to it up to
    rounding.
    """
    spatial = tuple(x.shape[2:])
    check_inputs(x, weight, modes)
    check_fft_dtype(x, "fft")
    modes = tuple(int(m) for m in modes)
    z = TruncatedRfftn.apply(x, modes)
    z = mix_channels(z, torch.view_as_complex(weight))
    return PaddedIrfftn.apply(z, spatial)
