"""Truncated-DFT path of the spectral convolution: only the kept modes, computed by matrix products.

A spectral convolution keeps a few Fourier modes per axis, so the full FFT computes mostly
coefficients that are thrown away. This path evaluates the kept modes directly:

1. last axis (real input -> half spectrum): one real GEMM with ``[cos | -sin]`` (``N x 2m``),
   which shrinks the data from ``N`` to ``2m`` numbers per line before anything else;
2. other axes: complex GEMMs with the ``2m x N`` DFT rows of the kept frequencies
   ``[0..m-1, -m..-1]``;
3. channel mixing: batched complex products over the kept modes, three real GEMMs each
   (Gauss's trick); the spectrum is already in the weight layout, so there is no slicing or
   scatter into a zero-filled spectrum;
4. the inverse, in reverse order, ending with one real GEMM with ``[c cos ; -c sin]`` that
   reproduces ``irfft`` exactly (``c = 1`` for the zero and Nyquist frequencies, 2 otherwise;
   imaginary parts of those two are ignored as ``irfft`` does).

Same normalisation (``norm="forward"``) and weight layout as
:func:`neurops.kernels.spectral.spectral_conv_reference`; gradients come from autograd through
the GEMMs. The DFT matrices are cached per size, mode count, dtype and device. Cost grows like
``N * m`` per line instead of ``N log N``, so the path wins for small mode counts (see
:func:`neurops.kernels.spectral.select_path`), and GEMMs are what accelerators run fastest.

References
----------
.. [1] Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations",
   ICLR 2021, arXiv:2010.08895.
.. [2] S. Wu et al., "TurboFNO: high-performance Fourier neural operator with fused
   FFT-GEMM-iFFT on GPU", arXiv:2504.11681 (2025) (truncation fused into the transforms).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import torch
from jaxtyping import Float
from torch import Tensor

from neurops.kernels._common import check_inputs, swap_blocks


def _kept_frequencies(n: int, m: int) -> torch.Tensor:
    """Kept frequencies of a full (complex) axis in weight order ``[0..m-1, -m..-1]``."""
    return torch.cat([torch.arange(m, device="cpu"), torch.arange(-m, 0, device="cpu")]).to(torch.float64)


def _complex_block(re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
    """Real ``[2n, 2k]`` form ``[[Re, Im], [-Im, Re]]`` of a complex ``[n, k]`` matrix acting from the right
    on rows laid out ``[re parts | im parts]``."""
    return torch.cat([torch.cat([re, im], dim=-1), torch.cat([-im, re], dim=-1)], dim=-2)


@lru_cache(maxsize=64)
@torch.inference_mode(False)  # cached matrices must be normal tensors, usable later under autograd
def _matrices(kind: str, n: int, m: int, dtype: torch.dtype, device: str) -> torch.Tensor:
    """Real DFT matrices (built in float64, then cast), applied from the right along the last axis.

    ``"rfft"`` ``[n, 2m]``: ``x @ M = [re | im]`` of the first m coefficients of ``rfft(x) / n``.
    ``"irfft"`` ``[2m, n]``: ``[re | im] @ M = irfft`` of a half spectrum that is zero beyond m.
    ``"fft"`` ``[2n, 4m]`` / ``"ifft"`` ``[4m, 2n]``: the complex DFT restricted to the kept
    frequencies ``[0..m-1, -m..-1]`` (forward scaled by 1/n), in the real block form of
    :func:`_complex_block`.
    """
    pos = torch.arange(n, dtype=torch.float64, device="cpu")  # built on the CPU in float64, then moved
    if kind in ("rfft", "irfft"):
        angle = 2 * math.pi * torch.outer(pos, torch.arange(m, dtype=torch.float64, device="cpu")) / n  # [n, m]
        if kind == "rfft":
            mat = torch.cat([torch.cos(angle), -torch.sin(angle)], dim=1) / n
        else:
            c = torch.full((m,), 2.0, dtype=torch.float64, device="cpu")
            c[0] = 1.0
            if n % 2 == 0 and m - 1 == n // 2:
                c[-1] = 1.0  # Nyquist: counted once, as irfft does
            mat = torch.cat([c[:, None] * torch.cos(angle).T, -c[:, None] * torch.sin(angle).T], dim=0)
    elif kind == "fft":  # x_k = sum_j x_j exp(-i 2 pi k j / n) / n
        angle = 2 * math.pi * torch.outer(pos, _kept_frequencies(n, m)) / n  # [n, 2m]
        mat = _complex_block(torch.cos(angle) / n, -torch.sin(angle) / n)
    else:  # "ifft": x_j = sum_k x_k exp(+i 2 pi k j / n)
        angle = 2 * math.pi * torch.outer(_kept_frequencies(n, m), pos) / n  # [2m, n]
        mat = _complex_block(torch.cos(angle), torch.sin(angle))
    return mat.to(dtype=dtype, device=device)


def _arrange(t: torch.Tensor, names: list, want: list) -> torch.Tensor:
    """Permute ``t`` (axes named ``names``) into the axis order ``want``, contiguous."""
    return t.permute([names.index(n) for n in want]).contiguous()


def _mix(t: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Complex channel mixing per kept mode with three real batched GEMMs (Gauss's trick).

    ``t : [K, 2, B, I]`` (real/imaginary parts, modes in the weight's order),
    ``weight : [I, O, *K, 2]`` -> ``[K, B, 2, O]``.
    """

    ci, co = weight.shape[:2]
    w = swap_blocks(weight, 2).view(-1, 2, ci, co)  # [K, 2, I, O]
    xr, xi = t[:, 0], t[:, 1]
    wr, wi = w[:, 0], w[:, 1]
    t1 = torch.bmm(xr, wr)
    t2 = torch.bmm(xi, wi)
    t3 = torch.bmm(xr + xi, wr + wi)
    return torch.stack([t1 - t2, t3 - t1 - t2], dim=2)


