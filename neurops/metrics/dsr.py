"""Metrics of dynamical-systems reconstruction and the papers' evaluation protocol.

* :func:`state_space_divergence` ``D_stsp``: Kullback-Leibler divergence between the
  distributions of true and generated states in state space (histograms for few
  dimensions, a Gaussian-mixture Monte-Carlo estimate for many; in
  :mod:`neurops.metrics.state_space`).
* :func:`hellinger_distance` ``D_H``: Hellinger distance of the smoothed power spectra,
  averaged over dimensions (long-term temporal structure; in :mod:`neurops.metrics.spectra`).
* :func:`prediction_error` ``PE(n)``: mean squared error after ``n`` free-running steps
  started from every data point (short-term predictability).
* :func:`model_lyapunov_max`, :func:`data_lyapunov_max`: the largest Lyapunov exponent of
  a trained model and of the data (when the generating system is known).
* :func:`evaluate_reconstruction`: the protocol of Hess et al. (2023): generate
  ``1.25 T`` steps from the first test point, drop the first ``0.25 T``, compare with the
  whole test series; from several initial conditions, with the orbits' verdict
  (:func:`orbit_verdict`: collapsed to a fixed point, diverged or bounded).

References
----------
.. [1] Koppe, G., Toutounji, H., Kirsch, P., Lis, S., Durstewitz, D. (2019). Identifying
   nonlinear dynamical systems via generative recurrent neural networks with applications
   to fMRI. PLoS Comput. Biol. 15(8): e1007263 (D_stsp by binning).
.. [2] Brenner, M. et al. (2022). Tractable dendritic RNNs for reconstructing nonlinear
   dynamical systems. ICML 2022 (GMM estimate of D_stsp).
.. [3] Mikhaeil, J. M., Monfared, Z., Durstewitz, D. (2022). On the difficulty of learning
   chaotic dynamics with RNNs. NeurIPS 2022 (D_H).
.. [4] Hess, F., Monfared, Z., Brenner, M., Durstewitz, D. (2023). Generalized teacher
   forcing for learning chaotic dynamics. ICML 2023 (evaluation protocol).
"""

from __future__ import annotations

import math
import time
from typing import Any, Literal

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from neurops.errors import ConfigError
from neurops.metrics._series import Series, _as_series
from neurops.metrics.lyapunov import lyapunov_spectrum_map, lyapunov_spectrum_orbit
from neurops.metrics.spectra import (
    MAX_SMOOTHING_FRACTION,
    dominant_periods,
    hellinger_distance,
    power_spectra,
    shortest_unblurred,
)
from neurops.metrics.state_space import BINNING_MAX_DIM, occupied_bins, state_space_divergence
from neurops.systems import system_from_attrs
from neurops.utils.device import available_memory
from neurops.utils.io import format_size


def _model_tensor(model: nn.Module, arr: np.ndarray | Tensor) -> torch.Tensor:
    """``arr`` (an array, or a tensor on any device) as a tensor with the dtype and device of the model's
    parameters."""
    ref = next(model.parameters())
    return torch.as_tensor(arr, dtype=ref.dtype, device=ref.device)


@torch.no_grad()
def prediction_error(model: nn.Module, x: Series, n: int = 20, *, every: int = 1,
                     batch_size: int = 20_000) -> float:
    """``PE(n)``: MSE between ``x_{t+n}`` and the model's ``n``-step free prediction from ``x_t``.

    Starts from every ``every``-th point ``t <= T - n - 1``; the error is taken at step ``n``
    only, averaged over starts and variables.

    Parameters
    ----------
    model : PWL RNN (``infer_latent``, ``step``, ``observe``).
    x : [T, N] series.
    n : prediction horizon in steps.
    """
    arr = _model_tensor(model, _as_series(x, "x", finite=True))
    if n < 1 or len(arr) <= n:
        raise ConfigError(f"PE(n) needs 1 <= n < T; got n={n} for a series of {len(arr)} points.")
    starts = torch.arange(0, len(arr) - n, every, device=arr.device)
    total, count = 0.0, 0
    for chunk in starts.split(batch_size):
        pred = model.generate(arr[chunk], n)[0][:, -1]
        total += float((pred - arr[chunk + n]).pow(2).sum())
        count += pred.numel()
    return total / count


