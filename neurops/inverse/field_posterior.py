"""The posterior of a coefficient field in the coefficients of its Gaussian random field prior.

For observations ``y`` of ``u = G(a)`` at points ``x_1..x_M``, the unknown is the vector ``xi`` of
whitened Karhunen-Loeve coefficients of the prior (:class:`~neurops.inverse.prior.GRFPrior`),
``a = T(g(xi))``, and

    -log p(xi | y) = Phi(xi) + |xi|^2 / 2 + const,   Phi(xi) = likelihood(G(a(xi))(x_1..x_M)),

with ``G`` the true Darcy solve or a surrogate (:mod:`neurops.inverse.forward`) and the Gaussian
likelihood of :mod:`neurops.inverse.likelihood`. Several problems that share the prior, the
forward map and the number of observations are handled at once: states are ``[P, C, n]`` (problem,
chain, coefficient) and every evaluation is one batched forward call over all ``P C`` states.

A coefficient whose forward solve fails has no computable likelihood; it gets ``Phi = +inf``, so that
Metropolis-Hastings rejects it (and Gauss-Newton halves a step to it): the chains then sample the
posterior restricted to the coefficients the solver handles, and the failures are counted and reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from neurops.errors import DataError, SolverError
from neurops.inverse.forward import observe, subsample
from neurops.inverse.likelihood import GaussianLikelihood, ModelError
from neurops.inverse.observations import Observations
from neurops.inverse.prior import GRFPrior

__all__ = ["FieldPosterior", "report_resolution"]


def report_resolution(obs: Observations, prior: GRFPrior) -> int:
    """Nodes per axis of the grid the observations report on, checked to be a subsample of the prior's grid."""
    shape = obs.grid_shape
    if len(shape) != prior.ndim or len(set(shape)) != 1:
        raise DataError(f"the observations' grid {shape} is not a {prior.ndim}-D grid with equal axes, as the "
                        f"prior's {prior.shape}.")
    for d, c in obs.coords.items():
        if not np.allclose(c, np.linspace(0.0, 1.0, len(c)), atol=1e-9):
            raise DataError(f"coordinate {d!r} of the observations is not the node grid linspace(0, 1, {len(c)}) "
                            f"that the prior lives on.")
    r = shape[0]
    if (prior.resolution - 1) % (r - 1):
        raise DataError(f"the observations' {r}-node grid is not a subsample of the prior's {prior.resolution} "
                        f"nodes: ({r} - 1) must divide ({prior.resolution} - 1); use the prior of the data they were "
                        f"made from (--data with that file), or one on {r} nodes (--prior '{{\"resolution\": {r}}}').")
    return r


#: what a failed forward solve most likely means, and what to try (messages of the MAP and the chains)
FAILED_SOLVES_ADVICE = ("the observations are likely beyond what the prior's coefficients produce, or the prior is "
                        "too rough; check the data's units and the forcing (--forcing, --data), or try a smoother or "
                        "wider prior (--prior with a larger alpha or sigma)")


