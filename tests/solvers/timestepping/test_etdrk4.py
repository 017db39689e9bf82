"""Tests of ETDRK4 and the Kuramoto-Sivashinsky solver (neurops/solvers/timestepping/etdrk4.py)."""

from __future__ import annotations

import numpy as np
import pytest

from neurops.solvers.timestepping.etdrk4 import ETDRK4, KuramotoSivashinsky


def test_linear_part_is_exact() -> None:
    lin = np.array([-1.0, -50.0, 0.5])
    stepper = ETDRK4(lin, lambda v: np.zeros_like(v), 0.1)
    v = np.ones(3, dtype=complex)
    for _ in range(10):
        v = stepper.step(v)
    np.testing.assert_allclose(v.real, np.exp(lin * 1.0), rtol=1e-12)


def test_ks_conserves_mean_and_stays_bounded() -> None:
    ks = KuramotoSivashinsky(22.0, 32, 0.25)
    u0 = 0.1 * np.random.default_rng(0).normal(size=(2, 32))
    u0 -= u0.mean(axis=1, keepdims=True)
    u = ks.solve(u0, 400, transient=100)
    np.testing.assert_allclose(u.mean(axis=2), 0.0, atol=1e-10)
    assert 0.5 < u.std() < 3.0
    with pytest.raises(ValueError, match="even"):
        KuramotoSivashinsky(22.0, 31)
    with pytest.raises(ValueError, match="length"):
        KuramotoSivashinsky(-1.0, 32)
    with pytest.raises(ValueError, match="time step"):
        ETDRK4(np.ones(3), lambda v: v, 0.0)
