"""analyze_model (neurops/dynamics/analyze.py) on a map with a known answer, and its bad settings."""

from __future__ import annotations

import math

import pytest
import torch

from neurops.dynamics import analyze
from neurops.dynamics.analyze import analyze_model, check_max_period
from neurops.errors import ConfigError
from neurops.models import build


def _contracting_plrnn() -> torch.nn.Module:
    """``z' = 0.5 z + W relu(z) + h`` with ``W = 0, h = 0``: every orbit falls to the stable node z* = 0."""
    model = build("plrnn", obs_dim=2, latent_dim=2).double()
    with torch.no_grad():
        model.A.fill_(0.5)
        model.W.zero_()
        model.h.zero_()
    return model


def test_a_contracting_map_has_one_stable_fixed_point_and_lambda_max_log_one_half() -> None:
    report = analyze_model(_contracting_plrnn(), torch.tensor([0.3, -0.2], dtype=torch.float64), steps=400,
                           max_period=2).report
    real = [fp for fp in report["fixed_points"] if fp["real"]]
    assert len(real) == 1 and real[0]["max_abs_eigenvalue"] == pytest.approx(0.5)
    assert real[0]["observed"] == pytest.approx([0.0, 0.0], abs=1e-12)
    assert report["lambda_max"] == pytest.approx(math.log(0.5), rel=1e-6)


@pytest.mark.parametrize("settings", [{"steps": 0}, {"steps": -5}, {"steps": 1}, {"steps": 99}, {"max_period": -1}])
def test_settings_without_an_orbit_are_one_error(settings: dict) -> None:
    """steps=0 gave 'stack expects a non-empty TensorList' out of `neurops dsr analyze`; steps=1 analysed a one-step
    orbit (one region, a lambda_max of one step, a one-point spectrum)."""
    with pytest.raises(ConfigError, match=r"need steps >= 100 \(the orbit analysed: a shorter one gives no "
                                          r"meaningful region frequencies, lambda_max or spectrum\) and "
                                          r"max_period >= 0"):
        analyze_model(_contracting_plrnn(), torch.zeros(2, dtype=torch.float64), **settings)


def test_an_orbit_that_does_not_fit_in_memory_is_refused_before_any_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """`neurops dsr analyze --steps 1000000000` stepped for hours (95 s and 2.6 GB a million steps of a 100-bit
    model) until the system killed it; the orbit's memory is now checked first, as `dsr evaluate` checks its own."""
    from neurops.dynamics import analyze

    monkeypatch.setattr(analyze, "available_memory", lambda: 50_000)  # bytes
    with monkeypatch.context() as patch:
        patch.setattr(analyze, "orbit_codes", lambda *a, **k: pytest.fail("stepped before the check"))
        with pytest.raises(ConfigError, match=r"^steps=1000: the orbit analysed and its region codes \(2 latent "
                                              r"values and 2 bits a step\) need about 80\.1 KiB of memory, but "
                                              r"48\.8 KiB is available; use fewer steps \(--steps; 20000 by "
                                              r"default\)\.$"):
            analyze_model(_contracting_plrnn(), torch.zeros(2, dtype=torch.float64), steps=1000)
    analysis = analyze_model(_contracting_plrnn(), torch.zeros(2, dtype=torch.float64), steps=500)  # 41 kB: fits
    assert analysis.observed.shape == (500, 2)


def _no_search(*args, **kwargs) -> None:
    raise AssertionError("the cycle search started")


@pytest.mark.parametrize(("max_period", "cost"), [(1001, "59 minutes"), (3000, "9 hours"), (100_000, "405 days")])
def test_a_cycle_search_longer_than_max_period_allows_is_refused_with_its_time(max_period: int, cost: str,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`neurops dsr analyze --max-period 100000` searched every period 2..100000, each k costing about 7 ms x k
    (a 4-unit ALRNN: 1.4 s for k = 256, 6.4 s for 1024), for months without a word."""
    message = (f"max_period={max_period}: the cycle search solves every period 2..{max_period}, period k in about 7 ms "
               f"x k on one core (a model of 4 latent units; larger ones take longer), about {cost} in all; use "
               "max_period <= 1000 (--max-period; 4 by default), about 58 minutes at most.")
    monkeypatch.setattr(analyze, "find_cycles", _no_search)  # refused before the search starts
    with pytest.raises(ConfigError) as error:
        analyze_model(_contracting_plrnn(), torch.zeros(2, dtype=torch.float64), steps=400, max_period=max_period)
    assert str(error.value) == message
    assert check_max_period(1000) == 1000  # the longest search allowed (its hour is not run here)
