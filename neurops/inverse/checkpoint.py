"""Load trained operators from checkpoints: any ``a -> u`` operator, and a DGNO with its latent space."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neurops.errors import ModelError
from neurops.models.dgno import DGNO
from neurops.models.registry import build

__all__ = ["Surrogate", "load_dgno", "load_surrogate"]


def load_dgno(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[DGNO, dict[str, Any]]:
    """Rebuild the DGNO stored in a checkpoint (``weights_only=True``).

    Parameters
    ----------
    path : ``.ckpt`` written by Lightning for :class:`neurops.tasks.generative.GenerativeOperatorTask`.
    map_location : device to load onto.

    Returns
    -------
    model : the DGNO in eval mode.
    meta : the checkpoint's ``neurops`` record (model name and kwargs, ``forcing``, versions).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; train one with GenerativeOperatorTask "
                                "(e.g. `neurops fit --config neurops/configs/dgno_darcy_piecewise.yaml`).")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unreadable or unsafe pickle
        raise ModelError(f"cannot read checkpoint {path}: {exc}") from exc
    meta = ckpt.get("neurops") if isinstance(ckpt, dict) else None
    if not meta or meta.get("model") != "dgno":
        raise ModelError(f"{path} is not a DGNO checkpoint (no neurops record with model 'dgno'); pass a "
                         "checkpoint written by GenerativeOperatorTask.")
    model = build("dgno", **meta["model_kwargs"])
    state = {k[len("net."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"checkpoint {path} does not match its recorded DGNO kwargs: {exc}") from exc
    assert isinstance(model, DGNO)
    return model.eval().to(map_location), dict(meta)


@dataclass
class Surrogate:
    """A trained operator ``a -> u`` read from any neurops operator checkpoint.

    Attributes
    ----------
    name : the model's registry name (``fno``, ``mgno``, ``lsm``, ``dgno``, ...).
    forward : the model as a map of physical fields, ``[B, 1, *R] -> [B, 1, *R]`` (an
        ``OperatorTask`` normalises inside; a DGNO encodes and decodes).
    dgno : the DGNO itself when the checkpoint holds one (its latent space can be sampled).
    meta : the checkpoint's ``neurops`` record.
    """

    name: str
    forward: Callable[[torch.Tensor], torch.Tensor]
    dgno: DGNO | None
    meta: dict[str, Any]


def load_surrogate(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Surrogate:
    """Read any operator checkpoint written by ``neurops fit`` (``OperatorTask``: FNO, MgNO, LSM, ...)
    or by ``GenerativeOperatorTask`` (DGNO), with ``weights_only=True``.

    Raises
    ------
    ModelError : not a readable neurops operator checkpoint, or one of a kind that maps no field
        ``a`` to a field ``u`` (e.g. a dynamics model).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; train one with `neurops fit`.")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unreadable or unsafe pickle: one message
        raise ModelError(f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}).") from exc
    meta = ckpt.get("neurops") if isinstance(ckpt, dict) else None
    if not meta or "model" not in meta:
        raise ModelError(f"{path} is not a neurops operator checkpoint (no 'neurops' record naming its model); "
                         "checkpoints written by `neurops fit` have one.")
    if meta["model"] == "dgno":
        model, meta = load_dgno(path, map_location)
        return Surrogate("dgno", model, model, meta)
    task_name = str(meta.get("task", ""))
    if task_name and not task_name.startswith("neurops.tasks.operator."):
        raise ModelError(f"{path} holds a {task_name.rsplit('.', 1)[-1]} checkpoint ({meta['model']}), which does not "
                         f"map a coefficient field to a solution field; `neurops invert` takes operator checkpoints "
                         f"(FNO, MgNO, LSM, DGNO ...).")
    from neurops.errors import ConfigError
    from neurops.inference import load_operator

    try:
        task = load_operator(path, map_location=map_location)
    except ConfigError as exc:
        raise ModelError(str(exc)) from exc
    kwargs = meta.get("model_kwargs", {})
    if kwargs.get("in_channels", 1) != 1 or kwargs.get("out_channels", 1) != 1:
        raise ModelError(f"{path} maps {kwargs.get('in_channels')} -> {kwargs.get('out_channels')} channels; an "
                         f"inversion needs a model of one coefficient field to one solution field.")
    for p in task.parameters():
        p.requires_grad_(False)
    return Surrogate(str(meta["model"]), task, None, dict(meta))
