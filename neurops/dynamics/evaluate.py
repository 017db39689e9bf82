"""Evaluation of trained DSR models on a trajectory file (the library side of ``neurops dsr evaluate``).

For every checkpoint (one model, or the members of a seed study) it runs the GTF paper's protocol
(:func:`neurops.metrics.dsr.evaluate_reconstruction`) from several initial conditions of the test split: D_stsp,
D_H, PE(n) and lambda_max, each start's values with their mean +- sem and median, the orbits' spread per dimension
against the data's and a verdict (``bounded``, ``collapsed to a fixed point``, ``diverged``), and the significant
periods of the orbit's periodogram against the data's (:func:`~neurops.metrics.spectra.dominant_periods`: what a
D_H gap is made of). Next to them stand the data's own values: D_stsp and D_H of another split against the test
split (the floor a model can reach) and the true system's lambda_max (from the generating equations, or the
published value a ``dysts`` file records). Settings a series is too short for are named in ``notes``.

References
----------
.. [1] Hess, F., Monfared, Z., Brenner, M., Durstewitz, D. (2023). Generalized teacher
   forcing for learning chaotic dynamics. ICML 2023, PMLR 202 (evaluation protocol,
   mean +- sem and median over runs).
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from neurops.errors import ConfigError, DataError
from neurops.metrics.spectra import PERIOD_FALSE_ALARM, check_smoothing, smoothing_blurs
from neurops.utils.seeding import check_seed

#: the metrics reported per model (``pe`` does not depend on the initial condition)
METRICS = ("d_stsp", "d_h", "pe", "lambda_max")
LABELS = {"d_stsp": "D_stsp", "d_h": "D_H", "pe": "PE", "lambda_max": "lambda_max"}


@dataclass
class EvaluationSettings:
    """Metric settings of :func:`evaluate_checkpoints`; the defaults are the papers'.

    Parameters
    ----------
    n_bins : D_stsp bins per dimension (30: Hess et al. 2023); series of more than 5 variables get a Gaussian
        mixture instead, which has no bins.
    smoothing : D_H Gaussian smoothing of the power spectra, in frequency bins (20).
    warmup : fraction of T dropped from the start of every generated orbit (0.25).
    orbit_length : points of every generated orbit after the warm-up (None: T, the protocol).
    starts : initial conditions spread evenly over the test series (the first is its first point).
    lyapunov_steps : QR steps along each orbit for lambda_max (a run of over 5 minutes is announced with its time).
    lyapunov_starts : orbits (initial conditions) lambda_max is averaged over.
    pe_steps : horizon n of PE(n) (20).
    max_length : use at most this many test points (None: all).
    seed : seed of the random tangent frames (lambda_max) and Monte-Carlo draws (D_stsp for N > 5).
    """

    n_bins: int = 30
    smoothing: float = 20.0
    warmup: float = 0.25
    orbit_length: int | None = None
    starts: int = 5
    lyapunov_steps: int = 10_000
    lyapunov_starts: int = 5
    pe_steps: int = 20
    max_length: int | None = 100_000
    seed: int = 0

    def __post_init__(self) -> None:
        check_seed(self.seed)
        positive = {"n_bins": self.n_bins, "starts": self.starts, "lyapunov_steps": self.lyapunov_steps,
                    "lyapunov_starts": self.lyapunov_starts, "pe_steps": self.pe_steps}
        bad = {k: v for k, v in positive.items() if v < 1}
        for key in ("orbit_length", "max_length"):
            value = getattr(self, key)
            if value is not None and value < 2:
                bad[key] = value
        if bad:
            raise ConfigError(f"evaluation settings {bad} must be positive integers (orbit_length and max_length "
                              ">= 2).")
        if self.n_bins < 2:  # one bin holds every point of both series: D_stsp is 0 for any model
            raise ConfigError(f"n_bins={self.n_bins}: a D_stsp histogram of one bin per dimension puts every point of "
                              "data and orbit in it, so D_stsp is 0 for any model; use --bins >= 2 (30: the papers').")
        if not 0.0 <= self.warmup < 10.0:
            raise ConfigError(f"warmup={self.warmup:g}: the warm-up is a fraction of the test length T, not a number "
                              "of steps (0.25 drops the first T/4 steps of every orbit); use 0 <= warmup < 10.")
        check_smoothing(self.smoothing)  # also NaN


def read_series(path: str | os.PathLike, split: str, max_length: int | None = None) -> np.ndarray:
    """The first trajectory of ``split`` of a trajectory file as ``[T, N]`` float64 (at most ``max_length`` points)."""
    from neurops.data.reader import read_split

    states = read_split(path, split)["states"]
    if not states:
        raise DataError(f"{path} split {split!r} has no states; DSR evaluation needs a trajectory file.")
    arr = next(iter(states.values()))
    x = np.asarray(arr[0], dtype=np.float64).reshape(arr.shape[1], -1)
    if not np.isfinite(x).all():
        raise DataError(f"{path} split {split!r} has NaN or Inf values; run `neurops data check {path}`.")
    return x[:max_length] if max_length else x


def reference_lyapunov(x: np.ndarray, attrs: dict[str, Any]) -> tuple[float | None, str | None]:
    """The data's lambda_max per time unit and where it comes from, or ``(None, None)``.

    Files of the neurops generators: integrated along the data with the true Jacobian;
    files of ``neurops data generate dysts``: the published value of the system's metadata.
    """
    from neurops.metrics.dsr import data_lyapunov_max

    value = data_lyapunov_max(x, attrs)
    if value is not None:
        return value, "true system, along the data"
    published = ((attrs.get("parameters") or {}).get("published") or {}).get("lambda_max")
    if published is not None:
        return float(published), "published (dysts metadata)"
    return None, None


def spectrum_smoothing(n_points: int, smoothing: float = 20.0) -> float:
    """``smoothing`` (frequency bins) if it is at most 2 % of the spectrum of ``n_points``, else 1 % of it (>= 0.5).

    More than 2 % blurs the spectrum into its overall shape (20 bins of a 72-point series' 37).
    """
    n_freq = n_points // 2 + 1
    return smoothing if 0 < smoothing and not smoothing_blurs(n_points, smoothing) else max(0.5, 0.01 * n_freq)


def metric_notes(x_test: np.ndarray, settings: EvaluationSettings) -> list[str]:
    """Metrics the test series is too short for, with the setting that fixes each."""
    from neurops.metrics.dsr import BINNING_MAX_DIM, occupied_bins

    t, n = x_test.shape
    notes = []
    n_freq = t // 2 + 1
    if smoothing_blurs(t, settings.smoothing):
        notes.append(f"D_H: the power spectrum of {t} points has {n_freq} frequency bins; smoothing over "
                     f"{settings.smoothing:g} bins blurs it into its overall shape, so D_H separates little. Use "
                     f"--smoothing {spectrum_smoothing(t, 0.0):.2g} or a longer test series.")
    if n > BINNING_MAX_DIM and settings.n_bins != EvaluationSettings.n_bins:
        notes.append(f"D_stsp: --bins {settings.n_bins} has no effect on {n}-dimensional data: above "
                     f"{BINNING_MAX_DIM} dimensions D_stsp is the Gaussian-mixture estimate (Brenner et al. 2022), "
                     "which has no bins.")
    if n <= BINNING_MAX_DIM:
        bins = occupied_bins(x_test, settings.n_bins)
        if t / bins < 5:
            notes.append(f"D_stsp: the {t} test points fill {bins} of {settings.n_bins}^{n} bins, {t / bins:.1f} per "
                         "bin: the histogram is mostly sampling noise and D_stsp is large even for a perfect model "
                         "(compare with the data's own value); use fewer --bins or a longer test series.")
    if settings.starts > t:
        notes.append(f"--starts {settings.starts} asks for more initial conditions than the {t} test points: each "
                     f"point is one, {t} in all.")
    if constant := np.flatnonzero(np.ptp(x_test, axis=0) == 0).tolist():
        notes.append(f"variables {constant} are constant in the test series: the verdict measures an orbit's "
                     "deviation and spread in them against the other variables' largest (the data's own are 0) and "
                     "D_stsp has no spread to compare; drop them from the data (neurops data import-series) and "
                     "train again.")
    if t <= settings.pe_steps:
        notes.append(f"PE({settings.pe_steps}) needs more than {settings.pe_steps} test points, the series has {t}; "
                     "lower --pe-steps.")
    return notes


def evaluate_checkpoints(ckpts: list[str | os.PathLike], data: str | os.PathLike, *, split: str = "test",
                         reference_split: str | None = "train", settings: EvaluationSettings | None = None,
                         member_state: Literal["best", "final"] = "best") -> dict[str, Any]:
    """Evaluate one or several DSR checkpoints (e.g. the members of a seed study) on ``split`` of ``data``.

    Parameters
    ----------
    ckpts : checkpoint paths (``neurops fit`` of a DynamicsTask); an ensemble checkpoint (``seeds``)
        counts as its R members.
    data : trajectory file.
    split : the held-out split evaluated on.
    reference_split : the split whose D_stsp / D_H against ``split`` is the data's floor.
    settings : metric settings (default: the papers').
    member_state : the members of an ensemble checkpoint at their own ``best`` validation state, or
        at their ``final`` state (:meth:`~neurops.tasks.dynamics.DynamicsTask.member_models`).

    Returns
    -------
    ``{"data", "split", "n_points", "n_variables", "dt", "settings", "models": [per checkpoint: metrics, per-start
    values, verdict, spread, dominant periods], "summary": {metric: mean/sem/median/mad/n over the models}, "verdicts":
    {verdict: [member indices]}, "floor": the data's own values (and its dominant periods), "notes": [...]}``.
    """
    from neurops.data.reader import list_splits, read_meta
    from neurops.metrics.dsr import summarize

    settings = settings or EvaluationSettings()
    if not ckpts:
        raise ConfigError("give at least one checkpoint to evaluate.")
    if repeated := [str(c) for i, c in enumerate(ckpts) if Path(c).resolve() in [Path(d).resolve() for d in ckpts[:i]]]:
        raise ConfigError(f"checkpoints {repeated} are given twice (their models would count twice); give each once.")
    x_test = read_series(data, split, settings.max_length)
    if reference_split and reference_split not in list_splits(data):  # before the work
        raise DataError(f"{data} has no split {reference_split!r} to compute the data floor with (--reference-split); "
                        f"it has {list_splits(data)}.")
    t = len(x_test)
    if settings.orbit_length is not None and settings.orbit_length < t:
        raise ConfigError(f"orbit_length={settings.orbit_length} is shorter than the test series (T={t}); D_H "
                          "compares equally long series: use --orbit-length >= T or --max-length "
                          f"{settings.orbit_length}.")
    attrs = read_meta(data).attrs()  # the root attributes, validated
    notes = metric_notes(x_test, settings)
    if split in ("train", "val"):  # the splits a fit trains on and selects its checkpoints with
        role = "trained on" if split == "train" else "selected its checkpoints with"
        notes.append(f"split {split!r} is the one a fit {role}: these are not held-out numbers; report those of the "
                     "test split (--split test).")
    models, dt = _evaluate_members(ckpts, data, x_test, attrs, settings, member_state)
    floor = _data_floor(data, x_test, attrs, split, reference_split, settings, notes)
    verdicts = {v: [i for i, m in enumerate(models) if v in m["verdict"]]  # in the order they first occur
                for v in dict.fromkeys(v for m in models for v in m["verdict"])}
    summary = {k: summarize([m[k] for m in models if m[k] is not None]) for k in METRICS}
    for k in ("d_stsp", "d_h"):  # a diverged model counts as infinitely far in the median
        summary[k]["median"] = float(np.median([m[k] for m in models]))
    return {"data": str(data), "split": split, "n_points": t, "n_variables": x_test.shape[1], "dt": dt,
            "settings": dataclasses.asdict(settings), "models": models, "summary": summary, "verdicts": verdicts,
            "floor": floor, "notes": notes}


def _evaluate_members(ckpts: list[str | os.PathLike], data: str | os.PathLike, x_test: np.ndarray,
                      attrs: dict[str, Any], settings: EvaluationSettings,
                      member_state: Literal["best", "final"]) -> tuple[list[dict[str, Any]], float]:
    """The metrics of every model (every member of an ensemble checkpoint) on ``x_test``, and the time step
    of the last checkpoint. Every checkpoint is loaded and checked (variables, orbit memory) before any work."""
    from neurops.checkpoints import load
    from neurops.metrics.dsr import check_orbit_memory, evaluate_reconstruction, lyapunov_time_note, start_indices

    t = len(x_test)
    loaded = []
    for ckpt in ckpts:
        task = load(ckpt, "dynamics", command="neurops dsr evaluate")[1]
        if x_test.shape[1] != task.net.obs_dim:
            raise ConfigError(f"{data} has {x_test.shape[1]} variables but the model {ckpt} observes "
                              f"{task.net.obs_dim}.")
        members = [model.double() for model in task.member_models(member_state)]
        for model in members:  # the check evaluate_reconstruction makes, for every model before any orbit
            check_orbit_memory(model, t, settings.starts, settings.warmup, settings.orbit_length)
        loaded.append((ckpt, task, members))
    if note := lyapunov_time_note([m for *_, members in loaded for m in members],
                                  x_test[start_indices(t, settings.lyapunov_starts)], settings.lyapunov_steps):
        print(f"neurops: note: {note}", file=sys.stderr, flush=True)
    models, dt = [], 1.0
    for ckpt, task, members in loaded:
        meta, seeds = task.record, task.hparams.get("seeds")
        dt = float((attrs.get("parameters") or {}).get("dt", meta.get("dt", 1.0)))
        for r, model in enumerate(members):
            result = evaluate_reconstruction(
                model, x_test, dt=dt, n_bins=settings.n_bins, smoothing=settings.smoothing,
                pe_steps=min(settings.pe_steps, t - 1), lyapunov_steps=settings.lyapunov_steps,
                lyapunov_starts=settings.lyapunov_starts, n_starts=settings.starts, warmup_fraction=settings.warmup,
                orbit_length=settings.orbit_length, seed=settings.seed)
            if t <= settings.pe_steps:
                result["pe"] = None
            member = {"member": r, "seed": int(seeds[r]), "state": member_state} if seeds else {}
            models.append({"checkpoint": str(ckpt), **member, "model": meta["model"], **result})
    return models, dt


def _data_floor(data: str | os.PathLike, x_test: np.ndarray, attrs: dict[str, Any], split: str,
                reference_split: str | None, settings: EvaluationSettings, notes: list[str]) -> dict[str, Any]:
    """The data's own values: D_stsp / D_H of ``reference_split`` against the test series, and lambda_max
    of the system the data came from (a note explains a missing floor)."""
    from neurops.metrics.dsr import data_lyapunov_max, dominant_periods, hellinger_distance, state_space_divergence

    t = len(x_test)
    floor: dict[str, Any] = {"d_stsp": None, "d_h": None, "pe": None, "reference_split": reference_split,
                             "periods": dominant_periods(x_test)}
    floor["lambda_max"], floor["lambda_max_source"] = reference_lyapunov(x_test, attrs)
    if floor["lambda_max_source"] == "true system, along the data" and t >= 4:  # settled: its two halves agree
        halves = [data_lyapunov_max(half, attrs) or 0.0 for half in np.array_split(x_test, 2)]
        if abs(halves[0] - halves[1]) > 0.25 * abs(floor["lambda_max"]):
            notes.append(f"the data's lambda_max along its {t} test points, {floor['lambda_max']:.3g}, has not settled "
                         f"(its halves give {halves[0]:.3g}, {halves[1]:.3g}); use a longer series (--max-length).")
    if reference_split == split:
        notes.append(f"the data floor compares split {split!r} with itself: D_stsp and D_H are 0 by construction; "
                     "--reference-split train compares two different stretches of the data.")
    if reference_split:
        ref = read_series(data, reference_split, t)
        if len(ref) == t:
            floor["d_stsp"] = state_space_divergence(x_test, ref, n_bins=settings.n_bins, seed=settings.seed)
            floor["d_h"] = hellinger_distance(x_test, ref, smoothing=settings.smoothing)
        else:
            notes.append(f"no data floor: split {reference_split!r} has {len(ref)} points, fewer than the {t} test "
                         "points (D_stsp and D_H compare equally long series); pass --max-length "
                         f"{len(ref)} or another --reference-split.")
    return floor


def _estimator_text(res: dict[str, Any]) -> str:
    """How D_stsp was estimated: ``with 30 bins per dimension`` or, above 5 dimensions, by a Gaussian mixture."""
    from neurops.metrics.dsr import BINNING_MAX_DIM

    n = res.get("n_variables")
    if n is not None and n > BINNING_MAX_DIM:
        return f"by a Gaussian mixture of variance 1 ({n} dimensions; binning up to {BINNING_MAX_DIM})"
    return f"with {res['settings']['n_bins']} bins per dimension"


def _fmt(v: float | None) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4g}"


def _columns(rows: list[list[str]]) -> list[str]:
    """Rows of cells as text lines: the first column left-aligned, the others right-aligned, two spaces apart."""
    widths = [max(len(row[j]) for row in rows) for j in range(len(rows[0]))]
    return [(row[0].ljust(widths[0]) + "".join("  " + c.rjust(w) for c, w in zip(row[1:], widths[1:]))).rstrip()
            for row in rows]


def _verdict_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{v} ({n}/{sum(counts.values())} starts)" for v, n in counts.items())


def _periods_text(periods: list, verdict: str = "bounded") -> str:
    """``685 (1), 229 (0.89)``; ``-`` for an orbit that collapsed or diverged (the verdict of the first start)."""
    if periods or verdict != "bounded":
        return ", ".join(f"{p:.4g} ({w:.2g})" for p, w in periods) or "-"
    return "no significant period (no peak stands out of the noise background: a noise-like spectrum)"


def _model_name(res: dict[str, Any], i: int) -> str:
    """``model``, ``model 3``, or ``seed 7`` for a member of an ensemble checkpoint (``best.ckpt seed 7``, or the
    path where the file names repeat, when members of several checkpoints are evaluated)."""
    m = res["models"][i]
    if "seed" not in m:
        return f"model {i}" if len(res["models"]) > 1 else "model"
    ckpts = list(dict.fromkeys(str(x.get("checkpoint")) for x in res["models"]))
    names = {Path(c).name for c in ckpts}
    where = "" if len(ckpts) == 1 else (Path(m["checkpoint"]).name if len(names) == len(ckpts) else m["checkpoint"])
    return f"{where} seed {m['seed']}".lstrip()


def format_evaluation(res: dict[str, Any]) -> str:
    """The human-readable report of :func:`evaluate_checkpoints`."""
    s, floor = res["settings"], res["floor"]
    pe_label = f"PE({s['pe_steps']})"
    orbit = s["orbit_length"] or res["n_points"]
    n_starts = len(res["models"][0].get("per_start", {}).get("start", [None] * s["starts"]))  # fewer: short series
    lines = [f"{res['data']} [{res['split']}]: T = {res['n_points']} points, dt = {res['dt']:g}; orbits of {orbit} "
             f"steps after {round(s['warmup'] * res['n_points'])} warm-up steps from {n_starts} initial "
             f"conditions; D_stsp {_estimator_text(res)}, D_H smoothed over {s['smoothing']:g} "
             f"bins; lambda_max from {s['lyapunov_starts']} orbits of {s['lyapunov_steps']} steps."]
    states = {m["state"] for m in res["models"] if "state" in m}
    lines += ["", "per model: median over initial conditions (mean +- sem)"
              + "".join(f"; ensemble members at their {st} state" + (" (lowest validation D_stsp)" if st == "best"
                                                                      else "") for st in sorted(states))]
    rows = [["", "D_stsp", "D_H", pe_label, "lambda_max"]]
    for i, m in enumerate(res["models"]):
        cells = [_model_name(res, i)]
        for k in METRICS:
            sm = m["summary"][k] if k != "pe" else {"n": 1}  # PE(n) is one number over all test points
            cells.append(_fmt(m[k]) + (f" ({sm['mean']:.3g}+-{sm['sem']:.2g})" if sm["n"] > 1 else ""))
        rows.append(cells)
    if len(res["models"]) > 1:
        sm = res["summary"]
        rows.append(["all models"] + [f"{_fmt(sm[k]['median'])} ({sm[k]['mean']:.3g}+-{sm[k]['sem']:.2g})"
                                      if sm[k]["n"] and k != "pe" else _fmt(sm[k]["median"]) for k in METRICS])
    rows.append(["data", _fmt(floor["d_stsp"]), _fmt(floor["d_h"]), "-", _fmt(floor["lambda_max"])])
    table = _columns(rows)
    lines += table[:-1]
    if len(res["models"]) > 1:
        lines.append("  (all models: median over the models (mean +- sem over the finite ones))")
    lines.append(table[-1])
    ref = floor["reference_split"]
    lines.append(f"  (data: D_stsp / D_H of split {ref!r} against {res['split']!r}; lambda_max: "
                 f"{floor['lambda_max_source'] or 'unknown system'})")
    lines += ["", "orbits (std per dimension; data: " + " ".join(f"{v:.3g}" for v in
                                                                res["models"][0]["data_spread"]) + ")"]
    for i, m in enumerate(res["models"]):
        spread = " ".join(_fmt(v) for v in m["spread"])
        lines.append(f"{_model_name(res, i):<14}{_verdict_text(m['verdict'])}; spread {spread}")
    if "periods" in floor:  # evaluations written before the periods were reported have none
        lines += ["", f"dominant periods: significant periodogram peaks at {PERIOD_FALSE_ALARM:.0%} false alarm "
                  "(steps, strongest first; relative power)",
                  f"{'data':<14}{_periods_text(floor['periods'])}"]
        lines += [f"{_model_name(res, i):<14}"
                  + _periods_text(m.get("periods", []), m.get("per_start", {}).get("verdict", ["-"])[0])
                  for i, m in enumerate(res["models"])]
    failed = {v: idx for v, idx in res["verdicts"].items() if v != "bounded"}
    for v, idx in failed.items() if len(res["models"]) > 1 else []:
        lines.append(f"WARNING: {v}: {', '.join(_model_name(res, i) for i in sorted(set(idx)))}")
    lines += [f"note: {note}" for note in res["notes"]]
    return "\n".join(lines)


def write_json(res: dict[str, Any], path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write an evaluation as strict JSON (a non-finite number as ``null``), atomically; an existing file is
    refused unless ``overwrite``."""
    from neurops.utils.io import atomic_path, strict_json

    with atomic_path(path, overwrite=overwrite) as tmp:
        Path(tmp).write_text(strict_json(res, indent=2) + "\n")
    return Path(path)


__all__ = ["EvaluationSettings", "evaluate_checkpoints", "format_evaluation", "metric_notes", "read_series",
           "reference_lyapunov", "spectrum_smoothing", "write_json"]
