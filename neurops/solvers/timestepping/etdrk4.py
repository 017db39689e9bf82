"""Exponential time differencing RK4 (ETDRK4) for stiff semilinear PDEs, and the KS equation.

For ``v_t = L v + N(v)`` with a diagonal linear operator ``L`` (Fourier space), ETDRK4
integrates the linear part exactly and the nonlinear part to fourth order. The phi
functions are evaluated by contour integrals in the complex plane, which avoids the
cancellation errors of their closed forms near 0 (Kassam & Trefethen 2005).

References
----------
.. [1] Cox, S. M., Matthews, P. C. (2002). Exponential time differencing for stiff
   systems. J. Comput. Phys. 176(2), 430-455.
.. [2] Kassam, A.-K., Trefethen, L. N. (2005). Fourth-order time-stepping for stiff PDEs.
   SIAM J. Sci. Comput. 26(4), 1214-1233.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from neurops.errors import ConfigError, SolverError


class ETDRK4:
    """One ETDRK4 step of size ``h`` for ``v_t = lin * v + nonlinear(v)`` (diagonal ``lin``).

    Parameters
    ----------
    lin : [K] complex or real diagonal of the linear operator (e.g. Fourier symbol).
    nonlinear : ``v_hat [..., K] -> N_hat [..., K]``.
    h : time step.
    n_contour : number of points on the contour used for the phi functions.

    References
    ----------
    Kassam & Trefethen (2005), SIAM J. Sci. Comput. 26(4), Sec. 3-5.
    """

    order = 4

    def __init__(self, lin: np.ndarray, nonlinear: Callable[[np.ndarray], np.ndarray], h: float,
                 n_contour: int = 64) -> None:
        if h <= 0:
            raise ConfigError(f"the ETDRK4 time step must be > 0, got h={h}.")
        lin = np.asarray(lin, dtype=np.complex128)
        self.nonlinear, self.h = nonlinear, h
        self.e = np.exp(h * lin)
        self.e2 = np.exp(h * lin / 2.0)
        roots = np.exp(1j * np.pi * (np.arange(1, n_contour + 1) - 0.5) / n_contour)
        lr = h * lin[:, None] + roots[None, :]  # [K, n_contour]

        real_operator = bool(np.all(lin.imag == 0))

        def mean(expr: np.ndarray) -> np.ndarray:
            m = np.mean(expr, axis=1)
            return m.real if real_operator else m

        self.q = h * mean((np.exp(lr / 2.0) - 1.0) / lr)
        self.f1 = h * mean((-4.0 - lr + np.exp(lr) * (4.0 - 3.0 * lr + lr**2)) / lr**3)
        self.f2 = h * mean((2.0 + lr + np.exp(lr) * (-2.0 + lr)) / lr**3)
        self.f3 = h * mean((-4.0 - 3.0 * lr - lr**2 + np.exp(lr) * (4.0 - lr)) / lr**3)

    def step(self, v: np.ndarray) -> np.ndarray:
        """Advance ``v : [..., K]`` (Fourier coefficients) by one step ``h``."""
        n_v = self.nonlinear(v)
        a = self.e2 * v + self.q * n_v
        n_a = self.nonlinear(a)
        b = self.e2 * v + self.q * n_a
        n_b = self.nonlinear(b)
        c = self.e2 * a + self.q * (2.0 * n_b - n_v)
        n_c = self.nonlinear(c)
        return self.e * v + n_v * self.f1 + 2.0 * (n_a + n_b) * self.f2 + n_c * self.f3


class KuramotoSivashinsky:
    """Pseudo-spectral KS solver ``u_t + u u_x + u_xx + u_xxxx = 0`` on a periodic domain.

    Fourier symbol of the linear part: ``k^2 - k^4`` with ``k = 2 pi n / length``; the
    nonlinear term ``-(u^2)_x / 2`` is evaluated in physical space with 2/3 dealiasing.

    Parameters
    ----------
    length : domain length L (chaotic for L >~ 13; L = 22 is the standard test case).
    n_points : grid points X (even).
    h : internal time step.

    References
    ----------
    Kassam & Trefethen (2005), SIAM J. Sci. Comput. 26(4), Sec. 6 (the KS example).
    """

    def __init__(self, length: float = 22.0, n_points: int = 64, h: float = 0.05) -> None:
        if n_points < 8 or n_points % 2:
            raise ConfigError(f"n_points must be an even number >= 8, got {n_points}.")
        if length <= 0:
            raise ConfigError(f"the domain length must be > 0, got {length}.")
        self.length, self.n_points = length, n_points
        k = 2.0 * np.pi / length * np.arange(n_points // 2 + 1)
        self.x = length * np.arange(n_points) / n_points
        dealias = np.arange(n_points // 2 + 1) < (2.0 / 3.0) * (n_points // 2)
        g = -0.5j * k * dealias

        def nonlinear(v: np.ndarray) -> np.ndarray:
            u = np.fft.irfft(v, n=n_points, axis=-1)
            return g * np.fft.rfft(u * u, axis=-1)

        self.stepper = ETDRK4(k**2 - k**4, nonlinear, h)

    def solve(self, u0: np.ndarray, n_steps: int, substeps: int = 1, transient: int = 0) -> np.ndarray:
        """Sample ``u`` every ``substeps * h`` from ``u0 : [B, X]``; returns ``[B, n_steps, X]``."""
        v = np.fft.rfft(np.asarray(u0, dtype=np.float64), axis=-1)
        out = np.empty((v.shape[0], n_steps, self.n_points))
        for i in range(transient + n_steps):
            if i >= transient:
                out[:, i - transient] = np.fft.irfft(v, n=self.n_points, axis=-1)
            for _ in range(substeps):
                v = self.stepper.step(v)
            if not np.isfinite(v).all():
                raise SolverError(f"the KS solution blew up after {i + 1} samples; reduce the time step h.")
        return out


__all__ = ["ETDRK4", "KuramotoSivashinsky"]
