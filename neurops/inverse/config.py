"""Settings of an inversion (:class:`InversionConfig`): the sampler, its chains and the checks.

The fields are the options of ``neurops invert``; :func:`~neurops.inverse.inversion.invert_fields`
and :func:`~neurops.inverse.inversion.invert_latent` take them.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from neurops.errors import ConfigError
from neurops.utils.seeding import check_seed

__all__ = ["SAMPLERS", "InversionConfig", "Sampler"]

Sampler = Literal["auto", "pcn", "gpcn", "pcnl"]
SAMPLERS: tuple[str, ...] = ("auto", "pcn", "gpcn", "pcnl")
#: initial step and target acceptance per sampler
_STEP = {"pcn": (0.1, 0.25), "gpcn": (0.5, 0.25), "pcnl": (0.05, 0.574)}
#: the fields that are counts, and those that are real numbers (:meth:`InversionConfig._check_types`)
_COUNTS = ("n_chains", "n_burn", "n_samples", "thin", "anneal", "laplace_iterations", "map_steps", "n_predictive",
           "n_particles", "n_quad_per_axis")
_REALS = ("step", "target_accept", "map_lr", "level", "max_rhat", "min_ess", "physics_weight", "radius")


@dataclass
class InversionConfig:
    """Settings of an inversion.

    Parameters
    ----------
    sampler : ``"auto"`` (``gpcn`` for differentiable field posteriors, ``pcn`` for level sets,
        ``pcnl`` for DGNO), ``"pcn"``, ``"gpcn"`` or ``"pcnl"`` (:mod:`neurops.inverse.mcmc`).
    n_chains : chains per problem, started from independent prior draws.
    n_burn : burn-in steps (step size adapted, states discarded).
    n_samples : steps after burn-in (every ``thin``-th state is kept).
    thin : keep every ``thin``-th state after burn-in.
    step : initial step size (None: the sampler's default, pCN 0.1, gpCN 0.5, pCN-Langevin 0.05).
    target_accept : acceptance rate the burn-in adapts the step to (None: the sampler's default,
        pCN 0.25, gpCN 0.25, pCN-Langevin 0.574).
    temperatures : inverse temperatures ``1 > beta_1 > ... > 0`` of parallel tempering for the
        pCN samplers (None: no tempering; every extra rung costs one more evaluation per chain and
        step), see :func:`~neurops.inverse.mcmc.pcn`.
    blocks : edges that split the prior's coefficients (ordered by decreasing prior variance) into
        blocks moved in turn, each with its own adapted step (pCN within Gibbs, plain ``pcn`` only;
        None: one block), see :func:`~neurops.inverse.mcmc.pcn`.
    anneal : burn-in steps over which the chains are annealed from a flattened posterior to the
        posterior (``pcn`` / ``gpcn``; 0: none), see :func:`~neurops.inverse.mcmc.pcn`.
    laplace_iterations : Gauss-Newton steps of the MAP / Laplace approximation.
    map_steps : Adam steps of the MAP where Gauss-Newton does not apply (DGNO).
    map_lr : Adam learning rate of that MAP.
    n_predictive : posterior draws pushed through the true solver in the predictive check.
    level : level of the central posterior interval (coverage).
    max_rhat : R-hat above which the convergence check warns.
    min_ess : effective sample size below which the convergence check warns.
    physics_weight : weight ``lambda`` of the weak-form physics term of a DGNO posterior (0: data and prior only).
    n_particles : test functions (CSRBF particles) of that physics term.
    radius : radius of the test functions' compact support.
    n_quad_per_axis : quadrature points per axis of each test function's ball.
    seed : seed of chain starts and proposals.
    """

    sampler: Sampler = "auto"
    n_chains: int = 4
    n_burn: int = 1000
    n_samples: int = 2000
    thin: int = 10
    step: float | None = None
    target_accept: float | None = None
    temperatures: tuple[float, ...] | None = None
    blocks: tuple[int, ...] | None = None
    anneal: int = 0
    laplace_iterations: int = 12
    map_steps: int = 300
    map_lr: float = 0.05
    n_predictive: int = 100
    level: float = 0.95
    max_rhat: float = 1.05
    min_ess: float = 100.0
    physics_weight: float = 1.0
    n_particles: int = 100
    radius: float = 1e-4
    n_quad_per_axis: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        check_seed(self.seed)
        self._check_types()
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"sampler {self.sampler!r} is unknown; use one of {list(SAMPLERS)}.")
        if self.n_chains < 2:
            raise ConfigError(f"n_chains must be >= 2 (R-hat compares chains), got {self.n_chains}.")
        if self.n_burn < 0 or self.thin < 1 or self.n_samples < 4 * self.thin:
            raise ConfigError(f"need n_burn >= 0, thin >= 1 and n_samples >= 4 thin (4 kept states per chain); got "
                              f"n_burn={self.n_burn}, n_samples={self.n_samples}, thin={self.thin}.")
        if not 0 < self.level < 1 or self.n_predictive < 0 or self.physics_weight < 0:
            raise ConfigError(f"need 0 < level < 1, n_predictive >= 0 and physics_weight >= 0; got {self.level}, "
                              f"{self.n_predictive}, {self.physics_weight}.")
        if self.temperatures and (self.sampler == "pcnl" or not all(0 < b < 1 for b in self.temperatures)):
            raise ConfigError(f"temperatures are inverse temperatures in (0, 1) below the posterior's 1, for the pCN "
                              f"samplers; got {self.temperatures} with sampler {self.sampler!r}.")
        if not 0 <= self.anneal <= self.n_burn or (self.anneal and self.sampler == "pcnl"):
            raise ConfigError(f"anneal must be between 0 and n_burn ({self.n_burn}) steps, for the pCN samplers; got "
                              f"{self.anneal} with sampler {self.sampler!r}.")
        if self.blocks and self.sampler not in ("auto", "pcn"):
            raise ConfigError(f"blocks are for the plain pCN sampler (a fitted Gaussian couples the coefficients); "
                              f"got sampler {self.sampler!r}; use --sampler pcn.")
        if self.step is not None and not self.step > 0:
            raise ConfigError(f"step must be > 0, got {self.step}.")
        if self.target_accept is not None and not 0 < self.target_accept < 1:
            raise ConfigError(f"target_accept is an acceptance rate in (0, 1), got {self.target_accept}.")
        betas = list(self.temperatures or ())
        if any(not hi > lo for hi, lo in zip(betas, betas[1:])):
            raise ConfigError(f"temperatures must decrease, 1 > beta_1 > beta_2 > ... > 0 (a ladder away from the "
                              f"posterior), got {self.temperatures}.")
        if self.laplace_iterations < 0 or self.map_steps < 0 or not self.map_lr > 0:
            raise ConfigError(f"need laplace_iterations >= 0, map_steps >= 0 and map_lr > 0; got "
                              f"{self.laplace_iterations}, {self.map_steps}, {self.map_lr}.")
        if not self.max_rhat > 1 or not self.min_ess >= 0:
            raise ConfigError(f"the convergence thresholds need max_rhat > 1 (R-hat is >= 1; 1.05 by default) and "
                              f"min_ess >= 0; got {self.max_rhat} and {self.min_ess}.")

    def _check_types(self) -> None:
        """Counts are whole numbers, rates and thresholds real numbers (not NaN), the ladder and the block edges
        sequences of them: a fraction, a string or a lone number fails here, in words, not deep in a sampler."""
        for name in _COUNTS:
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
                raise ConfigError(f"{name} must be a whole number, got {value!r} ({type(value).__name__}).")
        for name in _REALS:
            value = getattr(self, name)
            if value is None and name in ("step", "target_accept"):
                continue
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or np.isnan(value):
                raise ConfigError(f"{name} must be a number, got {value!r} ({type(value).__name__}).")
        for name, kind, example in (("temperatures", numbers.Real, "(0.5, 0.25)"), ("blocks", numbers.Integral,
                                                                                   "(4, 16)")):
            value = getattr(self, name)
            if value is not None and (isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or any(
                    isinstance(v, (bool, np.bool_)) or not isinstance(v, kind) or np.isnan(v) for v in value)):
                what = "numbers" if kind is numbers.Real else "whole numbers"
                raise ConfigError(f"{name} must be a sequence of {what}, e.g. {name}={example}, got {value!r}.")
