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

from benchmarks.dsr_metric_sensitivity import defect_rows, main, model_rows, resample_in_time
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
    main(["--train", str(train), "--test", str(test), "--name", "s", "--results-dir", str(tmp_path / "out")])
    saved = json.loads((tmp_path / "out" / "s.json").read_text())
    assert saved["rows"][0]["comparison"] == "training series (the floor)"
    assert saved["settings"]["ckpt"] == []
    for argv, message in [(["--train", str(tmp_path / "absent.npy"), "--test", str(test)], "no file at"),
                          (["--train", str(train), "--test", str(test), "--ckpt", str(tmp_path / "x.ckpt")],
                           "no file at"),
                          (["--train", str(train), "--test", str(one)],
                           "must be series [T, N] with the same N")]:
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
        assert len(errors) == 1 and message in errors[0]



def test_scores_every_member_of_a_trained_ensemble(tmp_path: Path, cycle_run: Callable[..., Path]) -> None:
    ckpt = cycle_run([3, 5], epochs=1) / "checkpoints" / "last.ckpt"  # a real two-member run, one epoch
    main(["--train", str(tmp_path / "cycle.npy"), "--test", str(tmp_path / "test.npy"), "--ckpt", str(ckpt),
          "--name", "s", "--results-dir", str(tmp_path / "out")])
    rows = json.loads((tmp_path / "out" / "s.json").read_text())["rows"]
    members = [r for r in rows if r["comparison"].startswith("cycle seed ")]
    assert {r["comparison"].split(",")[0] for r in members} == {"cycle seed 3", "cycle seed 5"}
    assert all(r["verdict"] != "-" for r in members) and all(r["verdict"] == "-" for r in rows[: -len(members)])
