"""Tests of generalized / adaptive / sparse teacher forcing (neurops/dynamics/teacher_forcing.py)."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
import torch

from neurops.data.generators import get_generator
from neurops.data.reader import read_split
from neurops.dynamics.teacher_forcing import (
    AdaptiveAlpha,
    alpha_from_sigma,
    annealed_alpha,
    check_alpha,
    divergence_advice,
    estimate_alpha,
    estimate_sigma,
    gtf_rollout,
    max_over_processes,
    stf_rollout,
)
from neurops.errors import ConfigError
from neurops.models import build
from neurops.models.piecewise_linear import stack_members


@pytest.fixture(scope="module")
def lorenz_windows(tmp_path_factory: pytest.TempPathFactory) -> torch.Tensor:
    """Standardised Lorenz-63 data from the package's generator, dt = 0.05: [8, 600, 3]."""
    spec = get_generator("lorenz63")
    cfg = spec.make_config(n_train=8, n_val=0, n_test=0, n_steps=600, dt=0.05, substeps=10, transient=5.0,
                           standardize=True, seed=0)
    path = spec.fn(cfg, tmp_path_factory.mktemp("l63") / "l63.h5", progress=False)
    return torch.as_tensor(read_split(path, "train")["states"]["x"], dtype=torch.float64)


def _fitted_shplrnn(x: torch.Tensor) -> torch.nn.Module:
    """A clipped shPLRNN whose one-step map is fitted to the data by least squares on random ReLU features.

    Its Jacobians along the data are expanding (as those of a well-trained model of a chaotic
    system are), which is the regime where BPTT gradients explode.
    """
    model = build("clipped_shplrnn", obs_dim=3, latent_dim=3, hidden_dim=50, seed=0).double()
    with torch.no_grad():
        model.W2.mul_(3.0)
        model.h2.mul_(3.0)
        model.A.fill_(0.9)
        z, z_next = x[:, :-1].reshape(-1, 3), x[:, 1:].reshape(-1, 3)
        pre = z @ model.W2.T
        feats = torch.cat([torch.relu(pre + model.h2) - torch.relu(pre), torch.ones(len(z), 1, dtype=z.dtype)], 1)
        sol = torch.linalg.lstsq(feats, z_next - model.A * z).solution
        model.W1.copy_(sol[:-1].T)
        model.h1.copy_(sol[-1])
    return model


def _grad_norm(model: torch.nn.Module, x: torch.Tensor, alpha: float) -> float:
    model.zero_grad()
    pred, _ = gtf_rollout(model, x, alpha)
    torch.nn.functional.mse_loss(pred, x[:, 1:]).backward()
    return math.sqrt(sum(float(p.grad.pow(2).sum()) for p in model.parameters()))


def test_gtf_bounds_gradients_where_bptt_explodes(lorenz_windows: torch.Tensor) -> None:
    model = _fitted_shplrnn(lorenz_windows)
    one_step = torch.nn.functional.mse_loss(model.latent_step(lorenz_windows[:, :-1]), lorenz_windows[:, 1:])
    assert one_step < 0.05  # the model does describe the Lorenz data
    alpha_star = estimate_alpha(model, lorenz_windows[:, :200])
    assert 0.3 < alpha_star < 1.0
    lengths = [25, 50, 100, 200]
    bptt = [_grad_norm(model, lorenz_windows[:, : t + 1], 0.0) for t in lengths]
    gtf = [_grad_norm(model, lorenz_windows[:, : t + 1], alpha_star) for t in lengths]
    # plain BPTT: exponential growth with the sequence length
    slope = np.polyfit(lengths, np.log(bptt), 1)[0]
    assert slope > 0.05 and bptt[-1] / bptt[0] > 1e6
    # GTF at alpha*: bounded, not growing with T
    assert max(gtf) < 10.0 and gtf[-1] <= 2.0 * gtf[0]


