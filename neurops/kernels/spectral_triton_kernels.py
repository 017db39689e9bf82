"""The Triton kernels of the spectral convolution (launched by :mod:`neurops.kernels.spectral_triton`).

* :func:`truncated_dft_kernel` -- one program per 2-D plane (or line block in 1-D): the kept
  Fourier coefficients, the last axis contracted with ``[cos | -sin] / N_2`` tile by tile, then
  the first with the ``2m_1`` kept rows of the complex DFT;
* :func:`truncated_idft_kernel` -- the inverse, in reverse order, written tile by tile;
* :func:`mode_mix_kernel` -- the per-mode complex channel mixing, accumulated in registers.

``_dot`` is the one block product of all three, in the precision its ``MODE`` names (3xTF32,
TF32, bf16/fp16 with float32 accumulation, float64, or the interpreter's emulations).
"""

from __future__ import annotations

import triton
import triton.language as tl

from neurops.kernels.backend import device_function


@device_function
def _dot(a, b, MODE: tl.constexpr):
    """``a @ b`` with float32 accumulation (float64 for ``"f64"``).

    ``MODE``: an input precision for float32 operands (``"tf32x3"``, ``"tf32"``, ``"ieee"``),
    ``"bf16"``/``"fp16"`` (operands in that format, tensor cores), ``"emu_bf16"``/``"emu_fp16"``
    (the same rounding, products in float32: the interpreter), or ``"f64"``.
    """
    if MODE == "f64":
        return tl.dot(a, b, input_precision="ieee")
    elif MODE == "bf16":
        return tl.dot(a.to(tl.bfloat16), b.to(tl.bfloat16))
    elif MODE == "fp16":
        return tl.dot(a.to(tl.float16), b.to(tl.float16))
    elif MODE == "emu_bf16":
        return tl.dot(a.to(tl.float32).to(tl.bfloat16).to(tl.float32),
                      b.to(tl.float32).to(tl.bfloat16).to(tl.float32), input_precision="ieee")
    elif MODE == "emu_fp16":
        return tl.dot(a.to(tl.float32).to(tl.float16).to(tl.float32),
                      b.to(tl.float32).to(tl.float16).to(tl.float32), input_precision="ieee")
    else:
        return tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision=MODE)


@device_function
def _rdft_rows(x_row_ptr, rows, n_rows, N2, sx_row, rt_ptr, s_rt, M2,
               BLOCK_R: tl.constexpr, BLOCK_2: tl.constexpr, M2P: tl.constexpr, ACC: tl.constexpr,
               MODE: tl.constexpr):
    """Kept half-spectrum ``[BLOCK_R, M2P]`` (real, imaginary) of the rows ``rows`` of a field."""
    r2 = tl.arange(0, BLOCK_2)
    rk = tl.arange(0, M2P)
    t_re = tl.zeros((BLOCK_R, M2P), ACC)
    t_im = tl.zeros((BLOCK_R, M2P), ACC)
    row_ok = rows[:, None] < n_rows
    for n2 in range(0, N2, BLOCK_2):
        cols = n2 + r2
        xt = tl.load(x_row_ptr + rows[:, None] * sx_row + cols[None, :], mask=row_ok & (cols[None, :] < N2), other=0.0)
        tmask = (cols[:, None] < N2) & (rk[None, :] < M2)
        table = rt_ptr + cols[:, None] * s_rt + rk[None, :]
        t_re += _dot(xt, tl.load(table, mask=tmask, other=0.0), MODE)
        t_im += _dot(xt, tl.load(table + M2, mask=tmask, other=0.0), MODE)
    return t_re, t_im


