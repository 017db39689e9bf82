"""Kernel-interpolated convolution: a stencil defined at a reference grid spacing, used on any grid.

A convolution with a learned stencil ``W`` of ``k = 2p + 1`` taps at spacing ``h_ref`` is
read as the trapezoidal quadrature of an integral operator

.. math:: (K v)(x) = \\int_{|y_i| \\le p h_{ref}} \\kappa(y) \\, v(x - y) \\, dy,
          \\qquad W_i = c_i \\, h_{ref}^d \\, \\kappa(i h_{ref}),

with trapezoidal weights ``c_i`` (1 inside, 1/2 on the stencil's outer taps, per axis)
and ``kappa`` the piecewise-(multi)linear function through the samples. On a grid of
spacing ``h`` the layer samples ``kappa`` at the new offsets ``j h`` inside the same
physical support and applies the trapezoidal weights of that spacing, i.e. it
interpolates the stencil and rescales it by the cell-size ratio ``(h / h_ref)^d``:

* at ``h = h_ref`` it is exactly the ordinary convolution with ``W``;
* at ``h = h_ref / s`` (``s`` an integer) the stencil has ``s (k - 1) + 1`` taps per
  axis (3 -> 5 at twice the resolution) and the same sum (a constant field gives the
  same output on every grid);
* as ``h -> 0`` the output converges to ``K v`` (second order on grids nested in the
  reference grid), so outputs on two fine grids agree to a discretisation error that
  shrinks with ``h``;
* on grids coarser than the reference the kernel is under-resolved (fewer taps than
  it has pieces); models resample such inputs up to the reference grid instead.

Grid spacings follow from the input's shape and the boundary condition of each axis
(:func:`neurops.layers.resample.cells`): lengths are fractions of the domain's side.
A ``1``-tap axis (pointwise) is left as it is.

References
----------
.. [1] J. Berner, M. Liu-Schiaffini, J. Kossaifi, V. Duruisseaux, B. Bonev,
   K. Azizzadenesheli, A. Anandkumar, "Principled Approaches for Extending Neural
   Architectures to Function Spaces for Operator Learning", 2025, arXiv:2506.10973
   (kernel interpolation of convolutional layers, Sec. 4).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from neurops.errors import ModelError
from neurops.layers.boundary import BoundaryLike, pad_for_conv, resolve_boundary
from neurops.layers.resample import cells

__all__ = ["GridStencilConv", "KernelInterpConv", "grid_spacing", "stencil_resampling"]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_EPS = 1e-9


def grid_spacing(shape: Sequence[int], boundary: Sequence[str]) -> tuple[float, ...]:
    """Spacing per axis of a grid on the unit cube (``1 / n`` periodic, ``1 / (n - 1)`` nodes); a
    :class:`~neurops.errors.ModelError` for an axis without one (a single node)."""
    if any(cells(int(n), m) < 1 for n, m in zip(shape, boundary)):  # type: ignore[arg-type]
        raise ModelError(f"a grid of shape {tuple(int(n) for n in shape)} ({', '.join(boundary)}) has an axis with "
                         "no grid spacing: a non-periodic axis needs at least 2 points; pass a finer grid.")
    return tuple(1.0 / cells(int(n), m) for n, m in zip(shape, boundary))  # type: ignore[arg-type]


@functools.lru_cache(maxsize=256)
def _resampling_matrix(k: int, ratio: float) -> np.ndarray:
    p = (k - 1) // 2
    if p == 0:
        return np.ones((1, 1))
    t = 1.0 / ratio  # new spacing in units of the reference spacing
    n = int(math.floor((p + t / 2) / t - _EPS))  # last j whose cell [jt - t/2, jt + t/2] overlaps [-p, p]
    j = np.arange(-n, n + 1)
    pos = j * t
    overlap = np.minimum(pos + t / 2, p) - np.maximum(pos - t / 2, -p)
    weight = np.clip(overlap, 0.0, None) / t  # trapezoidal / cell weights of the new grid
    # hat functions of the reference taps evaluated at the new offsets (clamped to the support)
    x = np.clip(pos, -p, p)[:, None]
    hats = np.clip(1.0 - np.abs(x - np.arange(-p, p + 1)[None, :]), 0.0, None)
    ref_weight = np.ones(k)
    ref_weight[[0, -1]] = 0.5
    return weight[:, None] * t * hats / ref_weight[None, :]


def stencil_resampling(kernel_size: int, ratio: float) -> np.ndarray:
    """Matrix ``M [k', k]`` mapping a ``k``-tap stencil at spacing ``h_ref`` to spacing ``h_ref / ratio``.

    ``M`` is the identity at ``ratio = 1``; its rows are the new taps (trapezoidal weight
    times the linearly interpolated kernel), so ``W' = M @ W`` per axis.

    Parameters
    ----------
    kernel_size : odd number of taps ``k``.
    ratio : ``h_ref / h`` (2 for a grid twice as fine).

    Returns
    -------
    float64 array ``[k', k]``.
    """
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ModelError(f"kernel_size must be odd and positive, got {kernel_size}")
    if not ratio > 0:
        raise ModelError(f"spacing ratio must be positive, got {ratio}")
    return _resampling_matrix(int(kernel_size), round(float(ratio), 12))


class GridStencilConv(nn.Module):
    """Base of the convolutions whose stencil depends on the input's grid (:class:`KernelInterpConv`,
    :class:`~neurops.layers.local_integral.LocalIntegralConv`).

    A subclass holds ``weight`` and ``bias`` and implements :meth:`stencil`; :meth:`forward` checks the
    input, samples the stencil for its grid, weights the input (:meth:`weigh`; e.g. quadrature), pads
    it by the boundary conditions and convolves.

    Parameters
    ----------
    in_channels, out_channels : channel counts.
    boundary : boundary condition per axis (padding, and the grid type that fixes the spacing of an
        input's shape).
    ndim : number of spatial dims (1, 2 or 3).

    Shapes
    ------
    ``x : [B, in_channels, *spatial] -> [B, out_channels, *spatial]`` for any grid.
    """

    weight: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, in_channels: int, out_channels: int, boundary: BoundaryLike, ndim: int) -> None:
        super().__init__()
        if ndim not in _CONV:
            raise ModelError(f"ndim must be 1, 2 or 3, got {ndim}")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelError(f"{type(self).__name__}: {name} must be a whole number >= 1, got {value!r}.")
        self.in_channels, self.out_channels, self.ndim = int(in_channels), int(out_channels), ndim
        self.boundary = resolve_boundary(boundary, ndim)

    def stencil(self, shape: Sequence[int]) -> torch.Tensor:  # pragma: no cover - abstract
        """The weight ``[out, in, *taps]`` used on a grid of ``shape``."""
        raise NotImplementedError

    def weigh(self, x: torch.Tensor) -> torch.Tensor:
        """The input as the convolution sums it (unchanged here)."""
        return x

    def forward(self, x: Float[Tensor, "batch in_channel *space"]) -> Float[Tensor, "batch out_channel *space"]:
        """``x : [B, in_channels, *spatial] -> [B, out_channels, *spatial]``."""
        if x.dim() != self.ndim + 2 or x.shape[1] != self.in_channels:
            raise ModelError(f"{type(self).__name__} expects [B, {self.in_channels}, {self.ndim} spatial dims], "
                             f"got shape {tuple(x.shape)}")
        want = self.weight.dtype
        if x.dtype != want and not (x.is_floating_point() and torch.is_autocast_enabled(x.device.type)):
            other = f", or convert the layer: .to({x.dtype})" if x.is_floating_point() else ""
            raise ModelError(f"{type(self).__name__}: the input is {x.dtype} but the layer's parameters are {want}; "
                             f"pass x.to({want}){other}.")
        w = self.stencil(x.shape[2:])
        x, padding = pad_for_conv(self.weigh(x), self.boundary, [s // 2 for s in w.shape[2:]])
        return _CONV[self.ndim](x, w, self.bias, padding=padding)


class KernelInterpConv(GridStencilConv):
    """Convolution whose stencil lives at ``reference_spacing`` and is resampled for any other grid.

    Parameters
    ----------
    kernel_size : odd taps per axis at the reference spacing (int, or one per axis).
    reference_spacing : grid spacing (fraction of the domain's side) at which the stencil is
        the ordinary convolution weight, one value or one per axis; e.g. ``1 / 64`` for a
        65-node training grid. ``None``: the stencil is in grid units, i.e. an ordinary
        (boundary-padded) convolution on every grid.
    bias : add a learned bias per output channel.
    in_channels, out_channels, boundary, ndim : as in :class:`GridStencilConv` (and its shapes).

    References
    ----------
    .. [1] Berner et al., "Principled Approaches for Extending Neural Architectures to
       Function Spaces for Operator Learning", 2025, arXiv:2506.10973.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int] = 3,
                 reference_spacing: float | Sequence[float] | None = 1.0 / 64, boundary: BoundaryLike = "dirichlet",
                 ndim: int = 2, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, boundary, ndim)
        ks = (int(kernel_size),) * ndim if isinstance(kernel_size, int) else tuple(int(k) for k in kernel_size)
        if len(ks) != ndim or any(k < 1 or k % 2 == 0 for k in ks):
            raise ModelError(f"kernel_size must be odd and positive, one per axis, got {kernel_size}")
        ref = (None if reference_spacing is None else (float(reference_spacing),) * ndim
               if isinstance(reference_spacing, (int, float)) else tuple(float(h) for h in reference_spacing))
        if ref is not None and (len(ref) != ndim or min(ref) <= 0):
            raise ModelError(f"reference_spacing must be positive, one per axis, got {reference_spacing}")
        self.kernel_size, self.reference_spacing = ks, ref
        conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[ndim](in_channels, out_channels, ks, bias=bias)
        self.weight = conv.weight  # [out, in, *kernel], torch's default init
        self.bias = conv.bias

    def ratio(self, shape: Sequence[int]) -> tuple[float, ...]:
        """``h_ref / h`` per axis for an input grid of ``shape`` (1 in grid units)."""
        if self.reference_spacing is None:
            return (1.0,) * self.ndim
        return tuple(r / h for r, h in zip(self.reference_spacing, grid_spacing(shape, self.boundary)))

    def stencil(self, shape: Sequence[int]) -> torch.Tensor:
        """The weight ``[out, in, *taps]`` used on a grid of ``shape``."""
        w = self.weight
        for axis, (k, r) in enumerate(zip(self.kernel_size, self.ratio(shape))):
            if k == 1 or abs(r - 1.0) < 1e-12:
                continue
            m = torch.as_tensor(stencil_resampling(k, r), dtype=w.dtype, device=w.device)
            w = torch.movedim(torch.tensordot(w, m, dims=([2 + axis], [1])), -1, 2 + axis)
        return w

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"reference_spacing={self.reference_spacing}, boundary={self.boundary}")
