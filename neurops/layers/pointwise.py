"""Pointwise (1x1) layers and grid embeddings for fields of any dimension."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from neurops.errors import ModelError


class PointwiseLinear(nn.Linear):
    """A linear map over channels at every grid point: ``[B, C_in, *spatial] -> [B, C_out, *spatial]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x.movedim(1, -1), self.weight, self.bias).movedim(-1, 1)


def grid_coordinates(x: torch.Tensor) -> torch.Tensor:
    """Node coordinates in [0, 1] per spatial dim for ``x : [B, C, *spatial]`` -> ``[B, d, *spatial]``."""
    spatial = x.shape[2:]
    axes = [torch.linspace(0.0, 1.0, n, dtype=x.dtype, device=x.device) for n in spatial]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"))
    return grid.unsqueeze(0).expand(x.shape[0], *grid.shape)


ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU, "identity": nn.Identity}


def activation(name: str) -> nn.Module:
    """Activation module by name (``gelu``, ``relu``, ``tanh``, ``silu``, ``identity``)."""
    if name not in ACTIVATIONS:
        raise ModelError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}.")
    return ACTIVATIONS[name]()
