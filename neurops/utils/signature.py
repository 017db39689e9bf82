"""The keyword arguments a class accepts, following ``**kwargs`` passed on to its parents, and the class a factory
builds."""

from __future__ import annotations

import functools
import inspect
from typing import Any


def init_parameters(cls: type) -> list[str]:
    """Names of the ``__init__`` parameters of ``cls`` (without ``self``).

    A class whose ``__init__`` takes ``**kwargs`` and passes them to its parent (such as
    :class:`neurops.tasks.rollout.RolloutTask`) also accepts the parent's parameters; they are
    included, in MRO order.
    """
    names: list[str] = []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        names += [p.name for p in params
                  if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in names]
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return names


def called_class(factory: object) -> tuple[type, tuple[Any, ...], dict[str, Any]] | None:
    """The class a factory builds, with the positional and keyword arguments it gives it; ``None`` when not known.

    ``factory`` is a class, or a ``functools.partial`` of one: Python code writes ``partial(cls, ...)``, and a
    config's ``class_path`` (an optimizer, a scheduler) becomes jsonargparse's partial, which passes the class
    among its arguments. Other callables are not inspected.
    """
    if isinstance(factory, type):
        return factory, (), {}
    if not isinstance(factory, functools.partial):
        return None
    parts = (factory.func, *factory.args)
    at = next((i for i, part in enumerate(parts) if isinstance(part, type)), None)
    return None if at is None else (parts[at], parts[at + 1:], dict(factory.keywords))
