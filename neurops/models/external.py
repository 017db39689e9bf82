"""Operators of other packages, wrapped as registered neurops models for side-by-side runs.

They train through the same task, data module and Trainer as the neurops models
(``neurops fit ... --model.model neuralop_fno``), so benchmark numbers of both come from
one training path. The peer package is an optional dependency, imported when the model is built.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from neurops.errors import ModelError
from neurops.models.registry import register


@register("neuralop_fno")
class NeuralopFNO(nn.Module):
    """neuraloperator's FNO (``neuralop.models.FNO``, Kossaifi et al., arXiv:2412.10354) as a neurops model.

    Needs the optional ``neuraloperator`` package (``pip install 'neurops[bench]'``, or
    ``make bench``). Maps ``x : [B, in_channels, *spatial]`` to ``[B, out_channels, *spatial]``.

    Parameters
    ----------
    in_channels, out_channels : channel counts (filled in from the data by the tasks).
    n_modes : Fourier modes kept per spatial dimension, in neuraloperator's convention (the
        full count along every axis: neurops ``modes=(12, 13)`` keep the same frequencies as
        ``n_modes=(24, 24)``).
    hidden_channels : width of the Fourier layers.
    **kwargs : any other keyword argument of ``neuralop.models.FNO`` (``n_layers``,
        ``lifting_channel_ratio``, ``projection_channel_ratio``, ``positional_embedding``, ...).
    """

    #: spectral layers on Fourier modes and pointwise maps, as neurops' FNO
    resolution_behaviour = "function_space"

    def __init__(self, in_channels: int, out_channels: int, n_modes: list[int] | tuple[int, ...],
                 hidden_channels: int, **kwargs: Any) -> None:
        super().__init__()
        try:
            from neuralop.models import FNO
        except ImportError as exc:
            raise ModelError("model 'neuralop_fno' needs the neuraloperator package: pip install 'neurops[bench]' "
                             "(or `make bench`).") from exc
        self.model = FNO(n_modes=tuple(n_modes), in_channels=in_channels, out_channels=out_channels,
                         hidden_channels=hidden_channels, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x : [B, in_channels, *spatial]`` -> ``[B, out_channels, *spatial]``."""
        return self.model(x)