@torch.no_grad()
def model_lyapunov_max(model: nn.Module, x0: Float[np.ndarray, "*starts var"] | Float[Tensor, "*starts var"], *,
                       dt: float = 1.0, n_steps: int = 10_000, transient: int = 1000,
                       seed: int = 0) -> float | Float[np.ndarray, " starts"]:
    """Largest Lyapunov exponent of a trained model (per time unit), started from ``x0 : [N]`` (or ``[K, N]``).

    QR iteration on the model's Jacobians along its own orbit (transient discarded),
    divided by the sampling interval ``dt``. Several starts ``[K, N]`` run as one batch and
    give ``[K]`` exponents.
    """
    x = _model_tensor(model, x0)  # a tensor on the GPU cannot pass through numpy
    z0 = model.infer_latent(x.reshape(-1, x.shape[-1]))
    lam = lyapunov_spectrum_map(model.latent_step, model.jacobian, z0, n_steps, n_exponents=1, transient=transient,
                                dt=dt, seed=seed)[:, 0]
    return float(lam[0]) if x.ndim == 1 else lam.cpu().numpy()


def data_lyapunov_max(x: Float[np.ndarray, "*batch time var"], attrs: dict[str, Any]) -> float | None:
    """Largest Lyapunov exponent of a generated series from its true vector field, or None.

    Works for files written by the chaotic-system generators (``name`` in lorenz63,
    rossler, lorenz96): the series is un-standardised with the stored statistics and the
    tangent dynamics are integrated along it (:func:`lyapunov_spectrum_orbit`).

    Parameters
    ----------
    x : [T, N] or [B, T, N] series from the file.
    attrs : the file's root attributes (``read_meta(path).attrs()``, :func:`neurops.data.reader.read_meta`).
    """
    params = attrs.get("parameters") or {}
    system = system_from_attrs(str(attrs.get("name", "")), params)
    if system is None or "dt" not in params:
        return None
    orbit = np.asarray(x, dtype=np.float64)
    if params.get("standardized"):
        stats = params["standardization"]
        orbit = orbit * np.asarray(stats["std"]) + np.asarray(stats["mean"])
    lam = lyapunov_spectrum_orbit(system.jacobian, orbit if orbit.ndim == 3 else orbit[None], float(params["dt"]),
                                  n_exponents=1)
    return float(np.mean(lam[:, 0]))


