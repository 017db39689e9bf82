"""Teacher forcing for training piecewise-linear RNNs on chaotic series.

* **GTF** (generalized teacher forcing): after every step the forced latent units are
  pulled towards the data, ``z~_t = (1 - alpha) z_t + alpha z_hat_t``; the loss is the
  error of the *un-forced* prediction ``z_t``. With ``alpha >= alpha* = 1 - 1/sigma``
  (``sigma`` a bound on the Jacobian norms along the data) gradient norms stay bounded
  however long the sequence; ``alpha = 0`` is plain back-propagation through time.
* **aGTF**: ``alpha`` is re-estimated during training (:class:`AdaptiveAlpha`).
* **STF** (sparse teacher forcing): every ``tau`` steps the forced units are replaced by
  the data, cutting the gradient through them.

Models follow the interface of :class:`neurops.models.plrnn.PiecewiseLinearRNN`
(``step``, ``observe``, ``infer_latent``, ``forcing_mask``, ``jacobian``).

References
----------
.. [1] Hess, F., Monfared, Z., Brenner, M., Durstewitz, D. (2023). Generalized teacher
   forcing for learning chaotic dynamics. ICML 2023, PMLR 202, 13017-13049.
.. [2] Mikhaeil, J. M., Monfared, Z., Durstewitz, D. (2022). On the difficulty of learning
   chaotic dynamics with RNNs. NeurIPS 2022.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from neurops.dynamics.forced_rollout import forced_rollout
from neurops.errors import ConfigError

AlphaMethod = Literal["product_upper_bound", "arithmetic_mean", "batch_maximum"]
ALPHA_METHODS: tuple[str, ...] = ("product_upper_bound", "arithmetic_mean", "batch_maximum")


def _check_window(model: nn.Module, x: torch.Tensor) -> None:
    if x.ndim != 3 or x.shape[1] < 2:
        raise ValueError(f"teacher forcing needs windows x : [B, T+1, N] with T >= 1, got shape {tuple(x.shape)}.")
    if x.shape[-1] != model.obs_dim:
        raise ValueError(f"windows have {x.shape[-1]} variables but the model observes obs_dim={model.obs_dim}.")


def gtf_rollout(model: nn.Module, x: torch.Tensor, alpha: float | torch.Tensor,
                inputs: torch.Tensor | None = None, *,
                fused: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized-teacher-forced rollout over data windows.

    ``z~_0 = z_hat_0``; for ``t = 1..T``: ``z_t = F(z~_{t-1})`` and on the forced units
    ``z~_t = (1 - alpha) z_t + alpha z_hat_t`` (``z_hat = model.infer_latent(x)``).

    Parameters
    ----------
    model : a PWL RNN (:class:`~neurops.models.plrnn.PiecewiseLinearRNN`).
    x : [B, T+1, N] observed windows; ``x[:, 0]`` initialises, ``x[:, 1:]`` are targets.
    alpha : forcing strength in [0, 1]; 0 is free running (plain BPTT), 1 full forcing.
    inputs : [B, T, K] external inputs for steps ``1..T``.
    fused : back-propagate by the hand-written adjoint recursion (``True``; same gradients,
        1.5-2x faster training steps of small models on a CPU) or by autograd through the loop
        (``False``); ``None`` picks the faster (see
        :func:`~neurops.dynamics.forced_rollout.forced_rollout`).

    Returns
    -------
    x_pred : [B, T, N] observations of the un-forced predictions ``z_1..z_T`` (the loss
        compares them with ``x[:, 1:]``).
    z : [B, T, M] the un-forced latent predictions.

    References
    ----------
    Hess et al. (2023), ICML, Sec. 3 (GTF).
    """
    _check_window(model, x)
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {float(alpha)}.")
    z_hat = model.infer_latent(x)
    weights = (model.forcing_mask().to(x.dtype) * alpha).expand(x.shape[1] - 1, -1)  # [T, M]
    zs = forced_rollout(model, z_hat, weights, inputs, fused=fused)
    return model.observe(zs), zs


