"""``neurops dsr analyze``'s work: a DSR checkpoint's symbolic analysis with its figures and ``analysis.json``.

The analysis itself is :func:`neurops.dynamics.analyze.analyze_model`; this command-level
function reads the checkpoint (:func:`neurops.checkpoints.load`), picks the ensemble member,
starts the orbit from the data (or at random) and draws the figures of :mod:`neurops.viz.dynamics`
so that a model that fails looks like a failure: data and model attractors on shared axes, their
power spectra on one axis, the symbolic graph.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from neurops.checkpoints import load
from neurops.dynamics.analyze import analyze_model, check_max_period
from neurops.dynamics.evaluate import read_series, spectrum_smoothing
from neurops.errors import ConfigError, OutputExistsError
from neurops.metrics.dsr import orbit_verdict
from neurops.utils.io import atomic_path, check_output_folder, strict_json
from neurops.utils.seeding import check_seed
from neurops.viz.dynamics import plot_attractor, plot_power_spectra, plot_symbolic_graph

_OUTPUTS = ("analysis.json", "attractor.png", "power_spectra.png", "symbolic_graph.png")


def default_analysis_folder(ckpt: str | os.PathLike, member: int | None = None,
                            member_state: Literal["best", "final"] = "best") -> Path:
    """``analyze_checkpoint``'s folder when none is given: next to ``ckpt``, named after it (and the member).

    ``runs/x/checkpoints/best.ckpt`` -> ``runs/x/checkpoints/best_analysis``; member 1 of an ensemble at its final
    state -> ``.../last_analysis_member1_final``: analyses of different checkpoints or members never share a folder.
    """
    name = f"{Path(ckpt).stem}_analysis" + ("" if member is None else f"_member{member}_{member_state}")
    return Path(ckpt).parent / name


def analyze_checkpoint(ckpt: str | os.PathLike, *, data: str | os.PathLike | None = None, split: str = "test",
                       out: str | os.PathLike | None = None, steps: int = 20_000, max_period: int = 4,
                       seed: int = 0, member: int | None = None,
                       member_state: Literal["best", "final"] = "best", overwrite: bool = False) -> dict[str, Any]:
    """Regions, fixed points, cycles, symbolic graph and entropy of a checkpoint; writes figures and ``analysis.json``.

    Parameters
    ----------
    ckpt : a DSR checkpoint.
    data : trajectory file: its ``split`` gives the start state and the data of the figures.
    split : the split of ``data`` used.
    out : folder for the figures and ``analysis.json`` (default: next to the checkpoint, one per checkpoint and
        member: ``best_analysis/`` for ``best.ckpt``, ``last_analysis_member1_best/`` for member 1 of an ensemble).
    steps : length of the model orbit analysed (after a transient of ``min(1000, steps / 4)``), at least 100.
    max_period : cycles of periods 2 .. ``max_period`` are searched, at most 1000
        (:data:`neurops.dynamics.analyze.MAX_PERIOD`).
    seed : seed of the random start (no ``data``) and of the cycle search.
    member : for an ensemble checkpoint (``DynamicsTask(seeds=...)``): which member, R = 0 .. members - 1
        (member R was trained with ``seeds[R]``).
    member_state : for an ensemble checkpoint: the member at its ``best`` validation state or its
        ``final`` state.
    overwrite : replace the files of an earlier analysis in ``out``; without it, such files stop the command
        before any work.

    Returns
    -------
    The report written to ``analysis.json`` (:func:`neurops.dynamics.analyze.format_analysis` prints it).
    """
    check_seed(seed)
    check_max_period(max_period)  # before the checkpoint is read: too long a search is refused with its time
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
    out_dir = check_output_folder(out or default_analysis_folder(ckpt, member if task.members else None, member_state),
                                  "analyze writes a folder of figures and analysis.json")
    earlier = [name for name in _OUTPUTS if (out_dir / name).exists()]
    if earlier and not overwrite:  # before any work: an earlier analysis is the user's result
        raise OutputExistsError(f"{out_dir} already holds an earlier analysis ({', '.join(earlier)}); pass "
                                "--overwrite to replace it or choose another --out.")
    x_data = read_series(data, split, steps) if data else None
    if x_data is not None:
        with torch.no_grad():
            z0 = model.infer_latent(torch.as_tensor(x_data[:1]))[0]
    else:
        z0 = torch.as_tensor(np.random.default_rng(seed).normal(0, 0.1, model.latent_dim))
    dt = float(meta.get("dt", 1.0))
    analysis = analyze_model(model, z0, steps=steps, max_period=max_period, seed=seed, dt=dt)
    report = {"checkpoint": str(ckpt), "model": meta["model"], "model_kwargs": meta["model_kwargs"],
              **analysis.report, "figures": {}}
    which = f", member {member} (seed {task.hparams.seeds[member or 0]}), {member_state} state" if task.members else ""
    title = f"{meta['model']} ({Path(ckpt).name}{which})"
    x_model = analysis.observed
    out_dir.mkdir(parents=True, exist_ok=True)  # only now: a bad input leaves no empty folder behind
    report["figures"]["attractor"] = str(plot_attractor(x_data, x_model, out_dir / "attractor.png", title=title))
    if x_data is not None:  # as `dsr evaluate` calls it: bounded, collapsed to a fixed point or diverged
        report["orbit"] = {**orbit_verdict(x_model, x_data), "split": split}
        n = min(len(x_data), len(x_model))  # equally long series; the title says how long
        smoothing = spectrum_smoothing(n)  # D_H's 20 bins, or less for a short series
        report["figures"]["power_spectra"] = str(plot_power_spectra(
            x_data[:n], x_model[:n], out_dir / "power_spectra.png", dt=dt, smoothing=smoothing,
            title=f"{title}: first {n} points of data [{split}] and model orbit, smoothed over {smoothing:.2g} bins"))
    report["figures"]["symbolic_graph"] = str(plot_symbolic_graph(analysis.graph, out_dir / "symbolic_graph.png"))
    with atomic_path(out_dir / "analysis.json") as tmp:
        Path(tmp).write_text(strict_json(report, indent=2) + "\n")  # null: not finite
    if x_data is None:  # an overwritten analysis with data leaves no spectra that this one did not draw
        (out_dir / "power_spectra.png").unlink(missing_ok=True)
    return report


__all__ = ["analyze_checkpoint", "default_analysis_folder"]
