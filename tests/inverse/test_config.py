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


@pytest.mark.parametrize("settings, message", [
    ({"n_chains": 2.5}, "n_chains must be a whole number, got 2.5 (float)."),
    ({"thin": 1.5}, "thin must be a whole number, got 1.5 (float)."),
    ({"n_samples": float("nan")}, "n_samples must be a whole number, got nan (float)."),
    ({"anneal": 2.5}, "anneal must be a whole number, got 2.5 (float)."),
    ({"level": "0.9"}, "level must be a number, got '0.9' (str)."),
    ({"temperatures": 0.5}, "temperatures must be a sequence of numbers, e.g. temperatures=(0.5, 0.25), got 0.5."),
    ({"blocks": 4}, "blocks must be a sequence of whole numbers, e.g. blocks=(4, 16), got 4."),
    ({"blocks": [4.5]}, "blocks must be a sequence of whole numbers, e.g. blocks=(4, 16), got [4.5]."),
])
def test_settings_of_the_wrong_type_are_refused_when_the_settings_are_made(settings, message):
    """They used to be taken (n_chains 2.5, thin 1.5, n_samples NaN, blocks [4.5], anneal 2.5: a TypeError or a
    silent misreading once the chains started) or to fail in a comparison ('0.9', 0.5 for a ladder)."""
    with pytest.raises(ConfigError) as err:
        InversionConfig(**settings)
    assert str(err.value) == message
    assert InversionConfig(temperatures=[0.5], blocks=(4, 16), max_rhat=float("inf")).blocks == (4, 16)
