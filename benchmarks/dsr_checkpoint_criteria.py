"""Which checkpoint criterion picks DSR models that are better on the test series: a study over one run's snapshots.

A DSR run keeps the state with the lowest *validation* D_stsp. On a short validation split
that number is noisy (issue 17 saw it swing between 6 and 31 from one check to the next and
pick a worse state than the final one). This study takes a run trained with ``--snapshots``
(the weights of every member at every validation, e.g. ``dsr_lorenz63 --ensemble --snapshots``)
and, for every snapshot and member, computes the candidate criteria on the validation and
training splits and the protocol's test metrics (Hess et al. 2023: an orbit of ``1.25 T`` steps
from the first test point, the first ``0.25 T`` dropped):

* ``val, T_val orbit``: D_stsp of an orbit as long as the validation split (``T_val`` points,
  one start) against it: ``DynamicsTask(val_reference="val", val_gen_length=None)``, the first default;
* ``val, 5e4 orbit``: the same with a 5 * 10^4-step orbit (``val_gen_length=50000``: what the DSR
  benchmarks used before this study);
* ``val, 5 starts``: the mean D_stsp of ``T_val``-step orbits from 5 initial conditions spread over
  the validation split;
* ``train, 5e4 orbit``: the 5 * 10^4-step orbit against the whole training split
  (``val_reference="train"``, ``DynamicsTask``'s default since this study, with ``val_gen_length=50000``
  in the shipped configs: ``benchmarks/results/dsr_checkpoint_criteria_lorenz63_250k.md``);
* ``train, 5 starts``: the mean D_stsp against the whole training split of the ``T_val``-step orbits from
  the 5 initial conditions of ``val, 5 starts`` (5 T_val orbit points in all: as many as the 5e4 orbit
  for the benchmarks' 10^4-point validation split; a state that is bounded from one start but
  collapses or diverges from another scores high);
* ``final``: no selection, the last snapshot;
* ``oracle (test, 1 start)`` / ``oracle (test, 5 starts)``: the snapshot with the lowest test D_stsp
  (from the first test point / median over 5 test starts), the best any criterion could do;
* ``in training``: the run's own picks, the best states its ``DynamicsTask`` kept (its ``val/d_stsp``, in
  the training's float32), scored here like the others.

The study computes in float64, as ``neurops dsr evaluate`` does; ``--dtype float32`` repeats it in the
training's arithmetic (``train, 5e4 orbit`` then recomputes what the run selected on).

Each criterion picks, per member, the snapshot where it is lowest; the table gives the test
metrics of the picks (median and quartiles over the members; ``lambda_max`` from the full
protocol with 5 starts), how many of the picks' test orbits from those 5 starts are not bounded
(collapsed to a fixed point or diverged), how many members' picks beat the final state on test
D_stsp (5 starts), and the rank correlation (Spearman) of the criterion with the test D_stsp over
the snapshots (median over the members), from the first test point and as the median over 5 test
starts: a multistable model (e.g. a Lorenz-63 model that stays on one wing from some initial
conditions) can look good or bad from any single start. Snapshots are stacked into one ensemble
so that all their orbits run in one batched rollout.

Run: ``python -m benchmarks run dsr_checkpoint_criteria --run benchmarks/work/runs/NAME --test FILE.npy
[--dt 0.01] [--name NAME] [--every K] [--dtype float32]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import yaml
from scipy.stats import spearmanr

from benchmarks.runner import benchmark_parser, positive_int
from neurops.checkpoints import load
from neurops.data.datamodule import DynamicsDataModule
from neurops.data.series_import import load_series
from neurops.metrics.dsr import (
    evaluate_reconstruction,
    generate_like,
    orbit_distances,
    orbit_divergence,
    start_indices,
)
from neurops.models.piecewise_linear import stack_members
from neurops.tasks.dynamics import DynamicsTask
from neurops.utils.bench import markdown_table, save_results

LONG_ORBIT = 50_000  # val_gen_length of the DSR benchmarks
N_STARTS = 5
CRITERIA = ("val, T_val orbit", "val, 5e4 orbit", f"val, {N_STARTS} starts", "train, 5e4 orbit",
            f"train, {N_STARTS} starts")
N_CRIT = len(CRITERIA)
OWN = "in training (the run's own picks)"


def snapshot_members(run: Path, every: int = 1, dtype: torch.dtype = torch.float64
                     ) -> tuple[list[int], list[list[torch.nn.Module]], DynamicsTask]:
    """Epochs (1-based) and the member models (in ``dtype``) of every ``every``-th snapshot in ``run/snapshots``
    and of the last one (the final state), and the task of that last snapshot."""
    saved = sorted((run / "snapshots").glob("epoch*.ckpt"))
    files = saved[::every] + ([saved[-1]] if (len(saved) - 1) % every else [])
    epochs, members = [], []
    for f in files:
        task = load(f, "dynamics")[1]
        epochs.append(int(f.stem.removeprefix("epoch")) + 1)
        members.append([m.to(dtype).eval() for m in task.member_models("final")])
    return epochs, members, task


def training_picks(last: DynamicsTask, steps_per_epoch: int, dtype: torch.dtype = torch.float64
                   ) -> tuple[list[int], list[torch.nn.Module], list[float]] | None:
    """The run's own picks, from the task of its last snapshot: the epoch (1-based) of each member's best state
    kept in training, that state (in ``dtype``) and its ``val/d_stsp`` there (a member that never scored a finite
    one: epoch -1, its final state, ``inf``). ``None`` for a one-model run (its pick is ``checkpoints/best.ckpt``)."""
    if not last.members:
        return None
    models = [m.to(dtype).eval() for m in last.member_models("best")]
    steps = last.member_best.step.tolist()
    return [s // steps_per_epoch if s >= 0 else -1 for s in steps], models, last.member_best.score.tolist()


def scores(models: list[torch.nn.Module], x_val: np.ndarray, x_train: np.ndarray,
           x_test: np.ndarray) -> np.ndarray:
    """``[len(models), N_CRIT + 3]``: the criteria, then test D_stsp and D_H from the first test point and the
    median test D_stsp over ``N_STARTS`` test starts, of each model (batched rollouts)."""
    ens = stack_members(models)
    with torch.no_grad():
        short = generate_like(ens, x_val)  # [R, T_val, N]
        long = generate_like(ens, x_val, n_steps=LONG_ORBIT)
        starts = generate_like(ens, x_val, starts=start_indices(len(x_val), N_STARTS))  # [R, K, T_val, N]
        test = generate_like(ens, x_test, starts=start_indices(len(x_test), N_STARTS))  # [R, K, T, N]; 0 first
    out = np.empty((len(models), N_CRIT + 3))
    for r in range(len(models)):  # DynamicsTask's val/d_stsp is orbit_distances(...)[0]
        out[r] = (orbit_divergence(x_val, short[r]), orbit_divergence(x_val, long[r]),
                  float(np.mean([orbit_divergence(x_val, o) for o in starts[r]])),
                  orbit_divergence(x_train, long[r]),
                  float(np.mean([orbit_divergence(x_train, o) for o in starts[r]])),
                  *orbit_distances(x_test, test[r, 0]),
                  float(np.median([orbit_divergence(x_test, o) for o in test[r]])))
    return out


def rank_correlation(criterion: np.ndarray, target: np.ndarray) -> float:
    """Spearman correlation over snapshots (``inf`` ranks last); ``nan`` if either is constant."""
    big = 1e300
    a, b = np.nan_to_num(criterion, posinf=big), np.nan_to_num(target, posinf=big)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def quartiles(values: list[float]) -> str:
    """``"median [25 %, 75 %]"``; a quartile that reaches a diverged (``inf``) value prints as ``inf``."""
    big = 1e300
    q = np.percentile(np.nan_to_num(np.asarray(values, dtype=np.float64), posinf=big), [25, 50, 75])
    q = np.where(q > big / len(values) / 2, math.inf, q)
    return f"{q[1]:.4g} [{q[0]:.3g}, {q[2]:.3g}]"


def _median(correlations: list[float]) -> str:
    """The median over the members of a criterion's rank correlations; ``-`` for a row without a criterion."""
    if not correlations:
        return "-"
    finite = [c for c in correlations if math.isfinite(c)]
    return f"{np.median(finite):.2f}" if finite else "nan"