def test_alpha_star_bounds_the_forced_jacobian_product(lorenz_windows: torch.Tensor) -> None:
    model = _fitted_shplrnn(lorenz_windows)
    x = lorenz_windows[:, :100]
    sigma = estimate_sigma(model, x, "product_upper_bound")
    alpha = alpha_from_sigma(sigma)
    with torch.no_grad():
        jac = model.jacobian(model.infer_latent(x))
    for b in range(x.shape[0]):
        prod = torch.eye(3, dtype=jac.dtype)
        for t in range(x.shape[1]):
            prod = (1 - alpha) * jac[b, t] @ prod
        assert torch.linalg.matrix_norm(prod, ord=2) <= 1.0 + 1e-9


def test_alpha_methods_and_limits(lorenz_windows: torch.Tensor) -> None:
    model = _fitted_shplrnn(lorenz_windows)
    x = lorenz_windows[:, :50]
    values = {m: estimate_sigma(model, x, m) for m in ("product_upper_bound", "arithmetic_mean", "batch_maximum")}
    assert values["batch_maximum"] >= values["product_upper_bound"]  # max >= geometric mean
    assert alpha_from_sigma(0.5) == 0.0 and alpha_from_sigma(2.0) == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="unknown"):
        estimate_sigma(model, x, "median")


@pytest.mark.parametrize("method", ["product_upper_bound", "arithmetic_mean", "batch_maximum"])
def test_the_sigma_of_a_batch_split_over_processes_is_the_largest_of_the_parts(lorenz_windows: torch.Tensor,
                                                                               method: str) -> None:
    """Every estimator is a maximum over windows of a per-window statistic, so the whole batch's sigma (and alpha) is
    exactly the largest of the parts' (what DDP processes reduce, each holding a share of the batch's windows)."""
    model = _fitted_shplrnn(lorenz_windows)
    x = lorenz_windows[:, :60]
    parts = [x[0::2], x[1::2]]  # how Lightning deals the windows to two processes
    whole = estimate_sigma(model, x, method)
    assert whole == max(estimate_sigma(model, part, method) for part in parts)
    local = [torch.as_tensor(estimate_sigma(model, part, method), dtype=x.dtype) for part in parts]
    for w, part in enumerate(parts):  # process w: its own sigma gathered with the other's, as all_gather stacks them
        def gather(t: torch.Tensor, w: int = w) -> torch.Tensor:
            return torch.stack([t if v == w else local[v] for v in range(2)])

        reduce = partial(max_over_processes, all_gather=gather)
        assert estimate_sigma(model, part, method, reduce) == whole
        assert estimate_alpha(model, part, method, reduce) == estimate_alpha(model, x, method)
        one, share = AdaptiveAlpha(method, every=2, rate=0.5), AdaptiveAlpha(method, every=2, rate=0.5)
        for _ in range(3):
            assert share(model, part, windows_max=reduce) == one(model, x)


def test_max_over_processes_keeps_nan_and_is_a_no_op_in_one_process() -> None:
    one_process = max_over_processes(torch.tensor([1.0, 3.0]), lambda t: t)  # a LightningModule's, one process
    assert one_process.tolist() == [1.0, 3.0]
    stacked = [torch.tensor(2.0), torch.tensor(float("nan"))]
    assert math.isnan(float(max_over_processes(stacked[0], lambda t: torch.stack(stacked))))
    per_member = max_over_processes(torch.tensor([1.0, 5.0]), lambda t: torch.stack([t, torch.tensor([4.0, 2.0])]))
    assert per_member.tolist() == [4.0, 5.0]


def test_gtf_extremes() -> None:
    model = build("plrnn", obs_dim=2, latent_dim=2, seed=0)
    x = torch.randn(3, 6, 2)
    # alpha = 1: every step starts from the data -> one-step predictions
    pred, _ = gtf_rollout(model, x, 1.0)
    torch.testing.assert_close(pred, model.step(x[:, :-1].reshape(-1, 2)).reshape(3, 5, 2))
    # alpha = 0: free running from x_0
    free, _ = gtf_rollout(model, x, 0.0)
    torch.testing.assert_close(free, model.generate(x[:, 0], 5)[0])
    with pytest.raises(ValueError, match="alpha"):
        gtf_rollout(model, x, 1.5)
    with pytest.raises(ValueError, match=r"\[B, T\+1, N\]"):
        gtf_rollout(model, x[0], 0.5)


