"""The interface every fixed-step time stepper follows: a step size ``h``, an ``order``, ``step(state)``.

A stepper is built for one problem and one step size (precomputing what it can, e.g. the
exponentials of ETDRK4) and advances a state by ``h`` per :meth:`TimeStepper.step`. ``order`` is
the global order of accuracy: the error at a fixed time falls like ``h^order`` as ``h -> 0``.
``tests/solvers/timestepping/test_base.py`` measures it for every stepper on one problem with a
known solution.

Steppers: :class:`~neurops.solvers.timestepping.ode.RK4` (classical Runge-Kutta, order 4),
:class:`~neurops.solvers.timestepping.etdrk4.ETDRK4` (exponential time differencing, order 4) and
:class:`~neurops.solvers.timestepping.imex.CrankNicolsonIMEX` (Crank-Nicolson with an explicit
Heun or Euler part, order 2 or 1).

References
----------
.. [1] E. Hairer, S. P. Norsett, G. Wanner, "Solving Ordinary Differential Equations I",
   Springer 1993, section II.3 (order of a one-step method).
"""

from __future__ import annotations

from typing import Protocol, TypeVar, runtime_checkable

State = TypeVar("State")


@runtime_checkable
class TimeStepper(Protocol[State]):
    """A fixed-step integrator of global order ``order``: ``step`` maps the state at ``t`` to ``t + h``."""

    order: int
    h: float

    def step(self, state: State) -> State:
        """The state one step ``h`` later (same shape, dtype and device as ``state``)."""
        ...


__all__ = ["TimeStepper"]
