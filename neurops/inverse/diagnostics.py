"""Convergence diagnostics of Markov chains: rank-normalised split R-hat and effective sample size.

Both follow Vehtari, Gelman, Simpson, Carpenter & Bürkner [1]_: every chain is split in halves
(so a trend within a chain shows as disagreement between halves), the draws of all chains are
replaced by normal scores of their ranks (robust to heavy tails and to discrete quantities such
as a two-valued coefficient), and

* **R-hat** is ``sqrt(var_plus / W)`` with ``W`` the mean within-chain variance and ``var_plus``
  the pooled variance estimate; values above 1.01-1.05 say the chains have not mixed;
* **ESS** (bulk) is ``C S / tau`` with the integrated autocorrelation time ``tau`` from the
  multi-chain autocorrelation, summed over Geyer's initial monotone positive sequence [2]_.

Both are computed for many scalar quantities at once (every grid node of a field, ...).

References
----------
.. [1] A. Vehtari, A. Gelman, D. Simpson, B. Carpenter, P.-C. Bürkner, "Rank-normalization,
   folding, and localization: an improved R-hat for assessing convergence of MCMC",
   Bayesian Analysis 16(2), 667-718 (2021).
.. [2] C. J. Geyer, "Practical Markov chain Monte Carlo", Statistical Science 7(4), 473-483 (1992).
"""

from __future__ import annotations

import numpy as np
import scipy.special
import scipy.stats

from neurops.errors import DataError

__all__ = ["effective_sample_size", "split_rhat", "summarize_chains"]


def _as_chains(draws: np.ndarray) -> np.ndarray:
    x = np.asarray(draws, dtype=np.float64)
    if x.ndim < 2 or x.shape[1] < 4:
        raise DataError(f"draws must be [chains, steps, ...] with at least 4 steps per chain, got {x.shape}.")
    return x


def _split(x: np.ndarray) -> np.ndarray:
    """[C, S, ...] -> [2C, S // 2, ...] (the middle draw of an odd chain is dropped)."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], axis=0)


def _rank_normalize(x: np.ndarray) -> np.ndarray:
    """Normal scores ``Phi^-1((r - 3/8) / (N + 1/4))`` of the ranks over all chains and draws (ties averaged)."""
    flat = x.reshape(-1, *x.shape[2:])
    ranks = scipy.stats.rankdata(flat, axis=0, method="average")
    return scipy.special.ndtri((ranks - 0.375) / (flat.shape[0] + 0.25)).reshape(x.shape)


def _rhat(x: np.ndarray) -> np.ndarray:
    n = x.shape[1]
    within = x.var(axis=1, ddof=1).mean(axis=0)
    between = n * x.mean(axis=1).var(axis=0, ddof=1)
    var_plus = (n - 1) / n * within + between / n
    tiny = 1e-12 * np.maximum(var_plus, np.finfo(float).tiny)  # rounding of a constant chain's variance
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sqrt(var_plus / within)
    return np.where(within > tiny, r, np.where(between > tiny, np.inf, 1.0))


def split_rhat(draws: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat of every quantity.

    Parameters
    ----------
    draws : [C, S, ...] ``C`` chains of ``S`` steps of any number of quantities.

    Returns
    -------
    rhat : [...] (1 for a quantity constant over every draw).
    """
    x = _split(_as_chains(draws))
    return _rhat(_rank_normalize(x))


def _autocovariance(x: np.ndarray) -> np.ndarray:
    """Autocovariance of each chain along axis 1 (biased, by FFT): [C, S, ...] -> [C, S, ...]."""
    n = x.shape[1]
    centred = x - x.mean(axis=1, keepdims=True)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(centred, n=size, axis=1)
    return np.fft.irfft(spec * np.conj(spec), n=size, axis=1)[:, :n] / n


def effective_sample_size(draws: np.ndarray) -> np.ndarray:
    """Bulk effective sample size of every quantity (rank-normalised split chains).

    Parameters
    ----------
    draws : [C, S, ...]

    Returns
    -------
    ess : [...] between about 0 and ``C S`` (more is possible for antithetic chains); ``C S``
        for a constant quantity.
    """
    x = _rank_normalize(_split(_as_chains(draws)))
    m, n = x.shape[:2]
    acov = _autocovariance(x)                       # [m, n, ...]
    within = acov[:, 0].mean(axis=0) * n / (n - 1)
    var_plus = within * (n - 1) / n + x.mean(axis=1).var(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (within - acov.mean(axis=0)) / var_plus   # [n, ...], rho[0] = 1
    rho = np.nan_to_num(rho, nan=0.0)
    pairs = rho[: n - n % 2].reshape(n // 2, 2, *rho.shape[1:]).sum(axis=1)  # Gamma_k = rho_2k + rho_2k+1
    positive = np.cumprod(pairs > 0, axis=0).astype(bool)     # initial positive sequence
    monotone = np.minimum.accumulate(np.where(positive, pairs, np.inf), axis=0)
    gamma_sum = np.where(positive, monotone, 0.0).sum(axis=0)
    tau = np.maximum(-1.0 + 2.0 * gamma_sum, 1.0 / np.log10(max(m * n, 10)))
    ess = m * n / tau
    return np.where(var_plus > 0, ess, float(m * n))


def summarize_chains(draws: np.ndarray) -> dict[str, float]:
    """Worst and median R-hat and ESS over all quantities of ``draws : [C, S, ...]``."""
    r, e = split_rhat(draws).ravel(), effective_sample_size(draws).ravel()
    return {"rhat_max": float(np.max(r)), "rhat_median": float(np.median(r)),
            "ess_min": float(np.min(e)), "ess_median": float(np.median(e))}
