"""Triton kernels for variable-coefficient star stencils: apply, residual and the multigrid smoothers.

One kernel serves the (2d+1)-point operators of :class:`~neurops.solvers.linear.stencil.StencilOperator`
(3-point 1-D, 5-point 2-D, 7-point 3-D; Dirichlet/Neumann ends, where the coefficients toward
the outside are ignored, or periodic wrap-around per axis). Each program takes a block of grid
points of one sample and reads ``u`` (centre and neighbours, mostly from cache), ``f``, the
diagonal and the ``2d`` coefficient fields once, and writes one field:

* ``apply``: ``A u``; ``residual``: ``f - A u``;
* ``jacobi``: one damped Jacobi sweep ``u + omega (f - A u) / diag``;
* ``colour``: one red-black Gauss-Seidel half sweep: points of parity ``colour`` (sum of the
  indices mod 2) get ``u + (f - A u) / diag``, the others keep ``u``.

Against the torch path (one pass over ``u`` and the output per stencil offset, plus the
residual and the update as further passes) this moves about a third of the bytes. Sweeps are
out of place, so a colour's neighbours are read before they change even when a periodic axis
of odd length puts two points of one colour side by side (what the torch smoother computes).

Runs on CUDA tensors, or on CPU tensors through Triton's interpreter (``TRITON_INTERPRET=1``).

References
----------
.. [1] U. Trottenberg, C. W. Oosterlee, A. Schueller, "Multigrid", Academic Press 2001,
   sections 2.1 (stencils) and 2.5 (Jacobi and red-black Gauss-Seidel smoothing).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from neurops.kernels.backend import device_function

MODES = ("apply", "residual", "jacobi", "colour")
BLOCK = 1024


@device_function
def _axis_terms(u_b, c_lo, c_hi, idx, i, n, stride, ok, PERIODIC: tl.constexpr):
    """``c_lo u[idx - stride] + c_hi u[idx + stride]`` along one axis (``i``: index along it, ``n``: its size);
    neighbours beyond a non-periodic end contribute nothing."""
    if PERIODIC:
        lo = tl.where(i == 0, idx + (n - 1) * stride, idx - stride)
        hi = tl.where(i == n - 1, idx - (n - 1) * stride, idx + stride)
        has_lo = ok
        has_hi = ok
    else:
        lo = idx - stride
        hi = idx + stride
        has_lo = ok & (i > 0)
        has_hi = ok & (i < n - 1)
    return (tl.load(c_lo + idx, mask=has_lo, other=0.0) * tl.load(u_b + lo, mask=has_lo, other=0.0)
            + tl.load(c_hi + idx, mask=has_hi, other=0.0) * tl.load(u_b + hi, mask=has_hi, other=0.0))


@triton.jit
def _star_kernel(u_ptr, f_ptr, diag_ptr, coef_ptr, out_ptr, omega_ptr, N0, N1, N2, numel, s_op, s_coef, colour,
                 NDIM: tl.constexpr, PER0: tl.constexpr, PER1: tl.constexpr, PER2: tl.constexpr,
                 MODE: tl.constexpr, BLOCK: tl.constexpr):
    """One output field of sample ``program_id(1)``, points ``program_id(0) * BLOCK ...`` (C order
    over ``(N0, N1, N2)``, leading sizes 1 for 1-D and 2-D grids)."""
    b = tl.program_id(1).to(tl.int64)
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = idx < numel
    i2 = idx % N2
    i1 = (idx // N2) % N1
    i0 = idx // (N1 * N2)
    u_b = u_ptr + b * numel
    c_b = coef_ptr + b * s_coef  # coefficient fields in star order: -e_0, +e_0, -e_1, +e_1, ...
    u = tl.load(u_b + idx, mask=ok, other=0.0)
    d = tl.load(diag_ptr + b * s_op + idx, mask=ok, other=1.0)
    au = d * u
    if NDIM == 3:
        au += _axis_terms(u_b, c_b, c_b + numel, idx, i0, N0, N1 * N2, ok, PER0)
    if NDIM >= 2:
        au += _axis_terms(u_b, c_b + (2 * NDIM - 4) * numel, c_b + (2 * NDIM - 3) * numel, idx, i1, N1, N2, ok, PER1)
    au += _axis_terms(u_b, c_b + (2 * NDIM - 2) * numel, c_b + (2 * NDIM - 1) * numel, idx, i2, N2, 1, ok, PER2)
    if MODE == "apply":
        out = au
    else:
        r = tl.load(f_ptr + b * numel + idx, mask=ok, other=0.0) - au
        if MODE == "residual":
            out = r
        elif MODE == "jacobi":
            out = u + tl.load(omega_ptr) * r / d
        else:
            out = tl.where((i0 + i1 + i2) % 2 == colour, u + r / d, u)
    tl.store(out_ptr + b * numel + idx, out, mask=ok)


def star_stencil(mode: str, diag: torch.Tensor, coeffs: torch.Tensor, periodic: tuple[bool, ...], u: torch.Tensor,
                 f: torch.Tensor | None = None, *, omega: float = 1.0, colour: int = 0) -> torch.Tensor:
    """One pass of the star-stencil kernel.

    Parameters
    ----------
    mode : ``"apply"`` (``A u``), ``"residual"`` (``f - A u``), ``"jacobi"`` (``u + omega (f - A u) / diag``)
        or ``"colour"`` (that update on the points whose index sum has parity ``colour``).
    diag : [B or 1, *shape]; coeffs : [B or 1, 2d, *shape] in the order ``-e_0, +e_0, -e_1, ...``
        (:func:`~neurops.solvers.linear.stencil.star_offsets`).
    periodic : per axis.
    u, f : [B, *shape] (``f`` unused by ``"apply"``).

    Returns
    -------
    [B, *shape], a new tensor.
    """
    if mode not in MODES:
        raise ValueError(f"stencil kernel mode {mode!r} is unknown; use one of {MODES}.")
    ndim = u.ndim - 1
    shape = (1,) * (3 - ndim) + tuple(u.shape[1:])
    per = (False,) * (3 - ndim) + tuple(bool(p) for p in periodic)
    numel = u[0].numel()
    u = u.contiguous()
    f = u if f is None else f.to(u.dtype).contiguous()
    diag, coeffs = diag.to(u.dtype).contiguous(), coeffs.to(u.dtype).contiguous()
    out = torch.empty_like(u)
    omega_t = torch.full((1,), float(omega), dtype=u.dtype, device=u.device)  # a float argument would be float32
    grid = (triton.cdiv(numel, BLOCK), u.shape[0])
    _star_kernel[grid](u, f, diag, coeffs, out, omega_t, *shape, numel, numel if diag.shape[0] > 1 else 0,
                       coeffs[0].numel() if coeffs.shape[0] > 1 else 0, int(colour), NDIM=ndim,
                       PER0=per[0], PER1=per[1], PER2=per[2], MODE=mode, BLOCK=BLOCK)
    return out
