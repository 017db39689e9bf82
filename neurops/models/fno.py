"""Fourier neural operator (FNO) in 1D, 2D and 3D: the common baseline."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from neurops.errors import ModelError
from neurops.kernels import max_modes
from neurops.layers.activations import get_activation
from neurops.layers.pointwise import PointwiseLinear, grid_coordinates
from neurops.layers.spectral import SpectralConv
from neurops.models.arguments import check_dtype, check_modes_fit, check_sizes, per_axis
from neurops.models.registry import register


@register("fno")
class FNO(nn.Module):
    """Fourier neural operator: lift -> L x (spectral conv + pointwise, activation) -> project.

    Parameters
    ----------
    in_channels, out_channels : field channels of input and output.
    modes : Fourier modes kept per spatial dim; ``len(modes)`` is the dimension (1, 2 or 3).
    width : hidden channels.
    n_layers : number of Fourier layers.
    projection_channels : hidden channels of the two-layer pointwise projection.
    grid_embedding : append node coordinates in [0, 1] as extra input channels.
    padding : domain padding for non-periodic problems, as a fraction of each spatial size
        (e.g. ``0.125``) added at the end of every dim and cropped after the Fourier layers.
    activation : ``gelu`` (default), ``relu``, ``tanh``, ``silu``.
    spectral_path : spectral-convolution kernel (``"auto"`` picks the fastest).

    Notes
    -----
    Shapes: ``x : [B, in_channels, *spatial] -> [B, out_channels, *spatial]``; the same
    weights apply on any grid with enough points for ``modes`` (resolution-agnostic).

    References
    ----------
    Li, Kovachki, Azizzadenesheli, Liu, Bhattacharya, Stuart, Anandkumar, "Fourier Neural
    Operator for Parametric Partial Differential Equations", ICLR 2021.
    """

    #: spectral layers act on Fourier modes, pointwise maps on points: the same operator on any grid
    resolution_behaviour = "function_space"

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        modes: Sequence[int] = (12, 12),
        width: int = 32,
        n_layers: int = 4,
        projection_channels: int = 128,
        grid_embedding: bool = True,
        padding: float = 0.0,
        activation: str = "gelu",
        spectral_path: str = "auto",
    ) -> None:
        super().__init__()
        modes = per_axis("FNO", "modes", modes, example="[12, 12] on a 2-D grid")
        check_sizes("FNO", in_channels=in_channels, out_channels=out_channels, width=width, n_layers=n_layers,
                    projection_channels=projection_channels)
        if not 0.0 <= padding < 1.0:
            raise ModelError(f"padding is a fraction of the grid in [0, 1); got {padding}.")
        self.in_channels, self.out_channels, self.modes = in_channels, out_channels, modes
        self.grid_embedding, self.padding = grid_embedding, padding
        lift_in = in_channels + (len(modes) if grid_embedding else 0)
        self.lift = PointwiseLinear(lift_in, width)
        self.spectral = nn.ModuleList(SpectralConv(width, width, modes, spectral_path) for _ in range(n_layers))
        self.pointwise = nn.ModuleList(PointwiseLinear(width, width) for _ in range(n_layers))
        self.act = get_activation(activation)
        self.project = nn.Sequential(
            PointwiseLinear(width, projection_channels), get_activation(activation),
            PointwiseLinear(projection_channels, out_channels),
        )

    def check_grid(self, spatial: Sequence[int]) -> None:
        """Raise :class:`~neurops.errors.ModelError` if the Fourier layers cannot run on a grid of
        ``spatial`` points per axis (fewer points, after padding, than ``modes`` needs); tasks call
        it for every grid of the data before training."""
        padded = tuple(int(n) + round(self.padding * int(n)) for n in spatial)
        check_modes_fit("FNO", "modes", self.modes, spatial, padded, max_modes(padded))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x : [B, in_channels, *spatial] -> [B, out_channels, *spatial]``."""
        check_dtype("FNO", x, self)
        if x.dim() != len(self.modes) + 2 or x.shape[1] != self.in_channels:
            raise ModelError(f"FNO expects input [B, {self.in_channels}, {len(self.modes)} spatial dims], "
                             f"got shape {tuple(x.shape)}.")
        if self.grid_embedding:
            x = torch.cat([x, grid_coordinates(x)], dim=1)
        x = self.lift(x)
        spatial = x.shape[2:]
        pads = [round(self.padding * n) for n in spatial]
        if any(pads):
            x = F.pad(x, [p for pad in reversed(pads) for p in (0, pad)])
        for i, (spec, point) in enumerate(zip(self.spectral, self.pointwise)):
            x = spec(x) + point(x)
            if i < len(self.spectral) - 1:
                x = self.act(x)
        if any(pads):
            index = (slice(None), slice(None), *(slice(0, n) for n in spatial))
            x = x[index]
        return self.project(x)

