"""Symbolic analysis of a trained piecewise-linear DSR model (the library side of ``neurops dsr analyze``).

From a checkpoint it runs the model freely, records the linear subregions its orbit visits,
finds fixed points (all ``2^R`` regions when the code is short, else those of the visited
regions and of a SCYFI search) and k-cycles, builds the symbolic transition graph and the
topological entropy, and draws the figures of :mod:`neurops.viz.dynamics` so that a model
that fails looks like a failure: data and model attractors on shared axes, their power
spectra on one axis, the symbolic graph.

References
----------
.. [1] Brenner, M., Hemmer, C. J., Monfared, Z., Durstewitz, D. (2024). Almost-linear RNNs
   yield highly interpretable symbolic codes in dynamical systems reconstruction. NeurIPS 2024.
.. [2] Eisenmann, L., Monfared, Z., Goering, N., Durstewitz, D. (2023). Bifurcations and
   loss jumps in RNN training. NeurIPS 2023 (SCYFI).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from neurops.dynamics.evaluate import read_series
from neurops.errors import ConfigError
from neurops.dynamics.symbolic import (Cycle, code_label, find_cycles, fixed_points, orbit_codes, region_frequencies,
                                       symbolic_graph, topological_entropy)
from neurops.metrics.dsr import model_lyapunov_max
from neurops.utils.io import atomic_path


def analyze_checkpoint(ckpt: str | os.PathLike, *, data: str | os.PathLike | None = None, split: str = "test",
                       out: str | os.PathLike | None = None, steps: int = 20_000, max_period: int = 4,
                       seed: int = 0, member: int | None = None,
                       member_state: Literal["best", "final"] = "best") -> dict[str, Any]:
    """Regions, fixed points, cycles, symbolic graph and entropy of a checkpoint; writes figures and ``analysis.json``.

    Parameters
    ----------
    ckpt : a DSR checkpoint.
    data : trajectory file: its ``split`` gives the start state and the data of the figures.
    split : the split of ``data`` used.
    out : folder for the figures and ``analysis.json`` (default: ``analysis/`` next to the checkpoint).
    steps : length of the model orbit analysed (after a transient of ``min(1000, steps / 4)``).
    max_period : cycles of periods 2 .. ``max_period`` are searched.
    seed : seed of the random start (no ``data``) and of the cycle search.
    member, member_state : for an ensemble checkpoint (``DynamicsTask(seeds=...)``): which member,
        at its ``best`` validation state or its ``final`` state.
    """
    from neurops.checkpoints import load
    from neurops.viz.dynamics import plot_attractor, plot_power_spectra, plot_symbolic_graph

    task = load(ckpt, "dynamics", command="neurops dsr analyze")[1]
    meta = task.record
    if task.members and member is None:
        raise ConfigError(f"{ckpt} holds an ensemble of {task.members} members (seeds {list(task.hparams.seeds)}); "
                          f"choose one with --member R (0 <= R < {task.members}).")
    if member is not None and not 0 <= member < max(task.members, 1):
        raise ConfigError(f"--member {member} is out of range: {ckpt} holds "
                          + (f"{task.members} members." if task.members else "one model (use --member 0 or none)."))
    model = task.member_models(member_state)[member or 0]
    model = model.double()
    out_dir = Path(out) if out else Path(ckpt).parent / "analysis"
    x_data = read_series(data, split, steps) if data else None
    if x_data is not None:
        with torch.no_grad():
            z0 = model.infer_latent(torch.as_tensor(x_data[:1]))[0]
    else:
        z0 = torch.as_tensor(np.random.default_rng(seed).normal(0, 0.1, model.latent_dim))
    transient = min(1000, steps // 4)
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
    dt = float(meta.get("dt", 1.0))
    report = {
        "checkpoint": str(ckpt), "model": meta["model"], "model_kwargs": meta["model_kwargs"], "code_bits": bits,
        "regions_visited": len(unique),
        "regions": [{"code": code_label(c), "frequency": float(f)} for c, f in zip(unique, freq)],
        "fixed_points": [_point_record(model, fp) for fp in fps],
        "cycles": {str(k): [{"regions": [code_label(c) for c in cyc.codes], "stable": cyc.stable,
                             "max_abs_eigenvalue": float(np.abs(cyc.eigenvalues).max())} for cyc in cs]
                   for k, cs in cycles.items()},
        "topological_entropy": {"spectral": topological_entropy(codes),
                                "words_8": topological_entropy(codes, method="words", word_length=8)
                                if len(unique) > 1 and len(codes) > 8 else 0.0},
        "lambda_max": model_lyapunov_max(model, model.observe(z0[None])[0].detach().numpy(), dt=dt,
                                         n_steps=min(steps, 10_000)),
        "figures": {},
    }
    title = f"{meta['model']} ({Path(ckpt).name})"
    out_dir.mkdir(parents=True, exist_ok=True)  # only now: a bad input leaves no empty folder behind
    report["figures"]["attractor"] = str(plot_attractor(x_data, x_model, out_dir / "attractor.png", title=title))
    if x_data is not None:
        n = min(len(x_data), len(x_model))  # equally long series; the title says how long
        report["figures"]["power_spectra"] = str(plot_power_spectra(
            x_data[:n], x_model[:n], out_dir / "power_spectra.png", dt=dt,
            title=f"{title}: first {n} points of data [{split}] and model orbit"))
    report["figures"]["symbolic_graph"] = str(plot_symbolic_graph(graph, out_dir / "symbolic_graph.png"))
    with atomic_path(out_dir / "analysis.json") as tmp:
        Path(tmp).write_text(json.dumps(report, indent=2, default=float) + "\n")
    return report


def _point_record(model: torch.nn.Module, fp: Cycle) -> dict[str, Any]:
    with torch.no_grad():
        observed = model.observe(torch.as_tensor(fp.points[0])).tolist()
    return {"point": fp.points[0].tolist(), "observed": observed, "region": code_label(fp.codes[0]), "real": fp.real,
            "kind": fp.kind, "max_abs_eigenvalue": float(np.abs(fp.eigenvalues).max())}


def _dedup(fps: list[Cycle]) -> list[Cycle]:
    unique: list[Cycle] = []
    for fp in fps:
        if not any(np.allclose(fp.points, u.points, atol=1e-8) for u in unique):
            unique.append(fp)
    return unique


def format_analysis(rep: dict[str, Any], max_rows: int = 20) -> str:
    """The human-readable report of :func:`analyze_checkpoint` (region codes in full)."""
    width = max([len("region")] + [len(r["code"]) for r in rep["regions"]] +
                [len(fp["region"]) for fp in rep["fixed_points"]])
    lines = [f"{rep['model']}: {rep['regions_visited']} linear subregions visited (code of {rep['code_bits']} bits); "
             f"lambda_max = {rep['lambda_max']:.4g} per time unit", f"{'region':<{width}} {'frequency':>9}"]
    lines += [f"{r['code']:<{width}} {r['frequency']:>9.3f}" for r in rep["regions"][:max_rows]]
    if len(rep["regions"]) > max_rows:
        lines.append(f"... and {len(rep['regions']) - max_rows} more (analysis.json lists all)")
    lines += ["", f"fixed points ({sum(fp['real'] for fp in rep['fixed_points'])} real):",
              f"{'region':<{width}} {'real':<5} {'kind':<15} {'max|eig|':>8}  observed state"]
    for fp in rep["fixed_points"][:max_rows]:
        obs = ", ".join(f"{v:.3g}" for v in fp["observed"][:5])
        lines.append(f"{fp['region']:<{width}} {str(fp['real']):<5} {fp['kind']:<15} "
                     f"{fp['max_abs_eigenvalue']:>8.3g}  [{obs}]")
    lines += ["", "cycles:"]
    lines += [f"  period {k}: {len(cs)} found, {sum(c['stable'] for c in cs)} stable" for k, cs in rep["cycles"].items()]
    ent = rep["topological_entropy"]
    lines += ["", f"topological entropy: {ent['spectral']:.4g} (graph), {ent['words_8']:.4g} (words of 8) nats per "
              "symbol"]
    lines += [f"figure {name}: {path}" for name, path in rep["figures"].items()]
    return "\n".join(lines)


__all__ = ["analyze_checkpoint", "format_analysis"]
