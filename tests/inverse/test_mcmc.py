"""Samplers against a linear-Gaussian posterior whose mean and covariance are known in closed form."""

import numpy as np
import pytest
import torch

from neurops.errors import ConfigError
from neurops.inverse import GaussianLikelihood, GaussianReference, effective_sample_size, laplace_reference, pcn, pcnl


class LinearGaussian:
    """Prior N(0, I_n), observations y = G x + N(0, sigma^2 I): posterior N(m, S) in closed form, P problems."""

    def __init__(self, P=2, n=12, M=4, sigma=0.5, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.G = torch.randn(P, M, n, generator=g, dtype=torch.float64) / np.sqrt(n) * 2.0
        x_true = torch.randn(P, n, generator=g, dtype=torch.float64)
        y = torch.einsum("pmn,pn->pm", self.G, x_true) + sigma * torch.randn(P, M, generator=g, dtype=torch.float64)
        self.likelihood = GaussianLikelihood(y.numpy(), np.full(P, sigma))
        prec = torch.eye(n, dtype=torch.float64) + self.G.transpose(1, 2) @ self.G / sigma**2
        self.cov = torch.linalg.inv(prec)
        self.mean = torch.einsum("pij,pj->pi", self.cov, torch.einsum("pmn,pm->pn", self.G, y) / sigma**2)

    def predict(self, x):
        return torch.einsum("pmn,pcn->pcm", self.G, x)

    def potential(self, x):
        return self.likelihood.potential(self.predict(x))

    def potential_and_grad(self, x):
        with torch.enable_grad():
            z = x.detach().requires_grad_(True)
            phi = self.potential(z)
            (grad,) = torch.autograd.grad(phi.sum(), z)
        return phi.detach(), grad

    def jacobian(self, x):
        return self.predict(x[:, None])[:, 0], self.G.clone()


def _check_moments(target, chains):
    """Sample mean within 4 Monte-Carlo standard errors (sd / sqrt(ESS)) of the exact one, and the sample
    covariance within the Monte-Carlo error of a covariance estimate from ESS draws."""
    P, C, S, n = chains.samples.shape
    for p in range(P):
        ess = torch.as_tensor(effective_sample_size(chains.samples[p].numpy()))
        assert ess.min() > 100
        draws = chains.samples[p].reshape(C * S, n)
        sd = target.cov[p].diagonal().sqrt()
        assert ((draws.mean(0) - target.mean[p]).abs() / (sd / ess.sqrt())).max() < 4
        rel = torch.linalg.norm(torch.cov(draws.T) - target.cov[p]) / torch.linalg.norm(target.cov[p])
        assert rel < 4 * np.sqrt(2 / float(ess.min()))


@pytest.mark.parametrize("kind", ["pcn", "pcn_tempered", "pcn_blocks", "pcn_annealed", "gpcn", "gpcn_inflated",
                                  "pcnl"])
def test_samplers_recover_the_linear_gaussian_posterior(kind):
    target = LinearGaussian()
    gen = torch.Generator().manual_seed(1)
    x0 = torch.randn(2, 16, 12, generator=gen, dtype=torch.float64) * 2  # dispersed starts
    if kind == "pcnl":
        chains = pcnl(target.potential_and_grad, x0, n_burn=300, n_samples=1500, thin=3, step=0.2, generator=gen)
        assert 0.45 < float(chains.acceptance.mean()) < 0.7  # adapted towards 0.574
    elif kind == "pcn":
        chains = pcn(target.potential, x0, n_burn=300, n_samples=3000, thin=6, step=0.3, generator=gen)
        assert 0.15 < float(chains.acceptance.mean()) < 0.35  # adapted towards 0.25
    elif kind == "pcn_tempered":  # the beta = 1 chains of parallel tempering keep the posterior
        chains = pcn(target.potential, x0, n_burn=300, n_samples=3000, thin=6, step=0.3, generator=gen,
                     temperatures=[1.0, 0.5, 0.25])
    elif kind == "pcn_blocks":  # pCN within Gibbs: blocks of 3, 3 and 6 coefficients, one moved per step
        chains = pcn(target.potential, x0, n_burn=300, n_samples=3000, thin=6, step=0.3, generator=gen,
                     blocks=[3, 6])
        assert chains.step.shape == (2, 3) and 0.15 < float(chains.acceptance.mean()) < 0.35
    elif kind == "pcn_annealed":  # an annealed burn-in from far-off starts leaves the kept states exact
        chains = pcn(target.potential, x0 * 5, n_burn=400, n_samples=3000, thin=6, step=0.3, generator=gen,
                     anneal=200)
    elif kind == "gpcn_inflated":  # the default reference: the Laplace variances doubled
        reference = laplace_reference(target, torch.zeros(2, 12, dtype=torch.float64))[0]
        chains = pcn(target.potential, x0, n_burn=300, n_samples=1500, thin=3, step=0.3, reference=reference,
                     generator=gen)
        assert float(chains.step.min()) > 0.5
    else:  # the Laplace approximation of a linear-Gaussian posterior is exact: every proposal is accepted
        reference = laplace_reference(target, torch.zeros(2, 12, dtype=torch.float64), inflation=1.0)[0]
        chains = pcn(target.potential, x0, n_burn=300, n_samples=1500, thin=3, step=0.3, reference=reference,
                     generator=gen)
        assert float(chains.acceptance.min()) > 0.99
    _check_moments(target, chains)
    assert chains.samples.shape == (2, 16, 500, 12) and chains.potential.shape == (2, 16, 500)


def test_exact_reference_makes_independent_proposals_accepted():
    """With the posterior itself as the gpCN reference, every proposal is accepted and b grows to 1."""
    target = LinearGaussian(P=1)
    reference, history = laplace_reference(target, torch.zeros(1, 12, dtype=torch.float64), inflation=1.0)
    assert torch.allclose(reference.mean, target.mean, atol=1e-8)
    V, lam = reference.basis[0], reference.variances[0]
    cov = torch.eye(12, dtype=torch.float64) + V @ torch.diag(lam - 1) @ V.T
    assert torch.allclose(cov, target.cov[0], atol=1e-8)
    assert history["objective"][-1] <= history["objective"][0]
    gen = torch.Generator().manual_seed(0)
    chains = pcn(target.potential, torch.zeros(1, 4, 12, dtype=torch.float64), n_burn=50, n_samples=400,
                 reference=reference, generator=gen)
    assert float(chains.acceptance.min()) > 0.99 and float(chains.step[0]) == pytest.approx(1.0)
    ess = effective_sample_size(chains.samples[0].numpy())
    assert ess.min() > 0.7 * 4 * 400  # independent draws


def test_same_seed_same_chains_and_bad_arguments():
    target = LinearGaussian(P=1)
    run = lambda: pcn(target.potential, torch.zeros(1, 3, 12, dtype=torch.float64), n_burn=5, n_samples=10,  # noqa
                      generator=torch.Generator().manual_seed(3))
    assert torch.equal(run().samples, run().samples)
    with pytest.raises(ConfigError, match=r"\[P, C, n\]"):
        pcn(target.potential, torch.zeros(3, 12), n_burn=1, n_samples=2)
    with pytest.raises(ConfigError, match="thin"):
        pcn(target.potential, torch.zeros(1, 3, 12), n_burn=1, n_samples=2, thin=3)
    with pytest.raises(ConfigError, match="reference"):
        pcn(target.potential, torch.zeros(1, 3, 12, dtype=torch.float64), n_burn=1, n_samples=2,
            reference=GaussianReference.prior(2, 12))
    x0 = torch.zeros(1, 3, 12, dtype=torch.float64)
    for blocks in ([0, 4], [4, 4], [4, 12]):
        with pytest.raises(ConfigError, match="blocks must be increasing"):
            pcn(target.potential, x0, n_burn=1, n_samples=2, blocks=blocks)
    with pytest.raises(ConfigError, match="need the prior as the reference"):
        pcn(target.potential, x0, n_burn=1, n_samples=2, blocks=[4],
            reference=laplace_reference(target, torch.zeros(1, 12, dtype=torch.float64))[0])
    with pytest.raises(ConfigError, match="anneal must be"):
        pcn(target.potential, x0, n_burn=5, n_samples=2, anneal=6)


def test_reference_from_samples_estimates_the_covariance_in_a_subspace():
    gen = torch.Generator().manual_seed(0)
    scale = torch.tensor([0.1, 0.5, 1.0, 1.0], dtype=torch.float64)
    draws = torch.randn(1, 20000, 4, generator=gen, dtype=torch.float64) * scale + 2.0
    basis = torch.eye(4, dtype=torch.float64)[:, :2][None]
    ref = GaussianReference.from_samples(draws, basis)
    assert torch.allclose(ref.mean, torch.full((1, 4), 2.0, dtype=torch.float64), atol=0.02)
    assert torch.allclose(ref.variances.sort().values, (scale[:2] ** 2)[None], rtol=0.05)
    w = torch.randn(1, 50000, 4, generator=gen, dtype=torch.float64)
    assert torch.allclose(ref.scale(w).std(1)[0], torch.tensor([0.1, 0.5, 1.0, 1.0], dtype=torch.float64),
                          rtol=0.03)


def test_parallel_tempering_visits_both_modes_of_a_symmetric_posterior():
    """y = |x_0| + noise: the posterior of x_0 has two equal modes at +-2, 4 prior widths apart in its own widths.

    Plain pCN chains stay in the mode they start in (their R-hat shows it); with parallel tempering the
    exchanges carry states across, so every chain spends about half its time in each mode."""
    from neurops.inverse import split_rhat

    sigma, y = 0.1, 2.0

    def potential(x):
        return 0.5 * ((x[..., 0].abs() - y) / sigma) ** 2

    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(1, 8, 3, generator=gen, dtype=torch.float64)
    x0[0, :, 0] = torch.tensor([2.0, -2.0] * 4, dtype=torch.float64)  # chains start in both modes
    plain = pcn(potential, x0, n_burn=200, n_samples=1200, thin=4, generator=gen)
    tempered = pcn(potential, x0, n_burn=200, n_samples=1200, thin=4, generator=gen,
                   temperatures=[1.0, 0.1, 0.01, 0.001])
    assert split_rhat(plain.samples[0, :, :, 0].numpy()) > 1.5
    assert split_rhat(tempered.samples[0, :, :, 0].numpy()) < 1.05
    positive = (tempered.samples[0, :, :, 0] > 0).double()
    assert abs(float(positive.mean()) - 0.5) < 0.1 and positive.mean(1).min() > 0.25  # every chain visits both
    assert (tempered.samples[0, :, :, 0].abs() - y).abs().mean() < 2 * sigma  # and stays on the modes
    with pytest.raises(ConfigError, match="temperatures"):
        pcn(potential, x0, n_burn=1, n_samples=2, temperatures=[0.5, 0.1])


def test_blocks_let_the_weakly_informed_coefficients_mix():
    """One coefficient pinned by the data (posterior sd 0.02), 30 left at the prior: plain pCN adapts one step to the
    pinned coefficient and then moves the free ones by about that step (ESS about 10 of 2400 draws); with the free
    ones in their own block (blocks=[1]) their step grows to 1 (fresh prior draws) at the same number of
    evaluations, and both samplers keep the exact posterior."""
    sigma, y = 0.02, 0.7

    def potential(x):
        return 0.5 * ((x[..., 0] - y) / sigma) ** 2

    gen = torch.Generator().manual_seed(3)
    x0 = torch.randn(1, 4, 31, generator=gen, dtype=torch.float64)
    plain = pcn(potential, x0, n_burn=300, n_samples=2400, thin=4, generator=gen)
    blocked = pcn(potential, x0, n_burn=300, n_samples=2400, thin=4, generator=gen, blocks=[1])
    assert float(plain.step[0]) < 0.2 and float(blocked.step[0, 1]) > 0.95
    ess = {name: effective_sample_size(c.samples[0].numpy()) for name, c in (("plain", plain), ("blocked", blocked))}
    assert ess["blocked"][1:].min() > 10 * ess["plain"][1:].mean()
    draws = blocked.samples[0].reshape(-1, 31)
    var0 = sigma**2 / (1 + sigma**2)
    assert abs(float(draws[:, 0].mean()) - y / (1 + sigma**2)) < 4 * np.sqrt(var0 / ess["blocked"][0])
    assert abs(float(draws[:, 1:].var(0).mean()) - 1) < 0.05  # the prior's variance


def test_level_set_posterior_matches_the_exact_sector_probabilities():
    """A level set whose posterior is known exactly: a = 2 where g_i = <n_i, x[:2]> >= 0, else 1, at three 'nodes'
    with normals 60 degrees apart, observed through y = sum(a) + N(0, 0.2^2); 20 more coefficients stay free.

    The likelihood depends on x[:2] only through its angle, and the three lines cut the plane into six 60-degree
    sectors of prior mass 1/6 each, so the posterior probability of each sector (pattern of a) is proportional to
    its likelihood. y = 4.4 favours the two sectors with one high node (ratio exp(0.1 / 0.04) = 12.2 over those with
    two), which are not neighbours: a chain must cross a sector of lower likelihood between them. Block pCN with
    parallel tempering and an annealed burn-in, chains from prior draws, gives every sector's probability within
    Monte-Carlo error, chains that agree, and the prior's law in every direction the data do not see."""
    from neurops.inverse import split_rhat

    sigma, y = 0.2, 4.4
    angles = torch.tensor([0.0, 60.0, 120.0], dtype=torch.float64) * np.pi / 180
    normals = torch.stack([angles.cos(), angles.sin()], -1)                     # [3, 2]

    def potential(x):
        a = torch.where(x[..., :2] @ normals.T >= 0, 2.0, 1.0)
        return 0.5 * ((a.sum(-1) - y) / sigma) ** 2

    counts = torch.arange(4, dtype=torch.float64)  # sectors in angular order have 2, 3, 2, 1, 0, 1 high nodes
    highs = torch.tensor([2, 3, 2, 1, 0, 1])
    weight = torch.exp(-0.5 * ((3 + counts[highs] - y) / sigma) ** 2)
    exact = weight / weight.sum()
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(1, 8, 22, generator=gen, dtype=torch.float64) * 3
    chains = pcn(potential, x0, n_burn=300, n_samples=2000, thin=2, generator=gen, blocks=[2],
                 temperatures=[1.0, 0.4, 0.16], anneal=100)
    x = chains.samples[0]                                                        # [8, 1000, 22]
    sector = ((torch.atan2(x[..., 1], x[..., 0]) * 180 / np.pi + 30) % 360 // 60).long()  # 0..5 from -30 degrees
    freq = torch.stack([(sector == s).double().mean() for s in range(6)])
    ess = effective_sample_size((sector == 3).double().numpy()[..., None])[0]
    se = (exact * (1 - exact) / ess).sqrt()
    assert ((freq - exact).abs() <= 4 * se + 0.005).all(), (freq, exact)
    assert split_rhat((sector == 3).double().numpy()[..., None])[0] < 1.05
    assert float(chains.step[0, 1]) > 0.95  # the free coefficients are drawn afresh
    assert chains.swap_rate.shape == (1, 2) and 0.2 < float(chains.swap_rate.min()) <= 1
    assert chains.evaluations == 3 * 2301  # every rung counted
    # the rest of the posterior is the prior's: |x[:2]|^2 ~ chi^2(2) (the likelihood sees only the angle), N(0, 1)
    assert abs(float((x[..., :2] ** 2).sum(-1).mean()) - 2) < 0.15
    assert abs(float(x[..., 2:].var()) - 1) < 0.05 and abs(float(x[..., 2:].mean())) < 0.05


def test_chain_starts_and_counts_of_the_wrong_type_are_one_error():
    """pcn/pcnl given NumPy starts raised torch's TypeError ('zeros(): argument 'dtype' must be torch.dtype'),
    map_estimate an AttributeError ('no attribute 'detach''), and n_burn=2.5 a TypeError of range()."""
    from neurops.errors import DataError
    from neurops.inverse import map_estimate

    target = LinearGaussian(P=1)
    x0 = np.zeros((1, 3, 12))
    for call, name in ((lambda: pcn(target.potential, x0, n_burn=1, n_samples=2), "chain starts x0"),
                       (lambda: pcnl(target.potential_and_grad, x0, n_burn=1, n_samples=2), "chain starts x0"),
                       (lambda: map_estimate(target.potential_and_grad, x0), "map_estimate: x0")):
        with pytest.raises(DataError) as err:
            call()
        assert str(err.value) == (f"{name} must be a floating-point torch.Tensor [P, C, n], got a numpy ndarray; "
                                  "convert it with torch.as_tensor(..., dtype=torch.float64) (or float32).")
    for kwargs, what in (({"n_burn": 2.5}, "n_burn must be a whole number >= 0, got 2.5"),
                         ({"n_samples": -1}, "n_samples must be a whole number >= 1, got -1")):
        with pytest.raises(ConfigError) as err:
            pcn(target.potential, torch.zeros(1, 3, 12), **{"n_burn": 1, "n_samples": 2, **kwargs})
        assert str(err.value) == f"MCMC: {what}."
