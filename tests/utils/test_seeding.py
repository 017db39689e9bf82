"""Random states saved with checkpoints (neurops/utils/seeding.py)."""

import io
import random

import numpy as np
import torch

from neurops.utils.seeding import rng_states, seed_everything, set_rng_states


def test_saved_random_states_load_with_weights_only_and_restore_every_generator():
    seed_everything(5)
    buffer = io.BytesIO()
    torch.save(rng_states(), buffer)
    draws = (random.random(), float(np.random.rand()), float(torch.rand(())))
    seed_everything(6)  # something else happened in between
    buffer.seek(0)
    set_rng_states(torch.load(buffer, weights_only=True))
    assert (random.random(), float(np.random.rand()), float(torch.rand(()))) == draws
