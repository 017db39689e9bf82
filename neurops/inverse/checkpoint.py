"""Load a trained DGNO from a ``GenerativeOperatorTask`` checkpoint without Lightning."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from neurops.errors import ModelError
from neurops.models.dgno import DGNO
from neurops.models.registry import build

__all__ = ["load_dgno"]


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
