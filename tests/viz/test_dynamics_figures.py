"""Tests of the DSR figures (neurops/viz/dynamics.py)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest

from neurops.dynamics.symbolic import symbolic_graph
from neurops.metrics.dsr import power_spectra
from neurops.viz.dynamics import plot_attractor, plot_power_spectra, plot_symbolic_graph


def test_figures_draw_the_series_and_are_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t = np.linspace(0, 60, 3000)
    x3 = np.stack([np.sin(t), np.cos(t), np.sin(2 * t)], axis=1)
    path = plot_attractor(x3, 1.1 * x3, tmp_path / "a3.png")  # the real file: a PNG of the figure's size
    png = matplotlib.image.imread(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.shape[:2] == (460, 1000) and png.std() > 0.05
    figures = _capture(monkeypatch)
    for x, name in ((x3, "a3"), (x3[:, :2], "a2"), (x3[:, :1], "a1")):
        plot_attractor(x, 1.1 * x, tmp_path / f"{name}.png")
        for ax, y in zip(figures[-1].axes, (x, 1.1 * x)):  # data, then model: every plotted point is the series'
            line = ax.get_lines()[0]
            drawn = [line.get_xdata(), line.get_ydata()] if x.shape[1] < 3 else [*line.get_data_3d()]
            expected = [np.arange(len(y)), y[:, 0]] if x.shape[1] == 1 else [y[:, d] for d in range(x.shape[1])]
            for got, want in zip(drawn, expected):
                np.testing.assert_allclose(got, want)
    plot_power_spectra(x3, x3[::-1].copy(), tmp_path / "s.png", dt=0.02)
    spectra = power_spectra(x3)
    freqs = np.fft.rfftfreq(len(x3), d=0.02)
    cut = int(0.1 * len(freqs))  # the low-frequency tenth is drawn
    assert len(figures[-1].axes) == 3
    for d, ax in enumerate(figures[-1].axes):  # both series have the same spectra: reversing time keeps them
        data, model = ax.get_lines()
        np.testing.assert_allclose(data.get_xdata(), freqs[1:cut])
        np.testing.assert_allclose(data.get_ydata(), spectra[d, 1:cut])
        np.testing.assert_allclose(model.get_ydata(), np.clip(data.get_ydata(), 1e-12, None), rtol=1e-6)
    codes = np.array([[0, 0], [0, 1], [1, 1], [0, 1]] * 25, dtype=bool)
    graph = symbolic_graph(codes)
    assert graph.labels == ["01", "00", "11"] and graph.counts.sum() == len(codes) - 1
    plot_symbolic_graph(graph, tmp_path / "g.png")
    ax = figures[-1].axes[0]
    np.testing.assert_allclose(np.hypot(*ax.collections[0].get_offsets().T), 1.0)  # three nodes on the circle
    labels = [t.get_text() for t in ax.texts if t.get_text()]
    assert labels == [f"{label}\n{v:.0%}" for label, v in zip(graph.labels, graph.visits)]
    arrows = [t for t in ax.texts if not t.get_text()]  # one arrow per transition between two regions
    assert len(arrows) == int((graph.probabilities[~np.eye(3, dtype=bool)] > 0).sum()) > 0


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


def test_a_model_collapsed_to_one_point_is_a_visible_dot(tmp_path: Path) -> None:
    """A constant orbit draws a line of no length: the real PNG must still show it (the model's colour, C1)."""
    t = np.linspace(0, 60, 3000)
    data = np.stack([np.sin(t), np.cos(t), np.sin(2 * t)], axis=1)
    for x in (data, data[:, :2]):
        png = matplotlib.image.imread(plot_attractor(x, np.full_like(x, 0.3), tmp_path / "a.png"))[..., :3]
        orange = np.abs(png - np.array([1.0, 0.498, 0.055])).max(axis=-1) < 0.1  # matplotlib's C1
        left, right = orange[:, : png.shape[1] // 2], orange[:, png.shape[1] // 2:]
        assert left.sum() == 0 and right.sum() > 50  # the model's panel shows a dot of ~7 pixels across


def test_long_region_codes_are_drawn_in_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 60-bit code (a shPLRNN with L = 60) is written in lines of 25 bits, not cut at the figure's edge."""
    figures = _capture(monkeypatch)
    codes = np.zeros((40, 60), dtype=bool)
    codes[::2, 59] = True  # two regions, differing in the last bit
    graph = symbolic_graph(codes)
    plot_symbolic_graph(graph, tmp_path / "g.png")
    labels = [t.get_text() for t in figures[-1].axes[0].texts if t.get_text()]
    assert ["".join(label.splitlines()[:-1]) for label in labels] == graph.labels
    assert all(len(line) <= 25 for label in labels for line in label.splitlines())
    figures[-1].canvas.draw()  # every label lies inside the figure
    width, height = figures[-1].canvas.get_width_height()
    for text in figures[-1].axes[0].texts:
        if text.get_text():
            box = text.get_window_extent()
            assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height


def test_spectra_of_a_collapsed_model_state_its_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Normalised spectra hide a collapsed orbit's size: each legend states both series' std."""
    figures = _capture(monkeypatch)
    t = np.arange(72) * 0.5
    data = np.stack([np.sin(t), 2 * np.cos(0.3 * t)], axis=1)
    model = 1e-12 * data  # an orbit decayed to the origin: its normalised spectrum is the data's
    plot_power_spectra(data, model, tmp_path / "s.png", smoothing=0.5)
    for d, ax in enumerate(figures[-1].axes):
        texts = [text.get_text() for text in ax.get_legend().get_texts()]
        assert texts == [f"data (std {data[:, d].std():.2g})",
                         f"model (std {1e-12 * data[:, d].std():.2g}, collapsed)"]
        assert "e-1" in texts[1] and "e-" not in texts[0]
        assert len(ax.get_lines()[0].get_xdata()) == 19  # 37 frequencies of 72 points: 19 drawn, not 2


@pytest.mark.parametrize("n_vars", [1, 2])
def test_a_long_spectra_title_stays_inside_the_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      n_vars: int) -> None:
    """`dsr analyze`'s title (model, checkpoint, member, length, smoothing) ran off both sides of the figure."""
    figures = _capture(monkeypatch)
    t = np.arange(1200) * 0.05
    data = np.stack([np.sin(t), np.cos(t)], axis=1)[:, :n_vars]
    title = ("clipped_shplrnn (best.ckpt, member 1 (seed 1), best state): first 1200 points of data [test] and "
             "model orbit, smoothed over 6 bins")
    plot_power_spectra(data, 0.9 * data, tmp_path / "s.png", dt=0.05, smoothing=6, title=title)
    fig = figures[-1]
    fig.canvas.draw()
    box = fig._suptitle.get_window_extent()
    assert 0 <= box.x0 and box.x1 <= fig.bbox.width
    assert " ".join(fig._suptitle.get_text().split()) == title
    assert fig.axes[0].get_xlabel() == "frequency (1 / time unit)"


def test_codes_too_long_to_draw_are_numbered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """500-bit codes (the dsr_ecg config's L = 250) were drawn as 20-line labels over each other: unreadable."""
    figures = _capture(monkeypatch)
    rng = np.random.default_rng(0)
    patterns = rng.random((30, 500)) < 0.5
    codes = patterns[rng.integers(0, 30, size=400)]
    graph = symbolic_graph(codes)
    plot_symbolic_graph(graph, tmp_path / "g.png")
    ax = figures[-1].axes[0]
    labels = [t.get_text() for t in ax.texts if t.get_text()]
    assert [label.splitlines()[0] for label in labels] == [f"#{i + 1}" for i in range(24)]
    assert ax.get_title() == ("symbolic graph (the 24 most visited of 30 regions visited)\n"
                              "node #i: row i of the region table (500-bit codes)")


def test_a_one_variable_series_is_drawn_against_its_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1-D series is drawn against its index, which the axis called 't' (with dt = 0.05, 1200 'time units')."""
    figures = _capture(monkeypatch)
    x = np.sin(np.arange(1200) * 0.05)[:, None]
    plot_attractor(x, 0.9 * x, tmp_path / "a.png")
    assert [ax.get_xlabel() for ax in figures[-1].axes] == ["step", "step"]
    assert [ax.get_ylabel() for ax in figures[-1].axes] == ["x0", "x0"]


def test_spectra_draw_a_short_period_of_the_data_or_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the low-frequency tenth was drawn: a series with a 4-step period (a logistic map, a coarse sampling)
    had its whole spectrum cut off, data and model alike; now the axis reaches where their power lies."""
    figures = _capture(monkeypatch)
    t = np.arange(2000)
    slow, fast = np.sin(2 * np.pi * t / 100), np.sin(2 * np.pi * t / 4)
    freqs = np.fft.rfftfreq(len(t))
    for data, model in ((fast, fast), (slow, slow + fast), (slow, 1e-12 * fast)):
        plot_power_spectra(data[:, None], model[:, None], tmp_path / "s.png", smoothing=3)
        data_line, model_line = figures[-1].axes[0].get_lines()
        drawn = data_line.get_xdata()
        peak = np.argmax(power_spectra(model[:, None], 3)[0])
        if model.std() > 0.01 * data.std():  # the 4-step period (0.25 a step) is on the axis, and its peak with it
            assert drawn[-1] >= 0.25 and model_line.get_ydata()[peak - 1] == power_spectra(model[:, None], 3)[0, peak]
        else:  # a collapsed variable (its spectrum: rounding noise in a real orbit) does not stretch the axis
            np.testing.assert_allclose(drawn, freqs[1:int(0.1 * len(freqs))])


@pytest.mark.parametrize("bits, regions, numbered", [(100, 30, True), (20, 24, True), (100, 3, False), (8, 6, False)])
def test_codes_that_would_overlap_are_numbered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bits: int,
                                               regions: int, numbered: bool) -> None:
    """24 regions of a 100-bit code (a clipped shPLRNN of L = 50) were drawn as 4-line labels over each other, a
    solid block of digits; codes are numbered when their labels would overlap, and drawn in full otherwise."""
    plt.close("all")  # the other tests' captured figures
    figures = _capture(monkeypatch)
    rng = np.random.default_rng(1)
    patterns = rng.random((regions, bits)) < 0.5
    graph = symbolic_graph(patterns[rng.integers(0, regions, size=600)])
    plot_symbolic_graph(graph, tmp_path / "g.png")
    ax = figures[-1].axes[0]
    labels = [t.get_text() for t in ax.texts if t.get_text()]
    shown = min(24, len(graph.labels))
    if numbered:
        assert [label.splitlines()[0] for label in labels] == [f"#{i + 1}" for i in range(shown)]
        assert ax.get_title().endswith(f"\nnode #i: row i of the region table ({bits}-bit codes)")
    else:
        assert ["".join(label.splitlines()[:-1]) for label in labels] == graph.labels[:shown]
    figures[-1].canvas.draw()
    boxes = [t.get_window_extent() for t in ax.texts if t.get_text()]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[:i])
    plt.close("all")  # captured figures are never saved, so never closed
