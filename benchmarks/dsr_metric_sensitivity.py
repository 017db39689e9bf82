"""What a D_stsp or D_H value means: the test series against copies of the training series with known defects.

A DSR target such as "within 2x of the data's floor" is only as hard as the metric is sensitive. For a
train / test pair (``[T, N]`` ``.npy`` files, e.g. the GTF paper's ECG), this benchmark scores the test
series, with the protocol's metrics (Hess et al. 2023: D_stsp with 30 bins per dimension for N <= 5, a
Gaussian-mixture estimate otherwise; D_H with spectra smoothed over 20 bins), against

* the training series itself (the data's floor: what a perfect model reaches);
* the training series plus Gaussian noise of ``s`` times each variable's standard deviation (a blurred attractor);
* the training series scaled about its mean by ``a`` (an attractor too small or too large);
* the training series shifted by 0.1 standard deviations in its first variable (a displaced attractor);
* the training series resampled in time by ``f`` with linear interpolation (a clock ``1/f`` times too fast:
  the same attractor, other periods).

With ``--ckpt`` (checkpoints of ``neurops fit``; an ensemble counts as its members at their best states)
each model's protocol orbit (from the first test point, the first quarter dropped) is also scored as it
is, with its mean moved to the data's, and with mean and standard deviation matched per variable. That
is a diagnostic, not a metric: if matching the moments brings a model to the floor, its error is a
global offset or scale; if not, it is in the shape of the attractor.

With ``--cycles`` (a quasi-periodic series such as an ECG: cycles start where its first variable rises
through the level halfway between its mean and its 99.9th percentile, an ECG's R waves) it also scores
copies built from the training series' cycles: the cycles as they are in a random order (the same
distribution of shapes and lengths, no sequence), and, each resampled onto a common phase grid, the mean cycle at
the mean cycle length (a limit cycle of the average shape), the mean cycle at the data's own cycle lengths
(timing variability kept, shape variability removed), the data's cycles one after another at the mean
length (shapes kept, timing made regular), and every real cycle repeated on its own (exactly periodic
orbits made of real cycles: the best and the median). Every row then gives the mean, standard deviation
and minimum of its series' cycle lengths. What a model must reproduce to come near the floor, and what it
gets wrong.

Run: ``python -m benchmarks run dsr_metric_sensitivity --train ecg_5d_train.npy --test ecg_5d_test.npy
[--ckpt RUN/checkpoints/last.ckpt] [--cycles] [--name NAME]``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from benchmarks.dsr_common import best_members
from benchmarks.runner import benchmark_parser
from neurops.data.series_import import load_series
from neurops.metrics.dsr import generate_like, orbit_distances, orbit_verdict
from neurops.utils.bench import markdown_table, save_results

NOISE = (0.02, 0.05, 0.1, 0.2)  # Gaussian noise, in standard deviations of each variable
SCALES = (0.95, 1.05, 1.1)  # about the mean
SHIFT = 0.1  # standard deviations, first variable only
CLOCKS = (0.98, 1.02)  # time resampling factors


CYCLE_GRID = 400  # phase points per cycle when cycles are put onto a common grid
REPEATED_CYCLES = 200  # at most this many cycles (evenly spread) are each scored repeated on their own


def _interpolate(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``x : [T, N]`` read at the fractional times ``t : [n]`` in ``[0, T - 1]`` (linear interpolation): ``[n, N]``."""
    i = np.minimum(t.astype(int), len(x) - 2)
    w = (t - i)[:, None]
    return (1.0 - w) * x[i] + w * x[i + 1]


def resample_in_time(x: np.ndarray, factor: float) -> np.ndarray:
    """``x : [T, N]`` read at times ``0, f, 2f, ...`` (linear interpolation): ``[~T / f, N]``."""
    return _interpolate(x, np.arange(0.0, len(x) - 1, factor))


