"""Tests of the forced rollout with the hand-written backward pass (neurops/dynamics/forced_rollout.py)."""

from __future__ import annotations

import pytest
import torch

from neurops.dynamics import forced_rollout as fr
from neurops.models import build
from neurops.models.piecewise_linear import PiecewiseLinearRNN, stack_members
from neurops.models.plrnn import ALRNN

MODELS = [("plrnn", {}), ("shplrnn", {"hidden_dim": 7}), ("clipped_shplrnn", {"hidden_dim": 7}),
          ("alrnn", {"n_relu": 2}), ("dendplrnn", {"n_bases": 3})]


def _values_and_grads(model: torch.nn.Module, z_hat: torch.Tensor, weights: torch.Tensor, s: torch.Tensor,
                      cotangent: torch.Tensor, fused: bool) -> list[torch.Tensor]:
    model.zero_grad()
    z_hat.grad = s.grad = None
    out = fr.forced_rollout(model, z_hat, weights, s, fused=fused)
    (out * cotangent).sum().backward()
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]
    return [out.detach(), z_hat.grad, s.grad, *grads]


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("observation", ["identity", "affine"])
@pytest.mark.parametrize(("name", "kwargs"), MODELS)
def test_fused_backward_matches_autograd(name: str, kwargs: dict, observation: str, chunked: bool,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    if chunked:  # backward pass in chunks of a few steps
        monkeypatch.setattr(fr, "_CHUNK_ELEMENTS", 200)
    torch.manual_seed(0)
    model = build(name, obs_dim=2, latent_dim=4, observation=observation, input_dim=2, **kwargs).double()
    z_hat = torch.randn(3, 13, 4, dtype=torch.float64, requires_grad=True)
    s = torch.randn(3, 12, 2, dtype=torch.float64, requires_grad=True)
    weights = torch.rand(12, 4, dtype=torch.float64)  # GTF, STF and free running are special cases
    weights[::3] = 0.0
    cotangent = torch.randn(3, 12, 4, dtype=torch.float64)
    reference = _values_and_grads(model, z_hat, weights, s, cotangent, fused=False)
    fused = _values_and_grads(model, z_hat, weights, s, cotangent, fused=True)
    for ref, got in zip(reference, fused, strict=True):
        torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-12)
    assert any(float(g.abs().max()) > 0 for g in reference[3:])


def test_jacobian_chunks_and_frozen_parameters_give_the_same_gradients(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(1)
    model = build("clipped_shplrnn", obs_dim=3, latent_dim=3, hidden_dim=20).double()
    model.A.requires_grad_(False)  # a frozen parameter gets no gradient, the others the usual ones
    z_hat = torch.randn(4, 31, 3, dtype=torch.float64)
    weights = torch.full((30, 3), 0.2, dtype=torch.float64)

    def grads(fused: bool) -> list[torch.Tensor]:
        model.zero_grad()
        fr.forced_rollout(model, z_hat, weights, fused=fused).pow(2).sum().backward()
        return [p.grad for p in model.parameters() if p.requires_grad]

    reference = grads(False)
    monkeypatch.setattr(fr, "_CHUNK_ELEMENTS", 4 * model._chunk_width() * 7)  # chunks of 7 steps
    assert fr._steps_per_chunk(model, 4) == 7
    assert model._chunk_width() == 20  # no J: the closed form keeps arrays of L numbers a state, not M^2 + R
    for ref, got in zip(reference, grads(True), strict=True):
        torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-12)
    assert model.A.grad is None


@pytest.mark.parametrize("clipped", [False, True])
def test_shallow_plrnn_jacobian_is_the_derivative_of_the_map(clipped: bool) -> None:
    model = build("clipped_shplrnn" if clipped else "shplrnn", obs_dim=3, latent_dim=3, hidden_dim=30,
                  seed=2).double()
    z = torch.randn(5, 3, dtype=torch.float64)
    expected = torch.stack([torch.autograd.functional.jacobian(model.latent_step, zi) for zi in z])
    torch.testing.assert_close(model.jacobian(z), expected)
    torch.testing.assert_close(model.jacobian(z), model.linear_map(model.region_code(z))[0])


class _JacobianPathALRNN(ALRNN):
    """An AL-RNN whose fused backward builds every state's Jacobian: the base class's path for maps without a
    closed form."""

    _transposed_jacobians = PiecewiseLinearRNN._transposed_jacobians
    _chunk_width = PiecewiseLinearRNN._chunk_width


