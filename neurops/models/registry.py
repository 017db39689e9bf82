"""Model registry: ``name -> class``, and the name + kwargs each built model carries.

Checkpoints store ``spec_of(model)`` so that a model can be rebuilt with no other
information (see :mod:`neurops.tasks.operator`).
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


def register(name: str) -> Callable[[M], M]:
    """Class decorator registering an ``nn.Module`` under ``name``."""

    def deco(cls: M) -> M:
        if name in _MODELS and _MODELS[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered to {_MODELS[name].__qualname__}")
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


def spec_of(model: nn.Module) -> tuple[str, dict[str, Any]]:
    """``(name, kwargs)`` a model was built with by :func:`build`."""
    spec = getattr(model, "_neurops_spec", None)
    if spec is None:
        raise ModelError(f"{type(model).__name__} was not built with neurops.models.build; "
                         "build it by name so checkpoints can rebuild it.")
    return spec[0], copy.deepcopy(spec[1])
