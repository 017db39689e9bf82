"""Tests of the PLRNN family (neurops/models/plrnn.py, shallow_plrnn.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurops.errors import ConfigError, ModelError
from neurops.models import build, spec_of
from neurops.models.piecewise_linear import stack_members
from neurops.models.pl_init import talathi_vartak_init

NAMES = {
    "plrnn": {},
    "shplrnn": {"hidden_dim": 7},
    "clipped_shplrnn": {"hidden_dim": 7},
    "alrnn": {"n_relu": 2},
    "dendplrnn": {"n_bases": 3},
}


def _model(name: str, **kw) -> torch.nn.Module:
    kwargs = {"obs_dim": 3, "latent_dim": 5, "seed": 1, **NAMES[name], **kw}
    model = build(name, **kwargs).double()
    with torch.no_grad():  # move off the initialisation (h = 0) so offsets are exercised
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(3), dtype=p.dtype))
    return model


@pytest.mark.parametrize("name", NAMES)
def test_affine_in_region_matches_step(name: str) -> None:
    model = _model(name)
    z = torch.randn(64, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2
    j, c = model.linear_map(model.region_code(z))
    expected = (j @ z.unsqueeze(-1)).squeeze(-1) + c
    torch.testing.assert_close(model.latent_step(z), expected)


@pytest.mark.parametrize("name", NAMES)
def test_jacobian_matches_autograd(name: str) -> None:
    model = _model(name)
    z = torch.randn(4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    auto = torch.stack([torch.autograd.functional.jacobian(model.latent_step, zi) for zi in z])
    torch.testing.assert_close(model.jacobian(z), auto)


@pytest.mark.parametrize("name", NAMES)
def test_generate_shapes_gradients_and_seed(name: str) -> None:
    model = build(name, obs_dim=3, latent_dim=5, seed=4, **NAMES[name])
    # a fixed start: from some random starts both ReLU units of the AL-RNN stay off and L gets no gradient
    x, z = model.generate(torch.randn(2, 3, generator=torch.Generator().manual_seed(0)), 7)
    assert x.shape == (2, 7, 3) and z.shape == (2, 7, 5)
    x.pow(2).mean().backward()
    grads = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert grads == {n for n, _ in model.named_parameters()}
    same = build(name, obs_dim=3, latent_dim=5, seed=4, **NAMES[name])
    for (n, a), (_, b) in zip(model.state_dict().items(), same.state_dict().items()):
        assert torch.equal(a, b), n
    assert spec_of(model) == (name, {"obs_dim": 3, "latent_dim": 5, "seed": 4, **NAMES[name]})


@pytest.mark.parametrize("name", NAMES)
def test_the_seed_is_checked_and_a_numpy_seed_is_the_int(name: str) -> None:
    """torch's generator reads a seed's lowest 32 bits only: -1 and 2**32 + 7 would silently be the models of
    seeds 2**32 - 1 and 7, so they are refused, as ensemble seeds and --seed_everything are."""
    for bad in (-1, 2**32 + 7, 1.5, True):
        with pytest.raises(ConfigError) as err:
            build(name, obs_dim=3, latent_dim=5, seed=bad, **NAMES[name])
        assert str(err.value) == (f"seed must be an integer between 0 and 2**32 - 1 (4294967295), got {bad!r}; give "
                                  "e.g. seed=0 (the initialisation's; torch's generator reads only a seed's lowest 32 "
                                  "bits).")
    models = [build(name, obs_dim=3, latent_dim=5, seed=s, **NAMES[name]) for s in (7, np.int64(7), np.uint32(7))]
    for other in models[1:]:
        for (n, a), b in zip(models[0].state_dict().items(), other.state_dict().values()):
            assert torch.equal(a, b), n
    top = build(name, obs_dim=3, latent_dim=5, seed=2**32 - 1, **NAMES[name])
    assert not torch.equal(next(iter(top.state_dict().values())), next(iter(models[0].state_dict().values())))


def test_plrnn_formula_and_offdiagonal_w() -> None:
    model = _model("plrnn")
    z = torch.tensor([[1.0, -2.0, 0.5, -0.1, 3.0]], dtype=torch.float64)
    w = model.W * (1 - torch.eye(5, dtype=torch.float64))
    expected = model.A * z + torch.relu(z) @ w.T + model.h
    torch.testing.assert_close(model.step(z), expected)
    model.W.grad = None
    model.step(z).sum().backward()
    assert torch.all(torch.diagonal(model.W.grad) == 0)


def test_alrnn_only_last_p_units_are_nonlinear() -> None:
    model = _model("alrnn", n_relu=2)
    assert model.code_size == 2
    z = torch.randn(10, 5, dtype=torch.float64)
    # changing the sign of the linear units keeps the region; the map stays affine there
    z2 = z.clone()
    z2[:, :3] *= -1
    assert torch.equal(model.region_code(z), model.region_code(z2))


def test_clipped_shplrnn_is_bounded() -> None:
    model = build("clipped_shplrnn", obs_dim=3, latent_dim=3, hidden_dim=20, seed=0)
    assert model.A.abs().max() < 1
    x = model.generate(torch.full((1, 3), 1e3), 2000)[0]
    assert torch.isfinite(x).all() and x[0, -1].abs().max() < 1e3


def test_talathi_vartak_init_spectral_radius_one() -> None:
    a, w = talathi_vartak_init(6, torch.Generator().manual_seed(0))
    k = torch.diag(a) + w
    assert torch.allclose(torch.linalg.eigvalsh(k.double()).max(), torch.tensor(1.0, dtype=torch.float64), atol=1e-5)
    assert torch.all(torch.diagonal(w) == 0)


def test_affine_observation_pseudo_inverse_forcing() -> None:
    model = build("shplrnn", obs_dim=4, latent_dim=3, hidden_dim=5, observation="affine", seed=0)
    z = torch.randn(8, 3)
    x = model.observe(z)
    torch.testing.assert_close(model.infer_latent(x), z, atol=1e-4, rtol=1e-4)  # B has full column rank
    assert model.forcing_mask().all()
    with torch.no_grad():  # singular values 4, 2, 1: the regulariser (1 - sigma_max / sigma_min)^2 = 9
        model.B.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 4.0], [0.0, 0.0, 0.0]]))
    assert model.observation_regularization().item() == pytest.approx(9.0)
    with torch.no_grad():  # orthogonal columns of equal length: perfectly conditioned, no penalty
        model.B.copy_(3.0 * torch.linalg.qr(torch.randn(4, 3, generator=torch.Generator().manual_seed(0)))[0])
    assert model.observation_regularization().item() == pytest.approx(0.0, abs=1e-10)


def test_identity_observation_with_more_latents() -> None:
    model = build("plrnn", obs_dim=2, latent_dim=4, seed=0)
    x = torch.randn(5, 2)
    z = model.infer_latent(x)
    assert z.shape == (5, 4) and torch.equal(z[:, :2], x) and torch.equal(model.observe(z), x)
    assert model.forcing_mask().tolist() == [True, True, False, False]


def test_external_inputs() -> None:
    model = build("alrnn", obs_dim=2, latent_dim=3, n_relu=1, input_dim=2, seed=0)
    s = torch.randn(1, 5, 2)
    x_in, _ = model.generate(torch.zeros(1, 2), 5, inputs=s)
    x_0, _ = model.generate(torch.zeros(1, 2), 5, inputs=torch.zeros_like(s))
    assert not torch.allclose(x_in, x_0)
    with pytest.raises(ModelError, match="pass the inputs"):
        model.generate(torch.zeros(1, 2), 5)


def test_regularizers() -> None:
    model = build("alrnn", obs_dim=2, latent_dim=4, n_relu=1, seed=0)
    with torch.no_grad():
        model.A.fill_(1.0)
        model.W.zero_()
        model.h.zero_()
    assert model.latent_regularization() == 0
    assert model.manifold_attractor_regularization(0.5) == 0
    with torch.no_grad():
        model.W[0, 1] = 2.0  # unit 0 is not regularised by MAR over the last half
    assert model.manifold_attractor_regularization(0.5) == 0
    assert model.latent_regularization().item() == pytest.approx(4.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"obs_dim": 4, "latent_dim": 3}, "latent_dim >= obs_dim"),
    ({"obs_dim": 3, "latent_dim": 3, "observation": "linear"}, "observation"),
    ({"obs_dim": 0, "latent_dim": 3}, "must be >= 1"),
])
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        build("plrnn", **kwargs)


def test_bad_alrnn_p_and_wrong_obs_dim() -> None:
    with pytest.raises(ModelError, match="n_relu"):
        build("alrnn", obs_dim=3, latent_dim=3, n_relu=4)
    with pytest.raises(ModelError, match=r"^observations have 4 variables, the model expects obs_dim=3; give it data "
                                         r"of the system it was trained on \(3 variables\)\.$"):  # it named no fix
        build("plrnn", obs_dim=3, latent_dim=3).infer_latent(torch.zeros(2, 4))


# -- ensembles: R models stacked on a leading member axis -----------------------------------------
def _members(name: str, observation: str = "identity", input_dim: int = 0) -> list[torch.nn.Module]:
    obs = 3 if observation == "identity" else 4
    return [_model(name, seed=s, obs_dim=obs, observation=observation, input_dim=input_dim) for s in (1, 2, 5)]


@pytest.mark.parametrize("observation", ["identity", "affine"])
@pytest.mark.parametrize("name", NAMES)
def test_ensemble_members_compute_what_the_models_compute(name: str, observation: str) -> None:
    models = _members(name, observation, input_dim=2)
    ens = stack_members(models, seeds=[1, 2, 5])
    assert ens.members == 3 and ens.code_size == models[0].code_size
    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, 4, 6, 5, dtype=torch.float64, generator=g) * 2  # [R, *batch, M]
    x0 = torch.randn(3, 2, models[0].obs_dim, dtype=torch.float64, generator=g)
    s = torch.randn(3, 2, 7, 2, dtype=torch.float64, generator=g)
    x_ens, z_ens = ens.generate(x0, 7, inputs=s)
    assert x_ens.shape == (3, 2, 7, models[0].obs_dim)
    for r, model in enumerate(models):
        torch.testing.assert_close(ens.latent_step(z)[r], model.latent_step(z[r]))
        torch.testing.assert_close(ens.jacobian(z)[r], model.jacobian(z[r]))
        code = ens.region_code(z)
        assert torch.equal(code[r], model.region_code(z[r]))
        for got, want in zip(ens.linear_map(code), model.linear_map(code[r])):
            torch.testing.assert_close(got[r], want)
        torch.testing.assert_close(ens.observe(z)[r], model.observe(z[r]))
        torch.testing.assert_close(ens.infer_latent(x0)[r], model.infer_latent(x0[r]))
        x_r, z_r = model.generate(x0[r], 7, inputs=s[r])
        torch.testing.assert_close(x_ens[r], x_r)
        torch.testing.assert_close(z_ens[r], z_r)
    # regularisers: the sum of the members'
    for reg in ("latent_regularization", "observation_regularization"):
        torch.testing.assert_close(getattr(ens, reg)(), sum(getattr(m, reg)() for m in models))
    torch.testing.assert_close(ens.manifold_attractor_regularization(0.4),
                               sum(m.manifold_attractor_regularization(0.4) for m in models))


@pytest.mark.parametrize("name", NAMES)
def test_member_takes_a_model_out_of_the_ensemble(name: str) -> None:
    models = [build(name, obs_dim=3, latent_dim=5, seed=s, **NAMES[name]) for s in (3, 4)]
    ens = stack_members(models, seeds=[3, 4])
    single = ens.member(1)
    assert single.members == 0 and not hasattr(single, "member_seeds")
    assert spec_of(single) == spec_of(models[1])  # its own seed: rebuildable from a checkpoint
    for (n, a), (_, b) in zip(single.state_dict().items(), models[1].state_dict().items()):
        assert torch.equal(a, b), n
    with torch.no_grad():  # a copy: training the ensemble does not change it
        next(ens.parameters()).add_(1.0)
    assert torch.equal(next(single.parameters()), next(models[1].parameters()))


def test_ensemble_errors() -> None:
    a = build("plrnn", obs_dim=2, latent_dim=3, seed=0)
    with pytest.raises(ModelError, match="one class"):
        stack_members([a, build("plrnn", obs_dim=2, latent_dim=4, seed=1)])
    with pytest.raises(ModelError, match="at least one"):
        stack_members([])
    ens = stack_members([a, a])
    with pytest.raises(ModelError, match="member axis first"):
        ens.latent_step(torch.zeros(3, 3))
    with pytest.raises(ModelError, match="out of range"):
        ens.member(2)
    with pytest.raises(ModelError, match="not one"):
        a.member(0)
    with pytest.raises(ModelError, match="plain models"):
        stack_members([ens])


@pytest.mark.parametrize("members", [0, 3])
@pytest.mark.parametrize("input_dim", [0, 2])
@pytest.mark.parametrize("name", ["plrnn", "shplrnn", "clipped_shplrnn", "alrnn"])
def test_backward_pieces_of_the_step_match_autograd(name: str, input_dim: int, members: int) -> None:
    """The pieces of the hand-written backward pass (closed forms of the shPLRNNs, the base's Jacobians and
    autograd otherwise) give J(z)^T a and the parameter and input gradients of one step, per member."""
    kwargs = {"hidden_dim": 6} if "shplrnn" in name else {}
    models = [build(name, obs_dim=2, latent_dim=3, observation="affine", input_dim=input_dim, seed=s,
                    **kwargs).double() for s in range(max(members, 1))]
    with torch.no_grad():  # off the initialisation (h2 = 0 of the shPLRNN)
        for m in models:
            for p in m.parameters():
                p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(3), dtype=p.dtype))
    model = stack_members(models) if members else models[0]
    lead = (members,) if members else ()
    g = torch.Generator().manual_seed(0)
    z = torch.randn(*lead, 4 * 5, 3, dtype=torch.float64, generator=g)  # 4 steps of 5 states
    s = torch.randn(*lead, 20, input_dim, dtype=torch.float64, generator=g) if input_dim else None
    cot = torch.randn(*lead, 20, 3, dtype=torch.float64, generator=g)
    e = len(lead)
    jac = model.jacobian(z).unflatten(e, (4, 5))  # [*E, 4, 5, M, M]
    params = list(model.parameters())
    with torch.no_grad():  # the recursion calls the product on each step's cotangents, newest first, then the VJP
        product, data = model._transposed_jacobians(z, 5)
        for i in range(3, -1, -1):
            a = cot.unflatten(e, (4, 5)).select(e, i)
            torch.testing.assert_close(product(i, a), (a.unsqueeze(-1) * jac.select(e, i)).sum(-2),  # J^T a
                                       rtol=1e-10, atol=1e-12)
        into: list[torch.Tensor | None] = [None] * len(params)
        grad_s = model._step_vjp(z, s, cot, data, params, input_dim > 0, into)
        product, data = model._transposed_jacobians(z, 5)  # a second call adds the same gradients again
        for i in range(3, -1, -1):
            product(i, cot.unflatten(e, (4, 5)).select(e, i))
        model._step_vjp(z, s, cot, data, params, input_dim > 0, into)
        got = [None if g is None else g / 2 for g in into] + ([grad_s] if input_dim else [])
    with torch.enable_grad():
        s_ref = None if s is None else s.clone().requires_grad_(True)
        want = torch.autograd.grad(model.step(z, s_ref), params + ([s_ref] if input_dim else []), cot,
                                   allow_unused=True)
    assert len(got) == len(want)
    for ours, theirs in zip(got, want, strict=True):
        if theirs is None:
            assert ours is None
        else:
            torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("members", [0, 3])
@pytest.mark.parametrize("input_dim", [0, 2])
@pytest.mark.parametrize("name", ["shplrnn", "clipped_shplrnn", "alrnn"])
def test_stepper_of_loops_without_autograd_computes_step(name: str, input_dim: int, members: int) -> None:
    """The bound step of fused rollouts and generation gives the values of step (and its errors): exactly for the
    AL-RNN, to rounding for the shallow PLRNNs (their hidden layer as one clamp, both signs of h2)."""
    kwargs = {"hidden_dim": 6} if "shplrnn" in name else {}
    models = [_model(name, input_dim=input_dim, seed=s, **kwargs) for s in range(max(members, 1))]
    for m in models:  # h2 of both signs (and one exactly 0) for every model
        if "shplrnn" in name:
            m.h2.data = torch.tensor([0.7, -0.4, 0.0, 0.2, -1.1, 0.05], dtype=m.h2.dtype)
    model = stack_members(models) if members else models[0]
    lead = (members,) if members else ()
    g = torch.Generator().manual_seed(0)
    z = torch.randn(*lead, 4, 5, dtype=torch.float64, generator=g)
    s = torch.randn(*lead, 4, input_dim, dtype=torch.float64, generator=g) if input_dim else None
    tol = {"rtol": 0, "atol": 0} if name == "alrnn" else {"rtol": 1e-13, "atol": 1e-14}
    with torch.no_grad():
        step = model._stepper()
        torch.testing.assert_close(step(z, s), model.step(z, s), **tol)
        first = step(z, s)  # the stepper reuses its hidden-layer buffers: a later call leaves earlier results alone
        step(2.0 * z, s)
        torch.testing.assert_close(first, model.step(z, s), **tol)
        torch.testing.assert_close(step(z[..., 0, :], None if s is None else s[..., 0, :]),
                                   model.step(z[..., 0, :], None if s is None else s[..., 0, :]), **tol)
        with pytest.raises(ModelError, match="input"):
            step(z, torch.randn(*lead, 4, 2, dtype=torch.float64) if s is None else None)
        x0 = torch.randn(*lead, 2, 3, dtype=torch.float64, generator=g)
        inputs = torch.randn(*lead, 2, 7, input_dim, dtype=torch.float64, generator=g) if input_dim else None
        without_grad = model.generate(x0, 7, inputs)[1]
    torch.testing.assert_close(model.generate(x0, 7, inputs)[1].detach(), without_grad, **tol)
