"""Truncated spectral convolution (the Fourier layer of FNO): reference path and dispatcher.

Weight layout (shared by every path): a real tensor ``[C_in, C_out, *K, 2]`` holding
complex numbers (``torch.view_as_complex``), with ``K = (2*m_1, ..., 2*m_{d-1}, m_d)``.
Along each of the first d-1 axes the kept modes are the ``m_i`` lowest non-negative
frequencies followed by the ``m_i`` most negative ones (FFT order ``[0..m-1, -m..-1]``);
along the last axis (the half-spectrum of ``rfftn``) the ``m_d`` lowest frequencies.
Transforms use ``norm="forward"`` both ways, so the same weights act the same way on any
grid resolution (the coefficients approximate those of the continuous function).

Paths (:data:`PATHS`, all checked against the reference in ``tests/kernels/test_spectral.py``):
``reference`` (this module), ``fft`` (pruned FFTs, :mod:`neurops.kernels.spectral_fft`),
``dft`` (truncated DFT by GEMMs, :mod:`neurops.kernels.spectral_dft`) and ``triton`` (GPU
kernels, :mod:`neurops.kernels.spectral_triton`; needs the ``gpu`` extra). ``path="auto"`` picks
``triton`` for CUDA tensors when Triton is installed, otherwise by size (:func:`select_path`);
the environment variable ``NEUROPS_SPECTRAL_PATH`` replaces ``"auto"`` by a path of its own.

References
----------
Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations", ICLR 2021.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch
from jaxtyping import Float, Shaped
from torch import Tensor

from neurops.errors import ConfigError
from neurops.kernels._common import TRITON_DTYPES, check_fft_dtype, check_inputs, fft_unsupported, mix_channels
from neurops.kernels.backend import path_from_environment, triton_available
from neurops.kernels.spectral_dft import spectral_conv_dft
from neurops.kernels.spectral_fft import spectral_conv_fft
from neurops.registry import Registry

SpectralPath = Callable[[torch.Tensor, torch.Tensor, Sequence[int]], torch.Tensor]


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


def spectral_conv_reference(x: Float[Tensor, "batch in_channel *space"],
                            weight: Float[Tensor, "in_channel out_channel *kept 2"],
                            modes: Sequence[int]) -> Float[Tensor, "batch out_channel *space"]:
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
    check_inputs(x, weight, modes)
    check_fft_dtype(x, "reference")
    modes = tuple(int(m) for m in modes)
    axes = tuple(range(2, 2 + d))
    w = torch.view_as_complex(weight)
    xf = torch.fft.rfftn(x, dim=axes, norm="forward")
    out = torch.zeros(x.shape[0], w.shape[1], *spatial[:-1], spatial[-1] // 2 + 1, dtype=xf.dtype, device=x.device)
    for spec, wts in mode_blocks(spatial, modes):
        kept, weights = (slice(None), slice(None), *spec), (slice(None), slice(None), *wts)
        out[kept] = mix_channels(xf[kept], w[weights])
    return torch.fft.irfftn(out, s=spatial, dim=axes, norm="forward")


def spectral_conv_triton(x: Shaped[Tensor, "batch in_channel *space"], weight: Shaped[Tensor, "*_weight"],
                         modes: Sequence[int]) -> Float[Tensor, "batch out_channel *space"]:
    """The Triton path (:func:`neurops.kernels.spectral_triton.spectral_conv_triton`), imported on first use.

    It checks the dtypes, devices and the weights' layout itself, with errors that name them.
    """
    if not triton_available():
        raise ConfigError("the triton spectral path needs Triton: pip install 'neurops[gpu]' (or use path='auto').")
    from neurops.kernels.spectral_triton import spectral_conv_triton as run

    return run(x, weight, modes)


#: available implementations, by name (faster paths register here; tests compare each with "reference")
PATHS: Registry[SpectralPath] = Registry("spectral-convolution path", ConfigError, hint="Or 'auto'.")
for _name, _path in {"reference": spectral_conv_reference, "dft": spectral_conv_dft, "fft": spectral_conv_fft,
                     "triton": spectral_conv_triton}.items():
    PATHS.add(_name, _path)
#: environment variable that sets the path ``"auto"`` stands for (e.g. to compare paths in a run)
PATH_VARIABLE = "NEUROPS_SPECTRAL_PATH"

#: ``path="auto"`` takes the truncated-DFT path when every axis keeps at most this fraction of its
#: points (``m_i / N_i``), and the pruned-FFT path otherwise. The DFT's cost grows like ``N m`` per
#: line against ``N log N`` for the FFT, but it never materialises a full-size complex spectrum.
#: Measured on CPU (``benchmarks/spectral_conv.py``, batch 16, 32/64 channels): the pruned FFT was
#: fastest at 12/64 and 16/64 modes per point, the DFT at 12/128 and 16/128.
DFT_MAX_MODE_FRACTION = 0.15

#: The threshold for grids with an axis whose length has a prime factor above 7 (33, 65, 85, 129,
#: 257, 421, ...: the node grids of Darcy data), where FFTs are slow: there the DFT path was faster
#: at 12/65 and up to 10x faster than neuraloperator at 129, the FFT path at 16/65
#: (``benchmarks/results/spectral_conv_odd.md``).
DFT_MAX_MODE_FRACTION_UNFRIENDLY = 0.2

def fft_friendly(n: int) -> bool:
    """Whether ``n`` has no prime factor above 7 (the lengths FFT libraries transform fastest)."""
    for p in (2, 3, 5, 7):
        while n % p == 0 and n > 1:
            n //= p
    return n == 1


def select_path(x: Float[Tensor, "batch in_channel *space"],
                weight: Float[Tensor, "in_channel out_channel *kept 2"] | None, modes: Sequence[int]) -> str:
    """The implementation ``path="auto"`` uses: ``"triton"`` for CUDA tensors it takes (when Triton
    is installed and the GPU has TF32/bf16 tensor cores, compute capability >= 8.0), else ``"dft"``
    for few modes per point or an input torch.fft cannot transform (bfloat16; float16 off CUDA; outside
    autocast), and ``"fft"`` otherwise."""
    spatial = x.shape[2:]
    if len(spatial) != len(modes):
        return "fft"  # the path reports the mismatch
    if (x.is_cuda and 1 <= len(spatial) <= 3 and x.dtype in TRITON_DTYPES and triton_available()
            and torch.cuda.get_device_capability(x.device)[0] >= 8):  # TF32/bf16 tensor cores: Ampere and newer
        return "triton"
    if fft_unsupported(x):
        return "dft"  # half precision torch.fft cannot transform here
    limit = (DFT_MAX_MODE_FRACTION if all(fft_friendly(int(n)) for n in spatial)
             else DFT_MAX_MODE_FRACTION_UNFRIENDLY)
    return "dft" if all(m <= limit * n for n, m in zip(spatial, modes)) else "fft"


def spectral_conv(x: Float[Tensor, "batch in_channel *space"], weight: Float[Tensor, "in_channel out_channel *kept 2"],
                  modes: Sequence[int], path: str = "auto") -> Float[Tensor, "batch out_channel *space"]:
    """Truncated spectral convolution through the chosen (or automatically selected) path.

    Shapes as in :func:`spectral_conv_reference`; every path agrees with it. ``path="auto"``
    takes the path named by ``$NEUROPS_SPECTRAL_PATH`` if it is set, else :func:`select_path`.
    """
    if path == "auto":
        path = path_from_environment(PATH_VARIABLE, PATHS)
    name = select_path(x, weight, modes) if path == "auto" else path
    return PATHS.get(name)(x, weight, modes)