def test_stf_resets_every_tau_and_cuts_gradients() -> None:
    model = build("plrnn", obs_dim=2, latent_dim=2, seed=0)
    x = torch.randn(1, 9, 2)
    pred, _ = stf_rollout(model, x, tau=4)
    # step 5 starts from the data x_4
    torch.testing.assert_close(pred[:, 4], model.step(x[:, 4]))
    torch.testing.assert_close(pred[:, :4], model.generate(x[:, 0], 4)[0])
    # tau = 1 equals full forcing
    torch.testing.assert_close(stf_rollout(model, x, 1)[0], gtf_rollout(model, x, 1.0)[0])
    # the loss at step 6 does not depend on parameters through steps 1..4
    x_req = x.clone().requires_grad_(True)
    out, _ = stf_rollout(model, x_req, tau=4)
    out[:, 5].sum().backward()
    assert torch.all(x_req.grad[:, 0] == 0)  # cut by the forcing at step 4
    x_req.grad = None
    stf_rollout(model, x_req, tau=4)[0][:, 3].sum().backward()
    assert torch.any(x_req.grad[:, 0] != 0)  # step 4 is reached from x_0 freely
    with pytest.raises(ValueError, match="tau"):
        stf_rollout(model, x, 0)


@pytest.mark.parametrize("fused", [True, False])
def test_teacher_signals_are_constants_of_the_gradient(fused: bool) -> None:
    # the reference code (Hess et al. 2023) computes the forcing signals B^+ x_t before the gradient pass and
    # differentiates only the initial state B^+ x_0: the affine observation's gradient is that of this loop
    model = build("clipped_shplrnn", obs_dim=3, latent_dim=3, hidden_dim=8, observation="affine", seed=0).double()
    x, alpha = torch.randn(2, 7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)), 0.3
    pred, _ = gtf_rollout(model, x, alpha, fused=fused)
    (pred - x[:, 1:]).pow(2).mean().backward()
    got = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    inverse = torch.linalg.pinv(model.B)
    targets, z_tilde, preds = x @ inverse.detach().mT, x[:, 0] @ inverse.mT, []
    for t in range(1, x.shape[1]):
        preds.append(model.step(z_tilde))
        z_tilde = (1 - alpha) * preds[-1] + alpha * targets[:, t]
    (model.observe(torch.stack(preds, 1)) - x[:, 1:]).pow(2).mean().backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(got[name], p.grad, msg=name)


def test_adaptive_alpha_rule() -> None:
    schedule = AdaptiveAlpha(every=1, rate=0.5)
    assert schedule.alpha == 1.0
    assert schedule.update(0.2) == pytest.approx(0.6)  # decays slowly
    assert schedule.update(0.9) == pytest.approx(0.9)  # jumps up at once
    model = build("plrnn", obs_dim=2, latent_dim=2, seed=0)
    every = AdaptiveAlpha(every=3)
    values = [every(model, torch.randn(2, 5, 2)) for _ in range(4)]
    assert values[0] == values[1] == values[2]
    state = every.state_dict()
    again = AdaptiveAlpha(every=3)
    again.load_state_dict(state)
    assert again.alpha == every.alpha
    with pytest.raises(ConfigError):
        AdaptiveAlpha(every=0)


def test_annealed_alpha_decays_geometrically_from_alpha_to_alpha_end() -> None:
    total = 11
    values = [annealed_alpha(0.3, 0.1, k, total) for k in range(total + 3)]
    assert values[0] == pytest.approx(0.3, rel=1e-15) and values[total - 1] == pytest.approx(0.1, rel=1e-14)
    assert values[5] == pytest.approx(math.sqrt(0.3 * 0.1), rel=1e-14)  # halfway: the geometric mean
    ratios = np.array(values[1:total]) / np.array(values[: total - 1])
    np.testing.assert_allclose(ratios, (1 / 3) ** 0.1, rtol=1e-13)  # one constant factor a step
    assert values[total:] == [pytest.approx(0.1, rel=1e-14)] * 3  # past the end: alpha_end
    assert annealed_alpha(0.1, 0.4, 2, 3) == pytest.approx(0.4)  # rising works the same way
    assert annealed_alpha(0.3, 0.1, 0, 1) == pytest.approx(0.1)  # a one-step run is at its end
    for alpha, end in ((0.0, 0.1), (0.3, 0.0), (0.3, 1.5), (1.2, 0.1), (0.3, float("nan"))):
        with pytest.raises(ConfigError, match="decays geometrically between two strengths in"):
            annealed_alpha(alpha, end, 0, 10)
    with pytest.raises(ConfigError, match="--trainer.max_epochs or --trainer.max_steps"):
        annealed_alpha(0.3, 0.1, 0, float("inf"))  # a run of unknown length


