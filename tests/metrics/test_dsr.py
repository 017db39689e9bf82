"""Tests of the DSR metrics (neurops/metrics/dsr.py) on cases with known answers."""

from __future__ import annotations

import math
import types
import warnings

import numpy as np
import pytest
import torch

from neurops.errors import ConfigError, DataError
from neurops.metrics.dsr import (
    data_lyapunov_max,
    dominant_periods,
    evaluate_reconstruction,
    generate_like,
    hellinger_distance,
    orbit_distances,
    orbit_divergence,
    orbit_verdict,
    power_spectra,
    prediction_error,
    state_space_divergence,
    summarize,
)
from neurops.models import build


@pytest.fixture(scope="module")
def series() -> np.ndarray:
    """A quasi-periodic 3-D series with noise: [4096, 3]."""
    t = np.arange(4096) * 0.05
    rng = np.random.default_rng(0)
    x = np.stack([np.sin(t), np.cos(1.3 * t), np.sin(0.7 * t) * np.cos(0.2 * t)], axis=1)
    return x + 0.05 * rng.normal(size=x.shape)


def test_identical_series_give_zero(series: np.ndarray) -> None:
    assert state_space_divergence(series, series) == pytest.approx(0.0, abs=1e-12)
    assert state_space_divergence(series, series, method="gmm", n_centers=500, n_samples=200) == pytest.approx(0.0)
    assert hellinger_distance(series, series) == pytest.approx(0.0, abs=1e-12)


def test_binned_kl_analytic_value() -> None:
    # true: uniform over the 3 bins of [0, 3); generated: all mass in bin 0 (eps = 1e-5)
    x_true = np.array([[0.5], [1.5], [2.5]] * 100)
    x_gen = np.full((300, 1), 0.5)
    eps, n = 1e-5, 3
    std = x_true.std()
    lo, hi = 0.5 - 0.1 * std, 2.5 + 0.1 * std
    edges = np.linspace(lo, hi, n + 1)
    h_true = np.histogram(x_true[:, 0], edges)[0]
    h_gen = np.histogram(x_gen[:, 0], edges)[0]
    p = (h_true + eps) / (h_true.sum() + eps * n)
    q = (h_gen + eps) / (h_gen.sum() + eps * n)
    assert state_space_divergence(x_true, x_gen, n_bins=n) == pytest.approx(float(np.sum(p * np.log(p / q))))


def test_binned_kl_shifted_out_of_range_is_nan(series: np.ndarray) -> None:
    assert math.isnan(state_space_divergence(series, series + 100.0))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e300])
def test_binned_kl_counts_non_finite_and_huge_points_as_outside(series: np.ndarray, bad: float) -> None:
    # decided before the integer cast, whose value for NaN / inf / overflow is platform-dependent
    # (ARM casts NaN to 0: bin 0 would have counted it); no RuntimeWarning from the cast
    gen = series[::2].copy()
    spoiled = gen.copy()
    spoiled[::7, 1] = bad
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = state_space_divergence(series, spoiled)
    assert value == pytest.approx(state_space_divergence(series, np.delete(gen, np.s_[::7], axis=0)), rel=1e-12)


def test_orbit_distances_are_the_metrics_or_inf_where_the_orbit_fails(series: np.ndarray) -> None:
    orbit = np.concatenate([series[100:], series[:100]]) * 1.1
    d_stsp, d_h = orbit_distances(series, orbit, n_bins=20, smoothing=5.0)
    assert d_stsp == state_space_divergence(series, orbit, n_bins=20)
    assert d_h == hellinger_distance(series, orbit, smoothing=5.0)
    assert 0 < d_stsp < math.inf and 0 < d_h < 1
    # only the first len(series) points enter D_H
    longer = np.concatenate([orbit, orbit[::-1]])
    assert orbit_distances(series, longer)[1] == hellinger_distance(series, orbit)
    # D_stsp against other states (DynamicsTask: the training split), D_H still against x_data
    states = series[::-1] * 0.9
    d_h = hellinger_distance(series, orbit)
    assert orbit_distances(series, orbit, x_states=states) == (state_space_divergence(states, orbit), d_h)
    assert state_space_divergence(states, orbit) != state_space_divergence(series, orbit)
    # outside the data's range: D_stsp is inf (state_space_divergence alone gives nan); D_H stays finite
    far = orbit_distances(series, series + 100.0)
    assert far[0] == math.inf and math.isfinite(far[1])
    diverged = orbit.copy()
    diverged[-1] = np.nan
    assert orbit_distances(series, diverged) == (math.inf, math.inf)
    # D_stsp alone takes an orbit of any length
    assert orbit_divergence(series, orbit[:500]) == state_space_divergence(series, orbit[:500])
    assert orbit_divergence(series, diverged) == math.inf


