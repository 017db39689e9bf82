"""Integrators for autonomous ODEs ``dx/dt = f(x)``, vectorised over a batch of states.

Used to generate chaotic-flow data (:mod:`neurops.data.generators.chaotic`) and to
propagate tangent vectors for Lyapunov exponents.

References
----------
.. [1] Hairer, E., Norsett, S. P., Wanner, G. (1993). Solving Ordinary Differential
   Equations I. Springer (classical Runge-Kutta, Sec. II.1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

from neurops.errors import ConfigError, DataError, SolverError

VectorField = Callable[[np.ndarray], np.ndarray]
Method = Literal["rk4", "RK45", "DOP853", "Radau", "LSODA"]
METHODS: tuple[str, ...] = ("rk4", "RK45", "DOP853", "Radau", "LSODA")


class RK4:
    """The classical Runge-Kutta method for ``dx/dt = f(x)``: a time stepper of order 4.

    Parameters
    ----------
    f : vector field, ``[..., D] -> [..., D]`` (vectorised over leading axes).
    h : time step (> 0).

    References
    ----------
    .. [1] Hairer, Norsett, Wanner (1993), Sec. II.1.
    """

    order = 4

    def __init__(self, f: VectorField, h: float) -> None:
        if not h > 0:
            raise ConfigError(f"the RK4 time step must be > 0, got h={h}.")
        self.f, self.h = f, h

    def step(self, x: np.ndarray) -> np.ndarray:
        """Advance ``x : [..., D]`` by one step ``h``."""
        f, h = self.f, self.h
        k1 = f(x)
        k2 = f(x + 0.5 * h * k1)
        k3 = f(x + 0.5 * h * k2)
        k4 = f(x + h * k3)
        return x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def integrate(f: VectorField, x0: np.ndarray, dt: float, n_steps: int, *, method: Method = "rk4",
              substeps: int = 1, transient: int = 0, rtol: float = 1e-10, atol: float = 1e-10,
              progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Sample the solution of ``dx/dt = f(x)`` every ``dt`` from a batch of initial states.

    Parameters
    ----------
    f : vector field, ``[..., D] -> [..., D]`` (vectorised over leading axes).
    x0 : [B, D] initial states.
    dt : sampling interval.
    n_steps : number of samples T kept (the first is ``x(transient * dt)``).
    method : ``"rk4"`` (:class:`RK4`, fixed step ``dt / substeps``, vectorised over the batch) or a
        ``scipy.integrate.solve_ivp`` method (per trajectory, adaptive, ``rtol``/``atol``).
    substeps : rk4 steps per sample.
    transient : samples discarded before the kept ones.
    progress : called with the number of samples advanced (transient included; e.g. a tqdm ``update``).

    Returns
    -------
    x : [B, T, D] float64.
    """
    if method not in METHODS:
        raise ConfigError(f"ODE method {method!r} is unknown; use one of {METHODS}.")
    if dt <= 0 or n_steps < 1 or substeps < 1 or transient < 0:
        raise ConfigError(f"need dt > 0, n_steps >= 1, substeps >= 1, transient >= 0; got dt={dt}, "
                         f"n_steps={n_steps}, substeps={substeps}, transient={transient}.")
    if method != "rk4" and not (rtol > 0 and atol >= 0):
        raise ConfigError(f"rtol={rtol}, atol={atol}: solve_ivp needs rtol > 0 and atol >= 0.")
    if np.iscomplexobj(x0):
        raise DataError("the initial states x0 are complex; integrate takes real states [B, D] (pass real and "
                        "imaginary parts as separate components).")
    x = np.array(x0, dtype=np.float64, ndmin=2)
    if x.ndim != 2:
        raise DataError(f"initial states of shape {x.shape}: expected [B, D] (or one state [D]); pass "
                        "x0.reshape(-1, D).")
    if method != "rk4":
        return _integrate_scipy(f, x, dt, n_steps, transient, method, rtol, atol, progress)
    stepper = RK4(f, dt / substeps)
    out = np.empty((x.shape[0], n_steps, x.shape[1]))
    for i in range(transient + n_steps):
        if i >= transient:
            out[:, i - transient] = x
        if progress is not None and (i + 1) % 1000 == 0:
            progress(1000)
        with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is the one error below, not numpy warnings
            for _ in range(substeps):
                x = stepper.step(x)
        if not np.isfinite(x).all():
            raise SolverError(f"the ODE solution blew up (NaN/Inf) after {i + 1} samples; reduce dt or "
                              "increase substeps.")
    if progress is not None and (transient + n_steps) % 1000:
        progress((transient + n_steps) % 1000)
    return out


def _integrate_scipy(f: VectorField, x: np.ndarray, dt: float, n_steps: int, transient: int, method: str,
                     rtol: float, atol: float, progress: Callable[[int], None] | None) -> np.ndarray:
    from scipy.integrate import solve_ivp

    t_eval = dt * np.arange(transient, transient + n_steps)
    out = np.empty((x.shape[0], n_steps, x.shape[1]))
    for b, xb in enumerate(x):
        sol = solve_ivp(lambda _t, y: f(y), (0.0, t_eval[-1]), xb, method=method, t_eval=t_eval,
                        rtol=rtol, atol=atol)
        if not sol.success:
            raise SolverError(f"solve_ivp ({method}) failed on trajectory {b}: {sol.message}")
        out[b] = sol.y.T
        if progress is not None:  # one trajectory after another: its share of the samples
            total = transient + n_steps
            progress((b + 1) * total // len(x) - b * total // len(x))
    return out


__all__ = ["METHODS", "RK4", "integrate"]
