"""Matplotlib figures (Agg backend; nothing is shown, everything is saved).

The names below are imported on first use: a figure module loads matplotlib (and the DSR ones the
metrics they draw), which code that only needs one kind of figure need not pay for.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "plot_attractor": "dynamics", "plot_power_spectra": "dynamics", "plot_symbolic_graph": "dynamics",
    "plot_prediction": "fields", "plot_posterior": "posterior",
    "plot_rollout_errors": "rollout", "plot_rollout_frames": "rollout",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"neurops.viz.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'neurops.viz' has no attribute {name!r}")


__all__ = ["plot_attractor", "plot_posterior", "plot_power_spectra", "plot_prediction", "plot_rollout_errors",
           "plot_rollout_frames", "plot_symbolic_graph"]
