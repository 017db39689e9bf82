import pytest
import torch

from neurops.errors import ModelError
from neurops.models import available, build, spec_of


def test_available_and_spec_roundtrip():
    assert "fno" in available()
    model = build("fno", modes=[4, 4], width=8)
    name, kwargs = spec_of(model)
    assert name == "fno" and kwargs == {"modes": [4, 4], "width": 8}
    rebuilt = build(name, **kwargs)
    assert sum(p.numel() for p in rebuilt.parameters()) == sum(p.numel() for p in model.parameters())


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ModelError, match=r"unknown model 'fnoo'.*Did you mean 'fno'"):
        build("fnoo")


def test_unknown_kwarg_is_named():
    with pytest.raises(ModelError, match=r"no argument\(s\) \['widht'\]"):
        build("fno", widht=8)


def test_every_registered_model_declares_its_resolution_behaviour():
    from neurops.models import RESOLUTION_BEHAVIOURS, get_class, register, resolution_behaviour

    for name in available():
        assert get_class(name).resolution_behaviour in RESOLUTION_BEHAVIOURS, name
    assert resolution_behaviour(build("fno", modes=[4, 4], width=8)) == "function_space"
    assert resolution_behaviour(build("mgno", width=4, levels=2)) == "fixed_grid"
    assert resolution_behaviour(build("mgno", width=4, levels=2, reference_resolution=[9, 9])) == "function_space"
    assert {"unet", "fs_unet"} <= set(available())
    with pytest.raises(ValueError, match="must declare resolution_behaviour"):
        @register("undeclared")
        class Undeclared(torch.nn.Module):
            pass


def test_a_preset_given_as_the_text_none_names_the_command_line_fix():
    """`--model.model_kwargs.preset null` arrives as the text 'None', and the error was "unknown LSM preset 'None'"
    with the list of presets, not how to build the model without one."""
    with pytest.raises(ModelError, match=r"^model 'lsm': preset='None' is text, not a preset: on the command line null "
                                         r"inside --model\.model_kwargs\.\* arrives as the text 'None'; to build the "
                                         r"model without a preset, give the whole --model\.model_kwargs without it"):
        build("lsm", preset="None", in_channels=1, out_channels=1)
    assert build("lsm", preset=None, in_channels=1, out_channels=1, width=8).in_channels == 1
