"""Invert observations: chains from dispersed starts, MAP, summaries, diagnostics, predictive check.

:func:`invert_fields` infers a coefficient field in the coefficients of its Gaussian random field
prior (:class:`~neurops.inverse.field_posterior.FieldPosterior`), through the true Darcy solve
(the reference) or through any trained operator; :func:`invert_latent` infers it in the latent
space of a DGNO (:class:`~neurops.inverse.latent.LatentPosterior`). Both run the same steps:

1. **Chains** from ``C`` independent prior draws (dispersed starts, so that disagreement between
   chains shows in R-hat): generalised pCN around a Laplace approximation when the posterior is
   differentiable (``"gpcn"``), plain pCN otherwise (``"pcn"``), or pCN-Langevin (``"pcnl"``,
   DGNO's default); see :mod:`neurops.inverse.mcmc`.
2. **MAP**: Gauss-Newton (field posteriors) or Adam from the prior mean and every chain start
   (DGNO); for a level-set coefficient, which has
   no gradient, the kept draw of highest posterior density.
3. **Summaries** of ``a`` and ``u`` on the observations' grid: mean, standard deviation, the
   central ``level`` interval (quantiles) and median, from the kept draws.
4. **Diagnostics**: rank-normalised split R-hat and bulk ESS over every grid value of ``a`` and
   ``u`` and over ``Phi`` (:mod:`neurops.inverse.diagnostics`), acceptance, step, seconds.
5. **Posterior-predictive check through the true solver**: ``n_predictive`` draws of ``a`` are
   solved by :class:`~neurops.inverse.forward.DarcyForward` and compared with the observations,
   ``chi^2/M = sum_i (y_i - u(x_i))^2 / (sigma^2 M)``. Draws of a posterior that explains the
   data score about 1; the check fails when the mean lies outside the central 99 % of
   ``chi^2_M / M`` (a sampler that fits through a wrong surrogate scores far above).
6. **Metrics** against the truth when the observations carry it: relative L2 of the mean and MAP,
   coverage of the ``level`` interval, CRPS.

Every failed check becomes a warning (:class:`InversionWarning`) and an entry of the result's
``warnings``.
"""

from __future__ import annotations

import numbers
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.stats
import torch

from neurops.errors import ConfigError, DataError, SolverError
from neurops.inverse.calibration import crps_ensemble, field_relative_l2, interval_coverage
from neurops.inverse.config import _STEP, InversionConfig
from neurops.inverse.diagnostics import effective_sample_size, split_rhat
from neurops.inverse.field_posterior import FAILED_SOLVES_ADVICE, FieldPosterior
from neurops.inverse.forward import DarcyForward, observe
from neurops.inverse.laplace import laplace_reference
from neurops.inverse.latent import LatentPosterior
from neurops.inverse.likelihood import ModelError
from neurops.inverse.mcmc import Chains, map_estimate, pcn, pcnl
from neurops.inverse.observations import Observations
from neurops.inverse.prior import GRFPrior
from neurops.models.dgno import DGNO

__all__ = ["InversionConfig", "InversionWarning", "PosteriorResult", "invert_fields", "invert_latent"]


class InversionWarning(UserWarning):
    """A check of an inversion failed (R-hat, ESS or the posterior-predictive check)."""


