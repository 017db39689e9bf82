"""Triton path of the spectral convolution: truncated DFTs and the per-mode channel mixing as GPU kernels.

The truncated spectral convolution ``y = irfftn(W * rfftn(x))`` keeps a few modes per axis, so
its spectrum is small (``2m_1 x m_2`` numbers per channel against ``N_1 x N_2`` grid points).
This path never forms the full spectrum and reads and writes each field once:

1. :func:`truncated_dft` -- one program per 2-D plane (a whole line block in 1-D) reads the
   field tile by tile, contracts the last axis with ``[cos | -sin] / N_2`` of the ``m_2`` kept
   frequencies and, in the same program, the other axis with the ``2m_1`` kept rows of the
   complex DFT (``tl.dot`` on the tensor cores), and writes only the kept modes;
2. :func:`mode_mix` -- the per-mode complex channel mixing ``Y[b, o, k] = sum_i X[b, i, k]
   W[i, o, k]`` (optionally conjugated or transposed), accumulated in registers;
3. :func:`truncated_idft` -- the inverse in reverse order, ending with ``[c cos ; -c sin]``
   (``c`` = 1 for the zero and Nyquist frequencies, 2 otherwise, as ``irfft``), written tile by
   tile into the output.

The kernels themselves are in :mod:`neurops.kernels.spectral_triton_kernels`; this module
launches them (with their autotuning) and holds the autograd function.

The backward pass runs the same kernels, as the adjoint identities of the pruned-FFT path
(:mod:`neurops.kernels.spectral_fft`) give: ``dL/dx = idft(mix(dft(g), W^H))`` (the weights
``c`` and the factor ``prod(N)`` cancel) and ``dL/dW = c prod(N) sum_b conj(dft(x)) dft(g)``,
with ``dft(x)`` saved from the forward pass (it is small). 3-D fields run the 2-D kernels on
the planes of the last two axes and transform the first axis of the (small) truncated
spectrum with one complex matrix product.

Precision: float32 fields use 3xTF32 matrix products (about float32 accuracy; plain TF32 when
``torch.get_float32_matmul_precision()`` is not ``"highest"``); bfloat16/float16 fields multiply
in their own precision on the tensor cores with float32 accumulation, and the spectrum and the
mixing stay in float32 -- no power-of-two limit on the grid (cuFFT's half-precision transforms
have one). float64 works where Triton has float64 products (and in the interpreter).

Runs on CUDA tensors, or on CPU tensors through Triton's interpreter (``TRITON_INTERPRET=1``
set before Triton is imported; tests do this). The interpreter cannot multiply bfloat16/float16
blocks, so there the operands are rounded to that precision and multiplied in float32, which
is what the tensor cores compute up to summation order.

References
----------
.. [1] Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations",
   ICLR 2021, arXiv:2010.08895.
.. [2] S. Wu et al., "TurboFNO: high-performance Fourier neural operator with fused
   FFT-GEMM-iFFT on GPU", arXiv:2504.11681 (2025).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import triton
import triton.language as tl

from neurops.errors import ConfigError
from neurops.kernels._common import TRITON_DTYPES, check_inputs
from neurops.kernels.backend import INTERPRETER
from neurops.kernels.spectral_dft import _matrices
from neurops.kernels.spectral_fft import half_spectrum_weights
from neurops.kernels.spectral_triton_kernels import mode_mix_kernel, truncated_dft_kernel, truncated_idft_kernel


class _Tuned:
    """A kernel launched with the best of ``configs`` (block sizes, warps, pipeline stages): timed by
    Triton's autotuner at the first call per ``key`` on a GPU for fields of at least
    ``TUNE_MIN_POINTS`` points (smaller ones, and the interpreter, take the first config).

    The configs have no register spills on sm_90 (``cuobjdump -res-usage`` of Triton's cubins, compiled
    on a CPU) for float32 (3xTF32) and bfloat16 inputs, except the larger float32 tiles (a few spills).
    """

    def __init__(self, kernel: Any, configs: list[triton.Config], key: list[str],
                 excluded: Callable[[triton.Config, dict[str, Any]], bool] | None = None) -> None:
        self.configs = configs
        self.excluded = excluded
        self.kernel = kernel if INTERPRETER else triton.autotune(
            configs=configs, key=key, prune_configs_by={"early_config_prune": self._prune})(kernel)

    def _prune(self, configs: list[triton.Config], named_args: dict[str, Any], **kwargs: Any) -> list[triton.Config]:
        """All configs (less the ``excluded`` ones) for large fields; the first for small ones (no compiling and
        timing the others)."""
        if named_args["N1"] * named_args["N2"] < TUNE_MIN_POINTS:
            return configs[:1]
        return [c for c in configs if self.excluded is None or not self.excluded(c, named_args)] or configs[:1]

    def __call__(self, grid: Callable[[dict[str, Any]], tuple[int, ...]], *args: Any, **constexprs: Any) -> None:
        if INTERPRETER:
            meta = self.configs[0].kwargs
            self.kernel[grid(meta)](*args, **constexprs, **meta)
        else:
            self.kernel[grid](*args, **constexprs)


_KEY = ["N1", "N2", "K1", "M2"]
#: fields (plane, or all lines of a 1-D batch) smaller than this are not autotuned
TUNE_MIN_POINTS = 64 * 64
_dft = _Tuned(truncated_dft_kernel, [triton.Config({"BLOCK_1": 32, "BLOCK_2": 32}, num_warps=4, num_stages=3),
                                      triton.Config({"BLOCK_1": 32, "BLOCK_2": 64}, num_warps=8, num_stages=2),
                                      triton.Config({"BLOCK_1": 64, "BLOCK_2": 32}, num_warps=8, num_stages=3)], _KEY)


def _faulting_idft_config(config: triton.Config, named_args: dict[str, Any]) -> bool:
    """64-row tiles of the inverse DFT on float32/float64 fields: on an H200 (Triton 3.6, sm_90) they made an
    illegal memory access (benchmarks/gpu_check.py's launch-config probe, 2026-12-04) while the same configs
    ran right on bfloat16 fields and the 32-row tile right on float32; kept off until the cause is known."""
    return named_args["y_ptr"].dtype in (torch.float32, torch.float64) and config.kwargs["BLOCK_1"] > 32


_idft = _Tuned(truncated_idft_kernel, [triton.Config({"BLOCK_1": 32, "BLOCK_2": 32}, num_warps=4, num_stages=3),
                                        triton.Config({"BLOCK_1": 64, "BLOCK_2": 32}, num_warps=8, num_stages=3),
                                        triton.Config({"BLOCK_1": 64, "BLOCK_2": 64}, num_warps=8, num_stages=3)], _KEY,
               excluded=_faulting_idft_config)


def _pow2(n: int) -> int:
    """Block length for ``n`` kept modes: a power of two, at least 16 (the smallest ``tl.dot`` side)."""
    return max(16, triton.next_power_of_2(int(n)))


def _spectrum_dtype(dtype: torch.dtype) -> torch.dtype:
    """The spectrum, the tables and the accumulators: float64 for float64 fields, float32 otherwise."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _modes(dtype: torch.dtype) -> tuple[str, str]:
    """``(DATA_MODE, MID_MODE)`` of :func:`_dot` for fields of ``dtype``."""
    if dtype == torch.float64:
        return "f64", "f64"
    if dtype == torch.float32:
        prec = "ieee" if INTERPRETER else ("tf32x3" if torch.get_float32_matmul_precision() == "highest" else "tf32")
        return prec, prec
    low = {torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    return ("emu_" + low, "ieee") if INTERPRETER else (low, "tf32")


def _acc(dtype: torch.dtype) -> tl.dtype:
    return tl.float64 if dtype == torch.float64 else tl.float32


def truncated_dft(x: torch.Tensor, modes: Sequence[int]) -> torch.Tensor:
    """Kept Fourier coefficients ``rfftn(x, norm="forward")`` of the planes or lines of ``x``.

    Parameters
    ----------
    x : [P, N] (1-D lines) or [P, N_1, N_2] (2-D planes), float16/bfloat16/float32/float64.
    modes : ``(m,)`` or ``(m_1, m_2)``.

    Returns
    -------
    [P, M, 2] or [P, 2m_1, m_2, 2] real and imaginary parts (float32; float64 for float64 input),
    frequencies in the weight order ``[0..m_1-1, -m_1..-1]`` x ``[0..m_2-1]``.
    """
    x = x.contiguous()
    sdtype = _spectrum_dtype(x.dtype)
    data_mode, mid_mode = _modes(x.dtype)
    device_key = str(x.device)
    if x.ndim == 2:
        p, n2 = x.shape
        m2 = int(modes[0])
        out = torch.empty(p, m2, 2, dtype=sdtype, device=x.device)
        rt = _matrices("rfft", n2, m2, sdtype, device_key)
        _dft(lambda meta: (triton.cdiv(p, meta["BLOCK_1"]),),
             x, out, rt, rt, p, n2, 1, m2, 0, n2, 2 * m2, 0, 0, 0, ONE_D=True, K1P=16, M2P=_pow2(m2),
             ACC=_acc(x.dtype), DATA_MODE=data_mode, MID_MODE=mid_mode)
        return out
    p, n1, n2 = x.shape
    m1, m2 = int(modes[0]), int(modes[1])
    out = torch.empty(p, 2 * m1, m2, 2, dtype=sdtype, device=x.device)
    rt = _matrices("rfft", n2, m2, sdtype, device_key)  # [n2, 2 m2] = [cos | -sin] / n2
    ft = _matrices("fft", n1, m1, sdtype, device_key)  # [2 n1, 4 m1]; Re at [n, j], Im at [n, 2 m1 + j]
    _dft(lambda meta: (p,),
         x, out, rt, ft, n1, n2, 2 * m1, m2, n1 * n2, n2, 2 * m2, 4 * m1, 1, 2 * m1, ONE_D=False,
         K1P=_pow2(2 * m1), M2P=_pow2(m2), ACC=_acc(x.dtype), DATA_MODE=data_mode, MID_MODE=mid_mode)
    return out


def truncated_idft(z: torch.Tensor, spatial: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
    """Real field from kept coefficients (zero elsewhere): ``irfftn(., norm="forward")``.

    Parameters
    ----------
    z : [P, M, 2] or [P, 2m_1, m_2, 2] as returned by :func:`truncated_dft`.
    spatial : ``(N,)`` or ``(N_1, N_2)``.
    dtype : dtype of the field.

    Returns
    -------
    [P, N] or [P, N_1, N_2]. Imaginary parts of the zero (and Nyquist) frequency of the last
    axis are ignored, as ``irfft`` does.
    """
    z = z.contiguous()
    data_mode, mid_mode = _modes(dtype)
    device_key = str(z.device)
    if len(spatial) == 1:
        p, m2, _ = z.shape
        n2 = int(spatial[0])
        y = torch.empty(p, n2, dtype=dtype, device=z.device)
        it = _matrices("irfft", n2, m2, z.dtype, device_key)  # [2 m2, n2] = [c cos ; -c sin]
        _idft(lambda meta: (triton.cdiv(p, meta["BLOCK_1"]), 1),
              z, y, it, it, p, n2, 1, m2, 0, n2, n2, 0, 0, 0, ONE_D=True, K1P=16, M2P=_pow2(m2),
              ACC=_acc(dtype), DATA_MODE=data_mode, MID_MODE=mid_mode)
        return y
    p, k1, m2, _ = z.shape
    n1, n2 = int(spatial[0]), int(spatial[1])
    y = torch.empty(p, n1, n2, dtype=dtype, device=z.device)
    it = _matrices("irfft", n2, m2, z.dtype, device_key)
    gt = _matrices("ifft", n1, k1 // 2, z.dtype, device_key)  # [4 m1, 2 n1]; Re at [j, n], Im at [j, n1 + n]
    _idft(lambda meta: (p, triton.cdiv(n1, meta["BLOCK_1"])),
          z, y, it, gt, n1, n2, k1, m2, n1 * n2, n2, n2, 1, 2 * n1, n1, ONE_D=False, K1P=_pow2(k1),
          M2P=_pow2(m2), ACC=_acc(dtype), DATA_MODE=data_mode, MID_MODE=mid_mode)
    return y


def mode_mix(a: torch.Tensor, b: torch.Tensor, *, transpose_b: bool = False, adjoint_a: bool = False,
             conj_b: bool = False) -> torch.Tensor:
    """Per-mode complex matrix products of (re, im)-pair tensors.

    Parameters
    ----------
    a : [P, R, K, 2], or [R, P, K, 2] read as its conjugate transpose with ``adjoint_a``.
    b : [R, Q, K, 2], or [Q, R, K, 2] read transposed with ``transpose_b``; conjugated with ``conj_b``.

    Returns
    -------
    [P, Q, K, 2] with ``out[p, q, k] = sum_r a[p, r, k] b[r, q, k]`` (after the transposes).
    """
    a, b = a.contiguous(), b.contiguous()
    k = a.shape[2]
    sa_p, sa_r = (2 * k, a.shape[1] * 2 * k) if adjoint_a else (a.shape[1] * 2 * k, 2 * k)
    p, r = (a.shape[1], a.shape[0]) if adjoint_a else (a.shape[0], a.shape[1])
    q = b.shape[0] if transpose_b else b.shape[1]
    sb_r, sb_q = (2 * k, b.shape[1] * 2 * k) if transpose_b else (b.shape[1] * 2 * k, 2 * k)
    out = torch.empty(p, q, k, 2, dtype=a.dtype, device=a.device)
    block = 16  # one block shape for all sizes (masked): one compiled variant per dtype and conjugation
    grid = (triton.cdiv(k, block), triton.cdiv(q, block), triton.cdiv(p, block))
    mode_mix_kernel[grid](a, b, out, p, q, r, k, sa_p, sa_r, sb_r, sb_q, q * 2 * k, 2 * k, CONJ_A=adjoint_a,
                           CONJ_B=conj_b, BP=block, BQ=block, BK=block, ACC=_acc(a.dtype))
    return out


# ------------------------------------------------------------------ transforms of 1-3 axes
def _forward_transform(x: torch.Tensor, modes: tuple[int, ...]) -> torch.Tensor:
    """``x : [P, *spatial]`` -> kept modes ``[P, *K, 2]`` (weight order)."""
    if len(modes) < 3:
        return truncated_dft(x, modes)
    p, n0 = x.shape[:2]
    z = truncated_dft(x.reshape(p * n0, *x.shape[2:]), modes[1:])  # planes of the last two axes
    table = _matrices("fft", n0, modes[0], z.dtype, str(z.device))  # [2 n0, 4 m0]
    f0 = torch.complex(table[:n0, : 2 * modes[0]], table[:n0, 2 * modes[0]:])  # [n0, 2 m0]
    zc = torch.view_as_complex(z.view(p, n0, -1, 2))
    return torch.view_as_real(torch.einsum("pnk,nj->pjk", zc, f0).contiguous()).reshape(p, 2 * modes[0], *z.shape[1:])


def _inverse_transform(z: torch.Tensor, spatial: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """Kept modes ``[P, *K, 2]`` -> field ``[P, *spatial]`` of ``dtype``."""
    if len(spatial) < 3:
        return truncated_idft(z, spatial, dtype)
    p, k0 = z.shape[:2]
    n0, m0 = spatial[0], k0 // 2
    table = _matrices("ifft", n0, m0, z.dtype, str(z.device))  # [4 m0, 2 n0]
    g0 = torch.complex(table[:k0, :n0], table[:k0, n0:])  # [2 m0, n0]
    zc = torch.view_as_complex(z.reshape(p, k0, -1, 2).contiguous())
    planes = torch.view_as_real(torch.einsum("pjk,jn->pnk", zc, g0).contiguous()).reshape(p * n0, *z.shape[2:])
    return truncated_idft(planes, spatial[1:], dtype).reshape(p, *spatial)


class _SpectralConvTriton(torch.autograd.Function):
    """Truncated spectral convolution whose backward runs the same kernels (see the module doc)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor,  # type: ignore[override]
                modes: tuple[int, ...]) -> torch.Tensor:
        b, ci, *spatial = x.shape
        co = weight.shape[1]
        xs = _forward_transform(x.reshape(b * ci, *spatial), modes)
        kept = xs.shape[1:-1]
        w = weight.to(xs.dtype).reshape(ci, co, -1, 2)
        ys = mode_mix(xs.view(b, ci, -1, 2), w)
        y = _inverse_transform(ys.view(b * co, *kept, 2), tuple(spatial), x.dtype)
        ctx.save_for_backward(xs if ctx.needs_input_grad[1] else None, w)
        ctx.shapes = (b, ci, co, tuple(spatial), tuple(kept), x.dtype, weight.dtype)
        return y.view(b, co, *spatial)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor  # type: ignore[override]
                 ) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        xs, w = ctx.saved_tensors
        b, ci, co, spatial, kept, x_dtype, w_dtype = ctx.shapes
        gs = _forward_transform(grad.to(x_dtype).reshape(b * co, *spatial), tuple(
            [k // 2 for k in kept[:-1]] + [kept[-1]])).view(b, co, -1, 2)
        gx = gw = None
        if ctx.needs_input_grad[0]:
            gxs = mode_mix(gs, w, transpose_b=True, conj_b=True)  # [b, ci, K, 2]
            gx = _inverse_transform(gxs.view(b * ci, *kept, 2), spatial, x_dtype).view(b, ci, *spatial)
        if ctx.needs_input_grad[1]:
            gw = mode_mix(xs.view(b, ci, -1, 2), gs, adjoint_a=True)  # [ci, co, K, 2]
            c = half_spectrum_weights(spatial[-1], kept[-1], gw.dtype, gw.device) * math.prod(spatial)
            gw = (gw.view(ci, co, -1, kept[-1], 2) * c[:, None]).view(ci, co, *kept, 2).to(w_dtype)
        return gx, gw, None


def unsupported_reason(x: torch.Tensor, modes: Sequence[int]) -> str | None:
    """Why this path cannot take ``x`` (``None`` when it can)."""
    if x.dtype not in TRITON_DTYPES:
        return f"dtype {x.dtype} (it takes {', '.join(str(d) for d in TRITON_DTYPES)})"
    if not 1 <= x.ndim - 2 <= 3:
        return f"{x.ndim - 2} spatial dimensions (it takes 1 to 3)"
    if x.device.type == "cpu" and not INTERPRETER:
        return "CPU tensors without Triton's interpreter (set TRITON_INTERPRET=1 before importing Triton)"
    if x.device.type not in ("cpu", "cuda"):
        return f"tensors on {x.device} (it takes CUDA tensors)"
    return None


def spectral_conv_triton(x: torch.Tensor, weight: torch.Tensor, modes: Sequence[int]) -> torch.Tensor:
    """Truncated spectral convolution by Triton kernels (same contract as the reference path).

    Parameters
    ----------
    x : [B, C_in, *spatial] real input, 1 to 3 spatial dims, float16/bfloat16/float32/float64.
    weight : [C_in, C_out, *K, 2] real view of the complex weights, ``K = (2m_1, .., 2m_{d-1}, m_d)``.
    modes : kept modes per spatial dim ``(m_1, ..., m_d)``.

    Returns
    -------
    [B, C_out, *spatial] with the dtype of ``x``, equal to
    :func:`neurops.kernels.spectral.spectral_conv_reference` up to rounding (float32
    accumulation for half-precision inputs). Differentiable once (no double backward).
    """
    check_inputs(x, weight, modes, same_dtype=False)  # the weights are converted to the input's dtype below
    modes = tuple(int(m) for m in modes)
    reason = unsupported_reason(x, modes)
    if reason is not None:
        raise ConfigError(f"the triton spectral path cannot take {reason}; use path='auto' or 'fft'.")
    return _SpectralConvTriton.apply(x, weight, modes)
