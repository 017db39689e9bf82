"""Training and analysis of dynamical-systems models: teacher forcing and symbolic dynamics.

(Lyapunov exponents, which the DSR metrics need, live in :mod:`neurops.metrics.lyapunov`.)
"""

from neurops.dynamics.symbolic import (Cycle, SymbolicGraph, find_cycles, fixed_points, orbit_codes,
                                       region_frequencies, symbolic_graph, topological_entropy)
from neurops.dynamics.teacher_forcing import (AdaptiveAlpha, estimate_alpha, estimate_sigma, gtf_rollout,
                                              stf_rollout)

__all__ = ["AdaptiveAlpha", "Cycle", "SymbolicGraph", "estimate_alpha", "estimate_sigma", "find_cycles",
           "fixed_points", "gtf_rollout", "orbit_codes", "region_frequencies", "stf_rollout",
           "symbolic_graph", "topological_entropy"]
