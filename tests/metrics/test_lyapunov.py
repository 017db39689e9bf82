"""Tests of the Lyapunov-exponent routines (neurops/metrics/lyapunov.py) on linear systems with known spectra."""

from __future__ import annotations

import math

import jaxtyping
import numpy as np
import pytest
import torch

from neurops.metrics.lyapunov import lyapunov_max_twin, lyapunov_spectrum_map, lyapunov_spectrum_orbit


def test_linear_map_spectrum() -> None:
    a = torch.tensor([[2.0, 0.3], [0.0, 0.5]], dtype=torch.float64)  # eigenvalues 2 and 0.5
    lam = lyapunov_spectrum_map(lambda z: z @ a.T / 1.0, lambda z: a.expand(z.shape[0], 2, 2),
                                torch.ones(3, 2, dtype=torch.float64), 200, transient=0, dt=0.5)
    np.testing.assert_allclose(lam.numpy(), np.tile([math.log(2) / 0.5, math.log(0.5) / 0.5], (3, 1)), atol=0.02)


def test_linear_flow_spectrum_along_orbit() -> None:
    rates = np.array([0.3, -1.0])
    orbit = np.zeros((2, 5000, 2))  # the tangent dynamics of a linear flow do not depend on the orbit
    lam = lyapunov_spectrum_orbit(lambda x: np.broadcast_to(np.diag(rates), (*x.shape[:-1], 2, 2)), orbit, 0.01)
    np.testing.assert_allclose(lam, np.tile(rates, (2, 1)), atol=0.05)
    assert lam.sum(axis=1) == pytest.approx(rates.sum())  # the volume contraction is exact


def test_twin_method_on_a_linear_map() -> None:
    lam = lyapunov_max_twin(lambda x: 1.5 * x, np.ones((2, 3)), 10, 1.0)  # short: the states grow as 1.5^n
    np.testing.assert_allclose(lam, math.log(1.5), rtol=1e-6)
    with pytest.raises(ValueError, match="n_steps"):
        lyapunov_max_twin(lambda x: x, np.ones((2, 3)), 0, 1.0)
    with pytest.raises(ValueError, match="n_steps"):
        lyapunov_spectrum_map(lambda z: z, lambda z: z, torch.ones(1, 2), 0)


def test_a_wrong_shape_is_caught_at_the_call() -> None:
    """The test session checks the jaxtyping annotations of kernels, layers and metrics (tests/conftest.py)."""
    a = torch.eye(2, dtype=torch.float64)
    with pytest.raises(jaxtyping.TypeCheckError, match=r"z0"):  # [M] instead of [B, M]: caught before any work
        lyapunov_spectrum_map(lambda z: z @ a, lambda z: a.expand(z.shape[0], 2, 2), torch.ones(2), 10)
    with pytest.raises(jaxtyping.TypeCheckError, match=r"orbit"):  # integers where states are floats
        lyapunov_spectrum_orbit(lambda x: np.zeros((*x.shape, 2)), np.zeros((10, 2), dtype=np.int64), 0.1)
    # the exponents [B, k] of a batch of B orbits: the returned shape is checked too
    assert lyapunov_spectrum_map(lambda z: z @ a, lambda z: a.expand(z.shape[0], 2, 2), torch.ones(3, 2).double(), 10,
                                 transient=0).shape == (3, 2)
