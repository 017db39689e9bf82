"""The checkpoint-criterion study: bad input gives one error line before any work; the criteria's values."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.dsr_checkpoint_criteria import CRITERIA, N_STARTS, OWN, main, quartiles, scores
from neurops.models.plrnn import ALRNN


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(lines) == 1
    return lines[0]


def test_bad_input_names_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    test = tmp_path / "test.npy"
    np.save(test, np.zeros((10, 3)))
    run = tmp_path / "run"
    run.mkdir()
    assert "no benchmark.yaml" in _error(["--run", str(run), "--test", str(test)], capsys)
    (run / "benchmark.yaml").write_text("data: {}\n")
    assert "holds no snapshots; train the run with --snapshots" in _error(["--run", str(run), "--test", str(test)],
                                                                          capsys)
    (run / "snapshots").mkdir()
    (run / "snapshots" / "epoch00009.ckpt").write_bytes(b"")
    assert "no test series at" in _error(["--run", str(run), "--test", str(tmp_path / "missing.npy")], capsys)
    assert "argument --every: 0 is not a positive integer" in _error(["--run", str(run), "--test", str(test),
                                                                      "--every", "0"], capsys)
    assert "argument --dtype: invalid choice: 'float16'" in _error(["--run", str(run), "--test", str(test),
                                                                    "--dtype", "float16"], capsys)


def _rotation(growth: float) -> ALRNN:
    """``z' = R z`` in ``(z1, z2)`` (a 50-step rotation) and ``z3' = growth * z3``; identity observation."""
    model = ALRNN(3, 3, n_relu=0)
    c, s = math.cos(2 * math.pi / 50), math.sin(2 * math.pi / 50)
    with torch.no_grad():
        model.A.copy_(torch.tensor([c, c, growth]))
        model.W.copy_(torch.tensor([[0.0, -s, 0.0], [s, 0.0, 0.0], [0.0, 0.0, 0.0]]))
        model.h.zero_()
    return model.double().eval()


def test_several_start_criterion_flags_a_state_that_diverges_from_other_starts() -> None:
    # Data on the unit circle with a small third coordinate, zero at the validation series' first point:
    # the saddle (z3 grows) stays on the circle from that point only and diverges from every other start.
    t = np.arange(400)
    series = np.stack([np.cos(2 * np.pi * t / 50), np.sin(2 * np.pi * t / 50), 1e-3 * np.sin(t / 7.0)], axis=1)
    x_val = series.copy()
    x_val[0, 2] = 0.0
    table = scores([_rotation(0.5), _rotation(1.5)], x_val, series, series)
    # (training and validation series coincide here, so 'train' and 'val' criteria compare with the same data)
    short, long = CRITERIA.index("val, T_val orbit"), CRITERIA.index("train, 5e4 orbit")
    several = CRITERIA.index(f"train, {N_STARTS} starts")
    assert table.shape == (2, len(CRITERIA) + 3)
    assert table[0, -1] == pytest.approx(table[0, -3])  # 5 test starts, all on the same circle: the first's value
    assert table[1, -1] == math.inf  # the saddle diverges from 4 of the 5 test starts (the median)
    assert np.isfinite(table[:, long]).all() and table[0, long] == pytest.approx(table[1, long])  # one orbit
    # the contracting model settles on the same circle from every start: its 5-start score is its 1-start one
    assert table[0, several] == pytest.approx(table[0, short])
    assert table[1, several] == math.inf  # the saddle diverges from 4 of the 5 starts


def test_quartiles_print_a_diverged_quartile_as_inf() -> None:
    assert quartiles([1.0, 2.0, 3.0, 4.0, 5.0]) == "3 [2, 4]"
    assert quartiles([1.0, 2.0, 3.0, math.inf, math.inf]) == "3 [2, inf]"  # numpy's own gives nan there


def _snapshot_run(cycle_run: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, seeds: list[int] | None) -> Path:
    """The cycle run (``conftest.cycle_run``) with snapshots, 3 epochs with a validation each; the study's test
    series is ``tmp_path / "test.npy"``."""
    run = cycle_run(seeds, epochs=3, snapshots=True)
    assert len(list((run / "snapshots").glob("epoch*.ckpt"))) == 3
    monkeypatch.setattr("benchmarks.dsr_checkpoint_criteria.LONG_ORBIT", 2000)  # the run's val_gen_length
    return run


def _study(tmp_path: Path, run: Path, *options: str) -> dict:
    main(["--run", str(run), "--test", str(tmp_path / "test.npy"), "--lyapunov-steps", "50", "--name", "study",
          "--results-dir", str(tmp_path / "results"), *options])
    return json.loads((tmp_path / "results" / "study.json").read_text())["details"]


def test_the_runs_own_picks_are_recomputed_exactly_in_float32(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str],
                                                               cycle_run: Callable[..., Path]) -> None:
    # in the training's float32 the study recomputes the default criterion of the best states a two-member run
    # kept to the run's own values; with --every it still keeps the final state
    details = _study(tmp_path, _snapshot_run(cycle_run, monkeypatch, [0, 1]), "--every", "2", "--dtype", "float32")
    assert details["epochs"] == [1, 3]  # every 2nd snapshot, and the last
    own = details["results"][OWN]
    assert np.isfinite(own["criterion_in_training"]).all()
    assert own["criterion_here"] == pytest.approx(own["criterion_in_training"], rel=1e-9)
    assert set(own["picked_epochs"]) <= {1, 2, 3}
    assert "in training." in capsys.readouterr().out  # the run validated as the study's default criterion does


def test_a_one_model_run_is_studied_without_the_own_picks_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str],
                                                               cycle_run: Callable[..., Path]) -> None:
    details = _study(tmp_path, _snapshot_run(cycle_run, monkeypatch, None))
    assert details["epochs"] == [1, 2, 3] and OWN not in details["results"]
    assert "its own pick, checkpoints/best.ckpt, is not among the rows" in capsys.readouterr().out