def test_gmm_kl_of_two_points_is_half_squared_distance() -> None:
    # single-centre mixtures N(mu1, I) and N(mu2, I): KL = |mu1 - mu2|^2 / 2
    x_true = np.zeros((50, 6))
    x_gen = np.full((50, 6), 0.5)
    kl = state_space_divergence(x_true, x_gen, n_samples=20_000, seed=1)  # auto -> gmm for N = 6
    assert kl == pytest.approx(6 * 0.25 / 2, rel=0.05)


def test_hellinger_invariances_and_disjoint_spectra(series: np.ndarray) -> None:
    # offsets, rescaling and circular time shifts leave the power spectrum unchanged
    assert hellinger_distance(series, 3.0 * series + 7.0) == pytest.approx(0.0, abs=1e-12)
    assert hellinger_distance(series, np.roll(series, 100, axis=0)) == pytest.approx(0.0, abs=1e-12)
    t = np.arange(8192)
    slow, fast = np.sin(2 * np.pi * 0.01 * t)[:, None], np.sin(2 * np.pi * 0.4 * t)[:, None]
    assert hellinger_distance(slow, fast, smoothing=5) == pytest.approx(1.0, abs=2e-3)
    spectra = power_spectra(series)
    assert spectra.shape == (3, 2049) and np.allclose(spectra.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="equal shape"):
        hellinger_distance(series, series[:-1])


def test_prediction_error_of_a_perfect_model() -> None:
    model = build("plrnn", obs_dim=2, latent_dim=2, seed=0)
    x = model.generate(torch.tensor([[0.3, -0.2]]), 200)[0][0].detach()
    assert prediction_error(model, x, 20) == pytest.approx(0.0, abs=1e-10)
    shifted = x + 1.0  # the model predicts the unshifted continuation: error is known at step n
    pe = prediction_error(model, shifted, 5)
    with torch.no_grad():  # the same error from every start alone: x_t -> 5 free steps against x_{t+5}
        expected = np.mean([(model.generate(shifted[t:t + 1], 5)[0][0, -1] - shifted[t + 5]).pow(2).mean().item()
                            for t in range(len(shifted) - 5)])
    assert pe == pytest.approx(expected, rel=1e-6) and pe > 0.01
    with pytest.raises(ValueError, match="n < T"):
        prediction_error(model, x[:10], 20)


def test_evaluate_reconstruction_of_the_data_generating_model() -> None:
    model = build("alrnn", obs_dim=1, latent_dim=1, n_relu=1, seed=0).double()  # tent map, lambda = log 2
    with torch.no_grad():
        model.A.fill_(1.99)
        model.W.fill_(-3.98)
        model.h.fill_(0.995)
    x = model.generate(torch.tensor([[0.1234]], dtype=torch.float64), 20_000)[0][0].detach().numpy()
    result = evaluate_reconstruction(model, x, dt=1.0, lyapunov_steps=2000)
    assert {"d_stsp", "d_h", "pe", "lambda_max", "verdict", "summary", "per_start"} <= set(result)
    assert result["pe"] == pytest.approx(0.0, abs=1e-20)
    assert result["lambda_max"] == pytest.approx(math.log(1.99), rel=1e-6)
    assert result["d_stsp"] < 0.05 and result["d_h"] < 0.05  # same system, other stretch of the attractor
    assert result["verdict"] == {"bounded": 1} and result["per_start"]["start"] == [0]
    # several initial conditions and Lyapunov starts: each one alike for the data-generating map
    several = evaluate_reconstruction(model, x, dt=0.5, lyapunov_steps=2000, n_starts=4, lyapunov_starts=3)
    assert several["per_start"]["start"] == [0, 5000, 10000, 15000] and several["verdict"] == {"bounded": 4}
    assert np.allclose(several["per_start"]["lambda_max"], 2 * math.log(1.99), rtol=1e-6)  # per time unit
    assert max(several["per_start"]["d_stsp"]) < 0.05 and several["summary"]["d_stsp"]["n"] == 4
    np.testing.assert_allclose(several["spread"], several["data_spread"], rtol=0.05)