@triton.jit
def truncated_dft_kernel(x_ptr, out_ptr, rt_ptr, ft_ptr, N1, N2, K1, M2, sx_plane, sx_row, s_rt, s_ft_n, s_ft_j,
                          ft_im, ONE_D: tl.constexpr, BLOCK_1: tl.constexpr, BLOCK_2: tl.constexpr,
                          K1P: tl.constexpr, M2P: tl.constexpr, ACC: tl.constexpr, DATA_MODE: tl.constexpr,
                          MID_MODE: tl.constexpr):
    """Kept modes ``out[p, j, k, re/im]`` of plane ``p`` (1-D: of the lines ``p*BLOCK_1 ...``)."""
    pid = tl.program_id(0)
    rk = tl.arange(0, M2P)
    if ONE_D:  # the rows are lines of the batch; no other axis to transform
        rows = pid * BLOCK_1 + tl.arange(0, BLOCK_1)
        t_re, t_im = _rdft_rows(x_ptr, rows, N1, N2, sx_row, rt_ptr, s_rt, M2, BLOCK_1, BLOCK_2, M2P, ACC,
                                DATA_MODE)
        dst = out_ptr + rows[:, None] * (M2 * 2) + rk[None, :] * 2
        ok = (rows[:, None] < N1) & (rk[None, :] < M2)
        tl.store(dst, t_re.to(out_ptr.dtype.element_ty), mask=ok)
        tl.store(dst + 1, t_im.to(out_ptr.dtype.element_ty), mask=ok)
    else:
        rj = tl.arange(0, K1P)
        x_plane = x_ptr + pid.to(tl.int64) * sx_plane
        acc_re = tl.zeros((K1P, M2P), ACC)
        acc_im = tl.zeros((K1P, M2P), ACC)
        for n1 in range(0, N1, BLOCK_1):
            rows = n1 + tl.arange(0, BLOCK_1)
            t_re, t_im = _rdft_rows(x_plane, rows, N1, N2, sx_row, rt_ptr, s_rt, M2, BLOCK_1, BLOCK_2, M2P, ACC,
                                    DATA_MODE)
            fmask = (rj[:, None] < K1) & (rows[None, :] < N1)
            f = ft_ptr + rows[None, :] * s_ft_n + rj[:, None] * s_ft_j
            f_re = tl.load(f, mask=fmask, other=0.0)
            f_im = tl.load(f + ft_im, mask=fmask, other=0.0)
            acc_re += _dot(f_re, t_re, MID_MODE) - _dot(f_im, t_im, MID_MODE)
            acc_im += _dot(f_re, t_im, MID_MODE) + _dot(f_im, t_re, MID_MODE)
        dst = out_ptr + pid.to(tl.int64) * (K1 * M2 * 2) + rj[:, None] * (M2 * 2) + rk[None, :] * 2
        ok = (rj[:, None] < K1) & (rk[None, :] < M2)
        tl.store(dst, acc_re.to(out_ptr.dtype.element_ty), mask=ok)
        tl.store(dst + 1, acc_im.to(out_ptr.dtype.element_ty), mask=ok)


@triton.jit
def truncated_idft_kernel(z_ptr, y_ptr, it_ptr, gt_ptr, N1, N2, K1, M2, sy_plane, sy_row, s_it, s_gt_n, s_gt_j,
                           gt_im, ONE_D: tl.constexpr, BLOCK_1: tl.constexpr, BLOCK_2: tl.constexpr,
                           K1P: tl.constexpr, M2P: tl.constexpr, ACC: tl.constexpr, DATA_MODE: tl.constexpr,
                           MID_MODE: tl.constexpr):
    """Rows ``pid1*BLOCK_1 ...`` of plane ``pid0`` (1-D: lines ``pid0*BLOCK_1 ...``) from kept modes."""
    rk = tl.arange(0, M2P)
    if ONE_D:
        rows = tl.program_id(0) * BLOCK_1 + tl.arange(0, BLOCK_1)
        src = z_ptr + rows[:, None] * (M2 * 2) + rk[None, :] * 2
        ok = (rows[:, None] < N1) & (rk[None, :] < M2)
        w_re = tl.load(src, mask=ok, other=0.0).to(ACC)
        w_im = tl.load(src + 1, mask=ok, other=0.0).to(ACC)
        y_rows = y_ptr
    else:
        plane = tl.program_id(0).to(tl.int64)
        rows = tl.program_id(1) * BLOCK_1 + tl.arange(0, BLOCK_1)
        rj = tl.arange(0, K1P)
        src = z_ptr + plane * (K1 * M2 * 2) + rj[:, None] * (M2 * 2) + rk[None, :] * 2
        ok = (rj[:, None] < K1) & (rk[None, :] < M2)
        z_re = tl.load(src, mask=ok, other=0.0)
        z_im = tl.load(src + 1, mask=ok, other=0.0)
        gmask = (rows[:, None] < N1) & (rj[None, :] < K1)
        g = gt_ptr + rows[:, None] * s_gt_n + rj[None, :] * s_gt_j
        g_re = tl.load(g, mask=gmask, other=0.0)
        g_im = tl.load(g + gt_im, mask=gmask, other=0.0)
        w_re = _dot(g_re, z_re, MID_MODE) - _dot(g_im, z_im, MID_MODE)
        w_im = _dot(g_re, z_im, MID_MODE) + _dot(g_im, z_re, MID_MODE)
        y_rows = y_ptr + plane * sy_plane
    r2 = tl.arange(0, BLOCK_2)
    row_ok = rows[:, None] < N1
    for n2 in range(0, N2, BLOCK_2):
        cols = n2 + r2
        tmask = (rk[:, None] < M2) & (cols[None, :] < N2)
        table = it_ptr + rk[:, None] * s_it + cols[None, :]
        y = (_dot(w_re, tl.load(table, mask=tmask, other=0.0), DATA_MODE)
             + _dot(w_im, tl.load(table + M2 * s_it, mask=tmask, other=0.0), DATA_MODE))
        tl.store(y_rows + rows[:, None] * sy_row + cols[None, :], y.to(y_ptr.dtype.element_ty),
                 mask=row_ok & (cols[None, :] < N2))


