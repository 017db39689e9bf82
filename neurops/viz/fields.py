"""Figures of 2D fields: input, truth, prediction and error side by side."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurops.utils.io import atomic_path  # noqa: E402


def plot_prediction(coefficient: np.ndarray, truth: np.ndarray, prediction: np.ndarray,
                    path: str | os.PathLike, title: str = "") -> Path:
    """Save a 4-panel PNG: input field, truth, prediction (same colour scale) and |error|.

    Parameters
    ----------
    coefficient, truth, prediction : [H, W] arrays.
    path : output PNG (written atomically).
    """
    err = np.abs(prediction - truth)
    vmin, vmax = float(truth.min()), float(truth.max())
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6), constrained_layout=True)
    panels = [(coefficient, "input", "viridis", None, None), (truth, "truth", "magma", vmin, vmax),
              (prediction, "prediction", "magma", vmin, vmax), (err, "|error|", "inferno", 0.0, None)]
    for ax, (field, name, cmap, lo, hi) in zip(axes, panels):
        im = ax.imshow(field.T, origin="lower", extent=(0, 1, 0, 1), cmap=cmap, vmin=lo, vmax=hi)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, shrink=0.85)
    rel = np.linalg.norm(prediction - truth) / max(np.linalg.norm(truth), 1e-12)
    fig.suptitle(f"{title}  relative L2 error {rel:.3%}".strip())
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
