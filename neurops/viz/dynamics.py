"""Figures of dynamical-systems reconstruction: attractors, power spectra, symbolic graphs.

Everything is saved atomically as PNG with the Agg backend.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurops.dynamics.symbolic import SymbolicGraph  # noqa: E402
from neurops.metrics.dsr import power_spectra  # noqa: E402
from neurops.utils.io import atomic_path  # noqa: E402


def _save(fig: plt.Figure, path: str | os.PathLike, dpi: int = 100) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
    return path


def plot_attractor(x_true: np.ndarray | None, x_gen: np.ndarray, path: str | os.PathLike, *,
                   dims: tuple[int, ...] = (0, 1, 2), max_points: int = 20_000, title: str = "") -> Path:
    """Data and model orbits side by side on SHARED axes, in 3D (or 2D / against time for fewer variables).

    Both panels span the union of the two series' ranges, so a model that collapses shows
    as a point next to the data's attractor (drawn as a dot, its title saying "collapsed to a
    point", when its span is below 1 % of that range) and one that explodes dwarfs it; each
    panel states its series' span per variable.

    Parameters
    ----------
    x_true : [T, N] data series, or None (the model alone).
    x_gen : [T', N] generated series.
    dims : the (up to three) variables plotted.
    """
    x_gen = np.asarray(x_gen)[:max_points]
    series = [(np.asarray(x_true)[:max_points], "data")] if x_true is not None else []
    series.append((x_gen, "model"))
    dims = tuple(d for d in dims if d < x_gen.shape[1])[:3]
    three_d = len(dims) == 3
    finite = [x[np.isfinite(x).all(axis=1)] for x, _ in series]
    both = (np.concatenate([f[:, list(dims)] for f in finite]) if sum(len(f) for f in finite)
            else np.zeros((1, len(dims))))
    lo, hi = both.min(axis=0), both.max(axis=0)
    pad = 0.05 * np.where(hi > lo, hi - lo, 1.0)
    limits = list(zip(lo - pad, hi + pad))
    fig = plt.figure(figsize=(5.0 * len(series), 4.6), constrained_layout=True)
    for i, (x, name) in enumerate(series):
        ax = fig.add_subplot(1, len(series), i + 1, projection="3d" if three_d else None)
        cols = [x[:, d] for d in dims] if len(dims) > 1 else [np.arange(len(x)), x[:, dims[0]]]
        color = "C0" if name == "data" else "C1"
        ax.plot(*cols, lw=0.3, color=color)
        span = np.ptp(x[:, list(dims)], axis=0) if np.isfinite(x).all() else None
        spans = "diverged" if span is None else "span " + " / ".join(f"{v:.3g}" for v in span)
        if span is not None and (span <= 0.01 * (hi - lo)).all():  # a line of no length draws nothing: a dot
            ax.scatter(*[c[-1:] for c in cols], s=40, color=color, zorder=5)
            spans += ", collapsed to a point"
        ax.set_title(f"{name} ({spans})", fontsize=9)
        if len(dims) > 1:
            ax.set_xlim(*limits[0])
            ax.set_ylim(*limits[1])
            if three_d:
                ax.set_zlim(*limits[2])
        else:
            ax.set_ylim(*limits[0])
        ax.set_xlabel(f"x{dims[0]}" if len(dims) > 1 else "step")  # the index, not the time (dt is not known here)
        ax.set_ylabel(f"x{dims[1]}" if len(dims) > 1 else f"x{dims[0]}")
        if three_d:
            ax.set_zlabel(f"x{dims[2]}")
    fig.suptitle((title + ": " if title else "") + "shared axes", fontsize=10)
    return _save(fig, path)


def _drawn_bins(sp_true: np.ndarray, sp_gen: np.ndarray, moving: np.ndarray, power: float = 0.95) -> int:
    """Frequency bins a spectra figure draws: the low-frequency tenth (at least 20 bins, DC's included), or up to
    the bin below which ``power`` of every data spectrum and every ``moving`` model spectrum lies, if further (a
    collapsed variable's spectrum is rounding noise, spread over all frequencies, and does not count)."""
    n_freq = sp_true.shape[-1]
    spectra = np.concatenate([sp_true, sp_gen[moving]])
    spectra = spectra[np.isfinite(spectra).all(axis=1) & (spectra.sum(axis=1) > 0)]
    reach = np.argmax(np.cumsum(spectra, axis=1) >= power * spectra.sum(axis=1, keepdims=True), axis=1) + 1
    return int(min(n_freq, max(min(n_freq, 20), int(0.1 * n_freq), *reach.tolist())))


def plot_power_spectra(x_true: np.ndarray, x_gen: np.ndarray, path: str | os.PathLike, *, dt: float = 1.0,
                       smoothing: float = 20.0, max_dims: int = 5, title: str = "") -> Path:
    """Smoothed, normalised power spectra (as used by ``D_H``) of data and model, per dimension.

    The lowest tenth of the frequencies is drawn (at least 19 of them), or more, up to where 95 % of the power of
    the data and of every model variable that did not collapse lies (:func:`_drawn_bins`): a period of a few
    steps, the data's or a model's, stays in the figure; each panel's legend
    states the two series' standard deviations, since the spectra are normalised, and calls a model
    variable whose deviation is below 1 % of the data's collapsed (its spectrum is rounding noise).
    The title is wrapped to the figure's width.

    Parameters
    ----------
    x_true, x_gen : [T, N] series of equal length.
    dt : sampling interval (frequency axis in 1 / time unit).
    smoothing : Gaussian smoothing in frequency bins (:func:`neurops.metrics.dsr.power_spectra`).
    """
    sp_true, sp_gen = power_spectra(x_true, smoothing), power_spectra(x_gen, smoothing)
    freqs = np.fft.rfftfreq(len(x_true), d=dt)
    n = min(max_dims, sp_true.shape[0])
    std_true, std_gen = np.std(x_true, axis=0), np.std(x_gen, axis=0)
    fig, axes = plt.subplots(1, n, figsize=(3.4 * n, 3.0), constrained_layout=True, squeeze=False)
    cut = _drawn_bins(sp_true[:n], sp_gen[:n], std_gen[:n] > 0.01 * std_true[:n])
    for d, ax in enumerate(axes[0]):
        # the spectra are normalised: the legend states each series' size (a collapsed orbit's is ~0)
        ax.semilogy(freqs[1:cut], sp_true[d, 1:cut], label=f"data (std {std_true[d]:.2g})")
        collapsed = ", collapsed" if std_gen[d] <= 0.01 * std_true[d] else ""
        ax.semilogy(freqs[1:cut], np.clip(sp_gen[d, 1:cut], 1e-12, None),
                    label=f"model (std {std_gen[d]:.2g}{collapsed})", ls="--")
        ax.set_title(f"x{d}")
        ax.set_xlabel("frequency (1 / time unit)" if dt != 1.0 else "frequency (1 / step)")
        ax.legend(fontsize=7)
    if title:  # about 12 characters of 9-point text an inch
        fig.suptitle(textwrap.fill(title, width=max(30, int(12 * 3.4 * n))), fontsize=9)
    return _save(fig, path)


#: bits of a region code per line of a node's label in the symbolic graph
CODE_LINE = 25
#: longest region code written at its node; longer ones (a shPLRNN of L = 250 has 500 bits) overlap their
#: neighbours' labels, so the nodes are numbered by their row of the region table instead
MAX_CODE_DRAWN = 4 * CODE_LINE


def _wrap(code: str) -> str:
    """A region code in lines of :data:`CODE_LINE` characters (a 200-bit code no longer runs off the figure)."""
    return "\n".join(code[i:i + CODE_LINE] for i in range(0, len(code), CODE_LINE)) or code


def plot_symbolic_graph(graph: SymbolicGraph, path: str | os.PathLike, *, max_nodes: int = 24,
                        title: str = "") -> Path:
    """The transition graph between linear subregions: nodes sized by visits, edges by probability.

    Nodes are placed on a circle (most visited first; a single node at the centre);
    self-loops are omitted. Region codes are written in full, in lines of
    :data:`CODE_LINE` bits, up to :data:`MAX_CODE_DRAWN` bits, unless they would overlap their neighbours'
    (many nodes with long codes: 24 regions of a 100-bit code are a solid block of digits); longer or
    overlapping codes are numbered ``#1, #2, ...`` by their row of the region table (most visited first, as
    ``analysis.json``).
    """
    k = min(max_nodes, len(graph.visits))
    numbered = k > 1 and max(len(label) for label in graph.labels[:k]) > MAX_CODE_DRAWN
    fig = _graph_figure(graph, k, numbered, title)
    if k > 1 and not numbered:
        fig.canvas.draw()
        boxes = [t.get_window_extent() for t in fig.axes[0].texts if t.get_text()]
        if any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[:i]):
            plt.close(fig)
            fig = _graph_figure(graph, k, True, title)
    return _save(fig, path)


def _graph_figure(graph: SymbolicGraph, k: int, numbered: bool, title: str) -> plt.Figure:
    """The figure of :func:`plot_symbolic_graph` for its ``k`` most visited regions, labelled by their codes or,
    ``numbered``, by their row of the region table."""
    angle = 2 * np.pi * np.arange(k) / max(k, 1)
    pos = np.stack([np.cos(angle), np.sin(angle)], axis=1) if k > 1 else np.zeros((k, 2))  # one node: the centre
    prob = graph.probabilities[:k, :k]
    sizes = 300 + 3000 * graph.visits[:k]  # marker areas in points^2
    radius = np.sqrt(sizes) / 2  # points
    labels = [f"#{i + 1}" if numbered else _wrap(label) for i, label in enumerate(graph.labels[:k])]
    # room below the bottom node for long codes (one node at the centre has room enough)
    extra = 0.13 * max((label.count("\n") for label in labels), default=0) if k > 1 else 0.0
    fig, ax = plt.subplots(figsize=(5.2, 5.2 * (3.0 + extra) / 3.0), constrained_layout=True)
    for i in range(k):
        for j in range(k):
            if i != j and prob[i, j] > 0:
                ax.annotate("", xy=pos[j], xytext=pos[i], zorder=4,
                            arrowprops={"arrowstyle": "-|>", "lw": 0.5 + 4 * prob[i, j], "alpha": 0.7,
                                        "connectionstyle": "arc3,rad=0.15", "shrinkA": radius[i] + 2,
                                        "shrinkB": radius[j] + 2, "mutation_scale": 18})
    ax.scatter(pos[:, 0], pos[:, 1], s=sizes, c=graph.visits[:k], cmap="viridis", zorder=3, edgecolors="k")
    for (px, py), label, v in zip(pos, labels, graph.visits[:k]):
        ax.text(px, py - 0.22, f"{label}\n{v:.0%}", ha="center", va="top", fontsize=8, family="monospace")
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.6 - extra, 1.4)
    ax.axis("off")
    shown = f"the {k} most visited of " if k < len(graph.visits) else ""
    default = f"symbolic graph ({shown}{len(graph.visits)} regions visited)" + (
        f"\nnode #i: row i of the region table ({len(graph.labels[0])}-bit codes)" if numbered else "")
    ax.set_title(title or default, fontsize=10)
    return fig


__all__ = ["plot_attractor", "plot_power_spectra", "plot_symbolic_graph"]