def autocorrelation_period(x0: np.ndarray) -> int:
    """The main period of ``x0 : [T]`` in steps: the first autocorrelation peak after the first zero crossing
    that reaches 0.8 of the highest one there (lags below ``T / 2``)."""
    xc = x0 - x0.mean()
    ac = np.fft.irfft(np.abs(np.fft.rfft(xc, 2 * len(xc))) ** 2)[: len(xc) // 2]
    first = int(np.argmax(ac < 0))
    peaks = first + 1 + np.flatnonzero((ac[first + 1:-1] >= ac[first:-2]) & (ac[first + 1:-1] > ac[first + 2:]))
    if first == 0 or not len(peaks):
        raise ValueError("the first variable has no periodic autocorrelation; --cycles needs a quasi-periodic series")
    return int(peaks[np.argmax(ac[peaks] >= 0.8 * ac[peaks].max())])


def cycle_onsets(x: np.ndarray, level: float, min_gap: int) -> np.ndarray:
    """Starts of the cycles of ``x : [T, N]``: the upward crossings of ``level`` by its first variable that come at
    least ``min_gap`` steps after the crossing before them (a wave that wobbles about the level counts once; the
    first crossing of the series, with none before it, is not counted)."""
    x0 = x[:, 0]
    up = np.flatnonzero((x0[:-1] < level) & (x0[1:] >= level)) + 1
    return up[1:][np.diff(up) >= min_gap]


def _cycles_on_grid(x: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """Each cycle of ``x`` (from one onset to the next, both ends) read at ``CYCLE_GRID + 1`` equally spaced
    phases: ``[C, CYCLE_GRID + 1, N]``."""
    phase = np.linspace(0.0, 1.0, CYCLE_GRID + 1)
    return np.stack([_interpolate(x, a + phase * (b - a)) for a, b in zip(onsets[:-1], onsets[1:], strict=True)])


def _assemble(cycles: np.ndarray, index: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """The series whose step ``t`` is cycle ``index[t]`` of ``cycles : [C, K + 1, N]`` at ``phase[t]`` in [0, 1)
    (:func:`_interpolate` along the cycles laid end to end)."""
    c, k1, n = cycles.shape
    return _interpolate(cycles.reshape(c * k1, n), index * k1 + phase * (k1 - 1))


def cycle_surrogates(x: np.ndarray, onsets: np.ndarray, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Series of ``n`` steps (or the data's cycles' span) built from the cycles of ``x : [T, N]`` starting at
    ``onsets``: the data's cycles as they are in a random order, the mean cycle at the mean cycle length, the mean
    cycle at the data's own cycle lengths, and the data's cycles one after another at the mean length (see the
    module docstring)."""
    order = np.random.default_rng(seed).permutation(len(onsets) - 1)
    shuffled = np.concatenate([x[onsets[i]:onsets[i + 1]] for i in order])
    lengths, cycles = np.diff(onsets), _cycles_on_grid(x, onsets)
    template = cycles.mean(0, keepdims=True)
    phase = np.arange(n) / lengths.mean()
    t = np.arange(onsets[0], onsets[-1])
    own = np.searchsorted(onsets, t, side="right") - 1
    return {"the data's cycles in a random order": shuffled,
            "mean cycle at the mean cycle length": _assemble(template, np.zeros(n, int), phase % 1.0),
            "mean cycle at the data's cycle lengths": _assemble(template, np.zeros(len(t), int),
                                                                 (t - onsets[own]) / lengths[own]),
            "the data's cycles at the mean cycle length": _assemble(cycles, phase.astype(int) % len(cycles),
                                                                    phase % 1.0)}


def _cycle_columns(x: np.ndarray, level: float, min_gap: int) -> dict[str, float]:
    """``{"cycle length", "cycle sd", "shortest cycle"}`` (steps) of ``x``'s cycles; NaN with fewer than two."""
    lengths = np.diff(cycle_onsets(x, level, min_gap)) if np.isfinite(x).all() else np.array([])
    if len(lengths) < 2:
        return {"cycle length": math.nan, "cycle sd": math.nan, "shortest cycle": math.nan}
    return {"cycle length": float(lengths.mean()), "cycle sd": float(lengths.std()),
            "shortest cycle": float(lengths.min())}


Cycles = tuple[float, int]  # (level, min_gap) of cycle_onsets, from the training series


def cycle_definition(x_train: np.ndarray) -> Cycles:
    """Where cycles start: upward crossings of the level halfway between the first variable's mean and its 99.9th
    percentile (an ECG's R waves, above its T waves), a quarter of its main period after the crossing before."""
    x0 = x_train[:, 0]
    return float(x0.mean() + 0.5 * (np.quantile(x0, 0.999) - x0.mean())), autocorrelation_period(x0) // 4


def _row(name: str, x_test: np.ndarray, x: np.ndarray, verdict: str, cycles: Cycles | None) -> dict:
    """One table row: ``x`` scored against the test series (repeated end to end if shorter), with its cycles."""
    x = _at_least(x, len(x_test))
    d_stsp, d_h = orbit_distances(x_test, x)
    row = {"comparison": name, "D_stsp": d_stsp, "D_H": d_h, "verdict": verdict}
    return row | (_cycle_columns(x, *cycles) if cycles else {})


def defect_rows(x_train: np.ndarray, x_test: np.ndarray, seed: int = 0, cycles: Cycles | None = None) -> list[dict]:
    """``{"comparison", "D_stsp", "D_H", "verdict": "-"}`` of the test series against the training series and its
    defective copies, scored as :func:`~neurops.metrics.dsr.orbit_distances` scores an orbit: D_stsp over the
    whole copy, D_H over its first ``len(x_test)`` points (a shorter copy is repeated end to end); with
    ``cycles``, also each copy's cycle lengths."""
    rng = np.random.default_rng(seed)
    mean, std = x_train.mean(0), x_train.std(0)
    shift = np.zeros(x_train.shape[1])
    shift[0] = SHIFT * std[0]
    copies = {"training series (the floor)": x_train}
    copies |= {f"+ noise {s:g} std": x_train + s * std * rng.standard_normal(x_train.shape) for s in NOISE}
    copies |= {f"scaled x{a:g} about the mean": mean + a * (x_train - mean) for a in SCALES}
    copies |= {f"first variable + {SHIFT:g} std": x_train + shift}
    copies |= {f"resampled in time x{f:g}": resample_in_time(x_train, f) for f in CLOCKS}
    return [_row(name, x_test, copy, "-", cycles) for name, copy in copies.items()]


def cycle_rows(x_train: np.ndarray, x_test: np.ndarray, cycles: Cycles) -> list[dict]:
    """The test series against :func:`cycle_surrogates` of the training series and against each of its cycles
    repeated on its own (at most ``REPEATED_CYCLES``, evenly spread; two rows: the best by D_stsp, with its D_H
    and length, and the medians of D_stsp and D_H over those cycles)."""
    onsets = cycle_onsets(x_train, *cycles)
    if len(onsets) < 3:
        raise ValueError(f"the training series has {max(len(onsets) - 1, 0)} whole cycles; --cycles needs a "
                         "quasi-periodic series with several")
    rows = [_row(name, x_test, x, "-", cycles) for name, x in cycle_surrogates(x_train, onsets, len(x_test)).items()]
    picked = np.unique(np.linspace(0, len(onsets) - 2, min(REPEATED_CYCLES, len(onsets) - 1)).round().astype(int))
    repeated = [_row("", x_test, x_train[onsets[i]:onsets[i + 1]], "-", cycles) for i in picked]
    best = min(repeated, key=lambda r: r["D_stsp"])
    rows.append(best | {"comparison": f"one real cycle repeated: the best of {len(repeated)}"})
    median_length = float(np.median(np.diff(onsets)[picked]))  # a repeated cycle is its own shortest
    rows.append({"comparison": f"one real cycle repeated: the median of {len(repeated)}",
                 "D_stsp": float(np.median([r["D_stsp"] for r in repeated])),
                 "D_H": float(np.median([r["D_H"] for r in repeated])), "verdict": "-",
                 "cycle length": median_length, "cycle sd": 0.0, "shortest cycle": median_length})
    return rows


def _at_least(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` repeated end to end until it has ``n`` points (orbit_distances needs an orbit as long as the data)."""
    return np.concatenate([x] * -(-n // len(x)))


def model_rows(models: list[torch.nn.Module], x_test: np.ndarray, labels: list[str],
               cycles: Cycles | None = None) -> list[dict]:
    """Each model's protocol orbit scored as it is, mean-matched and mean-and-std matched to the test series
    (these two only for a bounded orbit: one that collapsed or diverged has no moments to match); with
    ``cycles``, also the orbit's cycle lengths."""
    rows = []
    mean, std = x_test.mean(0), x_test.std(0)
    for label, model in zip(labels, models, strict=True):
        with torch.no_grad():
            orbit = np.asarray(generate_like(model, x_test))
        verdict = orbit_verdict(orbit, x_test)["verdict"]
        variants = {"as generated": orbit}
        if verdict == "bounded":
            variants["mean matched"] = orbit - orbit.mean(0) + mean
            variants["mean and std matched"] = (orbit - orbit.mean(0)) / orbit.std(0) * std + mean
        rows += [_row(f"{label}, {name}", x_test, x, verdict, cycles) for name, x in variants.items()]
    return rows


def _models(ckpts: list[Path]) -> tuple[list[torch.nn.Module], list[str]]:
    """The models of ``ckpts`` (an ensemble's members at their best states) and their labels: the run folder's
    name, with ``seed S`` for a member (the seeds as ``neurops dsr evaluate`` names them)."""
    models, labels = [], []
    for ckpt in ckpts:
        members, names, _ = best_members(ckpt)
        models += members
        labels += names
    return models, labels


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser(__doc__, quick=None)
    parser.add_argument("--train", type=Path, required=True, help="training series, [T, N] .npy")
    parser.add_argument("--test", type=Path, required=True, help="test series, [T, N] .npy")
    parser.add_argument("--ckpt", type=Path, nargs="*", default=[],
                        help="checkpoints of DSR models to score too (an ensemble: every member at its best state)")
    parser.add_argument("--cycles", action="store_true",
                        help="a quasi-periodic series (an ECG): also score copies built from its cycles and give "
                             "every row's cycle lengths")
    parser.add_argument("--name", default="dsr_metric_sensitivity", help="results file name")
    args = parser.parse_args(argv)
    for path in (args.train, args.test, *args.ckpt):
        if not path.is_file():
            parser.error(f"no file at {path}; pass [T, N] .npy series to --train / --test and checkpoint files to "
                         "--ckpt")
    x_train, x_test = (load_series(p) for p in (args.train, args.test))  # a file that is no series: one line
    if x_train.ndim != 2 or x_test.ndim != 2 or x_train.shape[1] != x_test.shape[1]:
        parser.error(f"--train and --test must be series [T, N] with the same N; got {x_train.shape} and "
                     f"{x_test.shape}")
    cycles, cycle_note = None, ""
    if args.cycles:
        try:
            cycles = cycle_definition(x_train)
            surrogate_rows = cycle_rows(x_train, x_test, cycles)
        except ValueError as err:
            parser.error(f"--train: {err}")
        test_cycles = _cycle_columns(x_test, *cycles)
        cycle_note = (f"Cycles: upward crossings of {cycles[0]:.3g} (halfway between the first variable's mean and its "
                      f"99.9th percentile in the training series) at least {cycles[1]} steps after the crossing "
                      "before (a quarter of its autocorrelation period); 'cycle length', 'cycle sd' and 'shortest "
                      "cycle': mean, standard deviation and minimum of the lengths in steps (test series: "
                      f"{test_cycles['cycle length']:.4g} and {test_cycles['cycle sd']:.4g}). Copies built from the "
                      f"training series' cycles put onto a grid of {CYCLE_GRID} phases per cycle. ")
    rows = defect_rows(x_train, x_test, cycles=cycles) + (surrogate_rows if cycles else [])
    if args.ckpt:
        models, labels = _models(args.ckpt)
        rows += model_rows(models, x_test, labels, cycles)
    md = markdown_table(rows)
    notes = (f"\n\nTest series `{args.test.name}` ({len(x_test)} x {x_test.shape[1]}) against the training series "
             f"`{args.train.name}` ({len(x_train)} points) and copies of it with one defect each (noise and "
             "shifts in units of each variable's standard deviation in the training series; the copies are "
             "repeated end to end where shorter than the test series). D_stsp with 30 bins per dimension "
             "(Gaussian mixture for N > 5), D_H with spectra smoothed over 20 frequency bins: the GTF paper's "
             "protocol. " + cycle_note
             + ("Models: the orbit of `dsr evaluate`'s first start (1.25 T free steps from the first test point, "
                "the first 0.25 T dropped), then moved to the data's mean, then matched in mean and standard "
                "deviation per variable (a diagnostic of where the error lies, not a metric; left out for an "
                "orbit that collapsed or diverged)." if args.ckpt else "")
             + "\n")
    print(md + notes)
    save_results(args.name, vars(args), rows, md + notes, args.results_dir)


if __name__ == "__main__":
    main()
