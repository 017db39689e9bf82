"""Figures for autoregressive rollouts: error per rollout step, and predicted vs true frames.

Figures are ``matplotlib.figure.Figure`` objects made without pyplot (no global state, no
backend switch); pass ``path`` to save them atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from neurops.errors import DataError
from neurops.utils.io import atomic_path

__all__ = ["plot_rollout_errors", "plot_rollout_frames"]


def _figure(nrows: int = 1, ncols: int = 1, **kwargs):
    # a pyplot-free Figure: no global figure state, nothing to close, works with any backend
    fig = Figure(figsize=kwargs.pop("figsize", None))
    return fig, fig.subplots(nrows, ncols, **kwargs)


def _save(fig: Figure, path: str | os.PathLike | None) -> None:
    if path is None:
        return
    suffix = os.path.splitext(str(path))[1] or ".png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=suffix.lstrip("."), dpi=120, bbox_inches="tight")


def plot_rollout_errors(
    errors: Mapping[str, Sequence[float]] | Sequence[float],
    path: str | os.PathLike | None = None,
    *,
    frames_per_step: int = 1,
    title: str = "Error per rollout step",
    ylabel: str = "relative L2 error",
    log_scale: bool = True,
):
    """Plot the error of each autoregressive step, one line per curve.

    Parameters
    ----------
    errors : ``{label: [K]}`` (e.g. one curve per model or test resolution) or one
        sequence ``[K]``; entry ``k`` is the error of the ``k``-th predicted step.
    path : save the figure here (atomically; format from the suffix), if given.
    frames_per_step : frames predicted per step; the x axis counts predicted frames.
    title, ylabel : labels.
    log_scale : logarithmic error axis.

    Returns
    -------
    matplotlib.figure.Figure (not registered with pyplot; no need to close it)
    """
    curves = dict(errors) if isinstance(errors, Mapping) else {"": errors}
    fig, ax = _figure(figsize=(5.0, 3.4))
    for label, curve in curves.items():
        values = np.asarray(curve, dtype=float)
        steps = frames_per_step * np.arange(1, len(values) + 1)
        ax.plot(steps, values, marker="o", label=label or None)
    ax.set_xlabel("predicted frame" if frames_per_step > 1 else "rollout step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log_scale:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    if any(curves):
        ax.legend()
    fig.tight_layout()
    _save(fig, path)
    return fig


def plot_rollout_frames(
    prediction: torch.Tensor | np.ndarray,
    target: torch.Tensor | np.ndarray,
    path: str | os.PathLike | None = None,
    *,
    n_fields: int = 1,
    field: int = 0,
    max_frames: int = 5,
):
    """Rows of true frames, predicted frames and their difference for one 2D sample.

    Parameters
    ----------
    prediction, target : [T * F, H, W], frames stacked time-major (channel ``t * F + f``).
    path : save the figure here, if given.
    n_fields : F, fields per frame.
    field : which field to show.
    max_frames : show at most this many frames, evenly spaced over the rollout.

    Returns
    -------
    matplotlib.figure.Figure (not registered with pyplot; no need to close it)
    """
    pred = torch.as_tensor(prediction).detach().cpu().float().numpy()
    true = torch.as_tensor(target).detach().cpu().float().numpy()
    if pred.shape != true.shape or pred.ndim != 3 or pred.shape[0] % n_fields:
        raise DataError(f"expected prediction and target of the same shape [T * F, H, W] with F={n_fields}, got "
                         f"{pred.shape} and {true.shape}.")
    pred, true = pred[field::n_fields], true[field::n_fields]
    frames = np.unique(np.linspace(0, len(pred) - 1, min(max_frames, len(pred))).round().astype(int))
    fig, axes = _figure(3, len(frames), figsize=(2.2 * len(frames), 6.4), squeeze=False)
    vmin, vmax = float(true.min()), float(true.max())
    err = np.abs(pred - true)
    for j, t in enumerate(frames):
        for i, (img, kw) in enumerate(
            [(true[t], dict(vmin=vmin, vmax=vmax)), (pred[t], dict(vmin=vmin, vmax=vmax)),
             (err[t], dict(vmin=0.0, vmax=float(err.max()) or 1.0, cmap="magma"))]
        ):
            ax = axes[i, j]
            ax.imshow(img.T, origin="lower", **kw)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, j].set_title(f"frame {t + 1}")
    for i, name in enumerate(["true", "predicted", "|error|"]):
        axes[i, 0].set_ylabel(name)
    fig.tight_layout()
    _save(fig, path)
    return fig
