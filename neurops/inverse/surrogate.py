"""A trained operator ``a -> u`` as the forward map of an inversion (read by :func:`neurops.checkpoints.load`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from neurops.checkpoints import load
from neurops.errors import ModelError
from neurops.models.dgno import DGNO

__all__ = ["Surrogate", "load_surrogate"]


@dataclass
class Surrogate:
    """A trained operator ``a -> u`` read from any neurops operator checkpoint.

    Attributes
    ----------
    name : the model's registry name (``fno``, ``mgno``, ``lsm``, ``dgno``, ...).
    forward : the model as a map of physical fields, ``[B, 1, *R] -> [B, 1, *R]`` (an
        ``OperatorTask`` normalises inside; a DGNO encodes and decodes).
    dgno : the DGNO itself when the checkpoint holds one (its latent space can be sampled).
    meta : the checkpoint's ``neurops`` record (a DGNO's has its ``forcing``).
    """

    name: str
    forward: Callable[[torch.Tensor], torch.Tensor]
    dgno: DGNO | None
    meta: dict[str, Any]


def load_surrogate(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Surrogate:
    """The operator of a checkpoint written by ``neurops fit`` with ``OperatorTask`` (FNO, MgNO,
    LSM, ...) or ``GenerativeOperatorTask`` (DGNO), loaded by :func:`neurops.checkpoints.load`.

    Raises
    ------
    CheckpointError : not a readable neurops checkpoint, or one of a kind that maps no field
        ``a`` to a field ``u`` (a rollout or dynamics checkpoint: the error names its commands).
    ModelError : an operator of several input or output channels.
    """
    kind, task = load(path, ("operator", "generative"), command="neurops invert", map_location=map_location)
    for p in task.parameters():
        p.requires_grad_(False)
    name = str(task.record.get("model", "dgno" if kind == "generative" else ""))
    if kind == "generative":
        return Surrogate(name, task.net, task.net, {**task.record, "forcing": float(task.hparams.forcing)})
    kwargs = task.record.get("model_kwargs", {})
    if kwargs.get("in_channels", 1) != 1 or kwargs.get("out_channels", 1) != 1:
        raise ModelError(f"{path} maps {kwargs.get('in_channels')} -> {kwargs.get('out_channels')} channels; an "
                         f"inversion needs a model of one coefficient field to one solution field.")
    return Surrogate(name, task, None, dict(task.record))
