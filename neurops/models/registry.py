"""Model registry: ``name -> class``, and the name + kwargs each built model carries.

Checkpoints store ``spec_of(model)`` so that a model can be rebuilt with no other
information (see :mod:`neurops.tasks.operator`). Every registered class declares its
``resolution_behaviour`` (a class attribute, which an instance may refine from its
options), one of :data:`RESOLUTION_BEHAVIOURS`. A class with named paper configurations
(:class:`Presets`: MgNO, LSM) is built from one by ``build(name, preset="darcy", ...)``,
which calls its ``from_preset``; the spec keeps ``preset`` so a checkpoint rebuilds the same way.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from torch import nn

from neurops.errors import ModelError
from neurops.registry import Registry

#: every registered model class, by name
MODELS: Registry[type[nn.Module]] = Registry("model", ModelError)
M = TypeVar("M", bound=type[nn.Module])
P = TypeVar("P", bound="Presets")

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
        if getattr(cls, "resolution_behaviour", None) not in RESOLUTION_BEHAVIOURS:
            raise ValueError(f"model {cls.__qualname__} must declare resolution_behaviour, one of "
                             f"{sorted(RESOLUTION_BEHAVIOURS)}")
        MODELS.add(name, cls)
        cls.registry_name = name  # type: ignore[attr-defined]
        return cls

    return deco


def available() -> list[str]:
    """Names of all registered models."""
    return MODELS.names()


def get_class(name: str) -> type[nn.Module]:
    """The class registered as ``name`` (clear error with suggestions otherwise)."""
    return MODELS.get(name)


class Presets:
    """Mixin of a model class with named configurations (the papers'), built by :meth:`from_preset`.

    A subclass sets :attr:`presets` (name -> constructor keyword arguments); its constructor takes
    plain arguments with plain defaults and knows nothing of presets.
    """

    #: name -> keyword arguments of the constructor
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: the model's name in its paper, as errors say it (default: the class name)
    paper_name: ClassVar[str] = ""

    @classmethod
    def preset_registry(cls) -> Registry[Mapping[str, Any]]:
        """The presets as a :class:`~neurops.registry.Registry` (its error names the model's presets)."""
        kind = f"{cls.paper_name or cls.__name__} preset"
        registry: Registry[Mapping[str, Any]] = Registry(kind, ModelError,
                                                         hint="Or pass the model's arguments yourself.")
        for name, kwargs in cls.presets.items():
            registry.add(name, kwargs)
        return registry

    @classmethod
    def preset_arguments(cls, preset: str, **overrides: Any) -> dict[str, Any]:
        """The constructor arguments of ``preset`` with ``overrides`` applied on top (``None``: the preset's)."""
        return {**cls.preset_registry().get(preset), **{k: v for k, v in overrides.items() if v is not None}}

    @classmethod
    def from_preset(cls: type[P], preset: str, **overrides: Any) -> P:
        """The model of the named configuration ``preset``; explicit ``overrides`` replace its values."""
        return cls(**cls.preset_arguments(preset, **overrides))


def build(name: str, **kwargs: Any) -> nn.Module:
    """Build the model registered as ``name`` with ``kwargs``; the module remembers both.

    ``preset`` (models with :class:`Presets`) builds through the class's ``from_preset``.

    Raises
    ------
    ModelError
        for an unknown name or keyword arguments the model does not accept.
    """
    cls = get_class(name)
    arguments = dict(kwargs)
    preset = arguments.pop("preset", None) if issubclass(cls, Presets) else None
    if preset == "None" and "None" not in getattr(cls, "presets", {}):  # `--model.model_kwargs.preset null`
        raise ModelError(f"model {name!r}: preset='None' is text, not a preset: on the command line null inside "
                         "--model.model_kwargs.* arrives as the text 'None'; to build the model without a preset, "
                         "give the whole --model.model_kwargs without it (e.g. --model.model_kwargs "
                         "'{\"width\": 32, ...}'), or leave preset out of the config file.")
    params = inspect.signature(cls.__init__).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        valid = sorted({*params, *(("preset",) if issubclass(cls, Presets) else ())} - {"self"})
        unknown = sorted(set(kwargs) - set(valid))
        if unknown:
            raise ModelError(f"model {name!r} has no argument(s) {unknown}; valid: {valid}.")
    try:
        model = cls.from_preset(preset, **arguments) if preset is not None else cls(**arguments)
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