def _values(values: Sequence[float] | np.ndarray) -> str:
    return ", ".join(f"{v:.4g}" for v in values)


def criterion_row(name: str, picked: list[tuple[int, torch.nn.Module, np.ndarray, tuple]], full: list[dict],
                  table: np.ndarray) -> tuple[dict[str, str], dict]:
    """The table row and the raw results of one criterion's picks.

    ``picked``: per member, the picked (epoch, model, scores row, key); ``full``: per member, the full protocol
    (:func:`~neurops.metrics.dsr.evaluate_reconstruction`) of its pick; ``table : [snapshot, member, N_CRIT + 3]``
    the scores of every snapshot (:func:`scores`).
    """
    test, test_k = table[..., N_CRIT], table[..., N_CRIT + 2]  # [snapshot, member]: 1 start, median of K
    n_members = table.shape[1]
    d_stsp = [float(row[N_CRIT]) for _, _, row, _ in picked]
    beats = sum(row[N_CRIT + 2] < test_k[-1, r] for r, (_, _, row, _) in enumerate(picked))
    unbounded = sum(n for f in full for v, n in f["verdict"].items() if v != "bounded")
    c = CRITERIA.index(name) if name in CRITERIA else None
    corr = [rank_correlation(table[:, r, c], test[:, r]) for r in range(n_members)] if c is not None else []
    corr_k = [rank_correlation(table[:, r, c], test_k[:, r]) for r in range(n_members)] if c is not None else []
    row = {"criterion": name, "test D_stsp (1 start)": quartiles(d_stsp),
           f"test D_stsp ({N_STARTS} starts)": quartiles([f["d_stsp"] for f in full]),
           "not bounded": f"{unbounded}/{N_STARTS * n_members}",
           "test D_H": quartiles([row[N_CRIT + 1] for _, _, row, _ in picked]),
           "lambda_max": quartiles([f["lambda_max"] for f in full]),
           "beats final": f"{beats}/{n_members}" if name != "final" else "-",
           "rank corr. (1 start)": _median(corr), f"rank corr. ({N_STARTS} starts)": _median(corr_k),
           "picked epochs": ", ".join(str(e) for e, *_ in picked)}
    raw = {"picked_epochs": [e for e, *_ in picked], "test_d_stsp": d_stsp, "rank_corr": corr,
           "rank_corr_starts": corr_k,
           "evaluation": [{k: f[k] for k in ("d_stsp", "d_h", "lambda_max", "pe", "verdict")} for f in full]}
    return row, raw


