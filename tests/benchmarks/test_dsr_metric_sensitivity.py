"""The metric-sensitivity benchmark: defects raise D_stsp as they should, moment matching finds an offset-and-scale
error, bad input is one error line."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.dsr_metric_sensitivity import (
    autocorrelation_period,
    cycle_definition,
    cycle_onsets,
    cycle_rows,
    cycle_surrogates,
    defect_rows,
    main,
    model_rows,
    resample_in_time,
)
from neurops.models.plrnn import ALRNN


def _quasi_periodic(n: int, seed: int) -> np.ndarray:
    t = np.arange(n) + 1000.0 * seed
    x = np.stack([np.sin(t / 7.0) + 0.5 * np.sin(t / 17.0), np.cos(t / 11.0)], axis=1)
    return x + 0.01 * np.random.default_rng(seed).standard_normal(x.shape)


def test_resampling_in_time_interpolates_linearly() -> None:
    x = np.arange(10.0)[:, None] * np.array([1.0, -2.0])
    np.testing.assert_allclose(resample_in_time(x, 0.5)[:5], [[0, 0], [0.5, -1], [1, -2], [1.5, -3], [2, -4]])
    assert len(resample_in_time(x, 2.0)) == 5


def test_defects_raise_the_divergence_in_order_and_a_slower_clock_does_not() -> None:
    rows = {r["comparison"]: r for r in defect_rows(_quasi_periodic(20_000, 0), _quasi_periodic(20_000, 1))}
    floor = rows["training series (the floor)"]["D_stsp"]
    noise = [rows[f"+ noise {s:g} std"]["D_stsp"] for s in (0.02, 0.05, 0.1, 0.2)]
    assert floor < noise[1] < noise[2] < noise[3]  # more blur, further from the data
    assert rows["scaled x1.1 about the mean"]["D_stsp"] > rows["scaled x1.05 about the mean"]["D_stsp"] > floor
    assert rows["first variable + 0.1 std"]["D_stsp"] > floor
    for f in (0.98, 1.02):  # the same set of states, visited at another pace: D_stsp barely moves, D_H does
        assert rows[f"resampled in time x{f:g}"]["D_stsp"] < noise[2]
        assert rows[f"resampled in time x{f:g}"]["D_H"] > rows["training series (the floor)"]["D_H"]


def _beats(n_beats: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """An ECG-like series ``[T, 2]`` (a pulse train and its copy 7 steps later) and its beat lengths: each beat
    a tall notched R wave (two narrow peaks 5 and 10 steps after its start, dipping below the cycle level between
    them) and a low broad T wave 40 steps after it, beats 100 +- 6 steps
    long in a slowly drifting rhythm (a random sequence smoothed over 9 beats), the R wave's height varying by
    +-10 % (timing and shape vary from beat to beat)."""
    rng = np.random.default_rng(seed)
    drift = np.convolve(rng.standard_normal(n_beats + 8), np.ones(9), "valid")
    lengths = np.round(100 + 6 * drift / drift.std()).astype(int)
    heights = rng.uniform(0.9, 1.1, n_beats)
    t, x, start = np.arange(int(lengths.sum())), np.zeros(int(lengths.sum())), 0
    for length, height in zip(lengths, heights, strict=True):
        r_wave = np.exp(-0.5 * ((t - start - 5) / 1.2) ** 2) + np.exp(-0.5 * ((t - start - 10) / 1.2) ** 2)
        x += height * r_wave + 0.45 * np.exp(-0.5 * ((t - start - 40) / 6.0) ** 2)
        start += length
    return np.stack([x, np.roll(x, 7)], axis=1), lengths


def test_cycles_start_once_a_beat_and_have_the_beats_lengths() -> None:
    x, lengths = _beats(300, 0)
    level, min_gap = cycle_definition(x)
    assert abs(autocorrelation_period(x[:, 0]) - lengths.mean()) < 0.1 * lengths.mean()
    x0 = x[:, 0]
    crossings = np.flatnonzero((x0[:-1] < level) & (x0[1:] >= level))
    assert len(crossings) == 2 * len(lengths)  # twice a beat (the notch), never at a T wave
    found = np.diff(cycle_onsets(x, level, min_gap))
    assert len(found) == len(lengths) - 2  # every beat after the first (the first crossing has none before it)
    assert np.abs(found - lengths[1:-1]).max() <= 1  # the R wave's height moves its crossing by less than a step


def test_cycle_surrogates_keep_timing_or_shape_and_score_as_they_should() -> None:
    x_train, lengths = _beats(300, 0)
    x_test = _beats(300, 1)[0]
    cycles = cycle_definition(x_train)
    onsets = cycle_onsets(x_train, *cycles)
    built = cycle_surrogates(x_train, onsets, len(x_test))
    for name, regular in [("mean cycle at the mean cycle length", True),
                          ("mean cycle at the data's cycle lengths", False),
                          ("the data's cycles at the mean cycle length", True)]:
        found = np.diff(cycle_onsets(built[name], *cycles))
        assert abs(found.mean() - np.diff(onsets).mean()) < 1.0
        assert (found.std() < 1.0) if regular else abs(found.std() - np.diff(onsets).std()) < 1.0
    rows = {r["comparison"]: r for r in cycle_rows(x_train, x_test, cycles)}
    floor = defect_rows(x_train, x_test, cycles=cycles)[0]
    assert abs(floor["cycle length"] - lengths[1:-1].mean()) < 1.0
    mean_cycle = rows["mean cycle at the mean cycle length"]
    data_timing = rows["mean cycle at the data's cycle lengths"]
    data_shapes = rows["the data's cycles at the mean cycle length"]
    shuffled = rows["the data's cycles in a random order"]  # the same beats in another order: at the floor
    assert abs(shuffled["cycle length"] - floor["cycle length"]) < 1.0
    assert shuffled["D_stsp"] < 1.5 * floor["D_stsp"] and shuffled["D_H"] < 1.5 * floor["D_H"]
    assert data_timing["D_H"] < 0.5 * mean_cycle["D_H"]  # beat-to-beat timing is what the spectrum sees
    assert data_shapes["D_stsp"] < mean_cycle["D_stsp"]  # the heights' spread is what the state space sees
    # 298 whole beats, 200 of them (the cap, evenly spread) scored repeated on their own
    best, median = rows["one real cycle repeated: the best of 200"], rows["one real cycle repeated: the median of 200"]
    assert best["cycle sd"] == median["cycle sd"] == 0.0 and best["D_stsp"] <= median["D_stsp"]
    assert best["shortest cycle"] == best["cycle length"] and abs(floor["shortest cycle"] - lengths[1:-1].min()) <= 1
    assert min(mean_cycle["D_H"], best["D_H"]) > floor["D_H"]


PERIOD = 50.3  # steps; not a whole number, so that the orbit fills its circle


def _circle(n: int, centre: float = 0.0) -> np.ndarray:
    t = np.arange(n)
    return np.stack([centre + np.cos(2 * np.pi * t / PERIOD), np.sin(2 * np.pi * t / PERIOD)], axis=1)


def _rotation() -> ALRNN:
    """``z' = R z``: a rotation by ``2 pi / PERIOD`` about the origin (identity observation, no ReLU unit)."""
    model = ALRNN(2, 2, n_relu=0)
    c, s = math.cos(2 * math.pi / PERIOD), math.sin(2 * math.pi / PERIOD)
    with torch.no_grad():
        model.A.copy_(torch.tensor([c, c]))
        model.W.copy_(torch.tensor([[0.0, -s], [s, 0.0]]))
        model.h.zero_()
    return model.double().eval()


