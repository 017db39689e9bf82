"""One seed for everything: numpy, torch and Python's ``random``."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


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