class FieldPosterior:
    """``-log p(xi | y)`` for ``P`` problems sharing a prior and a forward map (module doc).

    Parameters
    ----------
    prior : the GRF prior of ``a``.
    forward : ``a : [B, *R_prior] -> u : [B, *R_u]`` (node grids of the unit square).
    observations : ``P`` observation sets with the same number ``M`` of points and the same grid.
    errors : per problem, surrogate error statistics at its points (None: observation noise only).
    dtype, device : where the coefficients live (float64 by default).
    """

    def __init__(self, prior: GRFPrior, forward: Callable[[torch.Tensor], torch.Tensor],
                 observations: Sequence[Observations], errors: Sequence[ModelError | None] | None = None, *,
                 dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu") -> None:
        if not observations:
            raise DataError("no observations to invert.")
        sizes = {len(o.values) for o in observations}
        if len(sizes) != 1:
            raise DataError(f"problems inverted together need the same number of observations, got {sorted(sizes)}.")
        self.prior, self.forward, self.observations = prior, forward, list(observations)
        self.resolution = report_resolution(observations[0], prior)
        for o in observations[1:]:
            if report_resolution(o, prior) != self.resolution:
                raise DataError("problems inverted together need the same reporting grid.")
        self.dtype, self.device = dtype, torch.device(device)
        self.failed_solves = 0  # forward solves that failed (their proposals were rejected), see predict
        self.points = torch.as_tensor(np.stack([o.points for o in observations]), dtype=dtype, device=self.device)
        self.likelihood = GaussianLikelihood(np.stack([o.values for o in observations]),
                                             np.array([o.noise_std for o in observations]), errors,
                                             dtype=dtype, device=self.device)

    @property
    def n_problems(self) -> int:
        return len(self.observations)

    def predict(self, xi: torch.Tensor) -> torch.Tensor:
        """Predicted observations ``[P, C, M]`` for coefficients ``xi : [P, C, n]``.

        A coefficient whose forward solve fails (a :class:`~neurops.errors.SolverError`: CG out of
        iterations, or rounding making the operator of an extreme coefficient look indefinite)
        gets a row of NaN, found by splitting the batch in halves; ``failed_solves`` counts them.
        """
        P, C, n = xi.shape
        pts = self.points[:, None].expand(P, C, *self.points.shape[1:]).reshape(P * C, *self.points.shape[1:])
        return self._observe(xi.reshape(P * C, n), pts).reshape(P, C, -1)

    def _observe(self, xi: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
        a = self.prior.coefficient_field(xi)
        usable = (torch.isfinite(a) & (a > 0)).flatten(1).all(1)
        if not bool(usable.all()):  # exp(g) over- or underflowed (a far step of the MAP): no solve can take it
            self.failed_solves += int((~usable).sum())
            out = torch.full(pts.shape[:-1], float("nan"), dtype=self.dtype, device=xi.device)
            keep = usable.nonzero()[:, 0]
            return out.index_put((keep,), self._observe(xi[keep], pts[keep])) if len(keep) else out
        try:
            return observe(self.forward(a), pts)
        except SolverError:
            if xi.shape[0] == 1:
                self.failed_solves += 1
                return torch.full(pts.shape[:-1], float("nan"), dtype=self.dtype, device=xi.device)
            half = xi.shape[0] // 2
            return torch.cat([self._observe(xi[:half], pts[:half]), self._observe(xi[half:], pts[half:])])

    def potential(self, xi: torch.Tensor) -> torch.Tensor:
        """``Phi(xi)``: ``[P, C, n] -> [P, C]``; ``+inf`` where the forward solve failed (:meth:`predict`), so
        that a Metropolis step rejects such a proposal."""
        pred = self.predict(xi)
        phi = self.likelihood.potential(pred)
        return torch.where(torch.isnan(pred).any(-1), torch.full_like(phi, float("inf")), phi)

    def potential_and_grad(self, xi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``Phi`` and its gradient (through the forward map; needs a differentiable prior transform)."""
        if not self.prior.differentiable:
            raise DataError(f"a {self.prior.coefficient} coefficient is not differentiable in its GRF coefficients; "
                            f"use the gradient-free pCN sampler.")
        with torch.enable_grad():
            x = xi.detach().requires_grad_(True)
            phi = self.potential(x)
            (grad,) = torch.autograd.grad(phi.sum(), x)
        return phi.detach(), grad.detach()

    def jacobian(self, xi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predictions ``[P, M]`` and their Jacobian ``d pred / d xi : [P, M, n]`` at ``xi : [P, n]``.

        Every row is the gradient of one predicted observation, computed for all rows at once by
        one batched forward and backward pass over ``M`` copies of each state.
        """
        if not self.prior.differentiable:
            raise DataError(f"a {self.prior.coefficient} coefficient is not differentiable in its GRF coefficients.")
        P, n = xi.shape
        M = self.likelihood.n_obs
        with torch.enable_grad():
            x = xi.detach()[:, None].expand(P, M, n).clone().requires_grad_(True)
            pred = self.predict(x)                               # [P, M copies, M points]
            own = torch.diagonal(pred, dim1=1, dim2=2)           # copy i -> point i
            # every solve failed (NaN predictions, see predict): nothing to differentiate
            jac = torch.autograd.grad(own.sum(), x)[0] if own.requires_grad else torch.zeros_like(x)
        return own.detach(), jac

    @property
    def dim(self) -> int:
        """Number of coefficients ``n``."""
        return self.prior.dim

    @property
    def differentiable(self) -> bool:
        """Whether gradients exist (a lognormal prior; the forward map must be differentiable too)."""
        return self.prior.differentiable

    @torch.no_grad()
    def coefficient(self, xi: torch.Tensor, resolution: int | None = None) -> torch.Tensor:
        """``a`` on the prior's grid (or a subsample of ``resolution`` nodes): ``[K, n] -> [K, *R]``."""
        return subsample(self.prior.coefficient_field(xi), resolution or self.prior.resolution)

    @torch.no_grad()
    def fields(self, xi: torch.Tensor, batch_size: int = 256) -> dict[str, torch.Tensor]:
        """``a`` and ``u`` on the reporting grid for coefficients ``xi : [K, n]`` (``[K, *R]`` each)."""
        a_out, u_out = [], []
        for part in xi.split(batch_size):
            a = self.prior.coefficient_field(part)
            u = self.forward(a)
            if u.shape[-1] < self.resolution:
                raise DataError(f"the forward map returns u on a {u.shape[-1]}-node grid, coarser than the "
                                f"observations' {self.resolution}-node grid it is reported on; evaluate it on that "
                                f"grid or a finer one (SurrogateForward(..., resolution=None): the prior's grid).")
            a_out.append(subsample(a, self.resolution))
            u_out.append(subsample(u, self.resolution) if u.shape[-1] != self.resolution else u)
        return {"a": torch.cat(a_out), "u": torch.cat(u_out)}