def stf_rollout(model: nn.Module, x: torch.Tensor, tau: int,
                inputs: torch.Tensor | None = None, *,
                fused: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sparse-teacher-forced rollout: every ``tau`` steps the forced units are replaced by the data.

    ``z~_0 = z_hat_0``; ``z_t = F(z~_{t-1})``; ``z~_t = z_hat_t`` on the forced units when
    ``t mod tau == 0``, else ``z~_t = z_t``. Replacing cuts the gradient through the forced
    units at those steps. ``tau`` near the predictability time ``ln 2 / lambda_max`` (in
    steps) works best.

    Parameters
    ----------
    model : a PWL RNN.
    x : [B, T+1, N] observed windows.
    tau : forcing interval in steps (>= 1).
    inputs : [B, T, K] external inputs.
    fused : as in :func:`gtf_rollout`.

    Returns
    -------
    x_pred : [B, T, N], z : [B, T, M] as in :func:`gtf_rollout`.

    References
    ----------
    Mikhaeil, Monfared & Durstewitz (2022), NeurIPS.
    """
    _check_window(model, x)
    if int(tau) < 1:
        raise ValueError(f"the sparse-forcing interval tau must be >= 1 step, got {tau}.")
    z_hat = model.infer_latent(x)
    forced_now = torch.arange(1, x.shape[1], device=x.device) % int(tau) == 0  # [T]
    weights = (forced_now[:, None] & model.forcing_mask()).to(x.dtype)  # [T, M], 1 = replace by the data
    zs = forced_rollout(model, z_hat, weights, inputs, fused=fused)
    return model.observe(zs), zs


def jacobian_norms(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Spectral norms ``||J(z_hat_t)||_2 : [B, T]`` of the model Jacobian at the data-inferred states.

    Parameters
    ----------
    x : [B, T, N] observed windows.
    """
    with torch.no_grad():
        j = model.jacobian(model.infer_latent(x))
        return torch.linalg.matrix_norm(j, ord=2)


def estimate_sigma(model: nn.Module, x: torch.Tensor, method: AlphaMethod = "product_upper_bound") -> float:
    """Bound ``sigma`` on the growth of Jacobian products along the data.

    * ``product_upper_bound``: per window the geometric mean over t of ``||J(z_hat_t)||_2``,
      then the maximum over the batch (bounds ``||prod_t J_t||^{1/T}``).
    * ``arithmetic_mean``: per window ``||mean_t J(z_hat_t)||_2``, maximum over the batch.
    * ``batch_maximum``: the largest single norm ``max_{b,t} ||J(z_hat_t)||_2`` (most
      conservative).

    Parameters
    ----------
    x : [B, T, N] observed windows.

    References
    ----------
    Hess et al. (2023), ICML, Sec. 3.2 and Appendix (alpha estimation).
    """
    if method not in ALPHA_METHODS:
        raise ConfigError(f"alpha estimation method {method!r} is unknown; use one of {ALPHA_METHODS}.")
    if x.ndim != 3:
        raise ValueError(f"alpha estimation needs windows x : [B, T, N], got shape {tuple(x.shape)}.")
    with torch.no_grad():
        if method == "arithmetic_mean":
            j = model.jacobian(model.infer_latent(x)).mean(dim=1)
            return float(torch.linalg.matrix_norm(j, ord=2).max())
        norms = jacobian_norms(model, x)
        if method == "batch_maximum":
            return float(norms.max())
        return float(norms.clamp_min(1e-12).log().mean(dim=1).exp().max())


def alpha_from_sigma(sigma: float) -> float:
    """``alpha* = max(0, 1 - 1/sigma)``: the smallest alpha that keeps ``((1-alpha) sigma)^T`` bounded."""
    if sigma <= 0 or not math.isfinite(sigma):
        return 1.0 if not math.isfinite(sigma) else 0.0
    return max(0.0, 1.0 - 1.0 / sigma)


def estimate_alpha(model: nn.Module, x: torch.Tensor, method: AlphaMethod = "product_upper_bound") -> float:
    """Estimated optimal forcing strength ``alpha*`` for windows ``x : [B, T, N]``.

    References
    ----------
    Hess et al. (2023), ICML, Sec. 3.2.
    """
    return alpha_from_sigma(estimate_sigma(model, x, method))


class AdaptiveAlpha:
    """Adaptive GTF (aGTF): alpha follows the estimate ``alpha*`` during training.

    Starts at ``alpha_0 = 1``; every ``every`` batches, with the new estimate ``a``:
    ``alpha <- a`` if ``a > alpha`` (jump up at once), else
    ``alpha <- (1 - rate) alpha + rate a`` (decay slowly).

    Parameters
    ----------
    method : how sigma is estimated (see :func:`estimate_sigma`).
    every : re-estimate every this many batches.
    rate : smoothing rate of decreases.
    alpha0 : initial alpha.

    References
    ----------
    Hess et al. (2023), ICML, Sec. 3.3 (aGTF).
    """

    def __init__(self, method: AlphaMethod = "product_upper_bound", every: int = 5, rate: float = 1e-3,
                 alpha0: float = 1.0) -> None:
        if method not in ALPHA_METHODS:
            raise ConfigError(f"alpha estimation method {method!r} is unknown; use one of {ALPHA_METHODS}.")
        if every < 1 or not 0.0 < rate <= 1.0 or not 0.0 <= alpha0 <= 1.0:
            raise ConfigError(f"AdaptiveAlpha needs every >= 1, 0 < rate <= 1, 0 <= alpha0 <= 1; "
                              f"got every={every}, rate={rate}, alpha0={alpha0}.")
        self.method, self.every, self.rate = method, every, rate
        self.alpha = alpha0
        self._batches = 0

    def update(self, estimate: float) -> float:
        """Fold in a new estimate ``alpha*`` and return the current alpha."""
        if estimate > self.alpha:
            self.alpha = float(estimate)
        else:
            self.alpha = (1.0 - self.rate) * self.alpha + self.rate * float(estimate)
        return self.alpha

    def __call__(self, model: nn.Module, x: torch.Tensor) -> float:
        """Alpha for this batch ``x : [B, T, N]`` (re-estimated every ``every`` calls)."""
        if self._batches % self.every == 0:
            self.update(estimate_alpha(model, x, self.method))
        self._batches += 1
        return self.alpha

    def state_dict(self) -> dict[str, float | int]:
        return {"alpha": self.alpha, "batches": self._batches}

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        self.alpha, self._batches = float(state["alpha"]), int(state["batches"])


__all__ = ["ALPHA_METHODS", "AdaptiveAlpha", "alpha_from_sigma", "estimate_alpha", "estimate_sigma", "gtf_rollout",
           "jacobian_norms", "stf_rollout"]
