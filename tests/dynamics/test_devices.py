"""Teacher forcing and the forced rollouts (both backward passes) on every test device
(``pytest --device``): the CPU's values and gradients, and no tensor created without the inputs'
device. Symbolic analysis runs on a float64 CPU copy of the model by design (numpy results).
"""

from __future__ import annotations

import pytest
import torch

from neurops.dynamics.symbolic import find_cycles
from neurops.dynamics.teacher_forcing import estimate_alpha, gtf_rollout, stf_rollout
from neurops.models import build


def _setup():
    model = build("shplrnn", obs_dim=3, latent_dim=3, hidden_dim=8, seed=0).double()
    x = torch.randn(4, 9, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64, device="cpu")
    return model, x


def _rollouts(model, x):
    out = []
    for fused in (True, False):
        model.zero_grad()
        pred_g, _ = gtf_rollout(model, x, 0.3, fused=fused)
        pred_s, _ = stf_rollout(model, x, 3, fused=fused)
        (pred_g.square().sum() + pred_s.square().sum()).backward()
        out += [pred_g, pred_s, *[p.grad.clone() for p in model.parameters()]]
    alpha = estimate_alpha(model, x)
    return out + [torch.tensor(alpha, dtype=torch.float64, device="cpu")]


def test_rollouts_create_no_tensor_without_the_inputs_device(implicit_device_trap):
    model, x = _setup()
    expected = _rollouts(model, x)
    with implicit_device_trap():
        out = _rollouts(model, x)
    for a, b in zip(out, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_rollouts_on_device_match_cpu(device):
    if torch.device(device).type == "cpu":
        pytest.skip("the CPU is the reference device")
    model, x = _setup()
    expected = _rollouts(model, x)
    out = _rollouts(model.to(device), x.to(device))
    for a, b in zip(out, expected):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-7, atol=1e-9)


def test_symbolic_analysis_of_a_model_on_device(device):
    if torch.device(device).type == "cpu":
        pytest.skip("the CPU is the reference device")
    model, _ = _setup()
    expected = find_cycles(model, k=1, n_restarts=5)
    found = find_cycles(model.to(device), k=1, n_restarts=5)
    assert len(found) == len(expected)
    for a, b in zip(found, expected):
        assert (a.points == b.points).all()