def test_moment_matching_finds_an_error_of_offset_and_scale() -> None:
    # data: a circle of radius 1 about (0.5, 0); the model rotates about the origin, so from the first test point
    # (1.5, 0) its orbit is a circle of radius 1.5 about the origin: the right shape, displaced and too large.
    # Matching mean and std per variable puts it onto the data's circle (to the rounding of the two circles' sample
    # moments, 0.1 %: enough to move points of a curve of zero thickness into neighbouring bins, hence not ~0).
    rows = {r["comparison"].split(", ")[1]: r for r in model_rows([_rotation()], _circle(5000, 0.5), ["rotation"])}
    assert {r["verdict"] for r in rows.values()} == {"bounded"}
    assert rows["as generated"]["D_stsp"] > 5
    assert rows["mean and std matched"]["D_stsp"] < 0.1 * rows["as generated"]["D_stsp"]
    assert rows["mean matched"]["D_stsp"] > rows["mean and std matched"]["D_stsp"]  # still too large a circle


def test_a_collapsed_orbit_is_scored_as_it_is_only() -> None:
    model = _rotation()
    with torch.no_grad():
        model.A.mul_(0.5)  # contracts to the origin
        model.W.mul_(0.5)
    rows = model_rows([model], _circle(2000), ["decaying"])
    assert [(r["comparison"], r["verdict"]) for r in rows] == [("decaying, as generated", "collapsed to a fixed point")]


