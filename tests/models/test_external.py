import sys

import pytest
import torch

from neurops.errors import ModelError
from neurops.models import build


def test_neuralop_fno_is_neuraloperators_model():
    neuralop = pytest.importorskip("neuralop")
    kwargs = dict(n_modes=(8, 8), hidden_channels=8, n_layers=2, positional_embedding="grid")
    torch.manual_seed(0)
    ours = build("neuralop_fno", in_channels=1, out_channels=2, **kwargs)
    torch.manual_seed(0)
    theirs = neuralop.models.FNO(in_channels=1, out_channels=2, **kwargs)
    x = torch.randn(3, 1, 16, 16)
    torch.testing.assert_close(ours(x), theirs(x))
    assert ours(torch.randn(1, 1, 24, 24)).shape == (1, 2, 24, 24)  # any resolution


def test_neuralop_fno_without_the_package_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "neuralop", None)  # makes `import neuralop` fail
    monkeypatch.setitem(sys.modules, "neuralop.models", None)
    with pytest.raises(ModelError, match=r"needs the neuraloperator package: pip install 'neurops\[bench\]'"):
        build("neuralop_fno", in_channels=1, out_channels=1, n_modes=(4, 4), hidden_channels=4)
