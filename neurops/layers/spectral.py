"""Spectral convolution layer (FNO's Fourier layer) for 1D, 2D and 3D fields."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from jaxtyping import Float
from torch import Tensor, nn

from neurops.errors import ModelError
from neurops.kernels._common import is_whole
from neurops.kernels.spectral import PATHS, spectral_conv


class SpectralConv(nn.Module):
    """``K(v) = irfftn(R * rfftn(v))`` keeping ``modes[i]`` Fourier modes per spatial dim.

    Parameters
    ----------
    in_channels, out_channels : channel counts.
    modes : modes kept per spatial dimension; its length sets the dimension (1, 2 or 3).
    path : kernel implementation (``"auto"``, ``"reference"``, ...; see :mod:`neurops.kernels.spectral`).

    Notes
    -----
    Shapes: ``x : [B, in_channels, *spatial] -> [B, out_channels, *spatial]`` for any grid
    with at least ``2 * modes[i]`` points per dim (``modes[-1]`` for the last).

    References
    ----------
    Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations", ICLR 2021.
    """

    def __init__(self, in_channels: int, out_channels: int, modes: Sequence[int], path: str = "auto") -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not is_whole(value) or value < 1:
                raise ModelError(f"SpectralConv: {name} must be a whole number >= 1, got {value!r}.")
        if (not isinstance(modes, Sequence) or isinstance(modes, str) or not 1 <= len(modes) <= 3
                or not all(is_whole(m) and m >= 1 for m in modes)):
            raise ModelError(f"SpectralConv: modes is one whole number >= 1 per spatial axis, for 1, 2 or 3 axes, "
                             f"e.g. (12, 12); got {modes!r}.")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.modes = tuple(int(m) for m in modes)
        if path != "auto":
            PATHS.get(path)  # an unknown path is one ConfigError now, not at the first forward pass
        self.path = path
        kept = (*[2 * m for m in self.modes[:-1]], self.modes[-1])
        scale = 1.0 / (in_channels * out_channels)
        # real storage of complex weights (uniform in [0, scale) per part, as in the FNO paper's code)
        self.weight = nn.Parameter(scale * torch.rand(in_channels, out_channels, *kept, 2))

    def forward(self, x: Float[Tensor, "batch in_channel *space"]) -> Float[Tensor, "batch out_channel *space"]:
        return spectral_conv(x, self.weight, self.modes, self.path)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, modes={self.modes}, path={self.path!r}"
