"""Time integration: fixed-step time steppers and the ODE / pseudo-spectral PDE solvers built on them.

Every stepper follows :class:`~neurops.solvers.timestepping.base.TimeStepper` (``h``, ``order``,
``step(state)``): classical Runge-Kutta (:class:`~neurops.solvers.timestepping.ode.RK4`, with the
ODE integrator :func:`~neurops.solvers.timestepping.ode.integrate`), exponential time
differencing (:class:`~neurops.solvers.timestepping.etdrk4.ETDRK4`, with the Kuramoto-Sivashinsky
solver) and Crank-Nicolson IMEX (:class:`~neurops.solvers.timestepping.imex.CrankNicolsonIMEX`).
Periodic Fourier grids and derivatives are :mod:`~neurops.solvers.timestepping.fourier`; the
Burgers and Navier-Stokes solvers :mod:`~neurops.solvers.timestepping.pseudospectral`.
"""

from neurops.solvers.timestepping.base import TimeStepper
from neurops.solvers.timestepping.etdrk4 import ETDRK4, KuramotoSivashinsky
from neurops.solvers.timestepping.fourier import (
    dealias_mask,
    periodic_grid,
    spectral_derivative,
    wavenumber_grid,
    wavenumbers,
)
from neurops.solvers.timestepping.imex import CrankNicolsonIMEX
from neurops.solvers.timestepping.ode import METHODS, RK4, integrate
from neurops.solvers.timestepping.pseudospectral import Burgers1D, NavierStokes2D, fno_forcing

__all__ = ["ETDRK4", "METHODS", "RK4", "Burgers1D", "CrankNicolsonIMEX", "KuramotoSivashinsky", "NavierStokes2D",
           "TimeStepper", "dealias_mask", "fno_forcing", "integrate", "periodic_grid", "spectral_derivative",
           "wavenumber_grid", "wavenumbers"]
