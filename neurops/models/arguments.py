"""Checks of model-constructor arguments: a bad size is one :class:`~neurops.errors.ModelError` naming it.

Model arguments reach the constructors from configs and ``--model.model_kwargs``; a zero or negative
size used to surface as a PyTorch traceback ("Trying to create tensor with negative dimension") or,
worse, build a model without any weights. Every registered model checks its sizes here, and the field
operators check the dtype of their input (:func:`check_dtype`) where they check its shape.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from neurops.errors import ModelError

__all__ = ["check_dtype", "check_modes_fit", "check_sizes", "per_axis", "reference_grid"]


def _whole(value: Any) -> int | None:
    """``value`` as an int if it is a whole number (not a bool), else None."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def check_sizes(model: str, *, minimum: int = 1, error: type[Exception] = ModelError, **sizes: Any) -> None:
    """Raise ``error`` unless every size is a whole number ``>= minimum``.

    ``check_sizes("FNO", width=32, n_layers=0)`` raises ``FNO: n_layers must be a whole number >= 1, got 0.``;
    the counts of other calls (``GRFPrior.sample(n)``, the physics' particle counts) raise a ``ConfigError``.
    """
    for name, value in sizes.items():
        number = _whole(value)
        if number is None or number < minimum:
            raise error(f"{model}: {name} must be a whole number >= {minimum}, got {value!r}.")


def per_axis(model: str, name: str, value: Any, *, example: str, minimum: int = 1) -> tuple[int, ...]:
    """``value`` as a tuple of whole numbers ``>= minimum``, one per spatial axis (1 to 3 of them).

    ``example`` shows the expected form in the error (e.g. ``"[12, 12]"`` for ``modes`` on a 2-D grid).
    """
    entries = [_whole(v) for v in value] if isinstance(value, Sequence) and not isinstance(value, str) else []
    if not 1 <= len(entries) <= 3 or any(v is None or v < minimum for v in entries):
        raise ModelError(f"{model}: {name} is one whole number >= {minimum} per spatial axis, for 1, 2 or 3 axes, e.g. "
                         f"{example}; got {value!r}.")
    return tuple(int(v) for v in entries if v is not None)


def reference_grid(model: str, value: Any, ndim: int, axes_fix: str = "") -> tuple[int, ...] | None:
    """``reference_resolution``: ``None`` (grid units) or one point count >= 2 per spatial axis.

    ``axes_fix`` names the model's setting that fixes its number of axes (e.g. ``"dim"``): a grid of
    other valid point counts on another number of axes (the training data's grid, filled in by the
    tasks) is then refused naming that setting, not asking for a grid the data does not have.

    Text is refused with the fix: on the command line, ``null`` inside ``--model.model_kwargs.*`` arrives as the
    text ``'None'``, which once was read as the point counts ``['N', 'o', 'n', 'e']``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        raise ModelError(f"{model}: reference_resolution={value!r} is text, not point counts; give one number per "
                         f"axis (e.g. {[64] * ndim}), or null in a config file or in the whole --model.model_kwargs "
                         "with the model's other kwargs kept (e.g. --model.model_kwargs "
                         "'{..., \"reference_resolution\": null}').")
    entries = [_whole(v) for v in value] if isinstance(value, Sequence) else []
    if axes_fix and 1 <= len(entries) <= 3 and len(entries) != ndim and all(v is not None and v >= 2 for v in entries):
        raise ModelError(f"{model}: the model is built for {ndim} spatial axes but reference_resolution={value!r} "
                         f"(the training data's grid) has {len(entries)}; build it for the data's axes "
                         f"({axes_fix}), or train it on {ndim}-D data.")
    if len(entries) != ndim or any(v is None or v < 2 for v in entries):
        raise ModelError(f"{model}: reference_resolution={value!r} needs one point count >= 2 per spatial axis "
                         f"({ndim}), e.g. {[64] * ndim}, or null (grid units).")
    return tuple(int(v) for v in entries if v is not None)


def check_dtype(model: str, x: torch.Tensor, module: nn.Module, argument: str = "") -> None:
    """Raise unless ``x`` is a floating-point tensor of the dtype of ``module``'s parameters.

    A float64, half or integer field given to a float32 model otherwise fails deep inside torch ("expected
    m1 and m2 to have the same dtype"). The input is not converted: the error names both dtypes and the
    fix. Under autocast any floating dtype passes (autocast casts per operation, e.g. a float16 feature
    fed back into a float32 model in a mixed-precision rollout). Costs one dtype comparison. ``argument``
    names the checked argument in the message (e.g. ``"beta"``; default "the input", converted as ``x``).
    """
    param = next(module.parameters(), None)
    what, name = (argument, argument) if argument else ("the input", "x")
    if not isinstance(x, torch.Tensor):
        want = str(param.dtype if param is not None else torch.float32).removeprefix("torch.")
        raise ModelError(f"{model}: {what} is a {type(x).__module__.split('.')[0]} {type(x).__name__}, not a "
                         f"torch.Tensor; pass torch.as_tensor({name}, dtype=torch.{want}).")
    if param is None or (x.is_floating_point() and (x.dtype == param.dtype
                                                     or torch.is_autocast_enabled(x.device.type))):
        return
    want, got = str(param.dtype).removeprefix("torch."), str(x.dtype).removeprefix("torch.")
    if not x.is_floating_point():
        raise ModelError(f"{model}: {what} is {got}, not floating point; the model's parameters are {want}: "
                         f"pass {name}.to(torch.{want}).")
    other = {torch.float64: "model.double()", torch.float32: "model.float()"}.get(x.dtype,
                                                                             "run it under torch.autocast")
    raise ModelError(f"{model}: {what} is {got} but the model's parameters are {want}; pass "
                     f"{name}.to(torch.{want}), or {other}.")


def check_modes_fit(model: str, option: str, modes: Sequence[int], spatial: Sequence[int], padded: Sequence[int],
                    limits: Sequence[int], note: str = "") -> None:
    """Raise one :class:`~neurops.errors.ModelError` unless a grid of ``spatial`` points per axis (``padded`` after
    the model's domain padding) holds the Fourier ``modes`` of a spectral model: as many axes, and per axis at
    least 1 and at most ``limits`` (the most the padded grid holds, counted as the model counts its ``option``).

    The ``check_grid`` of every Fourier model (``fno``, ``neuralop_fno``), which the tasks run on every grid of
    the data before training and ``neurops predict`` before predicting; ``note`` follows the limits in the message.
    """
    spatial, padded = tuple(int(n) for n in spatial), tuple(int(n) for n in padded)
    if len(padded) == len(modes) and all(1 <= m <= k for m, k in zip(modes, limits)):
        return
    grid = "x".join(map(str, spatial)) + (f" (padded to {'x'.join(map(str, padded))})" if padded != spatial else "")
    if len(padded) != len(modes):
        raise ModelError(f"the {model} has {option} for {len(modes)} spatial dims ({option}={list(modes)}) but the "
                         f"data's grid {grid} has {len(padded)}; give one mode count per axis of the data.")
    raise ModelError(f"the {model}'s {option} {list(modes)} do not fit the {grid} grid of the data, which holds at "
                     f"most {list(limits)} Fourier modes per axis{note}; set model_kwargs.{option} to at most that, "
                     "or use finer data.")
