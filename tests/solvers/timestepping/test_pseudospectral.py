"""Tests of neurops.solvers.timestepping.pseudospectral: the Burgers and Navier-Stokes solvers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neurops.errors import ConfigError, DataError, SolverError
from neurops.solvers.timestepping.fourier import periodic_grid, spectral_derivative
from neurops.solvers.timestepping.pseudospectral import Burgers1D, NavierStokes2D, fno_forcing


# ----------------------------------------------------------------------------- Burgers
def cole_hopf(x: torch.Tensor, t: float, nu: float) -> torch.Tensor:
    """Exact periodic Burgers solution u = -2 nu phi_x / phi with phi a positive heat solution."""
    d1, d2 = math.exp(-nu * (2 * math.pi) ** 2 * t), math.exp(-nu * (4 * math.pi) ** 2 * t)
    phi = 2.5 + torch.cos(2 * math.pi * x) * d1 + 0.5 * torch.sin(4 * math.pi * x + 0.3) * d2
    phi_x = -2 * math.pi * torch.sin(2 * math.pi * x) * d1 + 2 * math.pi * torch.cos(4 * math.pi * x + 0.3) * d2
    return -2 * nu * phi_x / phi


@pytest.mark.parametrize("nu", [0.05, 0.01])
def test_burgers_matches_cole_hopf_to_1e6(nu):
    n = 256 if nu == 0.05 else 512
    x = periodic_grid(n)
    times = [0.0, 0.1, 0.3, 0.5]
    u = Burgers1D(nu, dt=1e-2).solve(cole_hopf(x, 0.0, nu), times)
    assert u.shape == (len(times), n)
    for i, t in enumerate(times):
        assert np.abs(u[i] - cole_hopf(x, t, nu).numpy()).max() < 1e-6


def test_burgers_results_do_not_depend_on_batch_mates():
    x = periodic_grid(64)
    small = cole_hopf(x, 0.0, 0.05)
    batch = torch.stack([small, 20 * small])  # the large one needs a much smaller step
    together = Burgers1D(0.05, dt=0.05).solve(batch, [0.1, 0.2])
    alone = Burgers1D(0.05, dt=0.05).solve(small[None], [0.1, 0.2])
    np.testing.assert_array_equal(together[0], alone[0])


def test_burgers_rejects_bad_input():
    with pytest.raises(ConfigError, match="viscosity"):
        Burgers1D(0.0)
    with pytest.raises(ConfigError, match="increasing"):
        Burgers1D(0.1).solve(torch.zeros(16), [0.2, 0.1])
    with pytest.raises(ConfigError, match=r"\[B, X\]"):
        Burgers1D(0.1).solve(torch.zeros(2, 3, 16), [0.1])
    u0 = torch.zeros(16)
    u0[3] = float("nan")  # an input error, not a blow-up of the scheme ("reduce dt")
    with pytest.raises(DataError, match="u0 has NaN or Inf values"):
        Burgers1D(0.1).solve(u0, [0.1])


# ----------------------------------------------------------------------------- Navier-Stokes
def _grid2(n):
    x = periodic_grid(n)
    return torch.meshgrid(x, x, indexing="ij")


def test_taylor_green_vortex_decays_exactly():
    n, nu, t, dt = 32, 0.01, 1.0, 1e-3
    x, y = _grid2(n)
    w0 = torch.sin(2 * math.pi * x) * torch.sin(2 * math.pi * y)
    w = NavierStokes2D(nu, dt=dt).solve(w0, [0.5, t])
    decay = nu * 8 * math.pi**2
    exact = w0 * math.exp(-decay * t)
    assert (w[-1] - exact).abs().max() / exact.abs().max() < 1e-6
    # the advection of a single-shell vortex vanishes: only Crank-Nicolson's own factor remains
    z = dt * decay
    cn = ((1 - z / 2) / (1 + z / 2)) ** round(t / dt)
    assert torch.allclose(w[-1], w0 * cn, atol=1e-12)


def test_navier_stokes_velocity_is_divergence_free_and_curl_is_vorticity():
    x, y = _grid2(32)
    w = torch.sin(2 * math.pi * x) * torch.cos(4 * math.pi * y) + torch.cos(6 * math.pi * (x + y))
    u, v = NavierStokes2D(1e-3).velocity(w)
    div = spectral_derivative(u, (1, 0)) + spectral_derivative(v, (0, 1))
    curl = spectral_derivative(v, (1, 0)) - spectral_derivative(u, (0, 1))
    assert div.abs().max() < 1e-10
    assert torch.allclose(curl, w, atol=1e-10)


@pytest.mark.parametrize(("scheme", "order"), [("heun", 2), ("euler", 1)])
def test_navier_stokes_converges_under_step_halving(scheme, order):
    n = 32
    x, y = _grid2(n)
    w0 = torch.sin(2 * math.pi * x) + 0.5 * torch.cos(2 * math.pi * (x + 2 * y)) + 0.3 * torch.sin(6 * math.pi * y)
    runs = [NavierStokes2D(1e-3, forcing=fno_forcing(n), dt=dt, scheme=scheme).solve(w0, [1.0])[-1]
            for dt in (0.02, 0.01, 0.005)]
    ratio = (runs[0] - runs[1]).abs().max() / (runs[1] - runs[2]).abs().max()
    assert abs(math.log2(ratio) - order) < 0.2


def test_fno_forcing_values():
    f = fno_forcing(4)
    assert f.shape == (4, 4)
    assert f[0, 0] == pytest.approx(0.1) and f[1, 0] == pytest.approx(0.1)  # sin(pi/2) + cos(pi/2)


def test_navier_stokes_rejects_bad_input():
    with pytest.raises(ConfigError, match="scheme"):
        NavierStokes2D(1e-3, scheme="rk4")
    with pytest.raises(ConfigError, match="forcing has shape"):
        NavierStokes2D(1e-3, forcing=fno_forcing(8)).solve(torch.zeros(16, 16), [0.1])
    with pytest.raises(DataError, match="w0 has NaN or Inf values"):
        NavierStokes2D(1e-3).solve(torch.full((16, 16), float("inf")), [0.1])
    with pytest.raises(SolverError, match="reduce dt"):
        x, y = _grid2(16)
        NavierStokes2D(1e-5, dt=5.0).solve(200 * torch.sin(2 * math.pi * x) * torch.cos(4 * math.pi * y), [50.0])
