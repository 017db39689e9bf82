import math

import pytest
import torch

from neurops.metrics.field import get_loss, relative_h1, relative_lp


def test_relative_lp_analytic_and_batch_mean():
    t = torch.randn(4, 2, 8, 8)
    assert relative_lp(2 * t, t).item() == pytest.approx(1.0)
    pred = t.clone()
    pred[0] *= 1.5  # only the first sample is off by 50%
    assert relative_lp(pred, t).item() == pytest.approx(0.5 / 4)
    assert relative_lp(pred, t, reduction="none").tolist() == pytest.approx([0.5, 0, 0, 0], abs=1e-6)


def test_fd_h1_seminorm_of_a_sine():
    x = torch.linspace(0, 1, 401, dtype=torch.float64)
    u = torch.sin(torch.pi * x)[None, None]
    # ||u'||^2 / ||u||^2 = pi^2 on (0, 1); relative_h1 of (1+c)u against u is c
    from neurops.metrics.field import _sq_h1_seminorm_fd

    ratio = _sq_h1_seminorm_fd(u, [1 / 400]) / u.pow(2).sum()
    assert ratio.item() == pytest.approx(math.pi**2, rel=1e-2)  # node sums: O(h) quadrature error
    assert relative_h1(1.3 * u, u).item() == pytest.approx(0.3, rel=1e-9)


def test_h1_weights_gradients():
    x = torch.linspace(0, 1, 201, dtype=torch.float64)
    u = torch.sin(torch.pi * x)[None, None]
    bump = 0.01 * torch.sin(20 * torch.pi * x)[None, None]  # small in L2, large in H1
    assert relative_h1(u + bump, u).item() > 10 * relative_lp(u + bump, u).item()


def test_errors():
    with pytest.raises(ValueError, match="differs from target shape"):
        relative_lp(torch.zeros(2, 1, 4), torch.zeros(2, 1, 5))
    with pytest.raises(ValueError, match="unknown loss 'l2'"):
        get_loss("l2")
