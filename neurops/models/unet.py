"""U-Net in grid units, and the function-space U-Net built from the same blocks (1D, 2D, 3D).

Both share one architecture (pre-activation residual blocks, as in PDE-Arena's U-Net [2]_):

1. lifting: the input channels and the grid coordinates in [0, 1] -> ``width`` channels;
2. encoder: at level ``l = 0 .. L-1`` a residual block ``c_{l-1} -> c_l``
   (``c_l = width * channel_multipliers[l]``), then a convolution and every second grid
   point (a stride-2 convolution) down to level ``l + 1``;
3. a residual block on the coarsest level;
4. decoder: linear interpolation onto the finer level (a level left with one point along a
   non-periodic axis by a thin grid is constant along it), concatenation with the skip
   feature, a residual block back to ``c_l``;
5. a pointwise head to the output channels.

They differ in the convolutions (``conv``):

* ``"grid"`` (registry name ``unet``): ordinary convolutions, stencils in grid units;
  the model runs on any grid but its stencils span fewer physical units on a finer
  one, so its predictions change with the resolution (declared ``fixed_grid``);
* ``"interp"`` (``fs_unet``): :class:`~neurops.layers.kernel_interp.KernelInterpConv`
  with the stencils defined at the training grid (``reference_resolution``) and
  resampled for any other grid, the paper's [1]_ kernel-interpolated U-Net;
* ``"disco"``: :class:`~neurops.layers.local_integral.LocalIntegralConv` with a physical
  radius (``radius`` at the finest level, doubled per level).

The function-space variants halve the spacing level by level, so their grids must nest:
an input whose grid cannot be halved ``L - 1`` times (``2^k m + 1`` nodes, or ``2^k m``
periodic points) is resampled linearly to the next finer grid that can, and the output
back to the input grid. An ``interp`` model's stencils are under-resolved on grids coarser
than its reference grid, so such inputs are interpolated up to the reference grid.

References
----------
.. [1] J. Berner, M. Liu-Schiaffini, J. Kossaifi, V. Duruisseaux, B. Bonev,
   K. Azizzadenesheli, A. Anandkumar, "Principled Approaches for Extending Neural
   Architectures to Function Spaces for Operator Learning", 2025, arXiv:2506.10973.
.. [2] J. K. Gupta, J. Brandstetter, "Towards Multi-spatiotemporal-scale Generalized PDE
   Modeling", 2022, arXiv:2209.15616 (PDE-Arena U-Net).
.. [3] O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional Networks for
   Biomedical Image Segmentation", MICCAI 2015.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from neurops.errors import ModelError
from neurops.layers.activations import get_activation
from neurops.layers.boundary import BoundaryLike, BoundaryMode, resolve_boundary
from neurops.layers.kernel_interp import KernelInterpConv, grid_spacing
from neurops.layers.local_integral import LocalIntegralConv
from neurops.layers.pointwise import PointwiseLinear, grid_coordinates
from neurops.layers.resample import cells, coarser, resample
from neurops.models.arguments import check_dtype, check_sizes, reference_grid
from neurops.models.registry import register

__all__ = ["FunctionSpaceUNet", "UNet"]

ConvKind = Literal["grid", "interp", "disco"]


class _ResidualBlock(nn.Module):
    """``x + ... -> conv(act(norm(conv(act(norm(x))))) + shortcut(x)``, channels ``c_in -> c_out``."""

    def __init__(self, c_in: int, c_out: int, conv, activation: str, norm: bool) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(1, c_in) if norm else nn.Identity()
        self.conv1 = conv(c_in, c_out)
        self.norm2 = nn.GroupNorm(1, c_out) if norm else nn.Identity()
        self.conv2 = conv(c_out, c_out)
        self.act = get_activation(activation)
        self.shortcut = PointwiseLinear(c_in, c_out) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.act(self.norm1(x)))
        return self.conv2(self.act(self.norm2(h))) + self.shortcut(x)


@register("unet")
class UNet(nn.Module):
    """U-Net operator ``[B, C_in, *spatial] -> [B, C_out, *spatial]``; see the module docstring.

    Parameters
    ----------
    in_channels, out_channels : field channels of input and output.
    width : channels of the finest level.
    channel_multipliers : channels of level ``l`` are ``width * channel_multipliers[l]``;
        its length is the number of levels ``L``.
    kernel_size : odd taps per axis of every convolution (at the reference grid for
        ``conv="interp"``).
    conv : ``"grid"``, ``"interp"`` or ``"disco"`` (see the module docstring).
    reference_resolution : points per axis of the grid the ``interp`` stencils are
        defined on (the training grid; ``OperatorTask`` fills it in from the data).
    radius : support radius of the finest level's ``disco`` kernels, as a fraction of
        the domain's side (default: ``kernel_size // 2`` cells of a 65-node grid).
    boundary : boundary condition per axis (padding; grid type for the spacing).
    dim : number of spatial dims (1, 2 or 3); inferred from ``reference_resolution`` or a
        per-axis ``boundary`` when not given, otherwise 2.
    activation : ``"gelu"`` (default), ``"relu"``, ``"silu"``, ``"tanh"``.
    norm : GroupNorm with one group (a per-sample mean over space and channels) before
        each activation.
    grid_embedding : append node coordinates in [0, 1] to the input.

    References
    ----------
    .. [1] Berner et al., "Principled Approaches for Extending Neural Architectures to
       Function Spaces for Operator Learning", 2025, arXiv:2506.10973.
    .. [2] Gupta, Brandstetter, "Towards Multi-spatiotemporal-scale Generalized PDE
       Modeling", 2022 (PDE-Arena U-Net).
    """

    #: refined per instance: "function_space" for ``conv="interp"`` or ``"disco"``
    resolution_behaviour = "fixed_grid"

    default_conv: ConvKind = "grid"

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        width: int = 32,
        channel_multipliers: Sequence[int] = (1, 2, 4, 4),
        kernel_size: int = 3,
        conv: ConvKind | None = None,
        reference_resolution: Sequence[int] | None = None,
        radius: float | None = None,
        boundary: BoundaryLike = "dirichlet",
        dim: int | None = None,
        activation: str = "gelu",
        norm: bool = True,
        grid_embedding: bool = True,
    ) -> None:
        super().__init__()
        conv = conv or self.default_conv
        dim, mults, grid = self._check_settings(conv, dim, reference_resolution, boundary, width, kernel_size,
                                                channel_multipliers, in_channels, out_channels)
        try:
            self.boundary: tuple[BoundaryMode, ...] = resolve_boundary(boundary, dim)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"invalid U-Net boundary: {exc}") from exc
        h_ref = self._reference_spacing(grid, dim) if conv == "interp" else []
        self.in_channels, self.out_channels, self.dim, self.conv = int(in_channels), int(out_channels), dim, conv
        self.reference_resolution = grid
        self.levels = len(mults)
        self.grid_embedding = grid_embedding
        #: how predictions behave on another grid (read by ``neurops predict``)
        self.resolution_behaviour = "fixed_grid" if conv == "grid" else "function_space"
        radius = radius if radius is not None else (kernel_size // 2) / 64

        def conv_at(level: int):
            def make(c_in: int, c_out: int) -> nn.Module:
                if conv == "grid":
                    return KernelInterpConv(c_in, c_out, kernel_size, None, self.boundary, dim)
                if conv == "interp":
                    return KernelInterpConv(c_in, c_out, kernel_size, [2**level * h for h in h_ref],
                                            self.boundary, dim)
                return LocalIntegralConv(c_in, c_out, radius * 2**level, boundary=self.boundary, ndim=dim)
            return make

        channels = [width * m for m in mults]
        self.lift = PointwiseLinear(in_channels + (dim if grid_embedding else 0), width)
        self.down_blocks = nn.ModuleList(
            _ResidualBlock(channels[max(i - 1, 0)], channels[i], conv_at(i), activation, norm)
            for i in range(self.levels))
        self.downsample = nn.ModuleList(conv_at(i)(channels[i], channels[i]) for i in range(self.levels - 1))
        self.middle = _ResidualBlock(channels[-1], channels[-1], conv_at(self.levels - 1), activation, norm)
        self.up_blocks = nn.ModuleList(
            _ResidualBlock(channels[i + 1] + channels[i], channels[i], conv_at(i), activation, norm)
            for i in range(self.levels - 1))
        self.head = PointwiseLinear(width, out_channels)

    def _work_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        """The grid a function-space variant runs on: the smallest one at least as fine as ``shape``
        (and as the reference grid, for ``interp``) that halves ``L - 1`` times."""
        if (self.conv == "interp" and self.reference_resolution is not None
                and coarser(shape, self.reference_resolution, self.boundary)):
            shape = self.reference_resolution
        step = 2 ** (self.levels - 1)
        out = []
        for n, mode in zip(shape, self.boundary):
            c = -(-cells(n, mode) // step) * step
            out.append(c if mode == "periodic" else c + 1)
        return tuple(out)

    def _reference_spacing(self, grid: tuple[int, ...] | None, dim: int) -> list[float]:
        """Grid spacing per axis of the (checked) reference grid the ``interp`` stencils are defined on."""
        if grid is None:
            raise ModelError(f"conv='interp' needs reference_resolution, the {dim} point counts of the grid its "
                             "stencils are defined on (the training grid, e.g. [65, 65]); OperatorTask fills it "
                             "in from the training data.")
        return list(grid_spacing(grid, self.boundary))

    @staticmethod
    def _check_settings(conv: str, dim: int | None, reference_resolution: Sequence[int] | None,
                        boundary: BoundaryLike, width: int, kernel_size: int, channel_multipliers: Sequence[int],
                        in_channels: int, out_channels: int) -> tuple[int, list[int], tuple[int, ...] | None]:
        """The number of spatial dims (given, or the length of the reference grid or of a per-axis boundary,
        else 2), the channel multipliers and the reference grid (checked by
        :func:`~neurops.models.arguments.reference_grid`, as MgNO's and LSM's); one ``ModelError`` for an
        unknown conv, an unsupported dim, a reference grid that is not point counts or a size the U-Net cannot
        take."""
        if conv not in ("grid", "interp", "disco"):
            raise ModelError(f"unknown conv {conv!r}; choose 'grid' (ordinary), 'interp' (kernel-interpolated) or "
                             "'disco' (local integral).")
        source = ""
        if dim is None:  # text is not a list of point counts (reference_grid refuses it below)
            if isinstance(reference_resolution, Sequence) and not isinstance(reference_resolution, str):
                dim, source = len(reference_resolution), f" (from reference_resolution={reference_resolution!r})"
            else:
                dim = len(boundary) if isinstance(boundary, (list, tuple)) else 2
        if dim not in (1, 2, 3):
            raise ModelError(f"U-Net supports 1, 2 or 3 spatial dims, got dim={dim}{source}.")
        grid = reference_grid("U-Net", reference_resolution, dim, "model_kwargs.dim")
        check_sizes("U-Net", in_channels=in_channels, out_channels=out_channels)
        mults = [int(m) for m in channel_multipliers]
        if not mults or min(mults) < 1 or width < 1 or kernel_size < 1 or kernel_size % 2 == 0:
            raise ModelError(f"need width >= 1, an odd kernel_size and positive channel_multipliers; got "
                             f"width={width}, kernel_size={kernel_size}, channel_multipliers={channel_multipliers}.")
        return dim, mults, grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x : [B, in_channels, *spatial] -> [B, out_channels, *spatial]``."""
        check_dtype("U-Net", x, self)
        if x.dim() != self.dim + 2 or x.shape[1] != self.in_channels:
            raise ModelError(f"U-Net expects input [B, {self.in_channels}, {self.dim} spatial dims], got shape "
                             f"{tuple(x.shape)}; check in_channels/dim against the data.")
        shape = tuple(x.shape[2:])
        work = shape if self.conv == "grid" else self._work_shape(shape)
        if work != shape:
            x = resample(x, work, "linear", self.boundary)
        if self.grid_embedding:
            x = torch.cat([x, grid_coordinates(x)], dim=1)
        x = self.lift(x)
        skips = []
        every_second = (slice(None), slice(None), *[slice(None, None, 2)] * self.dim)
        for i, block in enumerate(self.down_blocks):
            x = block(x)
            if i < self.levels - 1:
                skips.append(x)
                x = self.downsample[i](x)[every_second]
        x = self.middle(x)
        for i in reversed(range(self.levels - 1)):
            skip = skips[i]
            x = self.up_blocks[i](torch.cat([_upsample(x, skip.shape[2:], self.boundary), skip], dim=1))
        out = self.head(x)
        return out if work == shape else resample(out, shape, "linear", self.boundary)


def _upsample(x: torch.Tensor, size: Sequence[int], boundary: Sequence[BoundaryMode]) -> torch.Tensor:
    """A level linearly interpolated onto the next finer one, ``[B, C, *coarse] -> [B, C, *size]``.

    Taking every second point leaves a thin grid's coarsest levels with one point along a
    non-periodic axis (5 -> 3 -> 2 -> 1): that point is the first node of the finer level, and with
    no second node to interpolate towards, the feature is constant along the axis and is copied.
    """
    if any(n == 1 and m != "periodic" for n, m in zip(x.shape[2:], boundary)):
        x = x.expand(*x.shape[:2], *(s if n == 1 and m != "periodic" else n
                                     for n, s, m in zip(x.shape[2:], size, boundary)))
    return resample(x, size, "linear", boundary)


@register("fs_unet")
class FunctionSpaceUNet(UNet):
    """The U-Net with kernel-interpolated convolutions (``conv="interp"`` by default).

    Same parameters as :class:`UNet`; ``reference_resolution`` (the training grid) is
    required for ``conv="interp"``. Its parameters are the U-Net's, so a ``unet``
    checkpoint's weights load into it unchanged.

    References
    ----------
    .. [1] Berner et al., "Principled Approaches for Extending Neural Architectures to
       Function Spaces for Operator Learning", 2025, arXiv:2506.10973.
    """

    default_conv: ConvKind = "interp"
