"""Truncated spectral convolution (the Fourier layer of FNO): reference path and dispatcher.

Weight layout (shared by every path): a real tensor ``[C_in, C_out, *K, 2]`` holding
complex numbers (``torch.view_as_complex``), with ``K = (2*m_1, ..., 2*m_{d-1}, m_d)``.
Along each of the first d-1 axes the kept modes are the ``m_i`` lowest non-negative
frequencies followed by the ``m_i`` most negative ones (FFT order ``[0..m-1, -m..-1]``);
along the last axis (the half-spectrum of ``rfftn``) the ``m_d`` lowest frequencies.
Transforms use ``norm="forward"`` both ways, so the same weights act the same way on any
grid resolution (the coefficients approximate those of the continuous function).

References
----------
Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations", ICLR 2021.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch

from neurops.kernels.spectral_dft import spectral_conv_dft

SpectralPath = Callable[[torch.Tensor, torch.Tensor, Sequence[int]], torch.Tensor]


def check_modes(spatial: Sequence[int], modes: Sequence[int]) -> None:
    """Raise ``ValueError`` if the grid cannot hold the requested number of modes."""
    if len(spatial) != len(modes):
        raise ValueError(f"input has {len(spatial)} spatial dims but {len(modes)} mode counts were given "
                         f"(modes={tuple(modes)}); use one mode count per spatial dimension.")
    for i, (n, m) in enumerate(zip(spatial, modes)):
        limit = n // 2 + 1 if i == len(modes) - 1 else n // 2
        if m < 1 or m > limit:
            raise ValueError(f"spatial dim {i} has {n} points, which holds at most {limit} Fourier modes, "
                             f"but {m} were requested; use a finer grid or fewer modes.")


def mode_blocks(spatial: Sequence[int], modes: Sequence[int]) -> list[tuple[tuple[slice, ...], tuple[slice, ...]]]:
    """Pairs ``(spectrum slices, weight slices)`` for the 2^(d-1) corner blocks of kept modes."""
    d = len(modes)
    blocks = []
    for signs in itertools.product((0, 1), repeat=d - 1):
        spec, wts = [], []
        for i, s in enumerate(signs):
            m, n = modes[i], spatial[i]
            spec.append(slice(0, m) if s == 0 else slice(n - m, n))
            wts.append(slice(0, m) if s == 0 else slice(m, 2 * m))
        spec.append(slice(0, modes[-1]))
        wts.append(slice(0, modes[-1]))
        blocks.append((tuple(spec), tuple(wts)))
    return blocks


def spectral_conv_reference(x: torch.Tensor, weight: torch.Tensor, modes: Sequence[int]) -> torch.Tensor:
    """Reference path: ``rfftn`` -> keep modes -> complex channel mixing -> ``irfftn``.

    Parameters
    ----------
    x : [B, C_in, *spatial] real input.
    weight : [C_in, C_out, *K, 2] real view of the complex weights (layout in the module doc).
    modes : kept modes per spatial dim ``(m_1, ..., m_d)``.

    Returns
    -------
    [B, C_out, *spatial] real output.
    """
    spatial = tuple(x.shape[2:])
    d = len(spatial)
    check_modes(spatial, modes)
    axes = tuple(range(2, 2 + d))
    w = torch.view_as_complex(weight)
    xf = torch.fft.rfftn(x, dim=axes, norm="forward")
    out = torch.zeros(x.shape[0], w.shape[1], *spatial[:-1], spatial[-1] // 2 + 1, dtype=xf.dtype, device=x.device)
    for spec, wts in mode_blocks(spatial, modes):
        out[(slice(None), slice(None), *spec)] = mix_channels(xf[(slice(None), slice(None), *spec)],
                                                              w[(slice(None), slice(None), *wts)])
    return torch.fft.irfftn(out, s=spatial, dim=axes, norm="forward")


def mix_channels(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Per-mode channel mixing ``y[b, o, k] = sum_i x[b, i, k] w[i, o, k]``.

    Parameters
    ----------
    x : [B, C_in, *K] complex; w : [C_in, C_out, *K] complex.

    Returns
    -------
    [B, C_out, *K]. Computed as ONE batched matmul over the modes on contiguous
    ``[K, B, C_in] @ [K, C_in, C_out]`` operands: ``torch.einsum`` on the mode-last layout
    and strided batched products are orders of magnitude slower on CPU.
    """
    b, ci, *k = x.shape
    co = w.shape[1]
    d = len(k)
    # .contiguous(): reshape may return a view whose batch stride is 1, which BLAS handles ~300x slower
    xm = x.permute(*range(2, 2 + d), 0, 1).reshape(-1, b, ci).contiguous()
    wm = w.permute(*range(2, 2 + d), 0, 1).reshape(-1, ci, co).contiguous()
    return _ContiguousBmm.apply(xm, wm).reshape(*k, b, co).permute(d, d + 1, *range(d))


class _ContiguousBmm(torch.autograd.Function):
    """``torch.bmm`` whose backward products also run on contiguous operands.

    Autograd's own bmm backward multiplies the incoming gradient as it arrives (here a
    permuted view with batch stride 1), which is the slow strided case again.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, w)
        return torch.bmm(x, w)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:  # type: ignore[override]
        x, w = ctx.saved_tensors
        grad = grad.contiguous()
        gx = torch.bmm(grad, w.transpose(1, 2).conj().contiguous()) if ctx.needs_input_grad[0] else None
        gw = torch.bmm(x.transpose(1, 2).conj().contiguous(), grad) if ctx.needs_input_grad[1] else None
        return gx, gw


#: available implementations, by name (faster paths register here; tests compare each with "reference")
PATHS: dict[str, SpectralPath] = {"reference": spectral_conv_reference, "dft": spectral_conv_dft}

#: ``path="auto"`` takes the truncated-DFT path when every axis keeps at most this fraction of its
#: points (``m_i / N_i``); its cost grows like ``N m`` per line against ``N log N`` for the FFT. On
#: CPU (``benchmarks/spectral_conv.py``) it was 1.5-5x faster forward + backward at 12/64, 12/128 and
#: 16/128 modes per point, and on par with the reference at 16/64.
DFT_MAX_MODE_FRACTION = 0.2


def select_path(x: torch.Tensor, weight: torch.Tensor, modes: Sequence[int]) -> str:
    """The implementation ``path="auto"`` uses for these sizes (``"dft"`` for few modes, else ``"reference"``)."""
    spatial = x.shape[2:]
    if len(spatial) == len(modes) and all(m <= DFT_MAX_MODE_FRACTION * n for n, m in zip(spatial, modes)):
        return "dft"
    return "reference"


def spectral_conv(x: torch.Tensor, weight: torch.Tensor, modes: Sequence[int], path: str = "auto") -> torch.Tensor:
    """Truncated spectral convolution through the chosen (or automatically selected) path.

    Shapes as in :func:`spectral_conv_reference`; every path agrees with it.
    """
    name = select_path(x, weight, modes) if path == "auto" else path
    if name not in PATHS:
        raise ValueError(f"unknown spectral-convolution path {path!r}; choose 'auto' or one of {sorted(PATHS)}.")
    return PATHS[name](x, weight, modes)
