"""Activations by name: the one table every layer and model reads (``activation: gelu`` in a config).

Besides torch's (``gelu``, ``relu``, ``tanh``, ``silu``, ``identity``) it holds DGNO's periodic
"shortcut" activations [1]_ (``tanh_sin``, ``silu_sin``, ``silu_id``).

References
----------
.. [1] Y. Zang, P.-S. Koutsourelakis, "DGenNO: a novel physics-aware neural operator for
   solving forward and inverse PDE problems based on deep, generative probabilistic
   modeling", J. Comput. Phys. 538, 114137 (2025), arXiv:2502.06250.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from neurops.errors import ConfigError
from neurops.registry import Registry


class TanhSin(nn.Module):
    """``tanh(sin(pi (x + 1))) + x``: a periodic nonlinearity with an identity shortcut [1]_."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(torch.sin(math.pi * (x + 1.0))) + x


class SiLUSin(nn.Module):
    """``silu(sin(pi (x + 1))) + x`` [1]_."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.silu(torch.sin(math.pi * (x + 1.0))) + x


class SiLUId(nn.Module):
    """``silu(x) + x`` [1]_."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.silu(x) + x


#: activation classes by name; each call of :func:`get_activation` makes a fresh module
ACTIVATIONS: Registry[Callable[[], nn.Module]] = Registry("activation", ConfigError)
for _name, _cls in {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU, "identity": nn.Identity,
                    "tanh_sin": TanhSin, "silu_sin": SiLUSin, "silu_id": SiLUId}.items():
    ACTIVATIONS.add(_name, _cls)


def get_activation(name: str) -> nn.Module:
    """A fresh activation module by name (see :data:`ACTIVATIONS`); ``ConfigError`` for an unknown name."""
    return ACTIVATIONS.get(name)()


__all__ = ["ACTIVATIONS", "SiLUId", "SiLUSin", "TanhSin", "get_activation"]
