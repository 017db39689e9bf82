"""Tests of the DSR figures (neurops/viz/dynamics.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurops.dynamics.symbolic import symbolic_graph
from neurops.viz.dynamics import plot_attractor, plot_power_spectra, plot_symbolic_graph


def test_figures_are_written(tmp_path: Path) -> None:
    t = np.linspace(0, 60, 3000)
    x3 = np.stack([np.sin(t), np.cos(t), np.sin(2 * t)], axis=1)
    for x, name in ((x3, "a3"), (x3[:, :2], "a2"), (x3[:, :1], "a1")):
        assert plot_attractor(x, 1.1 * x, tmp_path / f"{name}.png").stat().st_size > 1000
    assert plot_power_spectra(x3, x3[::-1].copy(), tmp_path / "s.png", dt=0.02).stat().st_size > 1000
    codes = np.array([[0, 0], [0, 1], [1, 1], [0, 1]] * 25, dtype=bool)
    graph = symbolic_graph(codes)
    assert graph.labels == ["01", "00", "11"] and graph.counts.sum() == len(codes) - 1
    assert plot_symbolic_graph(graph, tmp_path / "g.png").stat().st_size > 1000


def _capture(monkeypatch: pytest.MonkeyPatch) -> list:
    """Keep the figures the plot functions draw (instead of saving and closing them)."""
    from neurops.viz import dynamics

    figures: list = []
    monkeypatch.setattr(dynamics, "_save", lambda fig, path, dpi=100: figures.append(fig) or Path(path))
    return figures


def test_a_collapsed_model_is_drawn_on_the_data_axes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = _capture(monkeypatch)
    t = np.linspace(0, 60, 3000)
    data = 5 * np.stack([np.sin(t), np.cos(t), np.sin(2 * t)], axis=1)
    collapsed = 0.02 * data[:, :] + 0.3  # spans 0.2: a point next to the data's attractor
    for x, y in ((data, collapsed), (data[:, :2], collapsed[:, :2]), (data[:, :1], collapsed[:, :1])):
        plot_attractor(x, y, tmp_path / "a.png")
        data_ax, model_ax = figures[-1].axes
        assert data_ax.get_xlim() == model_ax.get_xlim() and data_ax.get_ylim() == model_ax.get_ylim()
        assert data_ax.get_ylim()[1] - data_ax.get_ylim()[0] > 10  # the model's panel spans the data's range
        assert "span 10" in data_ax.get_title() and "span 0.2" in model_ax.get_title()
    plot_attractor(None, collapsed, tmp_path / "m.png")  # the model alone
    assert len(figures[-1].axes) == 1
    plot_attractor(data, np.full_like(data, np.nan), tmp_path / "d.png")
    assert "diverged" in figures[-1].axes[1].get_title()


def test_a_single_region_is_drawn_at_the_centre(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = _capture(monkeypatch)
    plot_symbolic_graph(symbolic_graph(np.zeros((50, 3), dtype=bool)), tmp_path / "g.png")
    ax = figures[-1].axes[0]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), [[0.0, 0.0]])
    assert sum(ax.get_xlim()) == 0