def spectral_conv_dft(x: Float[Tensor, "batch in_channel *space"],
                      weight: Float[Tensor, "in_channel out_channel *kept 2"],
                      modes: Sequence[int]) -> Float[Tensor, "batch out_channel *space"]:
    """Truncated spectral convolution by DFT matrix products (same contract as the reference).

    Parameters
    ----------
    x : [B, C_in, *spatial] real input (1 to 3 spatial dims).
    weight : [C_in, C_out, *K, 2] real view of the complex weights, ``K = (2m_1, .., 2m_{d-1}, m_d)``.
    modes : kept modes per spatial dim ``(m_1, ..., m_d)``.

    Returns
    -------
    [B, C_out, *spatial] real output, equal to
    :func:`neurops.kernels.spectral.spectral_conv_reference` up to rounding.

    References
    ----------
    .. [1] Z. Li et al., ICLR 2021, arXiv:2010.08895.
    """
    spatial = tuple(x.shape[2:])
    d = len(spatial)
    check_inputs(x, weight, modes)
    dtype, device = x.dtype, str(x.device)
    b, ci, co = x.shape[0], x.shape[1], weight.shape[1]
    n_last, m_last = spatial[-1], int(modes[-1])
    # forward. Axes are tracked by name: "B", "C", the spatial index i, and "P" (real/imaginary part).
    t = (x @ _matrices("rfft", n_last, m_last, dtype, device)).reshape(*x.shape[:-1], 2, m_last)
    names: list = ["B", "C", *range(d - 1), "P", d - 1]
    for i in range(d - 2, -1, -1):  # complex DFT along axis i, on data already shrunk along the others
        want = [n for n in names if n not in (i, "P")] + ["P", i]
        t = _arrange(t, names, want)
        lead = t.shape[:-2]
        t = (t.reshape(-1, 2 * spatial[i]) @ _matrices("fft", spatial[i], int(modes[i]), dtype, device))
        t, names = t.reshape(*lead, 2, 2 * int(modes[i])), want
    # channel mixing per kept mode: [K, B, 2I] @ [K, 2I, 2O]
    t = _arrange(t, names, [*range(d), "P", "B", "C"])  # modes in the weight's order
    kept = t.shape[:d]
    t = _mix(t.reshape(-1, 2, b, ci), weight).reshape(*kept, b, 2, co)
    names = [*range(d), "B", "P", "C"]
    # inverse: complex DFT along the other axes, then the last axis by one real GEMM
    for i in range(d - 1):
        want = [n for n in names if n not in (i, "P")] + ["P", i]
        t = _arrange(t, names, want)
        lead = t.shape[:-2]
        t = (t.reshape(-1, 4 * int(modes[i])) @ _matrices("ifft", spatial[i], int(modes[i]), dtype, device))
        t, names = t.reshape(*lead, 2, spatial[i]), want
    t = _arrange(t, names, ["B", "C", *range(d - 1), "P", d - 1])
    return t.reshape(*t.shape[:-2], 2 * m_last) @ _matrices("irfft", n_last, m_last, dtype, device)
