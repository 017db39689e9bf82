"""Symbolic analysis of a trained piecewise-linear DSR model (what ``neurops dsr analyze`` reports).

:func:`analyze_model` runs the model freely, records the linear subregions its orbit visits,
finds fixed points (all ``2^R`` regions when the code is short, else those of the visited
regions and of a SCYFI search) and k-cycles, continua of them (line attractors ...) included,
builds the symbolic transition graph and the topological entropy, and estimates the largest
Lyapunov exponent. The command
(:func:`neurops.cli.analysis.analyze_checkpoint`) loads the checkpoint, draws the figures of
:mod:`neurops.viz.dynamics` and writes ``analysis.json``; :func:`format_analysis` prints it.

References
----------
.. [1] Brenner, M., Hemmer, C. J., Monfared, Z., Durstewitz, D. (2024). Almost-linear RNNs
   yield highly interpretable symbolic codes in dynamical systems reconstruction. NeurIPS 2024.
.. [2] Eisenmann, L., Monfared, Z., Goering, N., Durstewitz, D. (2023). Bifurcations and
   loss jumps in RNN training. NeurIPS 2023 (SCYFI).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neurops.dynamics.symbolic import (
    Cycle,
    SymbolicGraph,
    code_label,
    find_cycles,
    fixed_points,
    orbit_codes,
    region_frequencies,
    symbolic_graph,
    topological_entropy,
)
from neurops.errors import ConfigError
from neurops.metrics.dsr import model_lyapunov_max
from neurops.utils.device import available_memory
from neurops.utils.io import format_size


@dataclass
class Analysis:
    """What :func:`analyze_model` found.

    Attributes
    ----------
    report : the JSON-ready record (code bits, regions and their frequencies, fixed points,
        cycles, topological entropy, ``lambda_max``).
    observed : [T, N] the model's orbit in observation space (for the figures).
    graph : the symbolic transition graph of the orbit.
    """

    report: dict[str, Any]
    observed: np.ndarray
    graph: SymbolicGraph


#: the shortest orbit :func:`analyze_model` analyses
MIN_STEPS = 100
#: the longest cycle period :func:`analyze_model` searches. Every period 2 .. ``max_period`` is searched, and period
#: ``k`` costs about ``k`` times :data:`_SECONDS_PER_PERIOD_STEP` (50 restarts of up to 30 solves of a ``k``-step
#: product of Jacobians): periods up to 1000 (room for a measured series' cycles of several hundred steps, such as
#: the ECG's beat of about 685) take about an hour, up to 100000 about a year
MAX_PERIOD = 1000
#: the cycle search's seconds per period step: a trained 4-unit ALRNN on one core took 0.25 s for period 64,
#: 1.4 s for 256, 6.4 s for 1024, 36 s for 4096 (larger models take longer)
_SECONDS_PER_PERIOD_STEP = 0.007


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} seconds"


def check_max_period(max_period: int) -> int:
    """``max_period``, refused (before any work) above :data:`MAX_PERIOD` with the search's expected time."""
    if max_period > MAX_PERIOD:
        def cost(n: int) -> str:
            return _duration(_SECONDS_PER_PERIOD_STEP * (n * (n + 1) // 2 - 1))

        raise ConfigError(f"max_period={max_period}: the cycle search solves every period 2..{max_period}, period k "
                          f"in about {1000 * _SECONDS_PER_PERIOD_STEP:g} ms x k on one core (a model of 4 latent "
                          f"units; larger ones take longer), about {cost(max_period)} in all; use max_period <= "
                          f"{MAX_PERIOD} (--max-period; 4 by default), about {cost(MAX_PERIOD)} at most.")
    return max_period


def analyze_model(model: torch.nn.Module, z0: torch.Tensor, *, steps: int = 20_000, max_period: int = 4,
                  seed: int = 0, dt: float = 1.0) -> Analysis:
    """Regions, fixed points, cycles, symbolic graph, entropy and ``lambda_max`` of a PL model's orbit.

    Parameters
    ----------
    model : a piecewise-linear DSR model (PLRNN family), float64.
    z0 : [M] latent start state.
    steps : length of the orbit analysed (after a transient of ``min(1000, steps / 4)``), at least
        :data:`MIN_STEPS`.
    max_period : cycles of periods 2 .. ``max_period`` are searched, at most :data:`MAX_PERIOD`.
    seed : seed of the cycle search.
    dt : time step of the data (``lambda_max`` is per time unit).
    """
    if steps < MIN_STEPS or max_period < 0:
        raise ConfigError(f"need steps >= {MIN_STEPS} (the orbit analysed: a shorter one gives no meaningful region "
                          "frequencies, lambda_max or spectrum) and max_period >= 0 (0 or 1: no cycle search); got "
                          f"steps={steps}, max_period={max_period}.")
    check_max_period(max_period)
    transient = min(1000, steps // 4)
    # the orbit, its observations and region codes, and the pre-activations the codes are computed from
    need, free = steps * (16 * (model.latent_dim + model.obs_dim) + 9 * model.code_size), available_memory()
    if free is not None and need > free:  # before any step: it would run for hours until the system kills it
        raise ConfigError(f"steps={steps}: the orbit analysed and its region codes ({model.latent_dim} latent values "
                          f"and {model.code_size} bits a step) need about {format_size(need)} of memory, but "
                          f"{format_size(free)} is available; use fewer steps (--steps; 20000 by default).")
    z, codes = orbit_codes(model, z0, steps, transient=transient)
    unique, freq = region_frequencies(codes)
    bits = model.code_size
    if bits <= 12:  # all 2^R regions: real and virtual fixed points
        fps = fixed_points(model)
    else:  # too many regions: real fixed points of the visited regions and of a SCYFI search
        fps = _dedup(fixed_points(model, unique, include_virtual=False) + find_cycles(model, 1, start_states=z,
                                                                                     seed=seed))
    cycles = {k: find_cycles(model, k, start_states=z, seed=seed) for k in range(2, max_period + 1)}
    graph = symbolic_graph(codes)
    with torch.no_grad():
        x_model = model.observe(torch.as_tensor(z)).numpy()
    report = {
        "code_bits": bits,
        "regions_visited": len(unique),
        "regions": [{"code": code_label(c), "frequency": float(f)} for c, f in zip(unique, freq)],
        "fixed_points": [_point_record(model, fp) for fp in fps],
        "cycles": {str(k): [_cycle_record(model, cyc) for cyc in cs] for k, cs in cycles.items()},
        "topological_entropy": {"spectral": topological_entropy(codes),
                                "words_8": topological_entropy(codes, method="words", word_length=8)
                                if len(unique) > 1 and len(codes) > 8 else 0.0},
        "lambda_max": model_lyapunov_max(model, model.observe(z0[None])[0].detach().numpy(), dt=dt,
                                         n_steps=min(steps, 10_000)),
    }
    return Analysis(report, x_model, graph)


def _point_record(model: torch.nn.Module, fp: Cycle) -> dict[str, Any]:
    with torch.no_grad():
        observed = model.observe(torch.as_tensor(fp.points[0])).tolist()
    return {"point": fp.points[0].tolist(), "observed": observed, "region": code_label(fp.codes[0]), "real": fp.real,
            "kind": fp.kind, "max_abs_eigenvalue": float(np.abs(fp.eigenvalues).max()), **_continuum(model, fp)}


def _cycle_record(model: torch.nn.Module, cyc: Cycle) -> dict[str, Any]:
    record = {"regions": [code_label(c) for c in cyc.codes], "stable": cyc.stable,
              "max_abs_eigenvalue": float(np.abs(cyc.eigenvalues).max())}
    if cyc.continuum_dim:  # the cycle through one point of the continuum
        record.update(kind=cyc.kind, point=cyc.points[0].tolist(), real=cyc.real)
    return {**record, **_continuum(model, cyc)}


def _continuum(model: torch.nn.Module, cyc: Cycle) -> dict[str, Any]:
    """``continuum_dim``; for a continuum also its directions at the first point, latent and observed."""
    if not cyc.continuum_dim or cyc.directions is None:
        return {"continuum_dim": 0}
    directions = cyc.directions[0].T  # [d, M]
    with torch.no_grad():
        observed = model.observe(torch.as_tensor(directions)).tolist()  # both observations are linear maps
    return {"continuum_dim": cyc.continuum_dim, "directions": directions.tolist(), "observed_directions": observed}


def _dedup(fps: list[Cycle]) -> list[Cycle]:
    """Fixed points once each; a continuum once per region (one region's continuum has one representative)."""
    unique: list[Cycle] = []
    for fp in fps:
        if not any(np.array_equal(fp.codes, u.codes) if fp.continuum_dim or u.continuum_dim
                   else np.allclose(fp.points, u.points, atol=1e-8) for u in unique):
            unique.append(fp)
    return unique


def format_analysis(rep: dict[str, Any], max_rows: int = 20) -> str:
    """The human-readable report of ``neurops dsr analyze`` (:func:`neurops.cli.analysis.analyze_checkpoint`;
    region codes in full)."""
    width = max([len("region")] + [len(r["code"]) for r in rep["regions"]] +
                [len(fp["region"]) for fp in rep["fixed_points"]])
    lines = [f"{rep['model']}: {rep['regions_visited']} linear subregions visited (code of {rep['code_bits']} bits); "
             f"lambda_max = {rep['lambda_max']:.4g} per time unit", f"{'region':<{width}} {'frequency':>9}"]
    if "orbit" in rep:  # a failed model says so first, as plainly as a good one
        orbit = rep["orbit"]
        spread = " ".join(f"{v:.3g}" for v in orbit["spread"])
        lines.insert(1, f"orbit: {orbit['verdict']}; spread {spread} (std per variable over its second half; data "
                        f"[{orbit['split']}]: {' '.join(f'{v:.3g}' for v in orbit['data_spread'])})")
    lines += [f"{r['code']:<{width}} {r['frequency']:>9.3f}" for r in rep["regions"][:max_rows]]
    if len(rep["regions"]) > max_rows:
        lines.append(f"... and {len(rep['regions']) - max_rows} more (analysis.json lists all)")
    continua = sum(fp["real"] and fp.get("continuum_dim", 0) > 0 for fp in rep["fixed_points"])
    lines += ["", f"fixed points ({sum(fp['real'] for fp in rep['fixed_points'])} real"
              + (f", {continua} of them continua" if continua else "") + "):",
              f"{'region':<{width}} {'real':<5} {'kind':<15} {'max|eig|':>8}  observed state"]
    for fp in rep["fixed_points"][:max_rows]:
        obs = ", ".join(f"{v:.3g}" for v in fp["observed"][:5])
        lines.append(f"{fp['region']:<{width}} {str(fp['real']):<5} {fp['kind']:<15} "
                     f"{fp['max_abs_eigenvalue']:>8.3g}  [{obs}]")
        if fp.get("continuum_dim", 0):
            lines.append("  " + describe_continuum(fp, "fixed points"))
    lines += ["", "cycles:"]
    for k, cs in rep["cycles"].items():
        lines.append(f"  period {k}: {len(cs)} found, {sum(c['stable'] for c in cs)} stable")
        lines += ["    " + describe_continuum(c, f"{k}-periodic points") for c in cs if c.get("continuum_dim", 0)]
    ent = rep["topological_entropy"]
    lines += ["", f"topological entropy: {ent['spectral']:.4g} (graph), {ent['words_8']:.4g} (words of 8) nats per "
              "symbol"]
    lines += [f"figure {name}: {path}" for name, path in rep["figures"].items()]
    return "\n".join(lines)


def _vector(v: list[float], n: int = 5) -> str:
    return "[" + ", ".join(f"{x:.3g}" for x in v[:n]) + (", ..." if len(v) > n else "") + "]"


#: what a continuum's kind (``Cycle.kind``, its first word) says about the flow across it
_ACROSS = {"attracting": "attracting across it", "repelling": "repelling across it", "saddle": "a saddle across it",
           "marginal": "|eig| = 1 also across it", "neutral": "it fills the latent space"}


def describe_continuum(record: dict[str, Any], what: str) -> str:
    """A continuum's line of :func:`format_analysis` from its record, e.g. ``a line of fixed points (dimension 1)
    through z = [0.1, 0.2] along [1, 0]: real, attracting across it, neutral along it``."""
    dim = record["continuum_dim"]
    name = {1: "line", 2: "plane"}.get(dim, f"{dim}-dimensional set")
    along = " and ".join(_vector(v) for v in record["directions"][:3]) + (" ..." if dim > 3 else "")
    return (f"a {name} of {what} (dimension {dim}) through z = {_vector(record['point'])} along {along}: "
            f"{'real' if record['real'] else 'virtual'}, {_ACROSS[record['kind'].split()[0]]}, neutral along it")


__all__ = ["MAX_PERIOD", "MIN_STEPS", "Analysis", "analyze_model", "check_max_period", "describe_continuum",
           "format_analysis"]
