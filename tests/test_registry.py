"""The one registry: names and aliases, "did you mean", and the error class of each table."""

from __future__ import annotations

import pytest
from torch import nn

from neurops.errors import ConfigError, ModelError
from neurops.registry import Registry


def test_names_aliases_and_lookup():
    r: Registry[int] = Registry("colour")
    r.add("red", 1, aliases=("rouge", "rot"))
    r.register("blue")(2)
    assert r.names() == ["blue", "red"] and list(r) == ["blue", "red"] and len(r) == 2
    assert r.get("rot") == r["red"] == 1 and r.canonical("rouge") == "red"
    assert "rouge" in r and "green" not in r
    assert r.items() == [("blue", 2), ("red", 1)]


def test_unknown_name_names_the_closest_and_all_with_the_registry_error():
    r: Registry[int] = Registry("colour", ModelError, hint="Add one with register().")
    r.add("red", 1, aliases=("rouge",))
    r.add("green", 2)
    with pytest.raises(ModelError) as info:
        r.get("rogue")
    assert str(info.value) == "unknown colour 'rogue'. Did you mean 'red'? Choose one of ['green', 'red']. " \
                              "Add one with register()."
    with pytest.raises(ConfigError, match=r"^unknown thing 'x'\. Choose one of \[\]\.$"):
        Registry("thing").get("x")


def test_a_taken_name_is_refused_unless_it_is_the_same_object():
    r: Registry[object] = Registry("thing")
    value = object()
    r.add("a", value, aliases=("b",))
    r.add("a", value)  # registering the same object again (a re-imported module) is fine
    with pytest.raises(ValueError, match="'b' is already registered"):
        r.add("c", object(), aliases=("b",))


def test_the_tables_of_the_package_are_registries():
    from neurops.data.external import CONVERTERS
    from neurops.data.generators import GENERATORS
    from neurops.kernels import spectral, stencil
    from neurops.layers.activations import ACTIVATIONS, get_activation
    from neurops.metrics.field import LOSSES
    from neurops.models.registry import MODELS

    for table in (CONVERTERS, GENERATORS, spectral.PATHS, stencil.PATHS, ACTIVATIONS, LOSSES, MODELS):
        assert isinstance(table, Registry) and len(table) >= 2
    assert CONVERTERS.canonical("npz") == "arrays" and "darcy" in GENERATORS and "fno" in MODELS
    assert isinstance(get_activation("tanh_sin"), nn.Module) and isinstance(get_activation("identity"), nn.Identity)
    with pytest.raises(ConfigError, match="unknown activation 'gelo'. Did you mean 'gelu'"):
        get_activation("gelo")


def test_a_kernel_path_from_the_environment_is_checked_against_its_registry(monkeypatch):
    from neurops.kernels.backend import path_from_environment
    from neurops.kernels.spectral import PATHS

    monkeypatch.setenv("NEUROPS_SPECTRAL_PATH", "fftt")
    with pytest.raises(ConfigError, match=r"NEUROPS_SPECTRAL_PATH='fftt' is not a path of this kernel.*Did you mean "
                                          r"'fft'"):
        path_from_environment("NEUROPS_SPECTRAL_PATH", PATHS)
    monkeypatch.setenv("NEUROPS_SPECTRAL_PATH", "dft")
    assert path_from_environment("NEUROPS_SPECTRAL_PATH", PATHS) == "dft"
