"""Latent Spectral Model (LSM): a multiscale U-shaped backbone with a patchified
latent spectral block on every skip connection, in 1D, 2D and 3D.

Architecture (Wu et al. 2023), for ``S = num_scales`` scales and width ``w``:

1. lifting: the input channels and the grid coordinates in [0, 1] are mapped
   pointwise to ``w`` channels; the grid is zero-padded on its high side to a
   multiple of ``2**(S-1)`` so every scale halves exactly, and to at least ``2**S``
   points so the coarsest scale keeps 2 points per axis;
2. encoder: a double 3-point (3x3, 3x3x3) convolution block at the finest scale,
   then ``S-1`` times max-pool by 2 and a double convolution; channels
   ``w, 2w, 4w, ..., 2**(S-2) w, 2**(S-2) w``;
3. a :class:`~neurops.layers.latent_spectral.LatentSpectralBlock` on the feature of
   every scale;
4. decoder: (bi/tri)linear upsampling by 2, concatenation with the processed skip
   feature, double convolution, back to ``w`` channels at the finest scale;
5. crop to the input grid, then a pointwise head ``w -> w -> 128 -> GELU -> out``.

References
----------
.. [1] H. Wu, T. Hu, H. Luo, J. Wang, M. Long, "Solving High-Dimensional PDEs with
   Latent Spectral Models", ICML 2023, arXiv:2301.12664.
.. [2] O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional Networks for
   Biomedical Image Segmentation", MICCAI 2015.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from neurops.errors import ModelError
from neurops.layers.boundary import BoundaryLike, BoundaryMode, resolve_boundary
from neurops.layers.latent_spectral import LatentSpectralBlock, crop, pad_to_multiple
from neurops.layers.pointwise import PointwiseLinear, grid_coordinates
from neurops.layers.resample import coarser, on_grid, resample
from neurops.models.arguments import check_dtype, check_sizes, per_axis, reference_grid
from neurops.models.registry import Presets, register

__all__ = ["LSM", "PRESETS"]

Norm = Literal["batch", "instance", "none"]

#: The paper's configurations (``LSM.from_preset(name)``, or ``preset: name`` in a model's kwargs).
#: ``darcy``: 85x85 Darcy (421 points subsampled by 5),
#: 19.19M parameters; ``navier_stokes``: 64x64 vorticity, 10 frames in, 1 out per
#: autoregressive step, 19.19M parameters.
PRESETS: dict[str, dict[str, Any]] = {
    "darcy": dict(
        in_channels=1, out_channels=1, width=64, num_scales=5, patch_size=(6, 6), num_tokens=4, num_basis=12
    ),
    "navier_stokes": dict(
        in_channels=10, out_channels=1, width=64, num_scales=5, patch_size=(4, 4), num_tokens=4, num_basis=12
    ),
}

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_BATCH_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_INSTANCE_NORM = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}


def _norm(kind: str, ndim: int, channels: int) -> nn.Module:
    if kind == "batch":
        return _BATCH_NORM[ndim](channels)
    if kind == "instance":
        return _INSTANCE_NORM[ndim](channels, affine=True)
    return nn.Identity()


def _double_conv(ndim: int, in_ch: int, mid_ch: int, out_ch: int, norm: str) -> nn.Sequential:
    """(3-point conv, norm, ReLU) twice; convolutions without bias as in U-Net."""
    conv = _CONV[ndim]
    bias = norm == "none"
    return nn.Sequential(
        conv(in_ch, mid_ch, kernel_size=3, padding=1, bias=bias),
        _norm(norm, ndim, mid_ch),
        nn.ReLU(inplace=True),
        conv(mid_ch, out_ch, kernel_size=3, padding=1, bias=bias),
        _norm(norm, ndim, out_ch),
        nn.ReLU(inplace=True),
    )


def _spatial_axes(patch_size: int | Sequence[int], ndim: int | None, reference_resolution: Any,
                  boundary: BoundaryLike) -> int | None:
    """The spatial dimension an int ``patch_size`` stands for: ``ndim`` if given, else the length of the reference
    grid, else of a per-axis ``boundary``, else 2 (as MgNO and the U-Net infer theirs); ``None`` for a per-axis
    ``patch_size`` (its length sets it). One ``ModelError`` for a given ``ndim`` or per-axis ``patch_size`` that
    contradicts the reference grid, or a grid of other than 1 to 3 axes."""
    # text is not a list of point counts (reference_grid refuses it with the fix)
    grid = reference_resolution if isinstance(reference_resolution, Sequence) and not isinstance(
        reference_resolution, str) else None
    per_axis_patch = isinstance(patch_size, Sequence) and not isinstance(patch_size, str)
    given = ndim if isinstance(patch_size, int) else len(patch_size) if per_axis_patch else None
    if grid is not None and given is not None and len(grid) != given:
        name = f"ndim={ndim}" if isinstance(patch_size, int) else f"patch_size={patch_size!r}"
        fix = ("drop ndim (an int patch_size then takes the data's axes)" if isinstance(patch_size, int) else
               f"give patch_size one entry per axis of the data, or one int for every axis (e.g. {patch_size[0]})")
        raise ModelError(f"LSM: {name} is for {given} spatial axes but reference_resolution={reference_resolution!r} "
                         f"(the training data's grid) has {len(grid)}; {fix}, or train it on {given}-D data.")
    if not isinstance(patch_size, int) or ndim is not None:
        return ndim
    if grid is not None:
        if not 1 <= len(grid) <= 3:
            raise ModelError(f"LSM supports 1, 2 or 3 spatial axes, got {len(grid)} (from "
                             f"reference_resolution={reference_resolution!r}).")
        return len(grid)
    if not isinstance(boundary, (str, Mapping)) and isinstance(boundary, Sequence):
        return len(boundary)
    return 2


def _checked_patch(patch_size: int | Sequence[int], ndim: int | None, num_scales: int, norm: str) -> tuple[int, ...]:
    """The patch size per axis; one ``ModelError`` for settings LSM cannot take."""
    patch = (patch_size,) * (2 if ndim is None else ndim) if isinstance(patch_size, int) else patch_size
    if ndim is not None and isinstance(patch, Sequence) and ndim != len(patch):
        raise ModelError(f"ndim={ndim} does not match patch_size={patch} ({len(patch)} axes); drop one of them.")
    patch = per_axis("LSM", "patch_size", patch, example="4 or [4, 4]")
    check_sizes("LSM", num_scales=num_scales)
    if norm not in ("batch", "instance", "none"):
        raise ModelError(f"norm={norm!r} is not one of 'batch', 'instance', 'none'.")
    return patch


def _checked_grid(reference_resolution: Sequence[int] | None, boundary: BoundaryLike,
                  d: int) -> tuple[tuple[int, ...] | None, tuple[BoundaryMode, ...]]:
    """The reference grid (points per axis, or ``None``) and the boundary mode per axis of a ``d``-axis LSM."""
    grid = reference_grid("LSM", reference_resolution, d)
    try:
        boundary_modes = resolve_boundary(boundary, d)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"invalid LSM boundary: {exc}") from exc
    return grid, boundary_modes


@register("lsm")
class LSM(Presets, nn.Module):
    """Latent Spectral Model, ``[B, C_in, *spatial] -> [B, C_out, *spatial]``.

    Parameters
    ----------
    in_channels : C_in.
    out_channels : C_out.
    width : channels ``w`` of the finest scale (the paper: 64, or 32/48 for some tasks; the
        paper's configurations are :data:`PRESETS`, built by ``LSM.from_preset("darcy")``).
    num_scales : scales of the U-shaped backbone (the paper: 5).
    patch_size : points per patch along each axis, same at every scale; its length
        sets the spatial dimension (1, 2 or 3). An int means the same size on
        ``ndim`` axes.
    ndim : spatial dimension when ``patch_size`` is an int; by default the length of
        ``reference_resolution``, else of a per-axis ``boundary``, else 2 (as MgNO and the U-Net).
    num_tokens : latent tokens per patch (the paper: 4).
    num_basis : sin/cos basis functions per token channel (the paper: 12).
    num_heads : attention heads in the latent spectral blocks (the paper: 8).
    head_width : hidden width of the pointwise output head (the paper: 128).
    norm : normalisation in the convolution blocks: ``"batch"`` (the paper, steady
        problems), ``"instance"`` (often better for time-dependent rollouts) or
        ``"none"``.
    positional_embedding : concatenate grid coordinates in [0, 1] to the input.
    reference_resolution : points per axis of the grid the backbone runs on (the training
        grid; ``OperatorTask`` fills it in). ``None``: the input's own grid (the paper's
        behaviour, declared ``fixed_grid``). Adds no parameters.
    boundary : boundary condition per axis; only places the grid points when resampling to
        ``reference_resolution`` (periodic points or nodes with both ends).

    Notes
    -----
    The grid is padded on its high side to a multiple of ``2**(num_scales-1)``
    (85 -> 96 for the Darcy preset, as in the paper) and to at least ``2**num_scales``
    points, so the coarsest scale keeps 2 points per axis (16 -> 32 with 5 scales; a
    1-point scale could not be interpolated back up, and batch norm needs more than one
    value per channel), and each latent spectral block masks the points it pads itself,
    so any grid size runs. But the 3-point
    convolutions, the max-pooling, the padding and the patch size are all counted in
    grid points, so on another grid the trained weights act on other physical
    lengths and the predictions degrade (declared ``fixed_grid``). With
    ``reference_resolution`` the backbone (steps 2-4) runs on that grid
    (:func:`~neurops.layers.resample.on_grid`): a finer input's lifted feature is sampled
    onto it and the backbone's output interpolated back to the input grid for the
    pointwise head; a coarser input is interpolated up to the reference grid and the whole
    model runs there. The model then predicts on any grid with the lengths it was trained
    with, but detail finer than the reference grid does not reach the output.

    References
    ----------
    .. [1] H. Wu, T. Hu, H. Luo, J. Wang, M. Long, "Solving High-Dimensional PDEs
       with Latent Spectral Models", ICML 2023, arXiv:2301.12664.
    """

    presets = PRESETS
    #: refined per instance: "function_space" with ``reference_resolution``
    resolution_behaviour = "fixed_grid"

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        *,
        width: int = 32,
        num_scales: int = 5,
        patch_size: int | Sequence[int] = 4,
        ndim: int | None = None,
        num_tokens: int = 4,
        num_basis: int = 12,
        num_heads: int = 8,
        head_width: int = 128,
        norm: Norm = "batch",
        positional_embedding: bool = True,
        reference_resolution: Sequence[int] | None = None,
        boundary: BoundaryLike = "dirichlet",
    ) -> None:
        super().__init__()
        ndim = _spatial_axes(patch_size, ndim, reference_resolution, boundary)
        patch = _checked_patch(patch_size, ndim, num_scales, norm)
        check_sizes("LSM", in_channels=in_channels, out_channels=out_channels, width=width, num_tokens=num_tokens,
                    num_basis=num_basis, num_heads=num_heads, head_width=head_width)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.width = w = int(width)
        self.num_scales = s = int(num_scales)
        self.patch_size = patch
        self.ndim = d = len(patch)
        self.positional_embedding = positional_embedding
        self.reference_resolution, self.boundary = _checked_grid(reference_resolution, boundary, d)
        #: how predictions behave on another grid (read by ``neurops predict``)
        self.resolution_behaviour = "fixed_grid" if reference_resolution is None else "function_space"

        # channels per scale: w, 2w, ..., 2^(S-2) w, and the coarsest repeats the one above it
        channels = [w * 2**i for i in range(s - 1)] + [w * 2 ** max(s - 2, 0)]
        self.lift = PointwiseLinear(self.in_channels + (d if positional_embedding else 0), w)
        self.encoders = nn.ModuleList(
            [_double_conv(d, w, w, channels[0], norm)]
            + [_double_conv(d, channels[i - 1], channels[i], channels[i], norm) for i in range(1, s)]
        )
        block_kw = dict(num_tokens=num_tokens, num_basis=num_basis, num_heads=num_heads)
        self.spectral_blocks = nn.ModuleList([LatentSpectralBlock(c, patch, **block_kw) for c in channels])
        # decoder at scale i merges the skip (channels[i]) with the upsampled coarser feature, which
        # also has channels[i] channels, and returns channels[i-1] (w at the finest scale)
        self.decoders = nn.ModuleList(
            [
                _double_conv(d, 2 * channels[i], channels[i], channels[i - 1] if i > 0 else w, norm)
                for i in range(s - 1)
            ]
        )
        self.head = nn.Sequential(
            PointwiseLinear(w, w),
            PointwiseLinear(w, head_width),
            nn.GELU(),
            PointwiseLinear(head_width, self.out_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map input fields to output fields.

        Parameters
        ----------
        x : [B, C_in, *spatial] with ``len(spatial) == ndim``; any grid size.

        Returns
        -------
        [B, C_out, *spatial]
        """
        check_dtype("LSM", x, self)
        if x.dim() != self.ndim + 2 or x.shape[1] != self.in_channels:
            raise ModelError(
                f"LSM expects input [B, {self.in_channels}, *{self.ndim} spatial axes], got {tuple(x.shape)}; "
                "check in_channels and the patch_size/ndim of the model against the data."
            )
        grid = self.reference_resolution
        if grid is not None and coarser(x.shape[2:], grid, self.boundary):
            return on_grid(self.forward, x, grid, self.boundary)
        if self.positional_embedding:
            x = torch.cat([x, grid_coordinates(x)], dim=1)
        x = self.lift(x)
        if grid is not None:
            return self.head(on_grid(self._backbone, x, grid, self.boundary))
        return self.head(self._backbone(x))

    def _backbone(self, x: torch.Tensor) -> torch.Tensor:
        """U-shaped backbone with latent spectral blocks: ``[B, w, *spatial] -> [B, w, *spatial]``."""
        step = 2 ** (self.num_scales - 1)
        # every scale halves exactly, and the coarsest keeps 2 points per axis (>= 2 * step before pooling)
        minimum = [2 * step if self.num_scales > 1 else 1] * self.ndim
        x, spatial = pad_to_multiple(x, [step] * self.ndim, minimum)

        skips = []
        for i, encoder in enumerate(self.encoders):
            if i > 0:
                x = _max_pool(x)
            x = encoder(x)
            skips.append(x)
        x = self.spectral_blocks[-1](skips[-1])
        for i in reversed(range(self.num_scales - 1)):
            skip = self.spectral_blocks[i](skips[i])
            x = resample(x, skip.shape[2:])  # (bi/tri)linear, corners aligned
            x = self.decoders[i](torch.cat([skip, x], dim=1))
        return crop(x, spatial)


def _max_pool(x: torch.Tensor) -> torch.Tensor:
    return {3: F.max_pool1d, 4: F.max_pool2d, 5: F.max_pool3d}[x.dim()](x, kernel_size=2)