@dataclass
class PosteriorResult:
    """What an inversion returns for one problem (and :func:`~neurops.inverse.results.write_posterior` stores).

    Attributes
    ----------
    coords : ``{dim: [n]}`` the reporting grid.
    summary : ``<field>_<stat>`` ``[*spatial]`` for field ``a``/``u`` and stat mean, std, lower,
        median, upper, map (and ``a_decoder_std`` for DGNO).
    samples : ``a``, ``u`` ``[K, *spatial]``, ``chain``, ``step`` ``[K]``, ``latent`` ``[K, n]``.
    observations : ``points [M, d]``, ``values [M]``, ``predicted [M]`` (posterior mean of the
        prediction through the forward map used), ``predicted_true [M]`` (through the true solver).
    diagnostics, predictive, metrics : the numbers of the module doc.
    method : sampler, forward map, prior or model, model-error summary.
    info : config, timings.
    warnings : failed checks, in words.
    truth : the true fields, if known.
    level : level of the interval.
    noise_std : the observation noise.
    """

    coords: dict[str, np.ndarray]
    summary: dict[str, np.ndarray]
    samples: dict[str, np.ndarray]
    observations: dict[str, np.ndarray]
    diagnostics: dict[str, Any]
    predictive: dict[str, Any]
    metrics: dict[str, float]
    method: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    truth: dict[str, np.ndarray] = field(default_factory=dict)
    level: float = 0.95
    noise_std: float = float("nan")


Target = FieldPosterior | LatentPosterior


def _sampler(config: InversionConfig, target: Target) -> str:
    if config.sampler != "auto":
        if config.sampler in ("gpcn", "pcnl") and not target.differentiable:
            raise ConfigError(f"sampler {config.sampler!r} needs gradients, which a level-set (piecewise) "
                              f"coefficient does not have; use 'pcn' or 'auto'.")
        if config.sampler == "gpcn" and isinstance(target, LatentPosterior):
            raise ConfigError("sampler 'gpcn' builds its Laplace approximation by Gauss-Newton, which the DGNO "
                              "physics term does not fit; use 'pcnl' or 'pcn'.")
        return config.sampler
    if isinstance(target, LatentPosterior):
        return "pcnl"
    return "gpcn" if target.differentiable else "pcn"