@triton.jit
def mode_mix_kernel(a_ptr, b_ptr, out_ptr, P, Q, R, K, sa_p, sa_r, sb_r, sb_q, so_p, so_q,
                     CONJ_A: tl.constexpr, CONJ_B: tl.constexpr, BP: tl.constexpr, BQ: tl.constexpr,
                     BK: tl.constexpr, ACC: tl.constexpr):
    """``out[p, q, k] = sum_r a[p, r, k] b[r, q, k]`` for complex entries stored as (re, im) pairs."""
    rk = tl.program_id(0) * BK + tl.arange(0, BK)
    rq = tl.program_id(1) * BQ + tl.arange(0, BQ)
    rp = tl.program_id(2) * BP + tl.arange(0, BP)
    a_off = rp[:, None].to(tl.int64) * sa_p + rk[None, :] * 2
    b_off = rq[:, None].to(tl.int64) * sb_q + rk[None, :] * 2
    a_ok = (rp[:, None] < P) & (rk[None, :] < K)
    b_ok = (rq[:, None] < Q) & (rk[None, :] < K)
    acc_re = tl.zeros((BP, BQ, BK), ACC)
    acc_im = tl.zeros((BP, BQ, BK), ACC)
    for r in range(R):
        a_re = tl.load(a_ptr + r * sa_r + a_off, mask=a_ok, other=0.0).to(ACC)
        a_im = tl.load(a_ptr + r * sa_r + a_off + 1, mask=a_ok, other=0.0).to(ACC)
        b_re = tl.load(b_ptr + r * sb_r + b_off, mask=b_ok, other=0.0).to(ACC)
        b_im = tl.load(b_ptr + r * sb_r + b_off + 1, mask=b_ok, other=0.0).to(ACC)
        if CONJ_A:
            a_im = -a_im
        if CONJ_B:
            b_im = -b_im
        acc_re += a_re[:, None, :] * b_re[None, :, :] - a_im[:, None, :] * b_im[None, :, :]
        acc_im += a_re[:, None, :] * b_im[None, :, :] + a_im[:, None, :] * b_re[None, :, :]
    dst = out_ptr + rp[:, None, None].to(tl.int64) * so_p + rq[None, :, None] * so_q + rk[None, None, :] * 2
    ok = (rp[:, None, None] < P) & (rq[None, :, None] < Q) & (rk[None, None, :] < K)
    tl.store(dst, acc_re.to(out_ptr.dtype.element_ty), mask=ok)
    tl.store(dst + 1, acc_im.to(out_ptr.dtype.element_ty), mask=ok)


__all__ = ["mode_mix_kernel", "truncated_dft_kernel", "truncated_idft_kernel"]
