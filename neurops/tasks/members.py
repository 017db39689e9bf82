"""An ensemble's members, one per seed: checked, stacked into one model, and taken out again as plain models.

:class:`~neurops.tasks.dynamics.DynamicsTask` with ``seeds=[s_0, ..., s_{R-1}]`` trains R models at once: member
``r`` is the registered model built with ``seed=s_r`` (its initialisation; the data module draws the member's
windows with the same seed), and the R members are stacked on a leading member axis
(:func:`~neurops.models.piecewise_linear.stack_members`), so that one batched rollout trains them all. Here:
:func:`check_seeds` (the one check of ``seeds``; :func:`check_model_seed`, that of one model's ``seed``),
:func:`build_members`, :func:`member_models` and :func:`seeds_not_finite` (members are named by their seeds). Each
member's best state is :mod:`neurops.tasks.member_best`; the members spread over DDP processes,
:mod:`neurops.tasks.member_shards`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from torch import nn

from neurops.errors import ConfigError
from neurops.models.piecewise_linear import PiecewiseLinearRNN, stack_members
from neurops.models.registry import build
from neurops.tasks.member_best import MemberBest
from neurops.utils.seeding import check_seed

#: the option of ``seeds`` that error messages suggest
OPTION = "--model.seeds"


def check_seeds(seeds: object) -> list[int] | None:
    """``seeds`` as a list of distinct Python ints, or ``None`` (one model, no ensemble); else one
    :class:`~neurops.errors.ConfigError` naming the seed and the fix.

    Each seed is checked as ``--seed_everything`` is (:func:`~neurops.utils.seeding.check_seed` with 32 bits:
    NumPy integers are taken and returned as ints; booleans, negatives and 2**32 or more are refused): member
    ``r`` trains as a single run with ``--seed_everything seeds[r]`` would, and torch's generators read only a
    seed's lowest 32 bits, so seeds 0 and 2**32 would be one member twice. Equal seeds are refused too (two
    identical members), and so is an empty list.
    """
    if seeds is None:
        return None
    if isinstance(seeds, np.ndarray) and seeds.ndim == 1:
        seeds = list(seeds)
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
        raise ConfigError(f"seeds must be a list of integers, one seed per ensemble member, got {seeds!r}; give e.g. "
                          f"{OPTION} '[0, 1, 2]', or no seeds (null) for one model.")
    if not seeds:
        raise ConfigError(f"seeds is empty: an ensemble has one seed per member; give e.g. {OPTION} '[0, 1, 2]', or "
                          "no seeds (null) for one model.")
    example = f"'{_usable(seeds)}'"
    checked = [check_seed(seed, f"seeds[{r}]", OPTION, bits=32, example=example,
                          note=" (one seed per ensemble member, each as --seed_everything takes it)")
               for r, seed in enumerate(seeds)]
    repeated = {s: [r for r, t in enumerate(checked) if t == s] for s in checked if checked.count(s) > 1}
    if repeated:
        which = _and([f"{s} (members {_and(rs)})" for s, rs in repeated.items()])
        raise ConfigError(f"seeds {checked} repeat seed{'s' * (len(repeated) > 1)} {which}: members with the same "
                          f"seed would be the same model trained twice; give each member its own seed, e.g. "
                          f"{OPTION} {example}.")
    return checked


def check_model_seed(model_kwargs: dict[str, Any] | None) -> dict[str, Any] | None:
    """``model_kwargs`` with its ``seed`` (one model's initialisation) checked as each of ``seeds`` is and made a
    Python int (checkpoints, which load with ``weights_only=True``, hold it); one
    :class:`~neurops.errors.ConfigError` naming ``--model.model_kwargs.seed`` otherwise. No seed, or ``None``: as
    given."""
    if not model_kwargs or model_kwargs.get("seed") is None:
        return model_kwargs
    seed = check_seed(model_kwargs["seed"], "model_kwargs.seed", "--model.model_kwargs.seed", bits=32,
                      note=" (the model's initialisation; torch's generator reads only a seed's lowest 32 bits)")
    return {**model_kwargs, "seed": seed}


def _and(items: Sequence[object]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    words = [str(item) for item in items]
    return " and ".join(filter(None, [", ".join(words[:-1]), words[-1]]))


def _usable(seeds: Sequence[object]) -> list[int]:
    """``seeds`` with each seed :func:`check_seeds` refuses (or repeats) replaced by the smallest unused one: the
    list its messages suggest."""
    kept: list[int | None] = []
    for seed in seeds:
        try:
            value: int | None = check_seed(seed, bits=32)
        except ConfigError:
            value = None
        kept.append(None if value in kept else value)
    free = (n for n in itertools.count() if n not in kept)
    return [next(free) if s is None else s for s in kept]


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


__all__ = ["OPTION", "build_members", "check_model_seed", "check_seeds", "member_models", "seeds_not_finite"]
