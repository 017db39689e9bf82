"""The DCDM network (neurops/models/dcdm.py), registered as "dcdm"."""

from __future__ import annotations

import pytest
import torch

from neurops.errors import ModelError
from neurops.models import build, spec_of
from neurops.models.dcdm import DCDMNet


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_any_grid_and_positively_homogeneous(dim):
    torch.manual_seed(0)
    net = build("dcdm", dim=dim, width=4, fine_blocks=1, coarse_blocks=1)
    assert isinstance(net, DCDMNet) and spec_of(net) == ("dcdm", {"dim": dim, "width": 4, "fine_blocks": 1,
                                                                    "coarse_blocks": 1})
    for n in (7, 12):  # odd and even grids (one 2x pooling level with ceil mode)
        r = torch.randn(2, 1, *([n] * dim))
        out = net(r)
        assert out.shape == r.shape
        torch.testing.assert_close(net(3.0 * r), 3.0 * out)  # bias-free ReLU network: f(c r) = c f(r), c > 0


def test_a_conditioned_network_needs_its_condition():
    net = DCDMNet(2, width=4, fine_blocks=1, coarse_blocks=1, condition_channels=4)
    r, cond = torch.randn(1, 1, 9, 9), torch.randn(1, 4, 9, 9)
    assert net(r, cond).shape == r.shape
    with pytest.raises(ValueError, match="condition"):
        net(r)
    with pytest.raises(ValueError, match=r"\[B, 1, \*shape\]"):
        DCDMNet(2)(torch.randn(2, 3, 5, 5))
    with pytest.raises(ModelError, match="dim"):
        DCDMNet(4)
    with pytest.raises(ModelError, match="width"):
        build("dcdm", width=0)
