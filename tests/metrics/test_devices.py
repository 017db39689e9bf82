"""Field and DSR metrics on every test device (``pytest --device``): the CPU's values, and no tensor
created without the inputs' (or the model's) device. Metrics of numpy series (D_stsp, D_H) are
CPU work by nature and take numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from neurops.metrics.dsr import generate_like, model_lyapunov_max, prediction_error
from neurops.metrics.field import LOSSES, get_loss, relative_h1, relative_lp
from neurops.metrics.lyapunov import lyapunov_spectrum_map
from neurops.models import build


def _fields():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(3, 2, 12, 10, generator=g, dtype=torch.float64, device="cpu")
    return target + 0.1 * torch.randn(3, 2, 12, 10, generator=g, dtype=torch.float64, device="cpu"), target


def _rnn():
    model = build("shplrnn", obs_dim=3, latent_dim=3, hidden_dim=8, seed=0).double()
    series = torch.randn(60, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64, device="cpu")
    return model, series


def _field_metrics(pred, target):
    out = [relative_lp(pred, target), relative_lp(pred, target, p=1, reduction="none"),
           relative_h1(pred, target), relative_h1(pred, target, method="fourier", k_max=4)]
    return out + [get_loss(name)(pred, target) for name in sorted(LOSSES)]


def _dsr_metrics(model, series):
    z0 = model.infer_latent(series[:2])
    spectrum = lyapunov_spectrum_map(model.latent_step, model.jacobian, z0, 50, transient=5)
    return [spectrum, torch.tensor([prediction_error(model, series, n=5),
                                    model_lyapunov_max(model, series[0], n_steps=50, transient=5)], device="cpu"),
            torch.from_numpy(generate_like(model, series))]


CASES: dict[str, tuple[Callable[[], tuple], Callable[..., list[torch.Tensor]]]] = {
    "field": (_fields, _field_metrics),
    "dsr": (_rnn, _dsr_metrics),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_metric_creates_no_tensor_without_the_inputs_device(case, implicit_device_trap):
    inputs, compute = CASES[case]
    args = inputs()
    expected = compute(*args)
    with implicit_device_trap():
        out = compute(*args)
    for a, b in zip(out, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("case", sorted(CASES))
def test_metric_on_device_matches_cpu(case, device):
    if torch.device(device).type == "cpu":
        pytest.skip("the CPU is the reference device")
    inputs, compute = CASES[case]
    args = inputs()
    expected = compute(*args)
    out = compute(*[a.to(device) for a in args])
    for a, b in zip(out, expected):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-7, atol=1e-9)
    assert np.isfinite(expected[-1].numpy()).all()