def test_check_alpha() -> None:
    check_alpha("gtf", 0.3, 0.1)
    check_alpha("agtf", 0.3)
    for args, match in ((("gtf", 1.5), "alpha must lie in"), (("gtf", 0.3, None, "median"), "alpha_method"),
                        (("agtf", 0.3, 0.1), "training 'agtf' does not use it: drop alpha_end"),
                        (("gtf", 0.0, 0.1), "two strengths in")):
        with pytest.raises(ConfigError, match=match):
            check_alpha(*args)


def test_divergence_advice_names_unstandardized_data_first() -> None:
    rng = np.random.default_rng(0)
    standardized = rng.standard_normal((1, 500, 3))
    assert divergence_advice("gtf", standardized) == "use a smaller lr."
    assert divergence_advice("bptt", None) == "use GTF/aGTF (training: gtf) or a smaller lr."
    raw = standardized * np.array([8.0, 9.0, 1.0]) + np.array([0.0, 0.0, 24.0])  # Lorenz-63's scales
    advice = divergence_advice("stf", raw)
    assert advice.startswith("the training data are not standardized (a variable's mean or std reaches 24")
    assert advice.endswith("--standardize); use GTF/aGTF (training: gtf) or a smaller lr.")
    assert divergence_advice("gtf", standardized * 4.9) == "use a smaller lr."  # a std up to 5 is left alone


def test_ensembles_force_and_estimate_alpha_per_member(lorenz_windows: torch.Tensor) -> None:
    models = [build("clipped_shplrnn", obs_dim=3, latent_dim=3, hidden_dim=50, seed=s).double() for s in (0, 1)]
    models[1] = _fitted_shplrnn(lorenz_windows)  # a second member with expanding Jacobians: a larger alpha*
    ensemble = stack_members(models)
    x = torch.stack([lorenz_windows[:4, :60], lorenz_windows[4:, :60]])  # [R, B, T+1, N]: own windows per member
    alphas = torch.tensor([0.1, 0.4], dtype=torch.float64)
    pred, z = gtf_rollout(ensemble, x, alphas)
    assert pred.shape == (2, 4, 59, 3) and z.shape == (2, 4, 59, 3)
    for r, model in enumerate(models):
        torch.testing.assert_close(pred[r], gtf_rollout(model, x[r], float(alphas[r]))[0])
        torch.testing.assert_close(stf_rollout(ensemble, x, 7)[0][r], stf_rollout(model, x[r], 7)[0])
        for method in ("product_upper_bound", "arithmetic_mean", "batch_maximum"):
            assert float(estimate_sigma(ensemble, x, method)[r]) == pytest.approx(estimate_sigma(model, x[r], method))
    star = estimate_alpha(ensemble, x)
    assert star.shape == (2,) and star[1] > star[0]
    # aGTF keeps one alpha per member, with the same rule as for one model
    schedule, single = AdaptiveAlpha(every=1, rate=0.5), AdaptiveAlpha(every=1, rate=0.5)
    for estimate in ([0.2, 0.9], [0.3, 0.1]):
        schedule.update(torch.tensor(estimate))
        single.update(estimate[1])
    assert schedule.alpha.tolist() == pytest.approx([0.45, 0.525]) and single.alpha == pytest.approx(0.525)
    again = AdaptiveAlpha()
    again.load_state_dict(schedule.state_dict())
    assert torch.equal(again.alpha, schedule.alpha)
    with pytest.raises(ValueError, match=r"\[R=2, B, T\+1, N\]"):
        gtf_rollout(ensemble, x[0], 0.1)
    with pytest.raises(ValueError, match="alpha must"):
        gtf_rollout(ensemble, x, torch.tensor([0.1, 1.2]))
