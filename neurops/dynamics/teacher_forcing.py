"""Teacher forcing for training piecewise-linear RNNs on chaotic series.

* **GTF** (generalized teacher forcing): after every step the forced latent units are
  pulled towards the data, ``z~_t = (1 - alpha) z_t + alpha z_hat_t``; the loss is the
  error of the *un-forced* prediction ``z_t``. With ``alpha >= alpha* = 1 - 1/sigma``
  (``sigma`` a bound on the Jacobian norms along the data) gradient norms stay bounded
  however long the sequence; ``alpha = 0`` is plain back-propagation through time.
* **aGTF**: ``alpha`` is re-estimated during training (:class:`AdaptiveAlpha`).
* **annealed GTF**: ``alpha`` decays geometrically over the run to a weaker forcing (:func:`annealed_alpha`).
* **STF** (sparse teacher forcing): every ``tau`` steps the forced units are replaced by
  the data, cutting the gradient through them.

Models follow the interface of :class:`neurops.models.piecewise_linear.PiecewiseLinearRNN`
(``step``, ``observe``, ``infer_latent``, ``forcing_mask``, ``jacobian``). An ensemble of R
members (:func:`neurops.models.piecewise_linear.stack_members`) takes windows ``[R, B, T+1, N]``
(each member its own) and, for GTF, one ``alpha`` per member; alpha estimates are then
per member too.

References
----------
.. [1] Hess, F., Monfared, Z., Brenner, M., Durstewitz, D. (2023). Generalized teacher
   forcing for learning chaotic dynamics. ICML 2023, PMLR 202, 13017-13049.
.. [2] Mikhaeil, J. M., Monfared, Z., Durstewitz, D. (2022). On the difficulty of learning
   chaotic dynamics with RNNs. NeurIPS 2022.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from torch import nn

from neurops.dynamics.forced_rollout import forced_rollout
from neurops.errors import ConfigError, DataError

AlphaMethod = Literal["product_upper_bound", "arithmetic_mean", "batch_maximum"]
ALPHA_METHODS: tuple[str, ...] = ("product_upper_bound", "arithmetic_mean", "batch_maximum")


def _check_window(model: nn.Module, x: torch.Tensor) -> None:
    members = getattr(model, "members", 0)
    if members and (x.ndim != 4 or x.shape[0] != members or x.shape[-2] < 2):
        raise DataError(f"an ensemble of {members} members needs windows x : [R={members}, B, T+1, N] with T >= 1, "
                         f"got shape {tuple(x.shape)}.")
    if not members and (x.ndim != 3 or x.shape[1] < 2):
        raise DataError(f"teacher forcing needs windows x : [B, T+1, N] with T >= 1, got shape {tuple(x.shape)}.")
    if x.shape[-1] != model.obs_dim:
        raise DataError(f"windows have {x.shape[-1]} variables but the model observes obs_dim={model.obs_dim}.")


def _time_axis(x: torch.Tensor) -> int:
    """Length T+1 of windows ``[..., T+1, N]``."""
    return x.shape[-2]


def teacher_signals(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Data-inferred latent states ``z_hat : [..., T+1, M]`` of windows ``x : [..., T+1, N]`` for a forced rollout.

    ``z_hat_0 = model.infer_latent(x_0)`` starts the rollout and keeps its gradient (an affine
    observation's ``B^+`` learns from it); the teacher signals ``z_hat_1 .. z_hat_T`` are targets,
    constants of the gradient, as in the reference implementation (GTF-shPLRNN: the forcing signals
    are computed before the gradient pass, only the initial state inside it). Differentiating through
    them would let the loss move ``B`` to bring the targets to the predictions.
    """
    z_hat = model.infer_latent(x)
    return torch.cat([z_hat[..., :1, :], z_hat[..., 1:, :].detach()], dim=-2)


