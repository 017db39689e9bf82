"""The GTF-memory benchmark: the gradient factor of a linear map is ((1 - alpha) |a|)^k on the forced units and
|a|^k on free ones, the reach is the first lag below 1e-3, a trained ensemble gets a row per member, bad input is
one error line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.dsr_gtf_memory import LAGS, gradient_factors, main, reach
from neurops.models.plrnn import ALRNN


def _linear_model(obs_dim: int) -> ALRNN:
    """``z' = diag(0.9, 0.5, -0.8) z``: an AL-RNN without coupling, whose Jacobian is the same diagonal everywhere."""
    model = ALRNN(obs_dim, 3, n_relu=1).double()
    with torch.no_grad():
        model.A.copy_(torch.tensor([0.9, 0.5, -0.8], dtype=torch.float64))
        model.W.zero_()
    return model


@pytest.mark.parametrize(("obs_dim", "rate"), [(3, 0.7 * 0.9), (2, 0.8)])
def test_the_factor_of_a_linear_map_is_its_forced_contraction_to_the_power_k(obs_dim: int, rate: float) -> None:
    """All three units forced: the largest factor is (1 - 0.3) * 0.9 per step. Two units forced (identity
    observation of 2 of 3 units): the free third unit (|a| = 0.8, no (1 - alpha)) dominates."""
    windows = torch.randn(4, 41, obs_dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    factors = gradient_factors(_linear_model(obs_dim), windows, alpha=0.3)
    assert factors.shape == (4, 39)
    np.testing.assert_allclose(factors, np.broadcast_to(rate ** np.arange(1, 40), (4, 39)), rtol=1e-12)


def test_reach_is_the_first_lag_below_one_in_a_thousand() -> None:
    assert reach(np.array([0.5, 2e-3, 5e-4, 1e-5])) == 3
    assert reach(np.array([0.5, 0.4])) is None


def test_a_row_per_member_and_bad_input_is_one_error_line(tmp_path: Path, cycle_run: Callable[..., Path],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = cycle_run([3, 5], epochs=1) / "checkpoints" / "last.ckpt"  # a real two-member GTF run (alpha 0.2)
    train = tmp_path / "cycle.npy"
    main(["--ckpt", str(ckpt), "--train", str(train), "--seq-len", "40", "--windows", "8", "--name", "m",
          "--results-dir", str(tmp_path / "out")])
    rows = json.loads((tmp_path / "out" / "m.json").read_text())["rows"]
    assert [r["model"] for r in rows] == ["cycle seed 3", "cycle seed 5", "(1 - alpha)^k, alpha = 0.2"]
    assert all(r["alpha"] == 0.2 for r in rows)  # the checkpoint's own alpha
    assert rows[-1]["k=10"] == pytest.approx(0.8 ** 10) and rows[-1]["reach"] == 31  # 0.8^31 < 1e-3 < 0.8^30
    for row in rows[:2]:
        lags = [k for k in LAGS if f"k={k}" in row]
        values = [row[f"k={k}"] for k in lags]
        assert lags == [1, 5, 10, 20, 30] and all(0 < v < float("inf") for v in values)
        assert row["reach"] is None or (isinstance(row["reach"], int) and 1 <= row["reach"] < 40)
    annealed = torch.load(ckpt, weights_only=False)  # the same run as if its alpha had been annealed
    annealed["hyper_parameters"]["alpha_end"] = 0.05
    torch.save(annealed, tmp_path / "annealed.ckpt")
    for argv, message in [(["--ckpt", str(tmp_path / "x.ckpt"), "--train", str(train)], "no file at"),
                          (["--ckpt", str(tmp_path / "annealed.ckpt"), "--train", str(train)],
                           "annealed.ckpt was trained with alpha annealed from 0.2 to 0.05, not a fixed alpha; "
                           "pass --alpha"),
                          (["--ckpt", str(ckpt), "--train", str(train), "--alpha", "1.5"], "--alpha must lie in"),
                          (["--ckpt", str(ckpt), "--train", str(train), "--seq-len", "5000"], "longer than --seq-len")]:
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
        assert len(errors) == 1 and message in errors[0]
