"""Initialisers of the piecewise-linear RNNs: Talathi-Vartak and uniform.

Used by :mod:`neurops.models.plrnn` and :mod:`neurops.models.shallow_plrnn`.

Both draw from the model's own generator, so the same seed gives the same weights.

References
----------
.. [1] Talathi, S. S., Vartak, A. (2016). Improving performance of recurrent neural
   network with ReLU nonlinearity. ICLR workshop, arXiv:1511.03771.
"""

from __future__ import annotations

import torch


def talathi_vartak_init(m: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Diagonal and off-diagonal parts of a random positive-definite matrix with spectral radius 1.

    ``K = R^T R / M + I`` with ``R ~ N(0, 1)``, then ``K /= lambda_max(K)``.

    Returns
    -------
    a : [M] diagonal of ``K``.
    w : [M, M] ``K`` with its diagonal zeroed.

    References
    ----------
    Talathi & Vartak (2016), arXiv:1511.03771.
    """
    r = torch.randn(m, m, generator=generator, dtype=torch.float64)
    k = r.T @ r / m + torch.eye(m, dtype=torch.float64)
    k = k / torch.linalg.eigvalsh(k).max()
    a = torch.diagonal(k).clone()
    return a.float(), (k - torch.diag(a)).float()


def _uniform(shape: tuple[int, ...], bound: float, generator: torch.Generator) -> torch.Tensor:
    """``U(-bound, bound)`` samples of ``shape``."""
    return (torch.rand(shape, generator=generator) * 2.0 - 1.0) * bound


__all__ = ["talathi_vartak_init"]
