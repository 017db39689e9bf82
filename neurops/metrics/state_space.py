"""``D_stsp``: Kullback-Leibler divergence between the state-space distributions of two series.

Histograms for few dimensions (Koppe et al. 2019), a Gaussian-mixture Monte-Carlo estimate for
many (Brenner et al. 2022); :func:`occupied_bins` says whether a histogram is resolved.

References
----------
.. [1] Koppe, G., Toutounji, H., Kirsch, P., Lis, S., Durstewitz, D. (2019). Identifying
   nonlinear dynamical systems via generative recurrent neural networks with applications
   to fMRI. PLoS Comput. Biol. 15(8): e1007263 (D_stsp by binning).
.. [2] Brenner, M. et al. (2022). Tractable dendritic RNNs for reconstructing nonlinear
   dynamical systems. ICML 2022 (GMM estimate of D_stsp).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch

from neurops.errors import ConfigError, DataError
from neurops.metrics._series import Series, _as_series

#: dimension below which ``method="auto"`` bins (above: Gaussian mixture)
BINNING_MAX_DIM = 5


def state_space_divergence(x_true: Series, x_gen: Series, *,
                           method: Literal["auto", "binning", "gmm"] = "auto", n_bins: int = 30,
                           n_centers: int = 10_000, n_samples: int = 1000, variance: float = 1.0,
                           seed: int = 0) -> float:
    """``D_stsp = KL(p_true || p_gen)`` of the state-space distributions of two series.

    * ``binning`` (``auto`` for ``N <= 5``): ``n_bins`` bins per dimension over
      ``[min - 0.1 std, max + 0.1 std]`` of the true series; ``p = (h + eps) / (sum h +
      eps * n_bins^N)`` with ``eps = 1e-5``; generated points outside the range are not
      counted. NaN if no generated point falls inside.
    * ``gmm`` (``auto`` for ``N > 5``): each series is a mixture of Gaussians with variance
      ``variance`` centred on ``n_centers`` evenly spaced points; ``KL`` is estimated from
      ``n_samples`` Monte-Carlo draws of the true mixture (non-finite terms dropped).

    The value depends strongly on the series length and bin count: compare only at equal
    ``T`` and ``n_bins``.

    Parameters
    ----------
    x_true : [T, N] true (test) series.
    x_gen : [T', N] generated series.
    seed : seed of the Monte-Carlo draws (``gmm``).

    References
    ----------
    Koppe et al. (2019), PLoS Comput. Biol.; Brenner et al. (2022), ICML.
    """
    p, q = _as_series(x_true, "x_true", finite=True), _as_series(x_gen, "x_gen")
    if p.shape[1] != q.shape[1]:
        raise DataError(f"x_true has {p.shape[1]} variables but x_gen has {q.shape[1]}.")
    if method == "auto":
        method = "binning" if p.shape[1] <= BINNING_MAX_DIM else "gmm"
    if method == "binning":
        return _binned_kl(p, q, n_bins)
    if method == "gmm":
        return _gmm_kl(p, q, n_centers, n_samples, variance, seed)
    raise ConfigError(f"D_stsp method {method!r} is unknown; use 'auto', 'binning' or 'gmm'.")


def _bin_indexer(p: np.ndarray, n_bins: int) -> Any:
    """``x [T, N] -> flat bin indices`` of the points inside the D_stsp grid of the true series ``p``."""
    if n_bins < 1:
        raise ConfigError(f"n_bins must be >= 1, got {n_bins}.")
    std = p.std(axis=0)
    lo, hi = p.min(axis=0) - 0.1 * std, p.max(axis=0) + 0.1 * std
    width = np.where(hi > lo, (hi - lo) / n_bins, 1.0)

    def flat_index(x: np.ndarray) -> np.ndarray:
        # inside or not is decided before the integer cast: NaN, inf or a huge value (a diverged orbit) has no
        # integer, and the cast's result is platform-dependent (x86 gives INT64_MIN, ARM 0 for NaN: bin 0)
        scaled = (x - lo) / width
        inside = np.all((scaled >= 0) & (scaled < n_bins), axis=1)  # False for NaN
        idx = np.floor(scaled[inside]).astype(np.int64)
        return np.ravel_multi_index(idx.T, (n_bins,) * p.shape[1])

    return flat_index


def occupied_bins(x: Series, n_bins: int = 30) -> int:
    """Number of the ``n_bins^N`` D_stsp bins that the series ``x : [T, N]`` occupies (its own grid).

    ``T / occupied_bins(x)`` points per occupied bin says whether the histogram is resolved:
    with a few points per bin D_stsp mostly measures sampling noise.
    """
    arr = _as_series(x, "x")
    return int(len(np.unique(_bin_indexer(arr, n_bins)(arr))))


def _binned_kl(p: np.ndarray, q: np.ndarray, n_bins: int, eps: float = 1e-5) -> float:
    flat_index = _bin_indexer(p, n_bins)
    n_total = float(n_bins) ** p.shape[1]
    bins_p, counts_p = np.unique(flat_index(p), return_counts=True)
    bins_q, counts_q = np.unique(flat_index(q), return_counts=True)
    if counts_q.sum() == 0:
        return float("nan")
    z_p, z_q = counts_p.sum() + eps * n_total, counts_q.sum() + eps * n_total
    occupied = np.union1d(bins_p, bins_q)
    hp = np.zeros(len(occupied))
    hq = np.zeros(len(occupied))
    hp[np.searchsorted(occupied, bins_p)] = counts_p
    hq[np.searchsorted(occupied, bins_q)] = counts_q
    pp, qq = (hp + eps) / z_p, (hq + eps) / z_q
    kl = float(np.sum(pp * np.log(pp / qq)))
    empty = n_total - len(occupied)  # bins empty in both: identical terms
    kl += empty * (eps / z_p) * math.log(z_q / z_p)
    return kl


def _mixture_logpdf(points: torch.Tensor, centers: torch.Tensor, variance: float) -> torch.Tensor:
    d = points.shape[1]
    sq = torch.cdist(points, centers).pow(2)
    return (torch.logsumexp(-sq / (2 * variance), dim=1) - math.log(centers.shape[0])
            - 0.5 * d * math.log(2 * math.pi * variance))


def _gmm_kl(p: np.ndarray, q: np.ndarray, n_centers: int, n_samples: int, variance: float, seed: int) -> float:
    def centers(x: np.ndarray) -> torch.Tensor:
        stride = max(1, len(x) // n_centers)
        return torch.from_numpy(x[::stride][:n_centers])

    cp, cq = centers(p), centers(q)
    g = torch.Generator().manual_seed(seed)  # numpy series: CPU work
    pick = torch.randint(len(cp), (n_samples,), generator=g, device="cpu")
    samples = cp[pick] + math.sqrt(variance) * torch.randn(n_samples, p.shape[1], generator=g, dtype=cp.dtype,
                                                           device="cpu")
    terms = _mixture_logpdf(samples, cp, variance) - _mixture_logpdf(samples, cq, variance)
    terms = terms[torch.isfinite(terms)]
    return float(terms.mean()) if len(terms) else float("nan")


__all__ = ["BINNING_MAX_DIM", "occupied_bins", "state_space_divergence"]
