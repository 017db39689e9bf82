"""The posterior of a coefficient field in the latent space of a trained DGNO.

Given noisy point observations ``y_i = u(x_i) + eps_i``, the unknown coefficient ``a`` is
represented by the latent code ``beta`` of a trained DGNO [1]_: ``a ~ p(a | beta)`` and
``u = u(x; beta)``. The latent prior is the Gaussian ``N(mu, diag(s^2))`` fitted to the training
encodings (the model's buffers), and the posterior is written in whitened coordinates
``x = (beta - mu) / s``, ``x ~ N(0, I)``, like every posterior of :mod:`neurops.inverse`:

.. math:: -\\log p(x | y) = \\Phi(x) + |x|^2 / 2,\\quad
          \\Phi(x) = \\ell(u(\\cdot; \\beta)) + \\frac{\\lambda P}{2 \\rho^2}\\, \\ell_{pde}(\\beta),

with ``l`` the Gaussian likelihood of the observations (:mod:`neurops.inverse.likelihood`,
optionally with the surrogate's error statistics), ``l_pde`` the weak Darcy loss of the model's own
``(a, u)`` pair at ``P`` test functions (DGNO's "virtual observations" of a zero residual),
``rho^2`` the model's typical training value of that loss and ``lambda`` a weight. The test
functions are drawn once per model from a fixed seed (:data:`TEST_FUNCTION_SEED`), so the target
posterior does not depend on the sampler's seed.

The inferred field is the decoder mean ``E[a | beta]``; the decoder's own per-point noise
``Var(a | beta)`` (a Bernoulli phase field's) is reported separately, never mixed into the
posterior's coverage.

References
----------
.. [1] Y. Zang, P.-S. Koutsourelakis, "DGenNO: a novel physics-aware neural operator for
   solving forward and inverse PDE problems based on deep, generative probabilistic
   modeling", J. Comput. Phys. 538, 114137 (2025), arXiv:2502.06250.
"""

from __future__ import annotations

import numpy as np
import torch

from neurops.errors import DataError
from neurops.inverse.likelihood import GaussianLikelihood, ModelError
from neurops.inverse.observations import Observations
from neurops.models.dgno import DGNO, grid_points
from neurops.physics.pdes import DarcyProblem
from neurops.physics.weak_form import WeakFormSampler

__all__ = ["TEST_FUNCTION_SEED", "LatentPosterior"]

#: seed of the physics term's test functions: fixed per model, not per inversion
TEST_FUNCTION_SEED = 0


class LatentPosterior:
    """``-log p(x | y)`` in the whitened latent space of a DGNO (module doc), for one problem.

    Parameters
    ----------
    model : trained DGNO (its buffers give the prior and the residual scale).
    obs : the observations.
    forcing : source ``f`` of the physics term.
    error : surrogate error statistics at the observation points (None: observation noise only).
    physics_weight : ``lambda`` (0: data and prior only).
    n_particles, radius, n_quad_per_axis : the test functions of the physics term.
    """

    def __init__(self, model: DGNO, obs: Observations, forcing: float, error: ModelError | None = None, *,
                 physics_weight: float = 1.0, n_particles: int = 100, radius: float = 1e-4,
                 n_quad_per_axis: int = 5) -> None:
        if obs.points.shape[1] != model.dim:
            raise DataError(f"observations are {obs.points.shape[1]}-D but the model is {model.dim}-D.")
        device = model.latent_mean.device
        self.model, self.obs, self.physics_weight = model.eval(), obs, float(physics_weight)
        for p in model.parameters():
            p.requires_grad_(False)
        self.points = torch.as_tensor(obs.points, dtype=torch.float32, device=device)
        self.likelihood = GaussianLikelihood(obs.values[None], np.array([obs.noise_std]), [error], device=device)
        self.problem = DarcyProblem(forcing=float(forcing))
        sampler = WeakFormSampler(model.dim, n_particles, radius, n_quad_per_axis, model.domain)
        self.tf = sampler(torch.Generator().manual_seed(TEST_FUNCTION_SEED), device=device)
        self.mean = model.latent_mean.detach()
        self.scale = model.latent_std.detach().clamp_min(1e-3)
        self.pde_scale = float(model.residual_rms) ** 2
        self.spatial = obs.grid_shape
        self.differentiable = True

    @property
    def dim(self) -> int:
        """Latent dimension ``m``."""
        return int(self.mean.numel())

    @property
    def n_problems(self) -> int:
        return 1

    def beta(self, x: torch.Tensor) -> torch.Tensor:
        """Latent codes ``beta = mu + s x`` (float32, on the model's device)."""
        return (self.mean + self.scale * x.to(self.mean.dtype))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """``u(x_i; beta)`` at the observation points: ``[1, C, m] -> [1, C, M]``."""
        P, C, m = x.shape
        u = self.model.solution(self.points, self.beta(x.reshape(P * C, m)))[..., 0]
        return u.reshape(P, C, -1).to(x.dtype)

    def physics(self, x: torch.Tensor) -> torch.Tensor:
        """The physics term of ``Phi``: ``[1, C, m] -> [1, C]``."""
        if self.physics_weight == 0:
            return x.new_zeros(x.shape[:2])
        P, C, m = x.shape
        res = self.problem.residuals(self.model, self.beta(x.reshape(P * C, m)), self.tf)
        n_part = res.residual.shape[1]
        loss = self.problem.per_sample_loss(res)
        return (self.physics_weight * 0.5 * n_part * loss / self.pde_scale).reshape(P, C).to(x.dtype)

    def potential(self, x: torch.Tensor) -> torch.Tensor:
        """``Phi(x)``: ``[1, C, m] -> [1, C]``."""
        return self.likelihood.potential(self.predict(x)) + self.physics(x)

    def potential_and_grad(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``Phi`` and its gradient by autograd through the DGNO (chains are independent: one backward)."""
        with torch.enable_grad():
            z = x.detach().requires_grad_(True)
            phi = self.potential(z)
            (grad,) = torch.autograd.grad(phi.sum(), z)
        return phi.detach(), grad.detach()

    @torch.no_grad()
    def fields(self, x: torch.Tensor, batch_size: int = 64) -> dict[str, torch.Tensor]:
        """``a`` (decoder mean), its decoder variance and ``u`` on the reporting grid for ``x : [K, m]``."""
        grid = grid_points(self.spatial, self.model.domain, device=self.mean.device)
        out: dict[str, list[torch.Tensor]] = {"a": [], "a_decoder_var": [], "u": []}
        for part in x.split(batch_size):
            beta = self.beta(part)
            out["a"].append(self.model.a_mean(grid, beta)[..., 0])
            out["a_decoder_var"].append(self.model.a_variance(grid, beta)[..., 0])
            out["u"].append(self.model.solution(grid, beta)[..., 0])
        return {k: torch.cat(v).reshape(-1, *self.spatial).to(torch.float64) for k, v in out.items()}

    @torch.no_grad()
    def coefficient(self, x: torch.Tensor, resolution: int, batch_size: int = 64) -> torch.Tensor:
        """The decoder mean ``E[a | beta]`` on the node grid of ``resolution`` nodes per axis: ``[K, *R]``."""
        spatial = (int(resolution),) * self.model.dim
        grid = grid_points(spatial, self.model.domain, device=self.mean.device)
        parts = [self.model.a_mean(grid, self.beta(p))[..., 0] for p in x.split(batch_size)]
        return torch.cat(parts).reshape(-1, *spatial).to(torch.float64)