def test_default_path_is_fused_for_closed_form_or_small_models() -> None:
    assert fr.fused_backward_pays(build("clipped_shplrnn", obs_dim=3, latent_dim=3, hidden_dim=100))
    # shallow PLRNNs have closed-form backward pieces: fused at any width (EEG-like M 16, L 512: 1.4x autograd)
    assert fr.fused_backward_pays(build("clipped_shplrnn", obs_dim=16, latent_dim=16, hidden_dim=512))
    assert fr.fused_backward_pays(build("shplrnn", obs_dim=16, latent_dim=16, hidden_dim=512))
    # so do the unit-wise maps (J^T a = A a + phi' * W^T a): fused at any size (AL-RNN M 100, P 50: 1.7x autograd)
    for name, kwargs in [("alrnn", {"n_relu": 50}), ("plrnn", {}), ("dendplrnn", {"n_bases": 3})]:
        assert fr.fused_backward_pays(build(name, obs_dim=10, latent_dim=100, **kwargs))
    # a map that builds J: only while M^2 R is small (the Jacobian path at M 100, P 50: 0.4x autograd)
    assert fr.fused_backward_pays(_JacobianPathALRNN(obs_dim=3, latent_dim=20, n_relu=2))
    assert not fr.fused_backward_pays(_JacobianPathALRNN(obs_dim=10, latent_dim=100, n_relu=50))
    assert not fr.fused_backward_pays(torch.nn.Linear(3, 3))


@pytest.mark.parametrize(("name", "kwargs"), [m for m in MODELS if "shplrnn" not in m[0]])
def test_unitwise_transposed_jacobians_equal_the_jacobians(name: str, kwargs: dict) -> None:
    """The closed form ``J^T a = A a + phi'(z) * (W^T a)`` against the region Jacobians, one model and an ensemble."""
    torch.manual_seed(2)
    models = [build(name, obs_dim=2, latent_dim=5, seed=r, **kwargs).double() for r in range(2)]
    with torch.no_grad():  # away from the initialisation (Talathi-Vartak's W is symmetric)
        for p in (p for m in models for p in m.parameters()):
            p.add_(0.3 * torch.randn_like(p))
    for model, shape in [(models[0], (7 * 3, 5)), (stack_members(models), (2, 7 * 3, 5))]:
        z, a = torch.randn(*shape, dtype=torch.float64), torch.randn(*shape, dtype=torch.float64)
        product, _ = model._transposed_jacobians(z, 3)
        jac = model.jacobian(z)  # [*E, 21, M, M]
        with torch.no_grad():
            for i in range(7):
                rows = slice(3 * i, 3 * i + 3)
                got = product(i, a[..., rows, :].clone())
                want = (a[..., rows, :].unsqueeze(-2) @ jac[..., rows, :, :]).squeeze(-2)
                torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("chunked", [False, True])
def test_the_jacobian_path_for_maps_without_a_closed_form_matches_autograd(chunked: bool,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    if chunked:
        monkeypatch.setattr(fr, "_CHUNK_ELEMENTS", 200)
    torch.manual_seed(3)
    model = _JacobianPathALRNN(obs_dim=2, latent_dim=4, n_relu=2, input_dim=2).double()
    assert model._chunk_width() == 4 ** 2 + 2  # J and the region code
    z_hat = torch.randn(3, 13, 4, dtype=torch.float64, requires_grad=True)
    s = torch.randn(3, 12, 2, dtype=torch.float64, requires_grad=True)
    weights = torch.rand(12, 4, dtype=torch.float64)
    weights[::3] = 0.0
    cotangent = torch.randn(3, 12, 4, dtype=torch.float64)
    reference = _values_and_grads(model, z_hat, weights, s, cotangent, fused=False)
    for ref, got in zip(reference, _values_and_grads(model, z_hat, weights, s, cotangent, fused=True), strict=True):
        torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-12)


