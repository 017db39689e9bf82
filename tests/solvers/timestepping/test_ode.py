"""Tests of the ODE integrators (neurops/solvers/timestepping/ode.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from neurops.errors import SolverError
from neurops.solvers.timestepping.ode import integrate


def test_transient_and_scipy_agree() -> None:
    f = lambda y: np.stack([y[..., 1], -y[..., 0]], axis=-1)  # noqa: E731 - harmonic oscillator
    x_rk4 = integrate(f, np.array([[1.0, 0.0]]), 0.01, 100, substeps=4, transient=50)
    x_ivp = integrate(f, np.array([[1.0, 0.0]]), 0.01, 100, method="DOP853", transient=50)
    t = 0.01 * np.arange(50, 150)
    np.testing.assert_allclose(x_rk4[0, :, 0], np.cos(t), atol=1e-9)
    np.testing.assert_allclose(x_ivp[0, :, 0], np.cos(t), atol=1e-8)


def test_errors() -> None:
    with pytest.raises(ValueError, match="method"):
        integrate(lambda y: y, np.zeros((1, 1)), 0.1, 3, method="euler")
    with pytest.raises(ValueError, match="dt > 0"):
        integrate(lambda y: y, np.zeros((1, 1)), 0.0, 3)
    with warnings.catch_warnings():  # the blow-up is one SolverError: numpy's overflow warnings used to come first
        warnings.simplefilter("error")
        with pytest.raises(SolverError, match="blew up"):
            integrate(lambda y: y**3, np.ones((1, 1)), 1.0, 50)


@pytest.mark.parametrize("method", ["rk4", "RK45"])
def test_progress_counts_every_sample(method: str) -> None:
    """The progress callback (a tqdm bar's update) reaches transient + n_steps; scipy's path used to report nothing."""
    f = lambda y: np.stack([y[..., 1], -y[..., 0]], axis=-1)  # noqa: E731
    counted: list[int] = []
    integrate(f, np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]), 0.01, 2750, method=method, transient=500,
              progress=counted.append)
    assert sum(counted) == 3250  # rk4 used to stop at 3000
    # rk4: every 1000 samples and the rest; scipy: after each of the three trajectories
    assert counted == ([1000, 1000, 1000, 250] if method == "rk4" else [1083, 1083, 1084])


def test_states_and_tolerances_integrate_cannot_take_are_named():
    """Complex initial states lost their imaginary part behind numpy's ComplexWarning, [B, T, D] states failed in a
    numpy broadcast, and solve_ivp clamped rtol <= 0 behind a warning."""
    import re

    from neurops.errors import ConfigError, DataError

    def f(x):
        return -x

    with pytest.raises(DataError, match=r"^the initial states x0 are complex; integrate takes real states \[B, D\]"):
        integrate(f, np.ones((2, 3)) * 1j, 0.1, 3)
    with pytest.raises(DataError, match="^" + re.escape("initial states of shape (2, 2, 3): expected [B, D] (or one "
                                                        "state [D]); pass x0.reshape(-1, D).") + "$"):
        integrate(f, np.ones((2, 2, 3)), 0.1, 3)
    for rtol in (0.0, -1.0):
        with pytest.raises(ConfigError, match=rf"^rtol={rtol}, atol=1e-10: solve_ivp needs rtol > 0 and atol >= 0\.$"):
            integrate(f, np.ones((1, 3)), 0.1, 3, method="RK45", rtol=rtol)
    np.testing.assert_allclose(integrate(f, np.ones(3), 0.1, 3)[0, -1], np.exp(-0.2) * np.ones(3), rtol=1e-6)