def start_indices(n_points: int, n_starts: int) -> Int[np.ndarray, " starts"]:
    """``n_starts`` initial-condition indices spread evenly over a series of ``n_points``, the first at 0."""
    if n_starts < 1:
        raise ConfigError(f"the number of initial conditions must be >= 1, got {n_starts}.")
    return np.unique(np.arange(n_starts, dtype=np.int64) * n_points // n_starts)


@torch.no_grad()
def generate_like(model: nn.Module, x_test: Series, warmup_fraction: float = 0.25, n_steps: int | None = None,
                  starts: Int[np.ndarray, " starts"] | None = None) -> Float[np.ndarray, "*members_starts steps var"]:
    """The protocol's generated series: ``(1 + w) T`` free steps from ``x_test[0]``, first ``w T`` dropped.

    Parameters
    ----------
    x_test : [T, N].
    n_steps : length kept after the warm-up (default ``T``; the warm-up stays ``w T``).
    starts : indices of several initial conditions in ``x_test`` (one batched rollout).

    Returns
    -------
    x_gen : [n_steps, N] (``[K, n_steps, N]`` for ``K`` starts); non-finite where the orbit diverged.
    An ensemble of R members (:func:`~neurops.models.piecewise_linear.stack_members`) generates all its orbits in
    one batched rollout and adds a leading member axis: ``[R, n_steps, N]`` (``[R, K, n_steps, N]``).
    """
    arr = _model_tensor(model, _as_series(x_test, "x_test", finite=True))
    t = len(arr)
    warmup = int(round(warmup_fraction * t))
    x0 = arr[:1] if starts is None else arr[torch.as_tensor(starts, device=arr.device)]
    members = getattr(model, "members", 0)
    if members:
        x0 = x0.expand(members, *x0.shape)
    x_gen = model.generate(x0, (t if n_steps is None else int(n_steps)) + warmup)[0][..., warmup:, :]
    x_gen = x_gen.cpu().numpy().astype(np.float64)
    return x_gen[..., 0, :, :] if starts is None else x_gen


def check_orbit_memory(model: nn.Module, t: int, n_starts: int = 1, warmup_fraction: float = 0.25,
                       orbit_length: int | None = None) -> None:
    """Refuse, before any step, orbits (:func:`generate_like`) that do not fit in the available memory.

    ``generate`` holds every latent state twice (the steps and their stack) and the observations,
    ``(orbit_length + warmup) x (2 M + N)`` values per start and member, and :func:`generate_like` copies the kept
    ``orbit_length x N`` as float64.
    """
    steps, warmup = t if orbit_length is None else int(orbit_length), int(round(warmup_fraction * t))
    copies = n_starts * (getattr(model, "members", 0) or 1)
    size = next(model.parameters()).element_size()
    need = copies * ((steps + warmup) * (2 * model.latent_dim + model.obs_dim) * size + steps * model.obs_dim * 8)
    free = available_memory()
    if free is not None and need > free:
        raise ConfigError(f"orbit_length={steps}: {copies} orbits of {steps + warmup} steps ({model.latent_dim} "
                          f"latent and {model.obs_dim} observed values each) need about {format_size(need)} of "
                          f"memory, but {format_size(free)} is available; use a shorter orbit_length (dsr evaluate "
                          "--orbit-length) or fewer starts (--starts).")


#: lambda_max expected to take longer than this many seconds (all models together) is announced before any work
LYAPUNOV_NOTE_SECONDS = 300.0


def lyapunov_time_note(models: list[nn.Module], x0: Float[np.ndarray, "starts var"], n_steps: int) -> str | None:
    """How long :func:`model_lyapunov_max` of every model from ``x0`` over ``n_steps`` will take, when that is over
    :data:`LYAPUNOV_NOTE_SECONDS` (else None): a 50-step probe of the same loop and starts, timed, per model."""
    probe, per_step = 50, 0.0
    for model in models:
        model_lyapunov_max(model, x0, n_steps=2, transient=0)  # the first steps pay for set-up
        began = time.perf_counter()
        model_lyapunov_max(model, x0, n_steps=probe, transient=0)
        per_step += (time.perf_counter() - began) / probe
    if per_step * n_steps <= LYAPUNOV_NOTE_SECONDS:
        return None
    fits = float(f"{LYAPUNOV_NOTE_SECONDS / per_step:.2g}")
    return (f"--lyapunov-steps {n_steps}: lambda_max of {len(models)} model(s) will take about "
            f"{_duration(per_step * n_steps)} here ({per_step * 1e3:.2g} ms per step, measured); lower it: "
            f"--lyapunov-steps {fits:.0f} takes about {_duration(LYAPUNOV_NOTE_SECONDS)}.")


def _duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``5.6 hours``, ``3.2 days``."""
    for unit, size, limit in (("s", 1, 120), ("min", 60, 7200), ("hours", 3600, 172_800)):
        if seconds < limit:
            return f"{seconds / size:.2g} {unit}"
    return f"{seconds / 86_400:.2g} days"


def orbit_divergence(x_data: Float[np.ndarray, "time var"], x_gen: Float[np.ndarray, "steps var"], *,
                     n_bins: int = 30) -> float:
    """``D_stsp`` (binned, ``n_bins`` per dimension) of a free-running orbit of any length against a series;
    ``inf`` where the orbit is not finite or has no point in the data's range."""
    if not np.isfinite(x_gen).all():
        return math.inf
    d_stsp = state_space_divergence(x_data, x_gen, n_bins=n_bins)
    return float(d_stsp) if np.isfinite(d_stsp) else math.inf


def orbit_distances(x_data: Float[np.ndarray, "time var"], x_gen: Float[np.ndarray, "steps var"], *,
                    n_bins: int = 30, smoothing: float = 20.0,
                    x_states: Float[np.ndarray, "points var"] | None = None) -> tuple[float, float]:
    """``(D_stsp, D_H)`` of a free-running orbit (at least as long as ``x_data``) against a series.

    ``D_stsp`` is :func:`orbit_divergence` of the whole orbit against ``x_states`` (default
    ``x_data``; ``DynamicsTask`` passes the training split), ``D_H`` compares its first
    ``len(x_data)`` points with ``x_data``; a non-finite orbit gives ``(inf, inf)``. What
    ``DynamicsTask`` logs as ``val/d_stsp`` and ``val/d_h``.
    """
    if not np.isfinite(x_gen).all():
        return math.inf, math.inf
    d_h = hellinger_distance(x_data, x_gen[: len(x_data)], smoothing=smoothing)
    return orbit_divergence(x_data if x_states is None else x_states, x_gen, n_bins=n_bins), float(d_h)


#: an orbit whose spread (std over its second half) is below this fraction of the data's in every
#: dimension has collapsed to a fixed point
COLLAPSE_SPREAD = 0.01
#: an orbit that strays more than this many times the data's largest deviation from its mean has diverged
DIVERGE_RANGE = 10.0
VERDICTS = ("bounded", "collapsed to a fixed point", "diverged")


def orbit_verdict(x_gen: Float[np.ndarray, "steps var"], x_data: Float[np.ndarray, "time var"]) -> dict[str, Any]:
    """Whether a free-running orbit stays on a bounded set like the data, collapses or diverges.

    * ``"diverged"``: non-finite values, or a point farther from the data's mean than
      ``DIVERGE_RANGE`` times the data's largest deviation from it (in some dimension);
    * ``"collapsed to a fixed point"``: over the orbit's second half its standard deviation
      is below ``COLLAPSE_SPREAD`` times the data's in every dimension;
    * ``"bounded"``: otherwise (the metrics then say how well it matches).

    A variable that is constant in the data (deviation 0) cannot scale its own test: its
    deviation and spread are measured against the largest among the varying variables (an
    absolute scale; 1 when no variable varies), so an orbit that merely moves in it is not
    called diverged.

    Parameters
    ----------
    x_gen : [T', N] generated orbit (after the warm-up).
    x_data : [T, N] data series.

    Returns
    -------
    ``{"verdict", "spread": [N] std of the orbit's second half, "data_spread": [N] std of the data}``.
    """
    gen, data = _as_series(x_gen, "x_gen"), _as_series(x_data, "x_data", finite=True)
    mean, data_spread = data.mean(axis=0), data.std(axis=0)
    reach = np.abs(data - mean).max(axis=0)
    varies = reach > 0
    # a constant variable gets the varying variables' largest reach and spread as its scale
    reach_scale = np.where(varies, reach, reach.max() if varies.any() else 1.0)
    spread_scale = np.where(varies, data_spread, data_spread.max() if varies.any() else 1.0)
    with np.errstate(all="ignore"):
        far = ~np.isfinite(gen).all() or np.any(np.abs(gen - mean) > DIVERGE_RANGE * reach_scale)
        spread = np.full(gen.shape[1], np.nan) if far else gen[len(gen) // 2:].std(axis=0)
    if far:
        verdict = "diverged"
    elif np.all(spread < COLLAPSE_SPREAD * spread_scale):
        verdict = "collapsed to a fixed point"
    else:
        verdict = "bounded"
    return {"verdict": verdict, "spread": spread.tolist(), "data_spread": data_spread.tolist()}


def evaluate_reconstruction(model: nn.Module, x_test: Series, *, dt: float = 1.0,
                            n_bins: int = 30, smoothing: float = 20.0, pe_steps: int = 20, pe_every: int = 1,
                            lyapunov_steps: int = 10_000, lyapunov_starts: int = 1, n_starts: int = 1,
                            warmup_fraction: float = 0.25, orbit_length: int | None = None,
                            method: Literal["auto", "binning", "gmm"] = "auto", seed: int = 0) -> dict[str, Any]:
    """The evaluation protocol of Hess et al. (2023) for one test series, from one or several initial conditions.

    From each of ``n_starts`` initial conditions spread over the test series (the first is
    ``x_test[0]``, the paper's) it generates ``orbit_length + 0.25 T`` steps, drops the
    first ``0.25 T`` and compares the orbit with the whole test series (D_stsp, D_H) and
    with the data's spread (:func:`orbit_verdict`). ``lambda_max`` is computed along the
    orbits from ``lyapunov_starts`` of those initial conditions.

    Parameters
    ----------
    model : trained PWL RNN (in eval mode).
    x_test : [T, N] test series.
    dt : sampling interval (for ``lambda_max`` per time unit).
    n_bins, method : D_stsp bins per dimension and estimator (:func:`state_space_divergence`).
    smoothing : D_H Gaussian smoothing in frequency bins (:func:`power_spectra`).
    pe_steps, pe_every : horizon and start stride of PE(n).
    lyapunov_steps, lyapunov_starts : QR steps per orbit and number of orbits for ``lambda_max``.
    n_starts : initial conditions of the generated orbits.
    warmup_fraction : the warm-up dropped from every orbit, as a fraction of T.
    orbit_length : points kept per orbit (default T; D_H then uses its first T points, and
        needs ``orbit_length >= T``).

    Returns
    -------
    ``{"d_stsp", "d_h", "lambda_max"}``: medians over the initial conditions (with one start
    the paper's value), ``"pe"``: PE(``pe_steps``), ``"per_start"``: each start's values and
    verdict, ``"summary"``: :func:`summarize` of each metric over the starts (finite values
    only; ``n`` counts them), ``"verdict"``: ``{verdict: count}`` over the starts,
    ``"spread"`` / ``"data_spread"``: per-dimension standard deviations (median over the
    starts) of the orbits and of the data, ``"periods"``: :func:`dominant_periods` (the 3 strongest
    significant ones, in steps) of the first start's orbit (``[]`` unless it is bounded). A diverged orbit (or one
    outside the data's range) gives D_stsp and D_H ``inf`` rather than an exception, and its ``lambda_max`` ``nan``.

    References
    ----------
    Hess et al. (2023), ICML, Sec. 4 and Appendix (evaluation).
    """
    x_np = _as_series(x_test, "x_test", finite=True)
    t = len(x_np)
    if orbit_length is not None and orbit_length < t:
        raise ConfigError(f"orbit_length={orbit_length} is shorter than the test series (T={t}); D_H compares "
                          "equally long series: use orbit_length >= T or cut the test series.")
    check_orbit_memory(model, t, n_starts, warmup_fraction, orbit_length)
    starts = start_indices(t, n_starts)
    x_gen = generate_like(model, x_np, warmup_fraction, orbit_length, starts=starts)  # [K, T', N]
    per_start: dict[str, list[Any]] = {"start": starts.tolist(), "d_stsp": [], "d_h": [], "verdict": []}
    spreads = []
    for orbit in x_gen:
        check = orbit_verdict(orbit, x_np)
        per_start["verdict"].append(check["verdict"])
        spreads.append(check["spread"])
        if check["verdict"] == "diverged":
            per_start["d_stsp"].append(math.inf)
            per_start["d_h"].append(math.inf)
            continue
        d_stsp = state_space_divergence(x_np, orbit, method=method, n_bins=n_bins, seed=seed)
        per_start["d_stsp"].append(d_stsp if np.isfinite(d_stsp) else math.inf)  # inf: no point in the data's range
        per_start["d_h"].append(hellinger_distance(x_np, orbit[:t], smoothing=smoothing))
    # the first orbit's spectral peaks; a fixed point's spectrum is rounding noise, a diverged orbit has none
    bounded = per_start["verdict"][0] == "bounded"
    periods = dominant_periods(x_gen[0][:t]) if bounded else []
    with np.errstate(all="ignore"):
        lam = np.atleast_1d(model_lyapunov_max(model, x_np[start_indices(t, lyapunov_starts)], dt=dt,
                                               n_steps=lyapunov_steps, seed=seed))
    per_start["lambda_max"] = [float(v) if np.isfinite(v) else math.nan for v in lam]
    metrics = ("d_stsp", "d_h", "lambda_max")
    summary = {m: summarize(per_start[m]) for m in metrics}
    verdicts = {v: per_start["verdict"].count(v) for v in VERDICTS if v in per_start["verdict"]}
    return {
        **{m: float(np.median(per_start[m])) for m in metrics},
        "pe": prediction_error(model, x_np, pe_steps, every=pe_every),
        "per_start": per_start, "summary": summary, "verdict": verdicts,
        "spread": np.nanmedian(np.asarray(spreads), axis=0).tolist() if np.isfinite(spreads).any() else
        [float("nan")] * x_np.shape[1],
        "data_spread": np.asarray(x_np.std(axis=0)).tolist(), "periods": periods,
    }


def summarize(values: list[float] | Float[np.ndarray, " runs"]) -> dict[str, float]:
    """Mean, standard error, median and median absolute deviation of per-run values (NaNs dropped)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return {"mean": float("nan"), "sem": float("nan"), "median": float("nan"), "mad": float("nan"), "n": 0}
    sem = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0
    med = float(np.median(v))
    return {"mean": float(v.mean()), "sem": sem, "median": med, "mad": float(np.median(np.abs(v - med))),
            "n": int(len(v))}


__all__ = ["BINNING_MAX_DIM", "COLLAPSE_SPREAD", "DIVERGE_RANGE", "LYAPUNOV_NOTE_SECONDS", "MAX_SMOOTHING_FRACTION",
           "VERDICTS", "shortest_unblurred",
           "check_orbit_memory", "data_lyapunov_max", "dominant_periods", "evaluate_reconstruction", "generate_like",
           "hellinger_distance", "lyapunov_time_note", "model_lyapunov_max", "occupied_bins", "orbit_distances",
           "orbit_divergence", "orbit_verdict", "power_spectra", "prediction_error", "start_indices",
           "state_space_divergence", "summarize"]
