"""Tests of the significant periods of a series (neurops/metrics/spectra.py: dominant_periods).

dominant_periods used to take the peaks of the spectrum smoothed over 20 bins (D_H's): a 150-step period of a
3000-point series came out at 430-500 steps and noise ripples followed it, and white noise got three "periods".
"""

from __future__ import annotations

import numpy as np
import pytest

from neurops.errors import ConfigError
from neurops.metrics.spectra import dominant_periods

T = 3000
STEPS = np.arange(T)


def _sine(period: float, amplitude: float = 1.0, phase: float = 0.0) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * STEPS / period + phase)


def _bin_width(period: float) -> float:
    """The distance between the periods of neighbouring frequency bins at ``period``: ``period^2 / T``."""
    return period**2 / T


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_period_of_150_steps_in_noise_is_found(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.stack([_sine(150, phase=p) + rng.normal(size=T) for p in (0.0, 1.0, 2.0)], axis=1)
    ((period, power),) = dominant_periods(x)
    assert abs(period - 150) < _bin_width(150) and power == 1.0


@pytest.mark.parametrize("dims", [1, 3])
def test_white_noise_has_no_period(dims: int) -> None:
    for seed in range(5):
        assert dominant_periods(np.random.default_rng(seed).normal(size=(T, dims))) == []


def test_red_noise_has_no_period() -> None:
    """An AR(1) process (a spectrum falling with frequency): the background is the local median, not white."""
    for seed in range(3):
        kicks, x = np.random.default_rng(seed).normal(size=T), np.zeros(T)
        for i in range(1, T):
            x[i] = 0.9 * x[i - 1] + kicks[i]
        assert dominant_periods(x[:, None]) == []


def test_noise_shows_a_period_at_most_as_often_as_the_false_alarm_level() -> None:
    found = sum(bool(dominant_periods(np.random.default_rng(seed).normal(size=(1000, 1)))) for seed in range(300))
    assert found <= 3  # 1 % of 300
    looser = sum(bool(dominant_periods(np.random.default_rng(seed).normal(size=(1000, 1)), false_alarm=0.1))
                 for seed in range(300))
    assert 15 <= looser <= 45  # about 10 %: the stated level, not a far more conservative one


def test_two_sines_give_both_periods_strongest_first() -> None:
    rng = np.random.default_rng(4)
    x = (_sine(150) + _sine(37, 0.7, 1.0) + rng.normal(size=T))[:, None]
    (p1, w1), (p2, w2) = dominant_periods(x)
    assert abs(p1 - 150) < _bin_width(150) and w1 == 1.0
    assert abs(p2 - 37) < _bin_width(37) and w2 == pytest.approx(0.49, abs=0.1)  # power ~ amplitude^2


def test_a_pure_sine_between_bins_is_located_within_a_tenth_of_a_bin() -> None:
    (period, _), = dominant_periods(_sine(137.3)[:, None])
    assert abs(period - 137.3) < 0.1 * _bin_width(137.3)


@pytest.mark.parametrize("false_alarm", [0.0, 1.0, float("nan")])
def test_a_false_alarm_level_outside_0_1_is_refused(false_alarm: float) -> None:
    with pytest.raises(ConfigError, match=r"it is a probability; use 0 < false_alarm < 1 \(0\.01: 1 %\)\.$"):
        dominant_periods(_sine(150)[:, None], false_alarm=false_alarm)


@pytest.mark.parametrize("smoothing", [0.0, 0.3, 1.0, 2.5, 20.0, 33.3])
def test_shortest_unblurred_is_the_first_length_the_smoothing_rule_accepts(smoothing: float) -> None:
    from neurops.metrics.spectra import shortest_unblurred, smoothing_blurs

    n = shortest_unblurred(smoothing)
    assert not smoothing_blurs(n, smoothing) and (n == 1 or smoothing_blurs(n - 1, smoothing))
    assert n == {0.0: 1, 0.3: 28, 1.0: 98, 2.5: 248, 20.0: 1998, 33.3: 3328}[smoothing]
