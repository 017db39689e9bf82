"""The Darcy problem of DGNO as a physics loss of a latent-variable operator.

:class:`DarcyProblem` evaluates the weak residual of ``-div(a grad u) = f`` for a model with
the DGNO interface (``solution_and_grad``, ``flux``, ``a_mean``, ``mixed_form``, ``domain``)
at the quadrature points of a :class:`~neurops.physics.weak_form.QuadratureBatch`. The same
code serves training (``a`` read from the data grid) and inverse problems (``a`` from the
model's coefficient decoder), so both optimise the same physics.

Loss per sample, following DGNO [1]_ (``P`` particles):

* primal form: ``w_r * mean_p r_p^2`` plus, optionally, the sum of the ``top_k`` largest
  ``r_p^2`` of the batch;
* mixed form (flux head ``s``): ``mean |s - a grad u|^2 + w_r * mean_p r_p^2`` with the
  residual of ``-div s = f``; the paper uses ``w_r = sqrt(P)``.

References
----------
.. [1] Y. Zang, P.-S. Koutsourelakis, "DGenNO: a novel physics-aware neural operator for
   solving forward and inverse PDE problems based on deep, generative probabilistic
   modeling", J. Comput. Phys. 538, 114137 (2025), arXiv:2502.06250.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

import torch

from neurops.errors import ConfigError
from neurops.physics.checks import check_tensor
from neurops.physics.weak_form import QuadratureBatch, darcy_weak_residual, mixed_darcy_residual, sample_field
from neurops.solvers.pde.darcy import check_forcing

__all__ = ["DarcyProblem", "DarcyResiduals", "LatentSolutionModel"]


class LatentSolutionModel(Protocol):
    """What :class:`DarcyProblem` needs from a model (e.g. :class:`neurops.models.dgno.DGNO`)."""

    mixed_form: bool
    domain: list[tuple[float, float]]

    def solution_and_grad(self, x: torch.Tensor, beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def flux(self, x: torch.Tensor, beta: torch.Tensor) -> torch.Tensor: ...

    def a_mean(self, x: torch.Tensor, beta: torch.Tensor) -> torch.Tensor: ...


@dataclass
class DarcyResiduals:
    """Weak residuals ``residual : [B, P]`` and, for the mixed form, ``mismatch : [B, P]``
    (ball average of ``|s - a grad u|^2``)."""

    residual: torch.Tensor
    mismatch: torch.Tensor | None


@dataclass
class DarcyProblem:
    """Darcy flow ``-div(a grad u) = f`` with homogeneous Dirichlet conditions (in the model).

    Parameters
    ----------
    forcing : constant source ``f`` (DGNO: 10).
    interpolation : how a coefficient given on a grid is read at quadrature points:
        ``"nearest"`` (cell lookup, for piecewise-constant ``a``) or ``"linear"``.
    residual_weight : ``w_r``; None gives ``sqrt(P)`` for the mixed form and 1 otherwise.
    top_k : add the sum of the ``top_k`` largest squared residuals of the batch (0: off).
    """

    forcing: float = 10.0
    interpolation: Literal["nearest", "linear"] = "nearest"
    residual_weight: float | None = None
    top_k: int = 0

    def __post_init__(self) -> None:
        if self.interpolation not in ("nearest", "linear"):
            raise ConfigError(f"unknown interpolation {self.interpolation!r}; choose 'nearest' or 'linear'.")
        if self.top_k < 0:
            raise ConfigError(f"top_k must be >= 0, got {self.top_k}.")
        self.forcing = check_forcing(self.forcing, "pass the forcing of the problem's data (--model.forcing to train "
                                     "a DGNO, --forcing to invert)")
        if self.residual_weight is not None and not self.residual_weight > 0:
            raise ConfigError(f"residual_weight must be > 0 (None: the default), got {self.residual_weight}.")

    def residuals(self, model: LatentSolutionModel, beta: torch.Tensor, tf: QuadratureBatch,
                  a_grid: torch.Tensor | None = None) -> DarcyResiduals:
        """Residuals of the model's solution for latent codes ``beta : [B, m]``.

        Parameters
        ----------
        model : a DGNO-like model.
        beta : [B, m]
        tf : test functions (``P`` particles, ``Q`` points each).
        a_grid : [B, 1, *spatial] coefficient on a grid, or None to use the decoder's
            ``E[a | beta]``.
        """
        n_batch = check_tensor(beta, "DarcyProblem.residuals: beta", ("B", "m")).shape[0]
        n_part, n_quad, dim = tf.points.shape
        pts = tf.flat_points.to(beta.dtype)
        if a_grid is not None:
            a_q = sample_field(a_grid, pts, domain=model.domain, mode=self.interpolation)[..., 0]
        else:
            a_q = model.a_mean(pts, beta)[..., 0]
        a_q = a_q.reshape(n_batch, n_part, n_quad)
        _, grad_u = model.solution_and_grad(pts, beta)
        grad_u = grad_u[:, :, 0].reshape(n_batch, n_part, n_quad, dim)
        if not model.mixed_form:
            return DarcyResiduals(darcy_weak_residual(a_q, grad_u, self.forcing, tf), None)
        s = model.flux(pts, beta)[:, :, 0].reshape(n_batch, n_part, n_quad, dim)
        mismatch, residual = mixed_darcy_residual(s, a_q, grad_u, self.forcing, tf)
        return DarcyResiduals(residual, mismatch.mean(-1))

    def weight(self, n_particles: int, mixed: bool) -> float:
        """``w_r`` for ``n_particles`` particles."""
        if self.residual_weight is not None:
            return float(self.residual_weight)
        return math.sqrt(n_particles) if mixed else 1.0

    def per_sample_loss(self, res: DarcyResiduals) -> torch.Tensor:
        """Physics loss of each sample, ``[B]`` (no top-k term)."""
        loss = self.weight(res.residual.shape[1], res.mismatch is not None) * (res.residual**2).mean(-1)
        return loss if res.mismatch is None else loss + res.mismatch.mean(-1)

    def loss(self, res: DarcyResiduals) -> torch.Tensor:
        """Scalar training loss: batch mean of :meth:`per_sample_loss` plus the top-k term."""
        loss = self.per_sample_loss(res).mean()
        if self.top_k:
            sq = (res.residual**2).flatten()
            loss = loss + sq.topk(min(self.top_k, sq.numel())).values.sum()
        return loss
