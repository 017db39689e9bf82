"""Tests of ETDRK4 and the Kuramoto-Sivashinsky solver (neurops/solvers/etdrk4.py)."""

from __future__ import annotations

import numpy as np
import pytest

from neurops.solvers.etdrk4 import ETDRK4, KuramotoSivashinsky


def test_linear_part_is_exact() -> None:
    lin = np.array([-1.0, -50.0, 0.5])
    stepper = ETDRK4(lin, lambda v: np.zeros_like(v), 0.1)
    v = np.ones(3, dtype=complex)
    for _ in range(10):
        v = stepper.step(v)
    np.testing.assert_allclose(v.real, np.exp(lin * 1.0), rtol=1e-12)


def test_fourth_order_with_forcing() -> None:
    # v' = -v + cos(v) ... scalar stiff-free check of the order: error ratio ~ 16 when h halves
    def run(h: float) -> complex:
        s = ETDRK4(np.array([-2.0]), lambda v: np.sin(v.real) + 0j, h)
        v = np.array([1.0 + 0j])
        for _ in range(int(round(1.0 / h))):
            v = s.step(v)
        return v[0]
    ref = run(1 / 1024)
    ratio = abs(run(0.1) - ref) / abs(run(0.05) - ref)
    assert ratio == pytest.approx(16.0, rel=0.25)


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
