"""The keyword arguments a class accepts, following ``**kwargs`` passed on to its parents."""

from __future__ import annotations

import inspect


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
