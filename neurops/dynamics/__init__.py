"""Training and analysis of dynamical-systems models: teacher forcing, symbolic dynamics, evaluation.

(Lyapunov exponents, which the DSR metrics need, live in :mod:`neurops.metrics.lyapunov`.)
The names below are imported on first use, so that ``neurops.dynamics.evaluate`` (settings of
the command line) loads without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Cycle": "symbolic", "SymbolicGraph": "symbolic", "find_cycles": "symbolic", "fixed_points": "symbolic",
    "orbit_codes": "symbolic", "region_frequencies": "symbolic", "symbolic_graph": "symbolic",
    "topological_entropy": "symbolic",
    "AdaptiveAlpha": "teacher_forcing", "estimate_alpha": "teacher_forcing", "estimate_sigma": "teacher_forcing",
    "gtf_rollout": "teacher_forcing", "stf_rollout": "teacher_forcing",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"neurops.dynamics.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'neurops.dynamics' has no attribute {name!r}")


__all__ = ["AdaptiveAlpha", "Cycle", "SymbolicGraph", "estimate_alpha", "estimate_sigma", "find_cycles",
           "fixed_points", "gtf_rollout", "orbit_codes", "region_frequencies", "stf_rollout", "symbolic_graph",
           "topological_entropy"]