def run_chains(target: Target, config: InversionConfig) -> tuple[Chains, torch.Tensor, dict[str, Any]]:
    """Chains for every problem of ``target`` and the MAP estimates (module doc, steps 1-2).

    Returns
    -------
    chains : the kept states ``[P, C, S, n]`` and statistics.
    x_map : [P, n] MAP coefficients.
    info : sampler name, seconds of the MAP / Laplace stage, MAP objective history.
    """
    sampler = _sampler(config, target)
    if sampler == "pcnl" and (config.temperatures or config.anneal):
        raise ConfigError("parallel tempering (temperatures) and annealing are for the pCN samplers; pCN-Langevin "
                          "has neither.")
    if sampler != "pcn" and config.blocks:
        raise ConfigError(f"blocks are for the plain pCN sampler; this posterior's sampler is {sampler!r}: pass "
                          f"sampler='pcn' (--sampler pcn).")
    gen = torch.Generator().manual_seed(int(config.seed))
    P, C, n = target.n_problems, config.n_chains, target.dim
    device = target.mean.device if isinstance(target, LatentPosterior) else target.device
    x0 = torch.randn((P, C, n), generator=gen, dtype=torch.float64).to(device)
    step, accept = _STEP[sampler]
    step, accept = config.step or step, config.target_accept or accept
    t0 = time.perf_counter()
    info: dict[str, Any] = {"sampler": sampler}
    reference, x_map = None, None
    if isinstance(target, FieldPosterior) and target.differentiable:
        reference, hist = laplace_reference(target, torch.zeros((P, n), dtype=torch.float64, device=device),
                                            iterations=config.laplace_iterations)
        x_map, info["map_objective"] = reference.mean, hist["objective"]
    elif isinstance(target, LatentPosterior) and config.map_steps > 0:
        # from the prior mean and from every chain start: a DGNO's latent posterior can be multimodal
        starts = torch.cat([torch.zeros((P, 1, n), dtype=torch.float64, device=device), x0], dim=1)
        x, objective = map_estimate(target.potential_and_grad, starts, steps=config.map_steps, lr=config.map_lr)
        best = (target.potential(x) + 0.5 * (x**2).sum(-1)).argmin(1)
        x_map, info["map_objective"] = x[torch.arange(P), best], objective[:: max(1, len(objective) // 20)]
    info["seconds_map"] = time.perf_counter() - t0
    common = dict(n_burn=config.n_burn, n_samples=config.n_samples, thin=config.thin, step=step,
                  target_accept=accept, generator=gen)
    if sampler == "pcnl":
        chains = pcnl(target.potential_and_grad, x0, **common)
    else:
        temperatures = (1.0, *config.temperatures) if config.temperatures else None
        chains = pcn(target.potential, x0, reference=reference if sampler == "gpcn" else None,
                     temperatures=temperatures, blocks=config.blocks, anneal=config.anneal, **common)
    if x_map is None:  # no gradient: the kept state of highest posterior density
        density = chains.potential + 0.5 * (chains.samples**2).sum(-1)
        best = density.reshape(P, -1).argmin(1)
        x_map = chains.samples.reshape(P, -1, n)[torch.arange(P), best]
    info["seconds_total"] = time.perf_counter() - t0
    return chains, x_map, info


def _quantities(draws: dict[str, np.ndarray], potential: np.ndarray, C: int) -> np.ndarray:
    """``[C, S, Q]``: every non-constant grid value of ``a`` and ``u``, and ``Phi``."""
    parts = [draws[k].reshape(C, -1, int(np.prod(draws[k].shape[1:]))) for k in ("a", "u")]
    parts.append(potential.reshape(C, -1, 1))
    q = np.concatenate(parts, axis=-1)
    varying = q.reshape(-1, q.shape[-1]).std(axis=0) > 0
    return q[..., varying]


def _predictive(target: Target, x: torch.Tensor, check: DarcyForward | None, resolution: int | None,
                n_draws: int, index: int) -> tuple[dict[str, Any], np.ndarray | None]:
    """The posterior-predictive check of problem ``index`` through the true solver (module doc, step 5)."""
    obs = target.obs if isinstance(target, LatentPosterior) else target.observations[index]
    m = len(obs.values)
    lo, hi = (float(v) / m for v in scipy.stats.chi2.ppf([0.005, 0.995], m))
    if check is None or n_draws == 0:
        reason = "the forcing of the true solver is unknown" if check is None else "n_predictive = 0"
        return {"checked": False, "reason": reason}, None
    pick = torch.linspace(0, x.shape[0] - 1, min(n_draws, x.shape[0])).round().long()
    a = target.coefficient(x[pick], resolution)
    with torch.no_grad():
        u = check(a)
    pred = observe(u, torch.as_tensor(obs.points, dtype=u.dtype, device=u.device)).cpu().numpy()
    chi2 = ((pred - obs.values) ** 2).mean(-1) / obs.noise_std**2
    mean = float(chi2.mean())
    return ({"checked": True, "chi2_per_obs": mean, "chi2_per_obs_q05": float(np.quantile(chi2, 0.05)),
             "chi2_per_obs_q95": float(np.quantile(chi2, 0.95)), "n_draws": int(len(pick)), "n_obs": m,
             "lower": lo, "upper": hi, "passed": bool(lo <= mean <= hi)}, pred.mean(0))


def _summarize(target: Target, chains: Chains, x_map: torch.Tensor, p: int, config: InversionConfig,
               check: DarcyForward | None, check_resolution: int | None) -> PosteriorResult:
    obs = target.obs if isinstance(target, LatentPosterior) else target.observations[p]
    C, S, n = chains.samples.shape[1:]
    x = chains.samples[p].reshape(C * S, n)
    f = target.fields(x)
    draws = {k: v.cpu().numpy() for k, v in f.items()}
    fmap = {k: v[0].cpu().numpy() for k, v in target.fields(x_map[p][None]).items()}
    tail = (1 - config.level) / 2
    summary: dict[str, np.ndarray] = {}
    for name in ("a", "u"):
        d = draws[name]
        lower, median, upper = np.quantile(d, [tail, 0.5, 1 - tail], axis=0)
        summary.update({f"{name}_mean": d.mean(0), f"{name}_std": d.std(0), f"{name}_lower": lower,
                        f"{name}_median": median, f"{name}_upper": upper, f"{name}_map": fmap[name]})
    if "a_decoder_var" in draws:
        summary["a_decoder_std"] = np.sqrt(draws["a_decoder_var"].mean(0))
    q = _quantities(draws, chains.potential[p].cpu().numpy(), C)
    rhat, ess = split_rhat(q), effective_sample_size(q)
    diagnostics: dict[str, Any] = {"rhat_max": float(rhat.max()), "rhat_median": float(np.median(rhat)),
                   "ess_min": float(ess.min()), "ess_median": float(np.median(ess)),
                   "acceptance": float(chains.acceptance[p].mean()), "step": float(chains.step[p].reshape(-1)[0]),
                   "n_chains": int(C), "n_kept": int(S), "n_draws": int(C * S)}
    if chains.step.ndim > 1:
        diagnostics["block_steps"] = [round(float(v), 4) for v in chains.step[p]]
    if chains.swap_rate is not None:
        diagnostics["swap_rate"] = [round(float(v), 4) for v in chains.swap_rate[p]]
    predictive, predicted_true = _predictive(target, x, check, check_resolution, config.n_predictive, p)
    pred = observe(f["u"], torch.as_tensor(obs.points, dtype=f["u"].dtype, device=f["u"].device))
    observations = {"points": obs.points, "values": obs.values, "predicted": pred.mean(0).cpu().numpy()}
    if predicted_true is not None:
        observations["predicted_true"] = predicted_true
    metrics: dict[str, float] = {}
    for name in ("a", "u"):
        if name in obs.truth:
            t = np.asarray(obs.truth[name], dtype=np.float64)
            metrics[f"rel_l2_{name}"] = field_relative_l2(summary[f"{name}_mean"], t)
            metrics[f"rel_l2_{name}_map"] = field_relative_l2(summary[f"{name}_map"], t)
            metrics[f"coverage_{name}"] = interval_coverage(t, summary[f"{name}_lower"], summary[f"{name}_upper"])
            metrics[f"crps_{name}"] = crps_ensemble(draws[name], t)
    found = _failed_checks(diagnostics, predictive, config, getattr(target, "failed_solves", 0))
    samples = {"a": draws["a"].astype(np.float32), "u": draws["u"].astype(np.float32),
               "chain": np.repeat(np.arange(C), S).astype(np.int32),
               "step": np.tile(config.n_burn + config.thin * (np.arange(S) + 1), C).astype(np.int32),
               "latent": x.cpu().numpy().astype(np.float32)}
    return PosteriorResult(dict(obs.coords), summary, samples, observations, diagnostics, predictive, metrics, {},
                           {}, found, dict(obs.truth), config.level, float(obs.noise_std))


def _failed_checks(diagnostics: dict[str, Any], predictive: dict[str, Any], config: InversionConfig,
                   failed: int) -> list[str]:
    """The checks of one posterior that failed, in words (R-hat, ESS, the predictive check, failed solves)."""
    found = []
    if diagnostics["rhat_max"] > config.max_rhat:
        found.append(f"R-hat {diagnostics['rhat_max']:.3f} > {config.max_rhat}: the chains disagree; run longer "
                     f"(--burn, --samples)")
    if diagnostics["ess_min"] < config.min_ess:
        found.append(f"smallest effective sample size {diagnostics['ess_min']:.0f} < {config.min_ess:.0f}: run longer "
                     f"or keep more draws")
    if not predictive.get("checked"):
        found.append(f"no posterior-predictive check through the true solver ({predictive['reason']}); give the "
                     f"problem's data file (--data) or --forcing, and --predictive > 0")
    elif not predictive["passed"]:
        found.append(f"posterior-predictive check failed: draws of a solved by the true PDE give chi2/M "
                     f"{predictive['chi2_per_obs']:.3g}, outside [{predictive['lower']:.2f}, {predictive['upper']:.2f}]"
                     f": the posterior does not explain the data through the physics")
    if failed:
        found.append(f"{failed} forward solve{'s' if failed > 1 else ''} failed (all problems together, the MAP's "
                     f"trial steps included) and their proposals were rejected, so the posterior is restricted to "
                     f"coefficients the solver can handle: {FAILED_SOLVES_ADVICE}")
    return found


def _finish(result: PosteriorResult, method: dict[str, Any], info: dict[str, Any], chains: Chains,
            config: InversionConfig, n_problems: int) -> PosteriorResult:
    result.method = method
    result.info = {**info, "seconds": info["seconds_total"] / n_problems, "problems_together": n_problems,
                   "evaluations_per_chain": chains.evaluations, "config": asdict(config)}
    for w in result.warnings:
        warnings.warn(w, InversionWarning, stacklevel=3)
    return result


def _checked(config: Any, check: Any) -> InversionConfig:
    """The config (default: ``InversionConfig()``), once it and the true solver ``check`` are of the right types."""
    if config is not None and not isinstance(config, InversionConfig):
        raise ConfigError(f"config must be an InversionConfig, got {type(config).__name__}: write "
                          "InversionConfig(n_burn=..., ...).")
    if check is not None and not isinstance(check, DarcyForward):
        raise ConfigError(f"check is the true solver of the posterior-predictive check, a DarcyForward (e.g. "
                          f"DarcyForward(forcing=1.0)), got {type(check).__name__}.")
    return config or InversionConfig()


def invert_fields(prior: GRFPrior, forward: Any, observations: Observations | Sequence[Observations],
                  config: InversionConfig | None = None, *, errors: Sequence[ModelError | None] | None = None,
                  check: DarcyForward | None = None) -> list[PosteriorResult]:
    """Posterior of the coefficient behind each observation set, in the prior's coefficients.

    Parameters
    ----------
    prior : the GRF prior of ``a``.
    forward : ``a -> u`` (:class:`~neurops.inverse.forward.DarcyForward` for the reference,
        :class:`~neurops.inverse.forward.SurrogateForward` for a trained operator).
    observations : one or several observation sets with the same number of points (inverted
        together: one batched forward evaluation for all their chains).
    config : the settings.
    errors : per problem, the surrogate's error statistics (the model-error likelihood), or None.
    check : the true solver of the posterior-predictive check (None: skipped, unless ``forward``
        is itself a :class:`~neurops.inverse.forward.DarcyForward`).

    Returns
    -------
    one :class:`PosteriorResult` per observation set.
    """
    cfg = _checked(config, check)
    if not isinstance(prior, GRFPrior):
        raise ConfigError(f"prior must be a GRFPrior (e.g. prior_from_file(DATA_FILE)), got {type(prior).__name__}.")
    if not callable(forward):
        raise ConfigError(f"forward must map a batch of coefficients to solutions (DarcyForward, SurrogateForward), "
                          f"got {type(forward).__name__}.")
    obs_list = [observations] if isinstance(observations, Observations) else observations
    if isinstance(obs_list, (str, bytes, os.PathLike)) or not isinstance(obs_list, Sequence) or not all(
            isinstance(o, Observations) for o in obs_list):
        raise ConfigError(f"observations must be Observations (read_observations(OBS_FILE)) or a list of them, got "
                          f"{type(observations).__name__}.")
    if errors is not None and (isinstance(errors, ModelError) or not isinstance(errors, Sequence)):
        raise ConfigError(f"errors takes one entry per observation set (a ModelError or None), got "
                          f"{type(errors).__name__}: pass errors=[error].")
    target = FieldPosterior(prior, forward, list(obs_list), errors)
    chains, x_map, info = run_chains(target, cfg)
    info["failed_solves"] = target.failed_solves
    stuck = torch.isinf(chains.potential).any(-1)  # [P, C]: a chain that kept a state whose solve failed
    if bool(stuck.any()):
        raise SolverError(f"{int(stuck.sum())} of {stuck.numel()} chains never reached a coefficient the forward "
                          f"solver can handle ({target.failed_solves} solves failed): {FAILED_SOLVES_ADVICE}.")
    check = check or (forward if isinstance(forward, DarcyForward) else None)
    method = {"posterior": "grf-coefficients", "sampler": info["sampler"], "prior": prior.to_dict(),
              "forward": forward.describe() if hasattr(forward, "describe") else {"forward": type(forward).__name__}}
    P = len(obs_list)
    return [_finish(_summarize(target, chains, x_map, p, cfg, check, None),
                    {**method, "model_error": e.summary() if e is not None else None}, info, chains, cfg, P)
            for p, e in zip(range(P), errors or [None] * P)]


def invert_latent(model: Any, obs: Observations, config: InversionConfig | None = None, *, forcing: float = 10.0,
                  error: ModelError | None = None, check: DarcyForward | None = None,
                  check_resolution: int | None = None) -> PosteriorResult:
    """Posterior of the coefficient behind ``obs`` in the latent space of a trained DGNO.

    Parameters
    ----------
    model : the DGNO (eval mode; its parameters are not changed).
    obs : the observations.
    config : the settings (``physics_weight`` etc. for the physics term).
    forcing : source ``f`` of the physics term (the value the model was trained with).
    error : the DGNO's error statistics at the observation points (model-error likelihood).
    check : the true solver of the posterior-predictive check (None: skipped).
    check_resolution : nodes per axis the decoded ``a`` is solved on in the check (default: the
        observations' grid), of a grid that holds the observations' nodes: ``N - 1`` a multiple of theirs minus 1.
    """
    cfg = _checked(config, check)
    if not isinstance(model, DGNO):
        raise ConfigError(f"invert_latent samples the latent space of a DGNO, got {type(model).__name__}: pass "
                          "load_surrogate(CKPT).dgno (None for another operator, whose posterior invert_fields "
                          "samples through the prior's coefficients).")
    if not isinstance(obs, Observations):
        raise ConfigError(f"obs must be Observations (read_observations(OBS_FILE)), got {type(obs).__name__}.")
    if len(obs.grid_shape) != model.dim:
        raise DataError(f"the observation grid is {len(obs.grid_shape)}-D but the model is {model.dim}-D.")
    r = obs.grid_shape[0]  # the check compares its solve at the observed nodes: they must be nodes of its grid
    if check_resolution is not None and (isinstance(check_resolution, (bool, np.bool_)) or not isinstance(
            check_resolution, numbers.Integral) or check_resolution < r or (check_resolution - 1) % (r - 1)):
        raise ConfigError(f"check_resolution must be a number of nodes per axis whose grid holds the observations' "
                          f"{r}-node grid ({r}, {2 * r - 1}, {3 * r - 2}, ...: (N - 1) a multiple of {r - 1}), "
                          f"got {check_resolution!r}.")
    target = LatentPosterior(model, obs, forcing, error, physics_weight=cfg.physics_weight,
                             n_particles=cfg.n_particles, radius=cfg.radius, n_quad_per_axis=cfg.n_quad_per_axis)
    chains, x_map, info = run_chains(target, cfg)
    result = _summarize(target, chains, x_map, 0, cfg, check, check_resolution or obs.grid_shape[0])
    method = {"posterior": "dgno-latent", "sampler": info["sampler"], "forcing": float(forcing),
              "physics_weight": cfg.physics_weight, "model_error": error.summary() if error is not None else None,
              "decoder": model.a_likelihood}
    return _finish(result, method, info, chains, cfg, 1)

