"""Pseudo-spectral solvers of periodic PDEs: viscous Burgers (1D) and Navier-Stokes (2D).

Space is Fourier pseudo-spectral on the periodic grid of :mod:`neurops.solvers.timestepping.fourier`
(wavenumbers, Orszag's 2/3 dealiasing, spectral derivatives); time is a stiff stepper:

* :class:`Burgers1D`, viscous Burgers ``u_t + (u^2/2)_x = nu u_xx`` advanced by the ETDRK4
  scheme of :mod:`neurops.solvers.timestepping.etdrk4` (numpy, float64);
* :class:`NavierStokes2D`, incompressible Navier-Stokes in vorticity form with
  Crank-Nicolson diffusion (the FNO data setup), in torch (float64) so that batches of samples
  advance together on the CPU or a GPU.

References
----------
.. [1] S. M. Cox and P. C. Matthews, "Exponential time differencing for stiff systems",
   J. Comput. Phys. 176 (2002).
.. [2] A.-K. Kassam and L. N. Trefethen, "Fourth-order time-stepping for stiff PDEs",
   SIAM J. Sci. Comput. 26 (2005).
.. [3] Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations",
   ICLR 2021 (data generation for Burgers and Navier-Stokes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from neurops.errors import ConfigError, DataError, SolverError
from neurops.solvers.timestepping.etdrk4 import ETDRK4
from neurops.solvers.timestepping.fourier import dealias_mask, periodic_grid, wavenumber_grid, wavenumbers
from neurops.solvers.timestepping.imex import IMEX_SCHEMES, CrankNicolsonIMEX

Tensor = torch.Tensor


def _substeps(interval: float, dt_max: float) -> tuple[int, float]:
    """Number of equal steps no longer than ``dt_max`` that cover ``interval``, and their length."""
    n = max(1, math.ceil(interval / dt_max - 1e-9))
    return n, interval / n


def _check_times(times: Sequence[float] | Tensor) -> list[float]:
    t = [float(v) for v in times]
    if not t or t[0] < 0 or any(b <= a for a, b in zip(t, t[1:])):
        raise ConfigError(f"record times must be non-negative and strictly increasing, got {t[:5]}...")
    return t


def _check_finite(v: Tensor, what: str, t: float, fix: str) -> None:
    if not torch.isfinite(v).all():
        raise SolverError(f"{what} blew up (NaN/Inf) before t={t:g}; {fix}")


# ----------------------------------------------------------------------------- Burgers
class Burgers1D:
    """Viscous Burgers ``u_t + u u_x = nu u_xx`` on the periodic interval ``[0, L)``.

    Pseudo-spectral in space (2/3 dealiasing of the flux ``u^2/2``) and ETDRK4 in time
    (:class:`neurops.solvers.timestepping.etdrk4.ETDRK4`), the viscous term ``-nu k^2`` being integrated
    exactly. The explicit treatment of advection limits the step to ``dt <= cfl / (max|u_0| k_max)``;
    since ``max|u|`` cannot grow for viscous Burgers, the bound computed from the initial condition
    holds for the whole run. Runs in numpy (float64) on the CPU.

    Parameters
    ----------
    nu : viscosity (> 0).
    length : period ``L``.
    dt : largest time step allowed. Each sample steps with ``dt / 2^r``, ``r >= 0`` the smallest
        that meets its CFL bound, shortened further to land on the record times exactly, so a
        sample's numbers never depend on the other samples of its batch.
    cfl : Courant number of the explicit advection (ETDRK4 is stable up to about 2).
    dealias : apply the 2/3 rule to the nonlinear term.

    References
    ----------
    .. [1] A.-K. Kassam and L. N. Trefethen, SIAM J. Sci. Comput. 26 (2005).
    .. [2] Z. Li et al., "Fourier Neural Operator for Parametric PDEs", ICLR 2021 (Burgers data).
    """

    def __init__(self, nu: float, *, length: float = 1.0, dt: float = 1e-3, cfl: float = 0.5,
                 dealias: bool = True) -> None:
        if not nu > 0:
            raise ConfigError(f"Burgers needs a positive viscosity nu, got {nu}.")
        if not dt > 0 or not cfl > 0:
            raise ConfigError(f"dt and cfl must be positive, got dt={dt}, cfl={cfl}.")
        self.nu, self.length, self.dt, self.cfl, self.dealias = float(nu), float(length), float(dt), float(cfl), dealias

    def solve(self, u0: np.ndarray | Tensor, times: Sequence[float] | np.ndarray) -> np.ndarray:
        """Integrate from ``u0`` at ``t = 0`` and return the solution at ``times``.

        Parameters
        ----------
        u0 : [B, X] or [X] initial condition on the periodic grid.
        times : [T] increasing record times (``0`` returns ``u0`` itself).

        Returns
        -------
        u : float64 [B, T, X] (or [T, X] for an unbatched ``u0``).
        """
        work = np.asarray(u0.detach().cpu() if isinstance(u0, Tensor) else u0, dtype=np.float64)
        squeeze = work.ndim == 1
        work = work[None] if squeeze else work
        if work.ndim != 2:
            raise ConfigError(f"u0 must have shape [B, X] or [X], got {tuple(work.shape)}.")
        if not np.isfinite(work).all():
            raise DataError("u0 has NaN or Inf values; pass a finite initial condition.")
        times = _check_times(times)
        n = work.shape[-1]
        k = wavenumbers(n, self.length, real=True).numpy()
        k_max = float(np.abs(k).max()) * (2.0 / 3.0 if self.dealias else 1.0)
        bound = self.cfl / np.maximum(np.abs(work).max(axis=-1) * k_max, 1e-300)
        levels = np.ceil(np.log2(np.maximum(self.dt / bound, 1.0))).astype(np.int64)
        out = np.empty((work.shape[0], len(times), n))
        for level in np.unique(levels):
            rows = np.flatnonzero(levels == level)
            out[rows] = self._integrate(work[rows], times, k, self.dt / 2.0**level)
        return out[0] if squeeze else out

    def _integrate(self, u0: np.ndarray, times: list[float], k: np.ndarray, dt_max: float) -> np.ndarray:
        """ETDRK4 from ``u0`` [B, X] with steps no longer than ``dt_max``; returns [B, T, X]."""
        n = u0.shape[-1]
        mask = dealias_mask((n,)).numpy() if self.dealias else np.ones(k.shape, dtype=bool)
        flux_factor = -0.5j * k * mask

        def nonlinear(v: np.ndarray) -> np.ndarray:
            u = np.fft.irfft(v * mask, n=n, axis=-1)  # both factors and the product truncated: no aliasing
            return flux_factor * np.fft.rfft(u * u, axis=-1)

        linear = -self.nu * k**2
        v = np.fft.rfft(u0, axis=-1)
        out = []
        t_now, stepper = 0.0, None
        for t_rec in times:
            n_steps, h = _substeps(t_rec - t_now, dt_max) if t_rec > t_now else (0, 0.0)
            if n_steps:
                if stepper is None or not math.isclose(h, stepper.h, rel_tol=1e-12):
                    stepper = ETDRK4(linear, nonlinear, h)
                for _ in range(n_steps):
                    v = stepper.step(v)
                if not np.isfinite(v).all():
                    raise SolverError(f"Burgers blew up (NaN/Inf) before t={t_rec:g}; reduce dt or cfl, "
                                      "or raise the resolution.")
            t_now = t_rec
            out.append(np.fft.irfft(v, n=n, axis=-1))
        return np.stack(out, axis=1)


# ----------------------------------------------------------------------------- Navier-Stokes
def fno_forcing(n: int, *, amplitude: float = 0.1, dtype: torch.dtype = torch.float64,
                device: torch.device | str | None = None) -> Tensor:
    """The forcing of the FNO Navier-Stokes data, ``0.1 (sin 2 pi (x + y) + cos 2 pi (x + y))``.

    Parameters
    ----------
    n : grid points per axis of the unit torus.
    amplitude : the factor ``0.1``.

    Returns
    -------
    f : [n, n] on the grid ``x_i = i / n``, ``y_j = j / n`` (``x`` along the first axis).

    References
    ----------
    .. [1] Z. Li et al., "Fourier Neural Operator for Parametric PDEs", ICLR 2021, section 5.3.
    """
    x = periodic_grid(n, 1.0, dtype=dtype, device=device)
    s = 2 * math.pi * (x[:, None] + x[None, :])
    return amplitude * (torch.sin(s) + torch.cos(s))


class NavierStokes2D:
    """Incompressible 2D Navier-Stokes in vorticity form on a periodic box.

    ``w_t + u . grad w = nu lap w + f``, ``u = (psi_y, -psi_x)``, ``-lap psi = w``, with
    ``x`` the first and ``y`` the second spatial axis. Pseudo-spectral with the 2/3 rule on the
    advection term; diffusion by Crank-Nicolson. The advection and forcing are explicit
    (:class:`~neurops.solvers.timestepping.imex.CrankNicolsonIMEX`):

    * ``scheme="heun"`` (default): a Crank-Nicolson / Heun predictor-corrector, second order;
    * ``scheme="euler"``: forward Euler on advection as in the FNO data script, first order.

    Parameters
    ----------
    nu : viscosity (> 0).
    forcing : [X, Y] time-independent forcing on the grid, or ``None``.
    length : side of the square box (1 for the unit torus).
    dt : largest time step; steps shrink to land on record times.
    scheme : ``"heun"`` or ``"euler"``.

    References
    ----------
    .. [1] Z. Li et al., "Fourier Neural Operator for Parametric PDEs", ICLR 2021.
    .. [2] C. Canuto et al., "Spectral Methods: Fundamentals in Single Domains", Springer (2006).
    """

    def __init__(self, nu: float, *, forcing: Tensor | None = None, length: float = 1.0, dt: float = 1e-3,
                 scheme: Literal["heun", "euler"] = "heun") -> None:
        if not nu > 0:
            raise ConfigError(f"Navier-Stokes needs a positive viscosity nu, got {nu}.")
        if not dt > 0:
            raise ConfigError(f"dt must be positive, got {dt}.")
        if scheme not in IMEX_SCHEMES:
            raise ConfigError(f"unknown scheme {scheme!r}; use 'heun' (2nd order) or 'euler' (FNO's, 1st order).")
        self.nu, self.length, self.dt, self.scheme = float(nu), float(length), float(dt), scheme
        self.forcing = forcing

    def velocity(self, w: Tensor) -> tuple[Tensor, Tensor]:
        """Velocity of a vorticity field from the stream function.

        Parameters
        ----------
        w : [..., X, Y] vorticity.

        Returns
        -------
        u, v : [..., X, Y] each; ``u = psi_y``, ``v = -psi_x``.
        """
        shape = tuple(w.shape[-2:])
        kx, ky = wavenumber_grid(shape, self.length, dtype=torch.float64, device=w.device)
        w_hat = torch.fft.rfft2(w.to(torch.float64))
        u_hat, v_hat = self._velocity_hat(w_hat, kx, ky)
        return torch.fft.irfft2(u_hat, s=shape), torch.fft.irfft2(v_hat, s=shape)

    @staticmethod
    def _velocity_hat(w_hat: Tensor, kx: Tensor, ky: Tensor) -> tuple[Tensor, Tensor]:
        k2 = kx**2 + ky**2
        psi_hat = w_hat / torch.where(k2 == 0, torch.ones_like(k2), k2)
        psi_hat = torch.where(k2 == 0, torch.zeros_like(psi_hat), psi_hat)
        return 1j * ky * psi_hat, -1j * kx * psi_hat

    def solve(self, w0: Tensor, times: Sequence[float] | Tensor) -> Tensor:
        """Integrate from ``w0`` at ``t = 0`` and return the vorticity at ``times``.

        Parameters
        ----------
        w0 : [B, X, Y] or [X, Y] initial vorticity.
        times : [T] increasing record times.

        Returns
        -------
        w : [B, T, X, Y] (or [T, X, Y]), same dtype as ``w0``.
        """
        squeeze = w0.ndim == 2
        w0 = w0[None] if squeeze else w0
        if w0.ndim != 3:
            raise ConfigError(f"w0 must have shape [B, X, Y] or [X, Y], got {tuple(w0.shape)}.")
        if not torch.isfinite(w0).all():
            raise DataError("w0 has NaN or Inf values; pass a finite initial vorticity.")
        times = _check_times(times)
        shape = tuple(w0.shape[-2:])
        device = w0.device
        kx, ky = wavenumber_grid(shape, self.length, device=device)
        mask = dealias_mask(shape, device=device)
        f_hat = None
        if self.forcing is not None:
            if tuple(self.forcing.shape) != shape:
                raise ConfigError(f"forcing has shape {tuple(self.forcing.shape)} but the grid is {shape}; "
                                  "build it on the same grid (e.g. fno_forcing(n)).")
            f_hat = torch.fft.rfft2(self.forcing.to(device=device, dtype=torch.float64))

        def explicit(w_hat: Tensor) -> Tensor:
            u_hat, v_hat = self._velocity_hat(w_hat, kx, ky)
            u = torch.fft.irfft2(u_hat, s=shape)
            v = torch.fft.irfft2(v_hat, s=shape)
            wx = torch.fft.irfft2(1j * kx * w_hat, s=shape)
            wy = torch.fft.irfft2(1j * ky * w_hat, s=shape)
            rhs = -torch.fft.rfft2(u * wx + v * wy) * mask
            return rhs if f_hat is None else rhs + f_hat

        lap = -(kx**2 + ky**2)
        w_hat = torch.fft.rfft2(w0.to(torch.float64))
        out = []
        t_now = 0.0
        for t_rec in times:
            n_steps, h = _substeps(t_rec - t_now, self.dt) if t_rec > t_now else (0, 0.0)
            if n_steps:
                stepper = CrankNicolsonIMEX(lap, explicit, h, nu=self.nu, scheme=self.scheme)
                for _ in range(n_steps):
                    w_hat = stepper.step(w_hat)
                _check_finite(w_hat, "Navier-Stokes", t_rec, "reduce dt or raise the resolution.")
            t_now = t_rec
            out.append(torch.fft.irfft2(w_hat, s=shape))
        w = torch.stack(out, dim=1).to(w0.dtype)
        return w[0] if squeeze else w
