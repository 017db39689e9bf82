"""The figure of an inversion: truth, posterior mean, spread, interval misses and the fit to the data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.figure

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurops.data.records import POSTERIOR_SUMMARY  # noqa: E402
from neurops.errors import ConfigError, DataError  # noqa: E402
from neurops.utils.io import atomic_path  # noqa: E402


def figure_format(path: str | os.PathLike) -> str:
    """The file format matplotlib writes for ``path``, named by its suffix (``fig.pdf`` -> ``"pdf"``).

    Raises
    ------
    ConfigError : a suffix matplotlib writes no figures in (``.txt``), or none.
    """
    path = Path(path)
    supported = matplotlib.figure.Figure().canvas.get_supported_filetypes()
    fmt = path.suffix[1:].lower()
    if fmt not in supported:
        what = f"no '{path.suffix}' files" if fmt else "no file without a suffix naming its format"
        raise ConfigError(f"figure {path}: matplotlib writes {what}; name it {path.stem}.png (or .pdf, .svg: "
                          f"{', '.join(sorted(supported))}).")
    return fmt


def check_figure(path: str | os.PathLike, ndim: int) -> str:
    """The format of a posterior figure at ``path`` of a ``ndim``-D problem, checked before any work
    (:func:`figure_format`; :func:`plot_posterior` draws 2-D problems only)."""
    fmt = figure_format(path)
    if ndim != 2:
        raise ConfigError(f"the posterior figure is drawn for 2-D problems and these observations are {ndim}-D; "
                          "pass --no-figure (the posterior file holds every result).")
    return fmt


def plot_posterior(result: Any, path: str | os.PathLike, title: str = "", fmt: str | None = None) -> Path:
    """Save a figure of a posterior over ``a`` and ``u`` on a 2-D grid (written atomically).

    Rows ``a`` and ``u``; columns: the truth (when known), the posterior mean (same colour scale
    as the truth), the posterior standard deviation, the width of the central interval and the
    grid nodes where the truth leaves it (when known). The observation points are drawn on every
    panel. The last column compares the observed values with the posterior-mean prediction (through
    the forward map used, and through the true solver when checked), with the ``2 sigma`` noise
    band, and lists the diagnostics.

    Parameters
    ----------
    result : a :class:`~neurops.inverse.inversion.PosteriorResult` (or one read back with
        :func:`~neurops.inverse.results.read_posterior`).
    path : output figure, in the format its suffix names (:func:`figure_format`: .png, .pdf, .svg...).
    title : text above the panels.
    fmt : the format, if not the one ``path``'s suffix names (e.g. a temporary file's).
    """
    fmt = fmt or figure_format(path)
    s, truth = result.summary, result.truth
    missing = ([f"summary {k!r}" for k in POSTERIOR_SUMMARY if k not in s]
               + [f"observations {k!r}" for k in ("points", "values", "predicted") if k not in result.observations])
    if missing:
        raise DataError(f"plot_posterior draws a result of neurops.inverse (an inversion's, or read_posterior(FILE)); "
                        f"this one has no {', '.join(missing)}.")
    pts = np.asarray(result.observations["points"])
    if pts.shape[1] != 2:
        raise DataError("plot_posterior draws 2-D posteriors; this one is not 2-D (write no figure: --no-figure).")
    coords = list(result.coords.values())
    extent = (coords[0][0], coords[0][-1], coords[1][0], coords[1][-1])
    level = int(round(100 * result.level))
    fig, axes = plt.subplots(2, 6, figsize=(22, 7), constrained_layout=True)
    for row, name in enumerate(("a", "u")):
        mean, std = s[f"{name}_mean"], s[f"{name}_std"]
        width = s[f"{name}_upper"] - s[f"{name}_lower"]
        t = truth.get(name)
        lo = min(mean.min(), t.min()) if t is not None else mean.min()
        hi = max(mean.max(), t.max()) if t is not None else mean.max()
        panels: list[tuple[np.ndarray | None, str, str, float | None, float | None]] = [
            (t, f"true {name}", "viridis", lo, hi),
            (mean, f"posterior mean of {name}", "viridis", lo, hi),
            (std, f"posterior std of {name}", "magma", 0.0, float(std.max()) or None),
            (width, f"width of the {level}% interval", "magma", 0.0, float(width.max()) or None)]
        if t is not None:
            outside = ((t < s[f"{name}_lower"]) | (t > s[f"{name}_upper"])).astype(float)
            panels.append((outside, f"truth outside the interval ({outside.mean():.1%})", "Reds", 0.0, 1.0))
        else:
            panels.append((None, "truth unknown", "Reds", 0.0, 1.0))
        for ax, (field, label, cmap, vmin, vmax) in zip(axes[row, :5], panels):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(label, fontsize=10)
            if field is None:
                ax.text(0.5, 0.5, "truth unknown", ha="center", va="center", transform=ax.transAxes)
            else:
                im = ax.imshow(np.asarray(field).T, origin="lower", extent=extent, cmap=cmap, vmin=vmin, vmax=vmax)
                fig.colorbar(im, ax=ax, shrink=0.8)
            ax.scatter(pts[:, 0], pts[:, 1], s=8, facecolors="none", edgecolors="white", linewidths=0.8)
            ax.scatter(pts[:, 0], pts[:, 1], s=2, c="black")
    _data_vs_fit(axes[0, 5], result)
    _diagnostics(axes[1, 5], result)
    fig.suptitle(title or _default_title(result))
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format=fmt)
    plt.close(fig)
    return path


def _data_vs_fit(ax: Any, result: Any) -> None:
    obs = result.observations
    y = np.asarray(obs["values"])
    sigma = result.noise_std
    lo, hi = float(y.min()), float(y.max())
    ax.fill_between([lo, hi], [lo - 2 * sigma, hi - 2 * sigma], [lo + 2 * sigma, hi + 2 * sigma], color="0.85",
                    label="observed +- 2 sigma")
    ax.plot([lo, hi], [lo, hi], color="0.4", lw=0.8)
    ax.scatter(y, obs["predicted"], s=10, label="posterior mean, forward used")
    if "predicted_true" in obs:
        ax.scatter(y, obs["predicted_true"], s=10, marker="x", label="posterior draws, true solver")
    ax.set_xlabel("observed u")
    ax.set_ylabel("predicted u")
    ax.set_title("data vs fit", fontsize=10)
    ax.legend(fontsize=8)


def _diagnostics(ax: Any, result: Any) -> None:
    d, p, m = result.diagnostics, result.predictive, result.metrics
    lines = [f"sampler {result.method.get('sampler')}, {d.get('n_chains')} chains x {d.get('n_kept')} kept",
             f"R-hat max {d.get('rhat_max', float('nan')):.3f}, median {d.get('rhat_median', float('nan')):.3f}",
             f"ESS min {d.get('ess_min', float('nan')):.0f}, median {d.get('ess_median', float('nan')):.0f}",
             f"acceptance {d.get('acceptance', float('nan')):.2f}"]
    if p.get("checked"):
        lines.append(f"true-solver chi2/M {p['chi2_per_obs']:.2f} (99% band {p['lower']:.2f}-{p['upper']:.2f})")
    for key, label in (("rel_l2_a", "rel. L2 of mean a"), ("rel_l2_u", "rel. L2 of mean u"),
                       ("coverage_a", "interval covers a"), ("coverage_u", "interval covers u")):
        if key in m:
            lines.append(f"{label}: {m[key]:.3f}")
    lines += [f"warning: {w[:60]}..." for w in result.warnings]
    ax.axis("off")
    ax.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=9, family="monospace", transform=ax.transAxes)


def _default_title(result: Any) -> str:
    forward = result.method.get("forward", {})
    what = forward.get("model", forward.get("forward", result.method.get("posterior", "")))
    return f"posterior of a from {len(result.observations['values'])} observations ({what})"
