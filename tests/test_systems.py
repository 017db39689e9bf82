"""Tests of the chaotic flows (neurops/systems.py): equilibria and Jacobians."""

from __future__ import annotations

import numpy as np

from neurops.systems import Lorenz63, Lorenz96, Roessler


def test_known_fixed_points_are_equilibria() -> None:
    for system in (Lorenz63(), Roessler(), Lorenz96(n=5)):
        fps = system.fixed_points()
        assert len(fps) >= 1
        np.testing.assert_allclose(system.field(fps), 0.0, atol=1e-9)
    x = np.random.default_rng(0).normal(size=(4, 5))
    eps = 1e-6
    numeric = np.stack([(Lorenz96(n=5).field(x + eps * e) - Lorenz96(n=5).field(x - eps * e)) / (2 * eps)
                        for e in np.eye(5)], axis=-1)
    np.testing.assert_allclose(Lorenz96(n=5).jacobian(x), numeric, atol=1e-6)
