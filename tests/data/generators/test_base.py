"""Tests for the generator registry and the checks its grid generators share (``neurops.data.generators.base``)."""

from __future__ import annotations

import dataclasses

import pytest

from neurops.data.generators import GENERATORS
from neurops.data.generators.base import check_test_resolutions
from neurops.errors import ConfigError

#: every generator with extra test resolutions, and a small valid config of it (resolution 32 nests in its grid)
GRID = {"darcy": {"resolution": 33}, "burgers": {"resolution": 32, "solver_resolution": 128},
        "navier_stokes": {"resolution": 32, "solver_resolution": 128}}


def test_every_generator_with_test_resolutions_is_covered():
    with_tests = {name for name, spec in GENERATORS.items()
                  if "test_resolutions" in {f.name for f in dataclasses.fields(spec.config_cls)}}
    assert with_tests == set(GRID)


@pytest.mark.parametrize("name", sorted(GRID))
def test_a_test_resolution_repeating_the_resolution_or_another_is_refused(name):
    """--resolution 33 --test-resolutions 33 65 dropped the 33 without a word (and 65 65 was 'split test@65 was
    already created', or dropped too): now one ConfigError when the config is built."""
    spec, base = GENERATORS.get(name), GRID[name]
    r = base["resolution"]
    other = 2 * r - 1 if name == "darcy" else 2 * r
    with pytest.raises(ConfigError) as err:
        spec.make_config(**base, test_resolutions=[r, other])
    assert str(err.value) == (f"test_resolutions [{r}, {other}] repeat the resolution {r}: the test split is already "
                              f"stored at {r}; drop {r} from --test-resolutions.")
    with pytest.raises(ConfigError) as err:
        spec.make_config(**base, test_resolutions=[other, other])
    assert str(err.value) == (f"test_resolutions [{other}, {other}] give {other} more than once: each test@R split is "
                              "stored once; give each resolution once in --test-resolutions.")
    with pytest.raises(ConfigError, match=r"test_resolutions \[\d+\] were given but n_test is 0; pass --n-test N > 0"):
        spec.make_config(**base, test_resolutions=[other], n_test=0)
    assert spec.make_config(**base, test_resolutions=[str(other)]).test_resolutions == (other,)


def test_check_test_resolutions():
    assert check_test_resolutions(33, None, 0) == ()
    assert check_test_resolutions(33, [65, 129], 1) == (65, 129)
    with pytest.raises(ConfigError, match="repeat the resolution 33"):
        check_test_resolutions(33, [65, 33], 1)