def test_dominant_periods_of_two_sines() -> None:
    t = np.arange(20_000)
    wave = 2.0 * np.sin(2 * np.pi * t / 100) + np.sin(2 * np.pi * t / 37 + 0.3)
    x = np.stack([wave, np.roll(wave, 7)], axis=1)
    (p1, w1), (p2, w2) = dominant_periods(x, 2)
    assert p1 == pytest.approx(100.0, abs=1e-9) and w1 == 1.0  # bin 200 of the 20 000-point series (no shift)
    assert p2 == pytest.approx(37.0, abs=0.01) and w2 == pytest.approx(0.25, abs=0.02)  # power ~ amplitude^2
    assert dominant_periods(np.full((500, 2), 3.0)) == []  # a fixed point has no spectrum
    with pytest.raises(ValueError, match="finite"):
        dominant_periods(np.full((500, 2), np.nan))
    with pytest.raises(ValueError, match="n_peaks"):
        dominant_periods(x, 0)


def test_evaluation_reports_the_orbits_dominant_period(series: np.ndarray) -> None:
    rotation = evaluate_reconstruction(_decaying_model(1.0), series[:, :2], lyapunov_steps=200)
    assert rotation["verdict"] == {"bounded": 1}
    assert rotation["periods"][0][0] == pytest.approx(2 * np.pi / 0.5, abs=0.02)  # a turn of 0.5 rad a step
    for rate in (0.9, 1.1):  # collapsed, diverged: no spectrum to speak of
        assert evaluate_reconstruction(_decaying_model(rate), series[:, :2], lyapunov_steps=200)["periods"] == []


def _decaying_model(rate: float = 0.9) -> torch.nn.Module:
    """A hand-built linear model z' = rate R(0.5) z: its orbits spiral into the origin (rate < 1) or out (> 1)."""
    model = build("alrnn", obs_dim=2, latent_dim=2, n_relu=0, seed=0).double()
    with torch.no_grad():
        model.A.zero_()
        c, s = math.cos(0.5), math.sin(0.5)
        model.W.copy_(rate * torch.tensor([[c, -s], [s, c]], dtype=torch.float64))
        model.h.zero_()
    return model


def test_verdict_of_a_decaying_model_is_collapsed_and_of_an_exploding_one_diverged(series: np.ndarray) -> None:
    x = series[:, :2]
    decaying = evaluate_reconstruction(_decaying_model(0.9), x, n_starts=3, lyapunov_steps=200)
    assert decaying["verdict"] == {"collapsed to a fixed point": 3}
    assert max(decaying["spread"]) < 1e-6 < min(decaying["data_spread"])
    assert decaying["lambda_max"] == pytest.approx(math.log(0.9), rel=1e-6)
    exploding = evaluate_reconstruction(_decaying_model(1.1), x, n_starts=2, lyapunov_steps=200)
    assert exploding["verdict"] == {"diverged": 2} and exploding["d_stsp"] == math.inf
    # a rotation keeps the data's amplitude: bounded
    assert orbit_verdict(x, x)["verdict"] == "bounded"
    assert orbit_verdict(np.full_like(x, np.nan), x)["verdict"] == "diverged"
    with pytest.raises(ValueError, match="orbit_length"):
        evaluate_reconstruction(_decaying_model(0.9), x, orbit_length=100)