def test_forcing_weights_of_the_wrong_shape_are_rejected() -> None:
    model = build("plrnn", obs_dim=2, latent_dim=2)
    z_hat = torch.randn(3, 6, 2)
    with pytest.raises(ValueError, match=r"z_hat : \[B, T\+1, M\] and weights \[T, M\]; got weights \(4, 2\)"):
        fr.forced_rollout(model, z_hat, torch.zeros(4, 2))
    ensemble = stack_members([model, model])
    with pytest.raises(ValueError, match=r"\[R, B, T\+1, M\]"):
        fr.forced_rollout(ensemble, z_hat, torch.zeros(5, 2))
    with pytest.raises(ValueError, match=r"\[R, B, T\+1, M\]"):
        fr.forced_rollout(ensemble, z_hat.expand(2, 3, 6, 2), torch.zeros(3, 5, 2))


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize(("name", "kwargs"), MODELS)
def test_ensemble_members_get_the_gradients_of_their_own_rollouts(name: str, kwargs: dict, fused: bool,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Member r of a stacked ensemble gets exactly the values and gradients of model r rolled out alone."""
    monkeypatch.setattr(fr, "_CHUNK_ELEMENTS", 300)  # several chunks of steps
    models = [build(name, obs_dim=2, latent_dim=4, observation="affine", input_dim=2, seed=s, **kwargs).double()
              for s in (0, 1, 2)]
    ensemble = stack_members(models)
    g = torch.Generator().manual_seed(0)
    z_hat = torch.randn(3, 2, 10, 4, dtype=torch.float64, generator=g, requires_grad=True)  # its own data per member
    s = torch.randn(3, 2, 9, 2, dtype=torch.float64, generator=g, requires_grad=True)
    weights = torch.rand(3, 9, 4, dtype=torch.float64, generator=g)  # its own forcing per member (aGTF)
    cotangent = torch.randn(3, 2, 9, 4, dtype=torch.float64, generator=g)
    got = _values_and_grads(ensemble, z_hat, weights, s, cotangent, fused=fused)
    for r, model in enumerate(models):
        z_r, s_r = z_hat.detach()[r].requires_grad_(True), s.detach()[r].requires_grad_(True)
        want = _values_and_grads(model, z_r, weights[r], s_r, cotangent[r], fused=fused)
        for ours, theirs in zip(got, want, strict=True):
            torch.testing.assert_close(ours[r], theirs, rtol=1e-10, atol=1e-12)
    # shared weights [T, M] broadcast over the members
    shared = fr.forced_rollout(ensemble, z_hat.detach(), weights[0], s.detach(), fused=fused)
    torch.testing.assert_close(shared[1], fr.forced_rollout(models[1], z_hat.detach()[1], weights[0], s.detach()[1]))


@pytest.mark.parametrize("fused", [True, False])
def test_rollout_under_bf16_autocast_runs_in_the_parameters_precision(fused: bool) -> None:
    """bf16-mixed training: the rollout and its backward stay in float32 and match the float32 run."""
    model = build("shplrnn", obs_dim=3, latent_dim=3, hidden_dim=8, seed=0)
    z_hat = torch.randn(4, 9, 3, generator=torch.Generator().manual_seed(0))
    weights = torch.full((8, 3), 0.2)
    expected = fr.forced_rollout(model, z_hat, weights, fused=fused)
    (grad_expected,) = torch.autograd.grad(expected.square().sum(), model.W1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fr.forced_rollout(model, z_hat.bfloat16(), weights, fused=fused)
    (grad,) = torch.autograd.grad(out.square().sum(), model.W1)
    assert out.dtype == torch.float32 and grad.dtype == torch.float32
    torch.testing.assert_close(out, fr.forced_rollout(model, z_hat.bfloat16().float(), weights, fused=fused))
    assert float((grad - grad_expected).norm() / grad_expected.norm()) < 2e-2  # input rounded to bf16 only


@pytest.mark.parametrize("input_dim", [0, 2])
@pytest.mark.parametrize(("name", "kwargs"), [("shplrnn", {"hidden_dim": 40}), ("clipped_shplrnn", {"hidden_dim": 40}),
                                              ("alrnn", {"n_relu": 2})])
def test_ensemble_gradients_equal_the_members_gradients_in_float32(name: str, kwargs: dict, input_dim: int) -> None:
    """A training step of R = 4 stacked members (the fused default, float32, GTF over 60 steps in several
    chunks) gives each member the values and gradients of its model trained alone, to float tolerance."""
    models = [build(name, obs_dim=3, latent_dim=3, input_dim=input_dim, seed=s, **kwargs) for s in range(4)]
    ensemble = stack_members(models)
    g = torch.Generator().manual_seed(0)
    z_hat = torch.randn(4, 8, 61, 3, generator=g)
    s = torch.randn(4, 8, 60, input_dim, generator=g) if input_dim else None
    weights = torch.full((4, 60, 3), 0.1) * torch.arange(1, 5).view(4, 1, 1)  # its own alpha per member
    out = fr.forced_rollout(ensemble, z_hat, weights, s)
    out.square().mean(dim=(1, 2, 3)).sum().backward()
    for r, model in enumerate(models):
        alone = fr.forced_rollout(model, z_hat[r], weights[r], None if s is None else s[r])
        alone.square().mean().backward()
        torch.testing.assert_close(out[r].detach(), alone.detach(), rtol=1e-5, atol=1e-6)
        for (pname, p), q in zip(ensemble.named_parameters(), model.parameters(), strict=True):
            torch.testing.assert_close(p.grad[r], q.grad, rtol=1e-4, atol=1e-6, msg=pname)
