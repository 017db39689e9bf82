"""Settings of an inversion (neurops/inverse/config.py)."""

import pytest

from neurops.errors import ConfigError
from neurops.inverse import InversionConfig


@pytest.mark.parametrize("seed", [-1, 10**23])
def test_a_seed_torch_cannot_take_is_refused_when_the_settings_are_made(seed):
    # 10**23 used to be a ValueError (overflow) from torch.Generator.manual_seed once the chains started
    with pytest.raises(ConfigError) as err:
        InversionConfig(seed=seed)
    assert str(err.value) == (f"seed must be an integer between 0 and 2**63 - 1 (9223372036854775807), got {seed}; "
                              "give e.g. --seed 0.")