def test_generate_like_longer_orbit_keeps_the_protocol_warmup() -> None:
    model = build("alrnn", obs_dim=1, latent_dim=1, n_relu=1, seed=0).double()
    with torch.no_grad():
        model.A.fill_(1.99)
        model.W.fill_(-3.98)
        model.h.fill_(0.995)
    x = np.full((400, 1), 0.1234)
    short, long = generate_like(model, x), generate_like(model, x, n_steps=1000)
    assert short.shape == (400, 1) and long.shape == (1000, 1)
    np.testing.assert_array_equal(long[:400], short)  # same start: 0.25 T = 100 warm-up steps dropped
    full = model.generate(torch.tensor([[0.1234]], dtype=torch.float64), 1100)[0][0].detach().numpy()
    np.testing.assert_array_equal(long, full[100:])


def test_data_lyapunov_needs_a_known_system() -> None:
    assert data_lyapunov_max(np.zeros((10, 3)), {"name": "ecg", "parameters": {}}) is None


def test_summarize() -> None:
    s = summarize([1.0, 2.0, 3.0, float("nan")])
    assert s["mean"] == 2.0 and s["median"] == 2.0 and s["mad"] == 1.0 and s["n"] == 3
    assert s["sem"] == pytest.approx(1.0 / math.sqrt(3))


