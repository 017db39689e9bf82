"""A Gaussian reference measure for the generalised pCN proposal: the prior changed in a low-rank subspace.

References
----------
.. [1] D. Rudolf, B. Sprungk, "On a generalization of the preconditioned Crank-Nicolson
   Metropolis algorithm", Foundations of Computational Mathematics 18, 309-343 (2018).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["GaussianReference"]


@dataclass
class GaussianReference:
    """A Gaussian ``N(m, G)`` per problem with ``G = I + V diag(lam - 1) V^T`` (a low-rank change of the prior).

    The generalised pCN proposal of :func:`pcn` keeps this measure invariant; the closer it is to
    the posterior, the larger the steps that are accepted (``lam``: variances along the orthonormal
    directions ``V``; every other direction keeps the prior's variance 1).

    Attributes
    ----------
    mean : [P, n]
    basis : [P, n, r] orthonormal columns ``V``.
    variances : [P, r] ``lam``, positive.
    """

    mean: torch.Tensor
    basis: torch.Tensor
    variances: torch.Tensor

    @classmethod
    def prior(cls, n_problems: int, dim: int, *, dtype: torch.dtype = torch.float64,
              device: torch.device | str = "cpu") -> GaussianReference:
        """The prior ``N(0, I)`` itself (plain pCN)."""
        return cls(torch.zeros(n_problems, dim, dtype=dtype, device=device),
                   torch.zeros(n_problems, dim, 0, dtype=dtype, device=device),
                   torch.ones(n_problems, 0, dtype=dtype, device=device))

    @classmethod
    def from_samples(cls, samples: torch.Tensor, basis: torch.Tensor, *, min_variance: float = 1e-6,
                     max_variance: float = 1.0) -> GaussianReference:
        """The sample mean, and the sample covariance within the span of ``basis`` (the prior's elsewhere).

        Parameters
        ----------
        samples : [P, K, n] draws (e.g. burn-in states of all chains of each problem).
        basis : [P, n, r] orthonormal directions where the covariance is estimated (``r`` well below
            ``K``): e.g. the data-informed directions of a Laplace approximation, or the leading
            prior modes.
        min_variance, max_variance : bounds of the estimated variances (the prior's variance 1 by
            default as the upper bound: chains that have not yet met inflate the sample covariance).
        """
        mean = samples.mean(1)
        z = torch.einsum("pkn,pnr->pkr", samples - mean[:, None], basis)
        cov = z.transpose(1, 2) @ z / max(samples.shape[1] - 1, 1)
        lam, q = torch.linalg.eigh(cov)
        return cls(mean, basis @ q, lam.clamp(min_variance, max_variance))

    def _along(self, v: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
        """``v + V diag(factor) V^T v`` for ``v : [P, C, n]``."""
        coef = torch.einsum("pnr,pcn->pcr", self.basis, v) * factor[:, None]
        return v + torch.einsum("pnr,pcr->pcn", self.basis, coef)

    def scale(self, w: torch.Tensor) -> torch.Tensor:
        """``G^(1/2) w`` for ``w : [P, C, n]``."""
        return self._along(w, self.variances.sqrt() - 1)

    def log_ratio(self, x: torch.Tensor) -> torch.Tensor:
        """``log N(x; 0, I) - log N(x; m, G)`` up to a constant: ``[P, C, n] -> [P, C]``."""
        d = x - self.mean[:, None]
        quad = (d * self._along(d, 1 / self.variances - 1)).sum(-1)
        return -0.5 * (x * x).sum(-1) + 0.5 * quad
