"""Posterior inference of a coefficient field in the latent space of a trained DGNO.

Given noisy point observations ``y_i = u(x_i) + eps_i``, ``eps_i ~ N(0, sigma^2)``, the
unknown coefficient ``a`` is represented by the latent code ``beta`` of a trained DGNO [1]_:
``a ~ p(a | beta)`` and ``u = u(x; beta)``. The negative log posterior of ``beta`` is

.. math:: U(\\beta) = \\frac{1}{2\\sigma^2} \\sum_i (y_i - u(x_i;\\beta))^2
          + \\frac{\\lambda P}{2 \\rho^2}\\, \\ell_{pde}(\\beta)
          + \\frac12 \\Big\\| \\frac{\\beta - \\mu}{s} \\Big\\|^2 ,

where ``l_pde`` is the weak Darcy loss of the model's own ``(a, u)`` pair at ``P`` fixed test
functions (the "virtual observations" of DGNO: the residual is observed to be 0), ``rho^2`` is
the model's typical training value of that loss (recorded during training), ``lambda`` a
weight (default 1), and ``N(mu, diag(s^2))`` is a Gaussian prior fitted to the training
encodings.

Inference in two stages:

1. **MAP**: Adam on ``beta`` from the prior mean (as DGNO's gradient-based inversion).
2. **Sampling**: Metropolis-adjusted Langevin (MALA [2]_), started at the MAP, with several
   chains advanced together as one batch, preconditioned by the prior scales ``s`` and a step
   size tuned during burn-in to an acceptance rate of 0.574 [3]_ and then frozen.

Why MALA: the latent space has ~128 dimensions, so random-walk Metropolis mixes poorly;
MALA uses one gradient per step (HMC needs ``L`` leapfrog gradients per proposal and is
sensitive to ``L``), its Metropolis correction makes the chain target the exact posterior
(unlike unadjusted Langevin), and batched chains share the trunk evaluations of the
MultiONet, so extra chains are nearly free. Starting at the MAP removes most burn-in.

Posterior fields combine latent and decoder uncertainty by the law of total variance:
``Var[a] = E_beta[Var(a | beta)] + Var_beta(E[a | beta])``; ``u`` is deterministic given
``beta``.

References
----------
.. [1] Y. Zang, P.-S. Koutsourelakis, "DGenNO: a novel physics-aware neural operator for
   solving forward and inverse PDE problems based on deep, generative probabilistic
   modeling", J. Comput. Phys. 538, 114137 (2025), arXiv:2502.06250.
.. [2] G. O. Roberts, R. L. Tweedie, "Exponential convergence of Langevin distributions and
   their discrete approximations", Bernoulli 2(4), 341-363 (1996).
.. [3] G. O. Roberts, J. S. Rosenthal, "Optimal scaling of discrete approximations to
   Langevin diffusions", J. R. Stat. Soc. B 60(1), 255-268 (1998).
.. [4] J. Kaipio, E. Somersalo, "Statistical inverse problems: discretization, model reduction
   and inverse crimes", J. Comput. Appl. Math. 198(2), 493-504 (2007).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from neurops.errors import ConfigError, DataError
from neurops.inverse.calibration import band_coverage, field_relative_l2
from neurops.inverse.observations import Observations
from neurops.models.dgno import DGNO, grid_points
from neurops.physics.pdes import DarcyProblem
from neurops.physics.weak_form import WeakFormSampler
from neurops.utils.io import atomic_path

__all__ = ["InversionConfig", "InversionResult", "LatentPosterior", "invert", "mala", "map_estimate",
           "posterior_fields", "write_posterior"]

POSTERIOR_KIND = "posterior"


@dataclass
class InversionConfig:
    """Settings of :func:`invert`.

    Parameters
    ----------
    map_steps, map_lr : Adam iterations and learning rate of the MAP stage (DGNO: 500, 1e-2).
    n_chains : MALA chains run together.
    n_burn : burn-in steps per chain (step size adapted, samples discarded).
    n_samples : kept steps per chain (after thinning: ``n_samples // thin`` samples per chain).
    thin : keep every ``thin``-th step.
    step_size : initial MALA step in prior-scale units.
    target_accept : acceptance rate the burn-in adapts the step to.
    physics_weight : ``lambda``, weight of the weak residual (0: data and prior only).
    model_error : relative standard deviation of the surrogate's own error in ``u`` (e.g. its
        validation relative L2), added in quadrature to the observation noise:
        ``sigma_eff^2 = sigma^2 + (model_error * rms(y))^2`` (approximation-error model of
        Kaipio & Somersalo [4]_); 0 counts the observation noise only.
    n_particles, radius, n_quad_per_axis : test functions of the physics term (fixed per inversion).
    forcing : source ``f`` (None: the value recorded in the checkpoint, else 10).
    level : nominal level of the calibration band.
    seed : seed of particles, chains and proposals.
    """

    map_steps: int = 500
    map_lr: float = 1e-2
    n_chains: int = 4
    n_burn: int = 200
    n_samples: int = 200
    thin: int = 2
    step_size: float = 0.05
    target_accept: float = 0.574
    physics_weight: float = 1.0
    model_error: float = 0.0
    n_particles: int = 100
    radius: float = 1e-4
    n_quad_per_axis: int = 5
    forcing: float | None = None
    level: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("map_steps", "n_burn", "n_samples"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}.")
        if self.n_chains < 1 or self.thin < 1:
            raise ConfigError(f"n_chains and thin must be >= 1, got {self.n_chains} and {self.thin}.")
        if self.n_samples < self.thin:
            raise ConfigError(f"n_samples ({self.n_samples}) must be >= thin ({self.thin}) to keep any sample.")
        if not 0 < self.target_accept < 1 or self.step_size <= 0 or self.physics_weight < 0 or self.model_error < 0:
            raise ConfigError("need 0 < target_accept < 1, step_size > 0, physics_weight >= 0 and model_error >= 0.")


class LatentPosterior:
    """Negative log posterior ``U(beta)`` of latent codes given observations (see module doc).

    Parameters
    ----------
    model : trained DGNO (its buffers give the prior and the residual scale).
    obs : the observations.
    problem : the physics (``DarcyProblem``).
    sampler : test functions; one draw is made here and kept fixed.
    physics_weight : ``lambda``.
    model_error : relative surrogate error added to the noise (see :class:`InversionConfig`).
    generator : torch generator of the particle draw.
    """

    def __init__(self, model: DGNO, obs: Observations, problem: DarcyProblem, sampler: WeakFormSampler,
                 physics_weight: float = 1.0, generator: torch.Generator | None = None,
                 model_error: float = 0.0) -> None:
        if obs.points.shape[1] != model.dim:
            raise DataError(f"observations are {obs.points.shape[1]}-D but the model is {model.dim}-D.")
        device = model.latent_mean.device
        self.model, self.problem, self.physics_weight = model, problem, float(physics_weight)
        self.points = torch.as_tensor(obs.points, dtype=torch.float32, device=device)
        self.values = torch.as_tensor(obs.values, dtype=torch.float32, device=device)
        self.noise_var = float(obs.noise_std) ** 2 + float(model_error) ** 2 * float(np.mean(obs.values**2))
        self.tf = sampler(generator, device=device)
        self.prior_mean = model.latent_mean.detach()
        self.prior_std = model.latent_std.detach().clamp_min(1e-3)
        self.pde_scale = float(model.residual_rms) ** 2

    def terms(self, beta: torch.Tensor) -> dict[str, torch.Tensor]:
        """``misfit``, ``physics`` and ``prior`` parts of ``U``, each ``[C]`` for ``beta : [C, m]``."""
        u = self.model.solution(self.points, beta)[..., 0]                      # [C, M]
        misfit = 0.5 * ((u - self.values) ** 2).sum(-1) / self.noise_var
        prior = 0.5 * (((beta - self.prior_mean) / self.prior_std) ** 2).sum(-1)
        if self.physics_weight > 0:
            res = self.problem.residuals(self.model, beta, self.tf)
            n_part = res.residual.shape[1]
            physics = self.physics_weight * 0.5 * n_part * self.problem.per_sample_loss(res) / self.pde_scale
        else:
            physics = torch.zeros_like(misfit)
        return {"misfit": misfit, "physics": physics, "prior": prior}

    def energy(self, beta: torch.Tensor) -> torch.Tensor:
        """``U(beta)``, ``[C]``."""
        return sum(self.terms(beta).values())

    def energy_and_grad(self, beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``U : [C]`` and ``grad U : [C, m]`` (chains are independent, so one backward serves all)."""
        with torch.enable_grad():
            b = beta.detach().requires_grad_(True)
            energy = self.energy(b)
            (grad,) = torch.autograd.grad(energy.sum(), b)
        return energy.detach(), grad.detach()


