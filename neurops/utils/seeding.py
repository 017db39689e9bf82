"""One seed for everything: numpy, torch and Python's ``random``."""

from __future__ import annotations

import numbers
import os
import random

import numpy as np
import torch

from neurops.errors import ConfigError


def check_seed(seed: object, name: str = "seed", option: str = "--seed", bits: int = 63, note: str = "",
               example: object = 0) -> int:
    """``seed`` as an int if it is an integer (Python's or NumPy's) in ``[0, 2**bits)``; else one
    :class:`ConfigError` naming ``name``.

    The one check of every seed a user gives (``--seed``, ``seed_everything``, an ensemble's ``seeds``): numpy
    refuses negative seeds, torch those of 64 bits and more, Lightning those of 32 bits and more (``bits=32``).
    The message suggests ``option example`` (``--seed 0``; an ``option`` ending in ``=`` is joined to it:
    ``seed=0``), then ``note``.
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**bits:
        raise ConfigError(f"{name} must be an integer between 0 and 2**{bits} - 1 ({2**bits - 1}), got {seed!r}; "
                          f"give e.g. {option}{'' if option.endswith('=') else ' '}{example}{note}.")
    return int(seed)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA) from one integer.

    The seed is also recorded in ``PL_GLOBAL_SEED``, as Lightning's ``seed_everything`` does:
    the training sampler's shuffle (and Lightning's processes) take it from there.
    """
    os.environ["PL_GLOBAL_SEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng(seed: int | np.random.SeedSequence | None) -> np.random.Generator:
    """A numpy ``Generator`` from a seed (``None`` gives fresh entropy)."""
    return np.random.default_rng(seed)


def sample_seeds(seed: int, n: int) -> list[np.random.SeedSequence]:
    """Independent per-sample seed sequences: sample ``i`` gets the same stream whatever the workers."""
    return np.random.SeedSequence(seed).spawn(n)


def rng_states() -> dict[str, object]:
    """The global random states of Python, numpy and torch (CPU and CUDA), as plain tensors and tuples.

    Saved in checkpoints (which load with ``weights_only=True``) so that a resumed run draws the same
    numbers as an uninterrupted one; restore with :func:`set_rng_states`.
    """
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    states: dict[str, object] = {"python": random.getstate(), "torch": torch.get_rng_state(),
                                 "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss)}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, object]) -> None:
    """Restore the random states returned by :func:`rng_states`."""
    random.setstate(states["python"])
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