def gtf_rollout(model: nn.Module, x: torch.Tensor, alpha: float | torch.Tensor,
                inputs: torch.Tensor | None = None, *,
                fused: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized-teacher-forced rollout over data windows.

    ``z~_0 = z_hat_0``; for ``t = 1..T``: ``z_t = F(z~_{t-1})`` and on the forced units
    ``z~_t = (1 - alpha) z_t + alpha z_hat_t`` (``z_hat``: :func:`teacher_signals`, constants of the gradient
    after ``z_hat_0``).

    Parameters
    ----------
    model : a PWL RNN (:class:`~neurops.models.piecewise_linear.PiecewiseLinearRNN`) or an ensemble of them.
    x : [B, T+1, N] observed windows; ``x[:, 0]`` initialises, ``x[:, 1:]`` are targets
        (``[R, B, T+1, N]`` for an ensemble).
    alpha : forcing strength in [0, 1]; 0 is free running (plain BPTT), 1 full forcing. An
        ensemble also takes one per member (``[R]``).
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
    alpha = torch.as_tensor(alpha, dtype=x.dtype, device=x.device)
    if alpha.numel() and not (0.0 <= float(alpha.min()) and float(alpha.max()) <= 1.0):
        raise ConfigError(f"alpha must lie in [0, 1], got {alpha.tolist()}.")
    z_hat = teacher_signals(model, x)
    mask = model.forcing_mask().to(x.dtype)
    weights = (mask * alpha.unsqueeze(-1)).unsqueeze(-2)  # [1, M] or [R, 1, M]
    weights = weights.expand(*weights.shape[:-2], _time_axis(x) - 1, mask.shape[0])  # [T, M] or [R, T, M]
    zs = forced_rollout(model, z_hat, weights, inputs, fused=fused)
    return model.observe(zs), zs


def stf_rollout(model: nn.Module, x: torch.Tensor, tau: int,
                inputs: torch.Tensor | None = None, *,
                fused: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sparse-teacher-forced rollout: every ``tau`` steps the forced units are replaced by the data.

    ``z~_0 = z_hat_0``; ``z_t = F(z~_{t-1})``; ``z~_t = z_hat_t`` (:func:`teacher_signals`) on the forced units when
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
        raise ConfigError(f"the sparse-forcing interval tau must be >= 1 step, got {tau}.")
    z_hat = teacher_signals(model, x)
    forced_now = torch.arange(1, _time_axis(x), device=x.device) % int(tau) == 0  # [T]
    weights = (forced_now[:, None] & model.forcing_mask()).to(x.dtype)  # [T, M], 1 = replace by the data
    zs = forced_rollout(model, z_hat, weights, inputs, fused=fused)
    return model.observe(zs), zs


def jacobian_norms(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Spectral norms ``||J(z_hat_t)||_2 : [B, T]`` of the model Jacobian at the data-inferred states.

    Parameters
    ----------
    x : [B, T, N] observed windows (``[R, B, T, N]`` for an ensemble; norms ``[R, B, T]``).
    """
    with torch.no_grad():
        j = model.jacobian(model.infer_latent(x))
        return torch.linalg.matrix_norm(j, ord=2)


def estimate_sigma(model: nn.Module, x: torch.Tensor, method: AlphaMethod = "product_upper_bound",
                   windows_max: Callable[[torch.Tensor], torch.Tensor] | None = None) -> float | torch.Tensor:
    """Bound ``sigma`` on the growth of Jacobian products along the data.

    * ``product_upper_bound``: per window the geometric mean over t of ``||J(z_hat_t)||_2``,
      then the maximum over the batch (bounds ``||prod_t J_t||^{1/T}``).
    * ``arithmetic_mean``: per window ``||mean_t J(z_hat_t)||_2``, maximum over the batch.
    * ``batch_maximum``: the largest single norm ``max_{b,t} ||J(z_hat_t)||_2`` (most
      conservative).

    Every method is the maximum over the windows of a statistic of each window alone, so the ``sigma`` of a batch
    split into parts (the shares of DDP processes) is exactly the largest of the parts' ``sigma``.

    Parameters
    ----------
    x : [B, T, N] observed windows (``[R, B, T, N]`` for an ensemble).
    windows_max : when ``x`` is one part of a batch, the largest of a tensor over all parts (under DDP:
        :func:`max_over_processes`); ``sigma`` is then the whole batch's.

    Returns
    -------
    sigma : a float; for an ensemble one per member, ``[R]``.

    References
    ----------
    Hess et al. (2023), ICML, Sec. 3.2 and Appendix (alpha estimation).
    """
    if method not in ALPHA_METHODS:
        raise ConfigError(f"alpha estimation method {method!r} is unknown; use one of {ALPHA_METHODS}.")
    members = getattr(model, "members", 0)
    if x.ndim != 3 + bool(members):
        shape = "[R, B, T, N]" if members else "[B, T, N]"
        raise DataError(f"alpha estimation needs windows x : {shape}, got shape {tuple(x.shape)}.")
    with torch.no_grad():
        if method == "arithmetic_mean":
            j = model.jacobian(model.infer_latent(x)).mean(dim=-3)  # [*E, B, M, M]
            sigma = torch.linalg.matrix_norm(j, ord=2).amax(dim=-1)
        else:
            norms = jacobian_norms(model, x)  # [*E, B, T]
            if method == "batch_maximum":
                sigma = norms.flatten(-2).amax(dim=-1)
            else:
                sigma = norms.clamp_min(1e-12).log().mean(dim=-1).exp().amax(dim=-1)
        if windows_max is not None:
            sigma = windows_max(sigma)
    return sigma if members else float(sigma)


def max_over_processes(local: torch.Tensor, all_gather: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """The elementwise maximum of ``local`` over the DDP processes, by ``all_gather`` (a LightningModule's: it stacks
    the processes' equal-shaped tensors, ``[W, ...]``; in one process it returns ``local``). Gathering, unlike an
    all-reduce with ``MAX`` (gloo compares without NaN), keeps a NaN as the one-process maximum does."""
    return all_gather(local).reshape(-1, *local.shape).amax(dim=0)


def alpha_from_sigma(sigma: float | torch.Tensor) -> float | torch.Tensor:
    """``alpha* = max(0, 1 - 1/sigma)``: the smallest alpha that keeps ``((1-alpha) sigma)^T`` bounded.

    Works elementwise on a tensor of sigmas (one per ensemble member); an infinite sigma gives 1.
    """
    if isinstance(sigma, torch.Tensor):
        return torch.where(torch.isfinite(sigma), (1.0 - 1.0 / sigma.clamp_min(1e-300)).clamp_min(0.0), 1.0)
    if sigma <= 0 or not math.isfinite(sigma):
        return 1.0 if not math.isfinite(sigma) else 0.0
    return max(0.0, 1.0 - 1.0 / sigma)


def estimate_alpha(model: nn.Module, x: torch.Tensor, method: AlphaMethod = "product_upper_bound",
                   windows_max: Callable[[torch.Tensor], torch.Tensor] | None = None) -> float | torch.Tensor:
    """Estimated optimal forcing strength ``alpha*`` for windows ``x : [B, T, N]`` (``[R]`` for an ensemble;
    ``windows_max`` as in :func:`estimate_sigma`).

    References
    ----------
    Hess et al. (2023), ICML, Sec. 3.2.
    """
    return alpha_from_sigma(estimate_sigma(model, x, method, windows_max))


def check_alpha(training: str, alpha: float, alpha_end: float | None = None,
                method: str = "product_upper_bound") -> None:
    """Raise :class:`~neurops.errors.ConfigError` unless ``alpha`` lies in [0, 1], ``method`` is one of
    :data:`ALPHA_METHODS` and ``alpha_end`` is ``None`` or a strength in (0, 1] that ``training`` ``"gtf"``
    anneals a positive ``alpha`` to (:func:`annealed_alpha`)."""
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha must lie in [0, 1], got {alpha}.")
    if method not in ALPHA_METHODS:
        raise ConfigError(f"alpha_method {method!r} is unknown; use one of {ALPHA_METHODS}.")
    if alpha_end is None:
        return
    if training != "gtf":
        raise ConfigError(f"alpha_end anneals the fixed alpha of training 'gtf'; training {training!r} does not "
                          "use it: drop alpha_end.")
    annealed_alpha(alpha, alpha_end, 0, 1)


def divergence_advice(training: str, train_series: np.ndarray | None = None) -> str:
    """What to change when a ``training`` run's loss or gradient is no longer finite: standardize ``train_series``
    (``[..., N]``) when a variable's mean or std exceeds 5 (PWL RNNs start at unit scale), then GTF / aGTF (whose
    gradients stay bounded) for free-running or sparsely forced training, or a smaller learning rate."""
    advice = []
    if train_series is not None:
        x = np.asarray(train_series, dtype=np.float64).reshape(-1, np.shape(train_series)[-1])
        scale = float(np.max(np.maximum(np.abs(x.mean(0)), x.std(0))))
        if scale > 5.0:
            advice.append(f"the training data are not standardized (a variable's mean or std reaches {scale:.3g}): "
                          "z-score them (neurops data generate/import-series --standardize)")
    advice.append("use GTF/aGTF (training: gtf) or a smaller lr" if training not in ("gtf", "agtf")
                  else "use a smaller lr")
    return "; ".join(advice) + "."


def annealed_alpha(alpha: float, alpha_end: float, step: int, total_steps: int | float) -> float:
    """The GTF forcing strength at optimizer step ``step`` of ``total_steps`` when it decays geometrically
    from ``alpha`` (step 0) to ``alpha_end`` (the last step): ``alpha (alpha_end / alpha)^(step / (total_steps - 1))``,
    the shape of the learning rate's exponential decay (:class:`~neurops.tasks.schedules.ExponentialTo`).

    Weaker forcing late in training lengthens the reach of the loss's gradient into the past (the factor
    ``prod (1 - alpha) J`` of :func:`gtf_rollout`; on the ECG 23-25 steps at alpha 0.3, 82-92 at 0.1:
    ``benchmarks/dsr_gtf_memory.py``), while the strong forcing of the first steps keeps their gradients bounded.
    Steps past the end keep ``alpha_end``. Measured on the ECG it made the models worse (docs/dsr.md, section 6).
    """
    if not (0.0 < alpha <= 1.0 and 0.0 < alpha_end <= 1.0):
        raise ConfigError(f"an annealed alpha decays geometrically between two strengths in (0, 1]; got alpha={alpha}, "
                          f"alpha_end={alpha_end}.")
    if not (math.isfinite(total_steps) and total_steps >= 1 and step >= 0):
        raise ConfigError(f"an annealed alpha decays over the run's optimizer steps, which are not known "
                          f"({total_steps}); bound the run with --trainer.max_epochs or --trainer.max_steps.")
    fraction = 1.0 if total_steps == 1 else min(step / (total_steps - 1), 1.0)
    return alpha * (alpha_end / alpha) ** fraction


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
        self.alpha: float | torch.Tensor = alpha0
        self._batches = 0

    def update(self, estimate: float | torch.Tensor) -> float | torch.Tensor:
        """Fold in a new estimate ``alpha*`` (one per member: ``[R]``) and return the current alpha."""
        if isinstance(estimate, torch.Tensor) or isinstance(self.alpha, torch.Tensor):
            new = torch.as_tensor(estimate, dtype=torch.float64).cpu()
            old = torch.as_tensor(self.alpha, dtype=torch.float64).expand_as(new)
            self.alpha = torch.where(new > old, new, (1.0 - self.rate) * old + self.rate * new)
        elif estimate > self.alpha:
            self.alpha = float(estimate)
        else:
            self.alpha = (1.0 - self.rate) * self.alpha + self.rate * float(estimate)
        return self.alpha

    def __call__(self, model: nn.Module, x: torch.Tensor, gather: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 windows_max: Callable[[torch.Tensor], torch.Tensor] | None = None) -> float | torch.Tensor:
        """Alpha for this batch ``x : [B, T, N]`` (``[R, B, T, N]``; re-estimated every ``every`` calls).

        ``gather`` turns the estimates of ``model``'s members into those of the whole ensemble, when ``model``
        holds a DDP process's share of it (:func:`neurops.tasks.member_shards.gather_members`). ``windows_max``
        (:func:`estimate_sigma`) makes the estimate the whole batch's when ``x`` is a DDP process's share of its
        windows; every process then folds in the same estimate and keeps the same alpha.
        """
        if self._batches % self.every == 0:
            estimate = estimate_alpha(model, x, self.method, windows_max)
            self.update(estimate if gather is None else gather(torch.as_tensor(estimate)))
        self._batches += 1
        return self.alpha

    def state_dict(self) -> dict[str, float | int | list[float]]:
        alpha = self.alpha.tolist() if isinstance(self.alpha, torch.Tensor) else self.alpha
        return {"alpha": alpha, "batches": self._batches}

    def load_state_dict(self, state: dict[str, float | int | list[float]]) -> None:
        alpha = state["alpha"]
        self.alpha = torch.tensor(alpha, dtype=torch.float64) if isinstance(alpha, list) else float(alpha)
        self._batches = int(state["batches"])


__all__ = ["ALPHA_METHODS", "AdaptiveAlpha", "alpha_from_sigma", "annealed_alpha", "check_alpha", "divergence_advice",
           "estimate_alpha", "estimate_sigma", "gtf_rollout", "jacobian_norms", "max_over_processes", "stf_rollout",
           "teacher_signals"]