def own_picks_note(task_args: dict, in_training: list[float], here: np.ndarray) -> str:
    """What the row of the run's own picks is, and its default criterion recomputed (``here``) against the values
    the run scored in training; ``task_args``: the run's ``DynamicsTask`` arguments."""
    other = task_args.get("val_reference", "train") != "train" or task_args.get("val_gen_length") != LONG_ORBIT
    return (f"'{OWN}': the best states the run kept (its val/d_stsp in training, float32); on the default "
            f"criterion ('train, 5e4 orbit') recomputed here they score {_values(here)} against "
            f"{_values(in_training)} in training"
            + (" (which validated with other val_reference / val_gen_length settings)." if other else "."))


CELLS_NOTE = ("Cells: median [25 %, 75 %] over the members. 'test D_stsp (1 start)' is the protocol's value (orbit "
              f"from the first test point); '({N_STARTS} starts)' the median over {N_STARTS} initial conditions. "
              f"'not bounded': the picks' test orbits from those {N_STARTS} starts that collapsed to a fixed point "
              "or diverged, over all members' orbits. 'beats final': members whose pick has a lower test D_stsp "
              f"({N_STARTS} starts) than their last snapshot. 'rank corr.': Spearman correlation of the criterion "
              f"with the test D_stsp (1 start; median of {N_STARTS} starts) over the snapshots, median over the "
              "members.")


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser(__doc__, quick=None)
    parser.add_argument("--run", type=Path, required=True, help="run folder with snapshots/ and benchmark.yaml")
    parser.add_argument("--test", type=Path, required=True, help="test series, [T, N] .npy")
    parser.add_argument("--dt", type=float, default=1.0, help="sampling interval (lambda_max per time unit)")
    parser.add_argument("--every", type=positive_int, default=1, help="use every k-th snapshot")
    parser.add_argument("--group", type=positive_int, default=8, help="snapshots per batched rollout")
    parser.add_argument("--lyapunov-steps", type=positive_int, default=20_000)
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="arithmetic of the study's orbits (float64 as `dsr evaluate`; float32 as training)")
    parser.add_argument("--name", default="dsr_checkpoint_criteria", help="results file name")
    args = parser.parse_args(argv)
    if not (args.run / "benchmark.yaml").is_file():
        parser.error(f"{args.run} is not a DSR benchmark run folder (no benchmark.yaml); pass the folder of a run "
                     "under benchmarks/work/runs/")
    if not any((args.run / "snapshots").glob("epoch*.ckpt")):
        parser.error(f"{args.run / 'snapshots'} holds no snapshots; train the run with --snapshots")
    if not args.test.is_file():
        parser.error(f"no test series at {args.test}; pass a [T, N] .npy file")

    config = yaml.safe_load((args.run / "benchmark.yaml").read_text())
    data = DynamicsDataModule(**config["data"]["init_args"])
    x_train, x_val = data.train_series[0].astype(np.float64), data.val_series[0].astype(np.float64)
    x_test = load_series(args.test)  # a file that is no series: one line
    dtype = getattr(torch, args.dtype)
    epochs, snaps, last = snapshot_members(args.run, args.every, dtype)
    n_members = len(snaps[0])
    table = np.empty((len(epochs), n_members, N_CRIT + 3))  # [snapshot, member, criterion / test metric]
    for i in range(0, len(epochs), args.group):
        chunk = snaps[i: i + args.group]
        flat = scores([m for ms in chunk for m in ms], x_val, x_train, x_test)
        table[i: i + len(chunk)] = flat.reshape(len(chunk), n_members, N_CRIT + 3)
        print(f"snapshots {i + len(chunk)}/{len(epochs)} (epoch {epochs[i + len(chunk) - 1]})", flush=True)

    test, test_k = table[..., N_CRIT], table[..., N_CRIT + 2]  # [snapshot, member]: 1 start, median of K
    picks = {name: table[..., c].argmin(0) for c, name in enumerate(CRITERIA)}
    picks["final"] = np.full(n_members, len(epochs) - 1)
    picks["oracle (test, 1 start)"] = test.argmin(0)
    picks[f"oracle (test, {N_STARTS} starts)"] = test_k.argmin(0)
    seeds = config["model"]["init_args"].get("seeds") or [config.get("seed_everything", 0)]
    # per criterion and member: (epoch, model, its scores row, key); the run's own picks come from outside the grid
    chosen = {name: [(epochs[s], snaps[s][r], table[s, r], (s, r)) for r, s in enumerate(pick)]
              for name, pick in picks.items()}
    own = training_picks(last, config["data"]["init_args"]["batches_per_epoch"], dtype)
    if own is not None:
        own_epochs, own_models, own_val = own
        own_scores = scores(own_models, x_val, x_train, x_test)
        chosen[OWN] = [(e, m, own_scores[r], ("own", r)) for r, (e, m) in enumerate(zip(own_epochs, own_models))]
    rows, raw, evaluated = [], {}, {}
    for name, picked in chosen.items():
        for _, model, _, key in picked:  # the full protocol once per picked (snapshot, member)
            if key not in evaluated:
                evaluated[key] = evaluate_reconstruction(model, x_test, dt=args.dt, n_starts=N_STARTS,
                                                         lyapunov_steps=args.lyapunov_steps)
        row, raw[name] = criterion_row(name, picked, [evaluated[key] for *_, key in picked], table)
        rows.append(row)
        print(row, flush=True)
    if own is None:
        own_note = "A one-model run: its own pick, checkpoints/best.ckpt, is not among the rows."
    else:
        here = own_scores[:, CRITERIA.index("train, 5e4 orbit")]
        raw[OWN].update(criterion_in_training=own_val, criterion_here=here.tolist())
        own_note = own_picks_note(config["model"]["init_args"], own_val, here)
    md = markdown_table(rows)
    notes = (f"\n\nRun `{args.run.name}`: {n_members} members (seeds {seeds}), {len(epochs)} snapshots from epoch "
             f"{epochs[0]} to {epochs[-1]} (every {args.every} of the run's validations and the last). Validation "
             f"split: {len(x_val)} points; training split {len(x_train)}; test {len(x_test)}. {CELLS_NOTE} "
             f"Orbits in {args.dtype}. {own_note}\n")
    print(md + notes)
    details = {"epochs": epochs, "criteria": list(CRITERIA), "scores": table.tolist(), "results": raw,
               "seeds": seeds}
    save_results(args.name, vars(args), rows, md + notes, args.results_dir, details=details)


if __name__ == "__main__":
    main()
