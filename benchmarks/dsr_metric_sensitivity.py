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

Run: ``python -m benchmarks run dsr_metric_sensitivity --train ecg_5d_train.npy --test ecg_5d_test.npy
[--ckpt RUN/checkpoints/last.ckpt] [--name NAME]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from benchmarks.runner import benchmark_parser
from neurops.checkpoints import load
from neurops.metrics.dsr import generate_like, orbit_distances, orbit_verdict
from neurops.utils.bench import markdown_table, save_results

NOISE = (0.02, 0.05, 0.1, 0.2)  # Gaussian noise, in standard deviations of each variable
SCALES = (0.95, 1.05, 1.1)  # about the mean
SHIFT = 0.1  # standard deviations, first variable only
CLOCKS = (0.98, 1.02)  # time resampling factors


def resample_in_time(x: np.ndarray, factor: float) -> np.ndarray:
    """``x : [T, N]`` read at times ``0, f, 2f, ...`` (linear interpolation): ``[~T / f, N]``."""
    t = np.arange(0.0, len(x) - 1, factor)
    i = t.astype(int)
    w = (t - i)[:, None]
    return (1.0 - w) * x[i] + w * x[i + 1]


def defect_rows(x_train: np.ndarray, x_test: np.ndarray, seed: int = 0) -> list[dict]:
    """``{"comparison", "D_stsp", "D_H", "verdict": "-"}`` of the test series against the training series and its
    defective copies, scored as :func:`~neurops.metrics.dsr.orbit_distances` scores an orbit: D_stsp over the
    whole copy, D_H over its first ``len(x_test)`` points (a shorter copy is repeated end to end)."""
    rng = np.random.default_rng(seed)
    mean, std = x_train.mean(0), x_train.std(0)
    shift = np.zeros(x_train.shape[1])
    shift[0] = SHIFT * std[0]
    copies = {"training series (the floor)": x_train}
    copies |= {f"+ noise {s:g} std": x_train + s * std * rng.standard_normal(x_train.shape) for s in NOISE}
    copies |= {f"scaled x{a:g} about the mean": mean + a * (x_train - mean) for a in SCALES}
    copies |= {f"first variable + {SHIFT:g} std": x_train + shift}
    copies |= {f"resampled in time x{f:g}": resample_in_time(x_train, f) for f in CLOCKS}
    rows = []
    for name, copy in copies.items():
        d_stsp, d_h = orbit_distances(x_test, _at_least(copy, len(x_test)))
        rows.append({"comparison": name, "D_stsp": d_stsp, "D_H": d_h, "verdict": "-"})
    return rows


def _at_least(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` repeated end to end until it has ``n`` points (orbit_distances needs an orbit as long as the data)."""
    return np.concatenate([x] * -(-n // len(x)))


def model_rows(models: list[torch.nn.Module], x_test: np.ndarray, labels: list[str]) -> list[dict]:
    """Each model's protocol orbit scored as it is, mean-matched and mean-and-std matched to the test series
    (these two only for a bounded orbit: one that collapsed or diverged has no moments to match)."""
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
        for name, x in variants.items():
            d_stsp, d_h = orbit_distances(x_test, x)
            rows.append({"comparison": f"{label}, {name}", "D_stsp": d_stsp, "D_H": d_h, "verdict": verdict})
    return rows


def _models(ckpts: list[Path]) -> tuple[list[torch.nn.Module], list[str]]:
    """The models of ``ckpts`` (an ensemble's members at their best states) and their labels: the run folder's
    name, with ``seed S`` for a member (the seeds as ``neurops dsr evaluate`` names them)."""
    models, labels = [], []
    for ckpt in ckpts:
        task = load(ckpt, "dynamics")[1]
        seeds, run = task.hparams.get("seeds"), ckpt.parent.parent.name
        models += [m.double().eval() for m in task.member_models("best")]
        labels += [f"{run} seed {s}" for s in seeds] if seeds else [run]
    return models, labels


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser(__doc__, quick=None)
    parser.add_argument("--train", type=Path, required=True, help="training series, [T, N] .npy")
    parser.add_argument("--test", type=Path, required=True, help="test series, [T, N] .npy")
    parser.add_argument("--ckpt", type=Path, nargs="*", default=[],
                        help="checkpoints of DSR models to score too (an ensemble: every member at its best state)")
    parser.add_argument("--name", default="dsr_metric_sensitivity", help="results file name")
    args = parser.parse_args(argv)
    for path in (args.train, args.test, *args.ckpt):
        if not path.is_file():
            parser.error(f"no file at {path}; pass [T, N] .npy series to --train / --test and checkpoint files to "
                         "--ckpt")
    x_train, x_test = (np.load(p).astype(np.float64) for p in (args.train, args.test))
    if x_train.ndim != 2 or x_test.ndim != 2 or x_train.shape[1] != x_test.shape[1]:
        parser.error(f"--train and --test must be series [T, N] with the same N; got {x_train.shape} and "
                     f"{x_test.shape}")
    rows = defect_rows(x_train, x_test)
    if args.ckpt:
        models, labels = _models(args.ckpt)
        rows += model_rows(models, x_test, labels)
    md = markdown_table(rows)
    notes = (f"\n\nTest series `{args.test.name}` ({len(x_test)} x {x_test.shape[1]}) against the training series "
             f"`{args.train.name}` ({len(x_train)} points) and copies of it with one defect each (noise and "
             "shifts in units of each variable's standard deviation in the training series; the copies are "
             "repeated end to end where shorter than the test series). D_stsp with 30 bins per dimension "
             "(Gaussian mixture for N > 5), D_H with spectra smoothed over 20 frequency bins: the GTF paper's "
             "protocol. "
             + ("Models: the orbit of `dsr evaluate`'s first start (1.25 T free steps from the first test point, "
                "the first 0.25 T dropped), then moved to the data's mean, then matched in mean and standard "
                "deviation per variable (a diagnostic of where the error lies, not a metric; left out for an "
                "orbit that collapsed or diverged)." if args.ckpt else "")
             + "\n")
    print(md + notes)
    save_results(args.name, vars(args), rows, md + notes, args.results_dir)


if __name__ == "__main__":
    main()
