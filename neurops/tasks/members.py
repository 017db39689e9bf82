"""An ensemble's members, one per seed: stacked into one model, and taken out again as plain models.

:class:`~neurops.tasks.dynamics.DynamicsTask` with ``seeds=[s_0, ..., s_{R-1}]`` trains R models at once: member
``r`` is the registered model built with ``seed=s_r`` (its initialisation; the data module draws the member's
windows with the same seed), and the R members are stacked on a leading member axis
(:func:`~neurops.models.piecewise_linear.stack_members`), so that one batched rollout trains them all. Here:
:func:`build_members`, :func:`member_models` and :func:`seeds_not_finite` (members are named by their seeds).
Each member's best state is :mod:`neurops.tasks.member_best`; the members spread over DDP processes,
:mod:`neurops.tasks.member_shards`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from torch import nn

from neurops.errors import ConfigError
from neurops.models.piecewise_linear import PiecewiseLinearRNN, stack_members
from neurops.models.registry import build
from neurops.tasks.member_best import MemberBest


def build_members(model: str, kwargs: dict[str, Any], seeds: list[int]) -> PiecewiseLinearRNN:
    """The ensemble of the models ``build(model, **kwargs, seed=s)`` for ``s`` in ``seeds``, stacked (member ``r``
    initialised with ``seeds[r]``; a ``seed`` in ``kwargs`` is ignored)."""
    kwargs = {k: v for k, v in kwargs.items() if k != "seed"}
    return stack_members([build(model, **kwargs, seed=s) for s in seeds], seeds)


def member_models(net: nn.Module, best: MemberBest | None,
                  state: Literal["best", "final"] = "best") -> list[nn.Module]:
    """The members of the ensemble ``net`` as plain models: each at its ``best`` state of ``best`` (a member never
    scored keeps its final state), or all at their ``final`` state; ``[net]`` for one model (``best`` None)."""
    if state not in ("best", "final"):
        raise ConfigError(f"state must be 'best' or 'final', got {state!r}.")
    if best is None:
        return [net]
    models = [net.member(r) for r in range(len(best.score))]
    if state == "best":
        best.restore(models)
    return models


def seeds_not_finite(seeds: list[int] | None, values: Sequence[float]) -> list[int]:
    """The seeds of the members whose value (``values[r]`` of member ``r``) is not finite; ``[]`` for one model."""
    return [s for s, v in zip(seeds or [], values) if not math.isfinite(v)]


__all__ = ["build_members", "member_models", "seeds_not_finite"]
