"""Operators of other packages, wrapped as registered neurops models for side-by-side runs.

They train through the same task, data module and Trainer as the neurops models
(``neurops fit ... --model.model neuralop_fno``), so benchmark numbers of both come from
one training path. The peer package is an optional dependency, imported when the model is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from neurops.errors import ModelError
from neurops.models.arguments import check_dtype, check_modes_fit, per_axis
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
        self.n_modes = per_axis("neuralop FNO", "n_modes", n_modes, example="[24, 24] on a 2-D grid")
        try:
            from neuralop.models import FNO
        except ImportError as exc:
            raise ModelError("model 'neuralop_fno' needs the neuraloperator package: pip install 'neurops[bench]' "
                             "(or `make bench`).") from exc
        self.model = FNO(n_modes=self.n_modes, in_channels=in_channels, out_channels=out_channels,
                         hidden_channels=hidden_channels, **kwargs)
        padding = kwargs.get("domain_padding") or 0.0  # a fraction of each axis, added at both ends
        self.domain_padding = [float(p) for p in padding] if isinstance(padding, Sequence) else float(padding)
        self.complex_data = bool(kwargs.get("complex_data", False))
        self.register_state_dict_post_hook(_drop_neuralop_metadata)

    def check_grid(self, spatial: Sequence[int]) -> None:
        """Raise :class:`~neurops.errors.ModelError` if the Fourier layers cannot use all their modes on a grid of
        ``spatial`` points per axis; tasks call it for every grid of the data before training.

        neuraloperator itself runs on any grid: where the (padded) grid holds fewer frequencies than ``n_modes``
        it silently drops the weights of the others, a different operator than the one trained. Per axis it keeps
        ``n_modes`` frequencies of the grid's ``n`` (on the last axis of real data, ``n_modes // 2 + 1`` of the
        half-spectrum's ``n // 2 + 1``), so a grid holds ``n_modes`` up to ``n`` (``2 (n // 2) + 1`` on that axis).
        """
        pads = self.domain_padding if isinstance(self.domain_padding, list) else [self.domain_padding] * len(spatial)
        padded = tuple(int(n) + 2 * round(p * int(n)) for n, p in zip(spatial, pads))
        limits = [n if self.complex_data or i < len(padded) - 1 else 2 * (n // 2) + 1 for i, n in enumerate(padded)]
        check_modes_fit("neuralop FNO", "n_modes", self.n_modes, spatial, padded, limits,
                        note=" (neuraloperator's count: the frequencies kept per axis)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x : [B, in_channels, *spatial]`` -> ``[B, out_channels, *spatial]``."""
        check_dtype("neuralop FNO", x, self)
        return self.model(x)


def _drop_neuralop_metadata(module: nn.Module, state_dict: dict[str, Any], prefix: str, local_metadata: Any) -> None:
    """Remove the ``_metadata`` entry neuraloperator's ``BaseModel.state_dict`` adds to the state dict it fills (the
    whole one, at its top level): its init arguments, among them the ``gelu`` function and the ``SpectralConv``
    class, which checkpoints read with ``weights_only=True`` (:mod:`neurops.checkpoints`) refuse. neurops rebuilds
    the model from its registry name and ``model_kwargs``; the tensors alone restore it."""
    state_dict.pop("_metadata", None)
