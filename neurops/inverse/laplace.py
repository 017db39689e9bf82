"""Laplace approximation of a posterior with a standard normal prior, by Gauss-Newton.

For ``-log p(x | y) = 1/2 |r(x)|^2 + 1/2 |x|^2`` with whitened residuals
``r(x) = L^-1 (y - G(x) - m_e)`` (:class:`~neurops.inverse.likelihood.GaussianLikelihood`), the
Gauss-Newton Hessian is ``I + W^T W`` with ``W = L^-1 dG/dx`` of rank at most ``M`` (the number of
observations). With the thin SVD ``W = U S V^T`` its inverse is
``I - V diag(s^2 / (1 + s^2)) V^T``, so the Gaussian ``N(x_MAP, (I + W^T W)^-1)`` is the prior
changed along ``M`` directions: a :class:`~neurops.inverse.mcmc.GaussianReference` with variances
``1 / (1 + s^2)``. It serves as the invariant measure of generalised pCN proposals, whose
acceptance then stays high for steps close to 1 on data-dominated posteriors [1]_ (the same
low-rank, likelihood-informed structure as [2]_). The variances are inflated (by 2 by default)
so that the reference's tails are heavier than the posterior's: measured on lognormal Darcy
(33^2, 100 observations, 25 dB), chains around the plain Laplace approximation stuck in the
tails (R-hat 1.5 after 1500 steps), around the inflated one they mixed (R-hat 1.04, ESS 134-340
of 800 kept draws).

References
----------
.. [1] D. Rudolf, B. Sprungk, "On a generalization of the preconditioned Crank-Nicolson
   Metropolis algorithm", Foundations of Computational Mathematics 18, 309-343 (2018).
.. [2] T. Cui, K. J. H. Law, Y. M. Marzouk, "Dimension-independent likelihood-informed MCMC",
   J. Comput. Phys. 304, 109-137 (2016).
"""

from __future__ import annotations

from typing import Protocol

import torch

from neurops.errors import SolverError
from neurops.inverse.field_posterior import FAILED_SOLVES_ADVICE
from neurops.inverse.likelihood import GaussianLikelihood
from neurops.inverse.mcmc import GaussianReference

__all__ = ["laplace_reference"]


class Differentiable(Protocol):
    """What a posterior offers for Gauss-Newton (e.g. :class:`~neurops.inverse.field_posterior.FieldPosterior`)."""

    likelihood: GaussianLikelihood

    def predict(self, x: torch.Tensor) -> torch.Tensor: ...  # [P, C, n] -> [P, C, M]

    def jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...  # [P, n] -> [P, M], [P, M, n]


def _whitened(likelihood: GaussianLikelihood, pred: torch.Tensor, jac: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Residuals ``r : [P, M]`` and ``W : [P, M, n]`` in the likelihood's whitened coordinates."""
    chol = likelihood.chol
    r = torch.linalg.solve_triangular(chol, (likelihood.values - pred - likelihood.shift)[..., None],
                                      upper=False)[..., 0]
    w = torch.linalg.solve_triangular(chol, jac.to(chol.dtype), upper=False)
    return r, w


def _linearise(posterior: Differentiable, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``posterior.jacobian(x)``, or one :class:`SolverError` line with advice if a forward or adjoint solve fails."""
    try:
        pred, jac = posterior.jacobian(x)
    except SolverError as err:
        raise _cannot_go_on(str(err).split(";")[0]) from None
    if not bool(torch.isfinite(pred).all()):
        raise _cannot_go_on("a forward solve failed")
    return pred, jac


def _cannot_go_on(failed: str) -> SolverError:
    return SolverError(f"the Gauss-Newton MAP cannot go on: at the coefficients it reached {failed[0].lower()}"
                       f"{failed[1:]}: {FAILED_SOLVES_ADVICE}.")


def laplace_reference(posterior: Differentiable, x0: torch.Tensor, *, iterations: int = 12, tol: float = 1e-6,
                      inflation: float = 2.0) -> tuple[GaussianReference, dict[str, list[float]]]:
    """Gauss-Newton MAP and the Laplace approximation at it, for ``P`` problems at once.

    Parameters
    ----------
    posterior : predictions ``G``, their Jacobian and the Gaussian likelihood of the observations.
    x0 : [P, n] starting points (e.g. the prior mean, zeros).
    iterations : Gauss-Newton steps at most (each halves its step until the objective decreases).
    tol : stop a problem once a step lowers its objective by less than ``tol`` (relative).
    inflation : factor on the Laplace variances (at most the prior's 1). A reference with heavier
        tails than the posterior keeps the ratio of the two bounded; a lighter one lets chains stick
        in the posterior's tails. 1 gives the Laplace approximation itself.

    Returns
    -------
    reference : ``N(x_MAP, (I + W^T W)^-1)`` per problem, variances inflated.
    history : ``objective`` per iteration (summed over problems).
    """
    x = x0.detach().clone()
    likelihood = posterior.likelihood
    history: list[float] = []

    def objective(r: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (r * r).sum(-1) + 0.5 * (x * x).sum(-1)

    pred, jac = _linearise(posterior, x)
    r, w = _whitened(likelihood, pred, jac)
    value = objective(r, x)
    active = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
    for _ in range(iterations):
        history.append(float(value.sum()))
        if not bool(active.any()):
            break
        _, s, vh = torch.linalg.svd(w, full_matrices=False)         # w = U S V^T
        grad = x - torch.einsum("pmn,pm->pn", w, r)
        shrink = (s**2 / (1 + s**2))[..., None] * torch.einsum("pmn,pn->pm", vh, grad)[..., None]
        delta = -(grad - torch.einsum("pmn,pmk->pn", vh, shrink))
        if not bool(torch.isfinite(delta[active]).all()):  # residuals / noise so large that W^T W overflows
            raise _cannot_go_on("the Gauss-Newton step is not finite (predictions too far from the observations "
                                "for their noise)")
        t = torch.ones_like(value)
        for _halving in range(8):  # backtracking on the exact objective, per problem
            trial = x + t[:, None] * delta
            with torch.no_grad():
                pred_t = posterior.predict(trial[:, None])[:, 0]
            r_t = _whitened(likelihood, pred_t, jac)[0]
            value_t = objective(r_t, trial)
            better = value_t <= value  # False where the trial's solve failed (NaN): halve that step too
            if bool(better[active].all()):
                break
            t = torch.where(better, t, 0.5 * t)
        step_ok = better & active
        gain = (value - value_t) / value.abs().clamp_min(1e-30)
        x = torch.where(step_ok[:, None], trial, x)
        value = torch.where(step_ok, value_t, value)
        active = active & step_ok & (gain > tol)
        pred, jac = _linearise(posterior, x)  # the linearisation at the new points
        r, w = _whitened(likelihood, pred, jac)
    history.append(float(value.sum()))
    _, s, vh = torch.linalg.svd(w, full_matrices=False)
    variances = (inflation / (1.0 + s**2)).clamp(max=1.0)
    return GaussianReference(x, vh.transpose(1, 2).contiguous(), variances), {"objective": history}
