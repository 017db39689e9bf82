"""Tests of the DSR figures (neurops/viz/dynamics.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
