"""Model registry: ``name -> class``, and the name + kwargs each built model carries.

Checkpoints store ``spec_of(model)`` so that a model can be rebuilt with no other
information (see :mod:`neurops.tasks.operator`). Every registered class declares its
``resolution_behaviour`` (a class attribute, which an instance may refine from its
options), one of :data:`RESOLUTION_BEHAVIOURS`.
"""

from __future__ import annotations

import copy
import difflib
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from neurops.errors import ModelError

_MODELS: dict[str, type[nn.Module]] = {}
M = TypeVar("M", bound=type[nn.Module])

#: what a model's predictions do on a grid other than its training grid
RESOLUTION_BEHAVIOURS = {
    "function_space": "the same weights define one operator on functions; other grids give consistent predictions",
    "fixed_grid": "the weights act in grid units; on another grid the model computes a different operator",
    "not_spatial": "the model does not act on spatial fields",
}


def register(name: str) -> Callable[[M], M]:
    """Class decorator registering an ``nn.Module`` under ``name``.

    The class must declare ``resolution_behaviour`` (see :data:`RESOLUTION_BEHAVIOURS`).
    """

    def deco(cls: M) -> M:
        if name in _MODELS and _MODELS[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered to {_MODELS[name].__qualname__}")
        if getattr(cls, "resolution_behaviour", None) not in RESOLUTION_BEHAVIOURS:
            raise ValueError(f"model {cls.__qualname__} must declare resolution_behaviour, one of "
                             f"{sorted(RESOLUTION_BEHAVIOURS)}")
        _MODELS[name] = cls
        cls.registry_name = name  # type: ignore[attr-defined]
        return cls

    return deco


def available() -> list[str]:
    """Names of all registered models."""
    return sorted(_MODELS)


def get_class(name: str) -> type[nn.Module]:
    """The class registered as ``name`` (clear error with suggestions otherwise)."""
    if name not in _MODELS:
        close = difflib.get_close_matches(name, _MODELS, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ModelError(f"unknown model {name!r}.{hint} Available models: {available()}.")
    return _MODELS[name]


def build(name: str, **kwargs: Any) -> nn.Module:
    """Build the model registered as ``name`` with ``kwargs``; the module remembers both.

    Raises
    ------
    ModelError
        for an unknown name or keyword arguments the model does not accept.
    """
    cls = get_class(name)
    params = inspect.signature(cls.__init__).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(kwargs) - set(params) - {"self"})
        if unknown:
            raise ModelError(f"model {name!r} has no argument(s) {unknown}; valid: "
                             f"{sorted(p for p in params if p != 'self')}.")
    try:
        model = cls(**kwargs)
    except TypeError as exc:
        raise ModelError(f"cannot build model {name!r} with {kwargs}: {exc}") from exc
    model._neurops_spec = (name, copy.deepcopy(kwargs))  # type: ignore[assignment]
    return model


def resolution_behaviour(model: nn.Module) -> str:
    """How ``model``'s predictions behave on another grid: a key of :data:`RESOLUTION_BEHAVIOURS`."""
    behaviour = getattr(model, "resolution_behaviour", None)
    if behaviour not in RESOLUTION_BEHAVIOURS:
        raise ModelError(f"{type(model).__name__} declares no resolution_behaviour; registered models declare one of "
                         f"{sorted(RESOLUTION_BEHAVIOURS)}.")
    return behaviour


def spec_of(model: nn.Module) -> tuple[str, dict[str, Any]]:
    """``(name, kwargs)`` a model was built with by :func:`build`."""
    spec = getattr(model, "_neurops_spec", None)
    if spec is None:
        raise ModelError(f"{type(model).__name__} was not built with neurops.models.build; "
                         "build it by name so checkpoints can rebuild it.")
    return spec[0], copy.deepcopy(spec[1])