def test_writes_results_and_bad_input_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    series = _quasi_periodic(3000, 0)
    train, test, one = tmp_path / "train.npy", tmp_path / "test.npy", tmp_path / "one_variable.npy"
    np.save(train, series)
    np.save(test, _quasi_periodic(3000, 1))
    np.save(one, series[:, :1])
    ramp = tmp_path / "ramp.npy"  # a trend, no cycles
    np.save(ramp, np.stack([np.linspace(0.0, 1.0, 3000), np.zeros(3000)], axis=1))
    main(["--train", str(train), "--test", str(test), "--name", "s", "--results-dir", str(tmp_path / "out")])
    saved = json.loads((tmp_path / "out" / "s.json").read_text())
    assert saved["rows"][0]["comparison"] == "training series (the floor)"
    assert saved["settings"]["ckpt"] == []
    for argv, message in [(["--train", str(tmp_path / "absent.npy"), "--test", str(test)], "no file at"),
                          (["--train", str(train), "--test", str(test), "--ckpt", str(tmp_path / "x.ckpt")],
                           "no file at"),
                          (["--train", str(train), "--test", str(one)],
                           "must be series [T, N] with the same N"),
                          (["--train", str(ramp), "--test", str(test), "--cycles"], "no periodic autocorrelation")]:
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
        assert len(errors) == 1 and message in errors[0]


def test_a_file_that_is_no_series_or_no_checkpoint_is_one_error_line(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A text file given as --train ended in numpy's ValueError traceback ("contains pickled (object) data"), a
    series given as --ckpt in a CheckpointError traceback after the defects had been scored."""
    from benchmarks import runner

    train, test, text = tmp_path / "train.npy", tmp_path / "test.npy", tmp_path / "notes.npy"
    np.save(train, _quasi_periodic(3000, 0))
    np.save(test, _quasi_periodic(3000, 1))
    text.write_text("hello")
    out = tmp_path / "out"
    for argv, message in [
        (["--train", str(text), "--test", str(test)],
         f"{text} is not a readable .npy array (This file contains pickled (object) data. If you trust the file you "
         "can load it unsafely using the `allow_pickle=` keyword argument or `pickle.load()`.); save the series with "
         "numpy.save."),
        (["--train", str(train), "--test", str(test), "--ckpt", str(train)],
         f"cannot read checkpoint {train}: it is not a PyTorch checkpoint (a text file, or another format?). Use a "
         ".ckpt written by `neurops fit`."),
    ]:
        assert runner.main(["run", "dsr_metric_sensitivity", *argv, "--results-dir", str(out)]) == 2
        assert capsys.readouterr().err.splitlines()[-1] == f"python -m benchmarks run dsr_metric_sensitivity: error: " \
                                                          f"{message}"
        assert not out.exists()



def test_scores_every_member_of_a_trained_ensemble(tmp_path: Path, cycle_run: Callable[..., Path]) -> None:
    ckpt = cycle_run([3, 5], epochs=1) / "checkpoints" / "last.ckpt"  # a real two-member run, one epoch
    main(["--train", str(tmp_path / "cycle.npy"), "--test", str(tmp_path / "test.npy"), "--ckpt", str(ckpt),
          "--name", "s", "--results-dir", str(tmp_path / "out")])
    rows = json.loads((tmp_path / "out" / "s.json").read_text())["rows"]
    members = [r for r in rows if r["comparison"].startswith("cycle seed ")]
    assert {r["comparison"].split(",")[0] for r in members} == {"cycle seed 3", "cycle seed 5"}
    assert all(r["verdict"] != "-" for r in members) and all(r["verdict"] == "-" for r in rows[: -len(members)])
