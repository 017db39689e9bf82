"""Gaussian likelihood of point observations, with the approximation-error model of a surrogate.

Observations ``y = G(a) + eps``, ``eps ~ N(0, sigma^2 I)``. When ``G`` is replaced by a surrogate
``G_s``, the approximation-error approach of Kaipio & Somersalo [1]_ writes
``y = G_s(a) + e(a) + eps`` and models the error ``e`` at the observation points as Gaussian,
independent of ``a``, with mean ``m_e`` and covariance ``S_e`` estimated on validation pairs
``(a_i, u_i)`` drawn from the prior (:func:`estimate_model_error`). The likelihood becomes

    Phi(a) = 1/2 (y - G_s(a) - m_e)^T (sigma^2 I + S_e)^(-1) (y - G_s(a) - m_e),

which keeps a posterior honest about what the surrogate gets wrong instead of trusting its
every wiggle. Without the term (``error=None``) only the observation noise counts.

References
----------
.. [1] J. Kaipio, E. Somersalo, "Statistical inverse problems: discretization, model reduction and
   inverse crimes", J. Comput. Appl. Math. 198(2), 493-504 (2007).
.. [2] J. Kaipio, E. Somersalo, "Statistical and Computational Inverse Problems", Springer 2005,
   section 7.4 (enhanced error model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from neurops.errors import DataError
from neurops.inverse.forward import observe
from neurops.inverse.observations import as_float64

__all__ = ["GaussianLikelihood", "ModelError", "estimate_model_error"]


@dataclass
class ModelError:
    """Statistics of a surrogate's error ``u_true - u_surrogate`` at the observation points.

    Attributes
    ----------
    mean : [M] mean error ``m_e``.
    cov : [M, M] error covariance ``S_e``.
    n_pairs : validation pairs it was estimated from.
    relative_rms : RMS error over RMS of the true values (a size to report).
    """

    mean: np.ndarray
    cov: np.ndarray
    n_pairs: int
    relative_rms: float

    def summary(self) -> dict[str, float]:
        """Scalars to report: pairs, relative RMS error, RMS of the mean and of the standard deviation."""
        return {"n_pairs": int(self.n_pairs), "relative_rms": float(self.relative_rms),
                "mean_rms": float(np.sqrt(np.mean(self.mean**2))),
                "std_rms": float(np.sqrt(np.mean(np.diag(self.cov))))}


@torch.no_grad()
def estimate_model_error(predict: Callable[[torch.Tensor], torch.Tensor], a: np.ndarray, u: np.ndarray,
                         points: np.ndarray, batch_size: int = 64) -> ModelError:
    """Mean and covariance of ``u - predict(a)`` at ``points`` over validation pairs (module doc).

    Parameters
    ----------
    predict : the surrogate, ``[B, *R] -> [B, *R]`` (a :class:`~neurops.inverse.forward.SurrogateForward`).
    a, u : [N, *R] validation pairs (coefficients drawn from the prior and their true solutions).
    points : [M, d] observation points.
    """
    a, u, points = as_float64(a, "a"), as_float64(u, "u"), as_float64(points, "points")
    if a.shape != u.shape or a.ndim < 2 or a.shape[0] < 2:
        raise DataError(f"model-error pairs need equal shapes [N, *R] and at least 2 samples, got a {a.shape}, "
                        f"u {u.shape}.")
    if points.ndim != 2 or points.shape[1] != a.ndim - 1:
        raise DataError(f"points must be [M, {a.ndim - 1}] (one coordinate per spatial axis of the pairs [N, *R] = "
                        f"{a.shape}), got {points.shape}; drop a channel axis of the pairs ([N, 1, *R] -> [N, *R]).")
    if not (np.isfinite(points).all() and (points >= 0).all() and (points <= 1).all()):
        raise DataError("points must lie in the unit cube [0, 1]^d of the pairs' node grid; use the observations' "
                        "points (obs.points).")
    for name, x in (("a", a), ("u", u)):
        if not np.isfinite(x).all():
            raise DataError(f"the validation {name} holds NaN or Inf ({int((~np.isfinite(x)).sum())} values); drop "
                            "those pairs.")
    pts = torch.as_tensor(points, dtype=torch.float64)
    errors, truths = [], []
    for start in range(0, a.shape[0], batch_size):
        a_b = torch.as_tensor(a[start:start + batch_size], dtype=torch.float64)
        u_b = torch.as_tensor(u[start:start + batch_size], dtype=torch.float64)
        true_obs = observe(u_b, pts)
        errors.append(true_obs - observe(predict(a_b).to(torch.float64), pts))
        truths.append(true_obs)
    e = torch.cat(errors).numpy()
    if not np.isfinite(e).all():
        raise DataError("the surrogate predicts NaN or Inf on some validation pairs, so its error statistics are "
                        "undefined; check the model (is it trained on this problem?) or drop those pairs.")
    t = torch.cat(truths).numpy()
    return ModelError(e.mean(0), np.atleast_2d(np.cov(e, rowvar=False)), int(e.shape[0]),
                      float(np.sqrt(np.mean(e**2)) / np.sqrt(np.mean(t**2))))


class GaussianLikelihood:
    """``Phi = 1/2 |L^-1 (y - pred - m_e)|^2`` for ``P`` problems, ``L L^T = sigma^2 I + S_e`` (module doc).

    Parameters
    ----------
    values : [P, M] observed values.
    noise_std : [P] observation noise ``sigma`` per problem.
    errors : per problem a :class:`ModelError` or ``None`` (noise only).
    dtype, device : where the likelihood is evaluated.
    """

    def __init__(self, values: np.ndarray, noise_std: np.ndarray, errors: list[ModelError | None] | None = None,
                 *, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu") -> None:
        values = np.atleast_2d(np.asarray(values, dtype=np.float64))
        sigma = np.asarray(noise_std, dtype=np.float64).reshape(-1)
        P, M = values.shape
        if sigma.shape != (P,) or not (sigma > 0).all():
            raise DataError(f"need one positive noise std per problem ({P}), got {noise_std}.")
        errors = list(errors) if errors is not None else [None] * P
        if len(errors) != P:
            raise DataError(f"{len(errors)} model-error records for {P} problems.")
        cov = np.repeat(np.eye(M)[None], P, axis=0) * sigma[:, None, None] ** 2
        shift = np.zeros((P, M))
        for p, err in enumerate(errors):
            if err is not None:
                if err.mean.shape != (M,) or err.cov.shape != (M, M):
                    raise DataError(f"model-error statistics of shape {err.mean.shape}/{err.cov.shape} do not fit "
                                    f"{M} observations.")
                cov[p] += err.cov
                shift[p] = err.mean
        to = lambda x: torch.as_tensor(x, dtype=dtype, device=device)  # noqa: E731
        self.values, self.shift, self.noise_std = to(values), to(shift), to(sigma)
        self.chol = torch.linalg.cholesky(to(cov))
        self.with_model_error = any(e is not None for e in errors)

    @property
    def n_obs(self) -> int:
        """Observations per problem, ``M``."""
        return int(self.values.shape[-1])

    def potential(self, pred: torch.Tensor) -> torch.Tensor:
        """``Phi`` of predictions ``[P, C, M]`` at the observation points -> ``[P, C]``."""
        r = (self.values[:, None] - pred - self.shift[:, None]).to(self.chol.dtype)
        white = torch.linalg.solve_triangular(self.chol, r.transpose(1, 2), upper=False)  # [P, M, C]
        return 0.5 * (white**2).sum(1)

    def chi2(self, pred: torch.Tensor) -> torch.Tensor:
        """``sum_i (y_i - pred_i)^2 / (sigma^2 M)`` against the observation noise alone: ``[P, C, M] -> [P, C]``."""
        r = self.values[:, None] - pred.to(self.values.dtype)
        return (r**2).mean(-1) / self.noise_std[:, None] ** 2