def map_estimate(post: LatentPosterior, steps: int = 500, lr: float = 1e-2,
                 beta0: torch.Tensor | None = None) -> tuple[torch.Tensor, list[float]]:
    """Minimise ``U`` with Adam (and a step decay at half way) from ``beta0`` (default: prior mean).

    Returns
    -------
    beta : [1, m] the MAP estimate.
    history : ``U`` after every step.
    """
    beta = (post.prior_mean[None].clone() if beta0 is None else beta0.detach().clone()).requires_grad_(True)
    opt = torch.optim.Adam([beta], lr=lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, steps // 2), gamma=0.3)
    history = []
    for _ in range(steps):
        opt.zero_grad()
        energy = post.energy(beta).sum()
        energy.backward()
        opt.step()
        sched.step()
        history.append(energy.item())
    return beta.detach(), history


def mala(post: LatentPosterior, beta0: torch.Tensor, *, n_burn: int, n_samples: int, thin: int = 1,
         step_size: float = 0.05, target_accept: float = 0.574,
         generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Preconditioned MALA chains (batched) targeting ``exp(-U)``.

    Proposal ``beta' = beta - (h^2 / 2) S^2 grad U + h S xi`` with ``S = diag(prior std)``,
    accepted with the Metropolis-Hastings probability. During burn-in ``log h`` follows a
    Robbins-Monro update towards ``target_accept``; afterwards ``h`` is fixed.

    Parameters
    ----------
    post : the posterior.
    beta0 : [C, m] chain starts.
    n_burn, n_samples, thin : steps (see :class:`InversionConfig`).
    step_size : initial ``h``.
    generator : torch generator (same seed -> same chains).

    Returns
    -------
    samples : [C * (n_samples // thin), m]
    info : ``acceptance`` (after burn-in), ``step_size`` (final h).
    """
    scale = post.prior_std
    beta = beta0.detach().clone()
    energy, grad = post.energy_and_grad(beta)
    log_h = math.log(step_size)
    kept, accepted, proposed = [], 0.0, 0
    dev = beta.device
    draw_on = generator.device if generator is not None else dev

    def log_q(to: torch.Tensor, frm: torch.Tensor, grad_frm: torch.Tensor, h: float) -> torch.Tensor:
        mean = frm - 0.5 * h**2 * scale**2 * grad_frm
        return -0.5 * (((to - mean) / (h * scale)) ** 2).sum(-1)

    for step in range(n_burn + n_samples):
        h = math.exp(log_h)
        noise = torch.randn(beta.shape, generator=generator, device=draw_on).to(dev)
        prop = beta - 0.5 * h**2 * scale**2 * grad + h * scale * noise
        e_prop, g_prop = post.energy_and_grad(prop)
        log_alpha = (energy - e_prop) + log_q(beta, prop, g_prop, h) - log_q(prop, beta, grad, h)
        log_alpha = torch.nan_to_num(log_alpha, nan=-math.inf)
        u = torch.rand(beta.shape[0], generator=generator, device=draw_on).to(dev)
        accept = torch.log(u) < log_alpha
        beta = torch.where(accept[:, None], prop, beta)
        energy = torch.where(accept, e_prop, energy)
        grad = torch.where(accept[:, None], g_prop, grad)
        rate = float(accept.float().mean())
        if step < n_burn:
            log_h += (rate - target_accept) / math.sqrt(step + 1.0)
        else:
            accepted, proposed = accepted + rate, proposed + 1
            if (step - n_burn + 1) % thin == 0:
                kept.append(beta.clone())
    samples = torch.cat(kept, dim=0) if kept else beta.new_zeros((0, beta.shape[1]))
    return samples, {"acceptance": accepted / max(proposed, 1), "step_size": math.exp(log_h)}


@torch.no_grad()
def posterior_fields(model: DGNO, samples: torch.Tensor, spatial: tuple[int, ...],
                     chunk: int = 64) -> dict[str, np.ndarray]:
    """Mean and standard deviation of ``a`` and ``u`` on a grid over latent samples.

    Parameters
    ----------
    model : the DGNO.
    samples : [S, m] latent samples.
    spatial : grid shape.

    Returns
    -------
    ``{"a_mean", "a_std", "u_mean", "u_std"}``, each ``[*spatial]`` float64.
    """
    x = grid_points(spatial, model.domain, device=samples.device)
    a_m, a_v, u_v = [], [], []
    for part in samples.split(chunk):
        a_m.append(model.a_mean(x, part)[..., 0].double())
        a_v.append(model.a_variance(x, part)[..., 0].double())
        u_v.append(model.solution(x, part)[..., 0].double())
    a_m, a_v, u_v = torch.cat(a_m), torch.cat(a_v), torch.cat(u_v)
    a_var = a_v.mean(0) + a_m.var(0, unbiased=False)
    out = {"a_mean": a_m.mean(0), "a_std": a_var.sqrt(), "u_mean": u_v.mean(0), "u_std": u_v.std(0, unbiased=False)}
    return {k: v.reshape(spatial).cpu().numpy() for k, v in out.items()}


@dataclass
class InversionResult:
    """What :func:`invert` returns (and :func:`write_posterior` stores).

    ``fields`` holds ``a_mean, a_std, u_mean, u_std, a_map, u_map`` on the observation grid
    (``[*spatial]``); ``samples`` the latent samples ``[S, m]``; ``metrics`` relative L2 errors
    and band coverage when the observations carry the truth; ``info`` timings and MCMC stats.
    """

    fields: dict[str, np.ndarray]
    beta_map: np.ndarray
    samples: np.ndarray
    coords: dict[str, np.ndarray]
    metrics: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def evaluate(fields: dict[str, np.ndarray], truth: dict[str, np.ndarray], level: float) -> dict[str, float]:
    """Relative L2 (posterior mean and MAP) and band coverage against the true fields."""
    metrics: dict[str, float] = {}
    for name in ("a", "u"):
        if name not in truth:
            continue
        t = np.asarray(truth[name], dtype=np.float64)
        metrics[f"rel_l2_{name}"] = field_relative_l2(fields[f"{name}_mean"], t)
        metrics[f"rel_l2_{name}_map"] = field_relative_l2(fields[f"{name}_map"], t)
        metrics[f"coverage_{name}"] = band_coverage(t, fields[f"{name}_mean"], fields[f"{name}_std"], level)
    return metrics


def invert(model: DGNO, obs: Observations, config: InversionConfig | None = None,
           forcing: float | None = None) -> InversionResult:
    """MAP estimate and MALA posterior samples of the coefficient behind ``obs``.

    Parameters
    ----------
    model : trained DGNO (eval mode; its parameters are not changed).
    obs : observations of ``u`` (and optionally the truth, for metrics).
    config : inference settings.
    forcing : source ``f`` if ``config.forcing`` is None (e.g. from the checkpoint); default 10.

    Returns
    -------
    InversionResult with mean/std fields of ``a`` and ``u`` on ``obs.coords``.
    """
    cfg = config or InversionConfig()
    f = cfg.forcing if cfg.forcing is not None else (forcing if forcing is not None else 10.0)
    if tuple(obs.grid_shape) and len(obs.grid_shape) != model.dim:
        raise DataError(f"the observation grid is {len(obs.grid_shape)}-D but the model is {model.dim}-D.")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(int(cfg.seed))
    sampler = WeakFormSampler(model.dim, cfg.n_particles, cfg.radius, cfg.n_quad_per_axis, model.domain)
    post = LatentPosterior(model, obs, DarcyProblem(forcing=f), sampler, cfg.physics_weight, gen, cfg.model_error)
    t0 = time.perf_counter()
    beta_map, history = map_estimate(post, cfg.map_steps, cfg.map_lr)
    t_map = time.perf_counter() - t0
    start = beta_map.expand(cfg.n_chains, -1).clone()
    samples, mcmc = mala(post, start, n_burn=cfg.n_burn, n_samples=cfg.n_samples, thin=cfg.thin,
                         step_size=cfg.step_size, target_accept=cfg.target_accept, generator=gen)
    t_total = time.perf_counter() - t0
    spatial = obs.grid_shape
    fields = posterior_fields(model, samples, spatial)
    with torch.no_grad():
        fields["a_map"] = model.decode_coefficient(beta_map, spatial)[0, 0].double().cpu().numpy()
        fields["u_map"] = model.decode_solution(beta_map, spatial)[0, 0].double().cpu().numpy()
        terms = {k: float(v) for k, v in post.terms(beta_map).items()}
    info = {"seconds_map": t_map, "seconds_total": t_total, "n_samples": int(samples.shape[0]),
            "map_energy_start": history[0] if history else None, "map_energy_end": history[-1] if history else None,
            "map_terms": terms, "forcing": f, "config": asdict(cfg), **mcmc}
    return InversionResult(fields, beta_map[0].cpu().numpy(), samples.cpu().numpy(), dict(obs.coords),
                           evaluate(fields, obs.truth, cfg.level), info)


def write_posterior(result: InversionResult, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write an :class:`InversionResult` to HDF5 (``kind="posterior"``, atomically)."""
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["schema_version"] = 1
        f.attrs["kind"] = POSTERIOR_KIND
        f.attrs["dims"] = json.dumps(list(result.coords))
        f.attrs["metrics"] = json.dumps(result.metrics)
        f.attrs["info"] = json.dumps(result.info, default=float)
        for d, c in result.coords.items():
            f.create_dataset(f"coords/{d}", data=np.asarray(c, dtype=np.float64))
        for name, arr in result.fields.items():
            f.create_dataset(f"fields/{name}", data=arr.astype(np.float32))
        f.create_dataset("latent/map", data=result.beta_map.astype(np.float32))
        f.create_dataset("latent/samples", data=result.samples.astype(np.float32))
    return path
