"""Pointwise (1x1) layers and grid embeddings for fields of any dimension."""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor, nn
from torch.nn import functional as F


class PointwiseLinear(nn.Linear):
    """A linear map over channels at every grid point: ``[B, C_in, *spatial] -> [B, C_out, *spatial]``."""

    def forward(self, x: Float[Tensor, "batch in_channel *space"]) -> Float[Tensor, "batch out_channel *space"]:
        return F.linear(x.movedim(1, -1), self.weight, self.bias).movedim(-1, 1)


def grid_coordinates(x: Float[Tensor, "batch channel *space"]) -> Float[Tensor, "batch dim *space"]:
    """Node coordinates in [0, 1] per spatial dim for ``x : [B, C, *spatial]`` -> ``[B, d, *spatial]``."""
    spatial = x.shape[2:]
    axes = [torch.linspace(0.0, 1.0, n, dtype=x.dtype, device=x.device) for n in spatial]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"))
    return grid.unsqueeze(0).expand(x.shape[0], *grid.shape)


