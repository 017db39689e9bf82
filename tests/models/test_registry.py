import pytest

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
