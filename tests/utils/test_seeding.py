"""Random states saved with checkpoints (neurops/utils/seeding.py)."""

import io
import random

import numpy as np
import pytest
import torch

from neurops.errors import ConfigError
from neurops.utils.seeding import check_seed, rng_states, seed_everything, set_rng_states


def test_saved_random_states_load_with_weights_only_and_restore_every_generator():
    seed_everything(5)
    buffer = io.BytesIO()
    torch.save(rng_states(), buffer)
    draws = (random.random(), float(np.random.rand()), float(torch.rand(())))
    seed_everything(6)  # something else happened in between
    buffer.seek(0)
    set_rng_states(torch.load(buffer, weights_only=True))
    assert (random.random(), float(np.random.rand()), float(torch.rand(()))) == draws


@pytest.mark.parametrize("seed", [-3, 2**63, 10**23, True, 1.0, "0"])
def test_check_seed_refuses_what_numpy_or_torch_cannot_take(seed):
    with pytest.raises(ConfigError) as err:
        check_seed(seed)
    assert str(err.value) == (f"seed must be an integer between 0 and 2**63 - 1 (9223372036854775807), got {seed!r}; "
                              "give e.g. --seed 0.")


def test_check_seed_takes_the_whole_range():
    assert check_seed(0) == 0 and check_seed(2**63 - 1) == 2**63 - 1
    assert check_seed(2**32 - 1, bits=32) == 2**32 - 1
    # NumPy integers are integers (numpy and torch take them): the shared check refused them for a while
    assert check_seed(np.int64(3)) == 3 and type(check_seed(np.uint32(7))) is int
    with pytest.raises(ConfigError, match="got np.True_|got True"):
        check_seed(np.bool_(True))
    with pytest.raises(ConfigError, match=r"got np\.int64\(-1\)"):
        check_seed(np.int64(-1))
