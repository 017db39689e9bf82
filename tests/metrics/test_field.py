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


def _match(message: str) -> str:
    import re

    return "^" + re.escape(message) + "$"


def test_inputs_the_metrics_cannot_take_are_named():
    """Each of these was a torch traceback (int fields in relative_lp, fewer than 3 points or a spacing per axis
    missing in the fd H1, fields on two devices), or a silent wrong value: int fields in relative_h1, a spacing of 0
    (NaN), complex fields in relative_h1 (a complex "error" from squares instead of |.|^2), k_max <= 0 (the H1 error
    became the L2 error)."""
    import inspect

    from neurops.errors import ConfigError, DataError

    # as users call them: without the tests' jaxtyping checks, which refuse some of these inputs first
    lp, h1 = inspect.unwrap(relative_lp), inspect.unwrap(relative_h1)
    p, q = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    with pytest.raises(DataError, match=_match("the prediction is torch.int64; the relative errors take "
                                               "floating-point fields: pass pred.float().")):
        lp(p.long(), q)
    with pytest.raises(DataError, match=_match("the target is torch.int64; the relative errors take floating-point "
                                               "fields: pass target.float().")):
        h1(p, q.long())
    with pytest.raises(DataError, match=_match("the prediction is on meta but the target on cpu; move one of them "
                                               "(e.g. target.to('meta')).")):
        lp(p.to("meta"), q)
    with pytest.raises(DataError, match="^relative_h1 takes real fields"):
        h1(p.cfloat(), q.cfloat(), method="fourier")
    with pytest.raises(DataError, match=_match(
            "relative_h1(method='fd') takes second-order differences along every spatial axis, which needs at least "
            "3 points per axis; got fields of shape (2, 1, 8, 2) = [B, C, *spatial]; use method='fourier' or "
            "relative_lp.")):
        h1(p[..., :2], q[..., :2])
    for spacing in ([0.1], [0.0, 0.1], [-0.1, 0.1]):
        with pytest.raises(DataError, match=_match(f"spacing={spacing!r}: give one finite grid spacing > 0 per spatial "
                                                   "axis (2 for fields of shape (2, 1, 8, 8)).")):
            h1(p, q, spacing=spacing)
    for k_max in (0, -1):
        with pytest.raises(ConfigError, match=_match(f"k_max={k_max}: the Fourier H1 seminorm keeps the wavenumbers "
                                                     "|k| < k_max, so k_max must be > 0 (None keeps all of them).")):
            h1(p, q, method="fourier", k_max=k_max)
    # what stays accepted: complex fields in relative_lp (|.| norms), and the values of real ones
    assert float(lp(p.cfloat(), q.cfloat())) == pytest.approx(float(lp(p, q)), rel=1e-6)
    assert float(h1(2 * q, q)) == pytest.approx(1.0, rel=1e-6)