def test_generate_like_of_an_ensemble_is_every_members_orbit() -> None:
    from neurops.models import build
    from neurops.models.piecewise_linear import stack_members

    members = [build("clipped_shplrnn", obs_dim=3, latent_dim=3, hidden_dim=8, seed=s) for s in (0, 1, 2)]
    ensemble = stack_members(members).double()
    x = np.random.default_rng(0).normal(size=(40, 3))
    together = generate_like(ensemble, x, n_steps=60)  # [R, 60, N]
    starts = generate_like(ensemble, x, n_steps=60, starts=np.array([0, 5]))  # [R, K, 60, N]
    assert together.shape == (3, 60, 3) and starts.shape == (3, 2, 60, 3)
    for r, m in enumerate(members):
        np.testing.assert_allclose(together[r], generate_like(m.double(), x, n_steps=60), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(starts[r], generate_like(m.double(), x, n_steps=60, starts=np.array([0, 5])),
                                   rtol=1e-10, atol=1e-12)


def test_a_data_series_must_be_non_empty_and_finite(series: np.ndarray) -> None:
    """The data side of every metric refuses NaN/Inf and empty series (they used to give nan, or a numpy
    'zero-size array' traceback); the model side may hold a diverged orbit, which the metrics score."""
    bad = series.copy()
    bad[[3, 10]] = np.nan
    for metric in (state_space_divergence, hellinger_distance):
        with pytest.raises(DataError, match=r"x_true has NaN or Inf values in 2 of its \d+ time steps"):
            metric(bad, series)
        with pytest.raises(DataError, match=r"x_true is empty \(shape \(0, 3\)\)"):
            metric(series[:0], series)
        assert math.isfinite(metric(series, series)) and not math.isfinite(metric(series, np.full_like(series, np.nan)))
    with pytest.raises(DataError, match="x_data is empty"):
        orbit_verdict(series, series[:0])
    with pytest.raises(DataError, match="x_data has NaN or Inf"):
        orbit_verdict(series, bad)


def test_negative_spectral_smoothing_is_refused(series: np.ndarray) -> None:
    for smoothing in (-1.0, float("nan")):
        with pytest.raises(ConfigError, match=f"smoothing={smoothing}: the spectral smoothing is a width"):
            hellinger_distance(series, series, smoothing=smoothing)
    assert hellinger_distance(series, series, smoothing=0.0) == pytest.approx(0.0, abs=1e-12)


def test_orbit_verdict_with_a_constant_data_variable() -> None:
    """A constant data variable (reach 0) made every orbit that moved in it at all 'diverged'."""
    t = np.arange(2000) * 0.05
    x = np.stack([np.sin(t), 2.0 * np.cos(t), np.ones_like(t)], axis=1)

    def orbit(amplitude: np.ndarray) -> np.ndarray:  # the data's rotation, 0.01 wobble in the constant variable
        return amplitude[:, None] * np.stack([np.sin(t), 2.0 * np.cos(t), 0.01 * np.sin(3 * t)], axis=1) + [0, 0, 1]

    bounded = orbit(np.ones_like(t))
    assert orbit_verdict(bounded, x)["verdict"] == "bounded"
    assert orbit_verdict(orbit(np.exp(-0.2 * t)), x)["verdict"] == "collapsed to a fixed point"
    assert orbit_verdict(orbit(np.exp(0.05 * t)), x)["verdict"] == "diverged"
    # the constant variable itself is measured against the others' reach (2): 19 away is bounded, 21 diverged
    for offset, verdict in ((19.0, "bounded"), (21.0, "diverged")):
        assert orbit_verdict(bounded + [0, 0, offset], x)["verdict"] == verdict
    result = orbit_verdict(bounded, x)
    assert set(result) == {"verdict", "spread", "data_spread"} and result["data_spread"][2] == 0.0
    # no variable varies: an absolute scale of 1
    assert orbit_verdict(np.full((100, 2), 5.0), np.full((100, 2), 0.0))["verdict"] == "collapsed to a fixed point"
    assert orbit_verdict(np.full((100, 2), 11.0), np.full((100, 2), 0.0))["verdict"] == "diverged"


def test_an_orbit_larger_than_memory_is_refused_before_generating(monkeypatch: pytest.MonkeyPatch) -> None:
    """orbit_length=10**8 ran until the system killed it (or numpy ran out of memory); now the size the rollout
    holds is compared with the available memory first."""
    from neurops.metrics import dsr

    monkeypatch.setattr(dsr, "available_memory", lambda: 2**30)
    model = build("alrnn", obs_dim=2, latent_dim=10, n_relu=2, seed=0).double()
    monkeypatch.setattr(model, "generate", lambda *a, **k: pytest.fail("generated before the check"))
    x = np.random.default_rng(0).normal(size=(400, 2))
    with pytest.raises(ConfigError) as err:
        evaluate_reconstruction(model, x, n_starts=2, orbit_length=10**8)
    # 2 starts x ((10^8 + 100 warm-up) steps x (2 x 10 + 2) x 8 bytes + 10^8 x 2 x 8 bytes)
    assert str(err.value) == ("orbit_length=100000000: 2 orbits of 100000100 steps (10 latent and 2 observed values "
                              "each) need about 35.8 GiB of memory, but 1 GiB is available; use a shorter orbit_length "
                              "(dsr evaluate --orbit-length) or fewer starts (--starts).")
    dsr.check_orbit_memory(model, 400, n_starts=2, orbit_length=10**6)  # 358 MiB fits


def test_a_long_lyapunov_run_is_announced_with_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """`dsr evaluate --lyapunov-steps 1000000000` ran for days without a word; the time of a probe of the same
    QR loop (50 steps per model) now gives the expected time and the steps that fit in 5 minutes."""
    from neurops.metrics import dsr

    model = build("alrnn", obs_dim=2, latent_dim=4, n_relu=2, seed=0).double()
    x0 = np.random.default_rng(0).normal(size=(3, 2))
    clock = iter([10.0, 10.05, 20.0, 20.05])  # 50 steps in 0.05 s: 1 ms per step, for each of two models
    monkeypatch.setattr(dsr, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    assert dsr.lyapunov_time_note([model, model], x0, 10**9) == (
        "--lyapunov-steps 1000000000: lambda_max of 2 model(s) will take about 23 days here (2 ms per step, measured); "
        "lower it: --lyapunov-steps 150000 takes about 5 min.")
    clock = iter([0.0, 0.05])
    assert dsr.lyapunov_time_note([model], x0, 300_000) is None  # 300 s: no note
