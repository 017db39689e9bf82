"""Initialisers of the piecewise-linear RNNs: Talathi-Vartak and uniform.

Used by :mod:`neurops.models.plrnn` and :mod:`neurops.models.shallow_plrnn`.

Both draw from the model's own generator (:func:`seeded_generator`), so the same seed gives the same weights.

References
----------
.. [1] Talathi, S. S., Vartak, A. (2016). Improving performance of recurrent neural
   network with ReLU nonlinearity. ICLR workshop, arXiv:1511.03771.
"""

from __future__ import annotations

import torch

from neurops.utils.seeding import check_seed


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


def seeded_generator(seed: object) -> torch.Generator:
    """The generator a model draws its initial weights from, seeded with ``seed`` (``None``: 0).

    ``seed`` is checked by :func:`~neurops.utils.seeding.check_seed` with 32 bits (a
    :class:`~neurops.errors.ConfigError` otherwise; NumPy integers are taken): torch's CPU generator reads only
    a seed's lowest 32 bits, so a negative seed or one of 2**32 or more would silently be another seed's model.
    """
    value = check_seed(0 if seed is None else seed, "seed", "seed=", bits=32,
                       note=" (the initialisation's; torch's generator reads only a seed's lowest 32 bits)")
    return torch.Generator().manual_seed(value)


def _uniform(shape: tuple[int, ...], bound: float, generator: torch.Generator) -> torch.Tensor:
    """``U(-bound, bound)`` samples of ``shape``."""
    return (torch.rand(shape, generator=generator) * 2.0 - 1.0) * bound


__all__ = ["seeded_generator", "talathi_vartak_init"]
