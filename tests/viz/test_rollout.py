"""Tests of the rollout figures (neurops/viz/rollout.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurops.viz.rollout import plot_rollout_errors, plot_rollout_frames


def test_error_curves_hold_the_values_and_save(tmp_path):
    curves = {"lsm": [0.01, 0.02, 0.04], "fno": [0.02, 0.03, 0.05]}
    fig = plot_rollout_errors(curves, tmp_path / "err.png", frames_per_step=2)
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["lsm", "fno"]
    np.testing.assert_allclose(lines[0].get_ydata(), curves["lsm"])
    np.testing.assert_allclose(lines[1].get_xdata(), [2, 4, 6])
    assert fig.axes[0].get_yscale() == "log"
    assert (tmp_path / "err.png").read_bytes()[:4] == b"\x89PNG"
    fig = plot_rollout_errors([0.5, 0.25], log_scale=False)
    assert fig.axes[0].get_yscale() == "linear" and len(fig.axes[0].get_lines()) == 1


def test_frames_figure_shows_true_predicted_and_error(tmp_path):
    target = torch.randn(10, 8, 6)  # 5 frames x 2 fields
    pred = target + 0.1
    fig = plot_rollout_frames(pred, target, tmp_path / "frames.png", n_fields=2, field=1, max_frames=3)
    axes = np.array(fig.axes).reshape(3, 3)
    # columns: frames 1, 3, 5 of field 1 (channels 1, 5, 9); bottom row: |error| = 0.1
    np.testing.assert_allclose(axes[0, 2].get_images()[0].get_array(), target[9].numpy().T)
    np.testing.assert_allclose(axes[2, 0].get_images()[0].get_array(), np.full((6, 8), 0.1), atol=1e-6)
    assert (tmp_path / "frames.png").stat().st_size > 0


def test_frames_shape_mismatch_raises():
    with pytest.raises(ValueError, match="same shape"):
        plot_rollout_frames(torch.zeros(4, 8, 8), torch.zeros(2, 8, 8))
    with pytest.raises(ValueError, match="F=3"):
        plot_rollout_frames(torch.zeros(4, 8, 8), torch.zeros(4, 8, 8), n_fields=3)
