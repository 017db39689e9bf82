"""The one convergence-order test of every time stepper (neurops/solvers/timestepping/base.py).

Each stepper integrates the logistic-type equation ``v' = lam v - v^2`` (per component; exact
solution ``v(t) = lam v0 e^{lam t} / (lam + v0 (e^{lam t} - 1))``) to ``t = 1`` with steps
``h = 1/8 .. 1/64``; the slope of ``log error`` against ``log h`` is the measured order, which must
lie within 0.25 of the stepper's ``order``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from neurops.solvers.timestepping import ETDRK4, RK4, CrankNicolsonIMEX, TimeStepper

LAM = np.array([-1.0, -0.5, 0.5])
V0 = np.array([1.0, 0.5, 0.2])


def _exact(t: float) -> np.ndarray:
    g = np.exp(LAM * t)
    return LAM * V0 * g / (LAM + V0 * (g - 1.0))


def _square(v):
    return -(v * v)


#: name -> (build(h) -> stepper, initial state); the state's type is the one the stepper runs on
STEPPERS: dict[str, tuple[Callable[[float], TimeStepper], Callable[[], object]]] = {
    "rk4": (lambda h: RK4(lambda v: LAM * v - v * v, h), lambda: V0.copy()),
    "etdrk4": (lambda h: ETDRK4(LAM, _square, h), lambda: V0.copy()),
    "cn_heun": (lambda h: CrankNicolsonIMEX(torch.as_tensor(LAM), _square, h, scheme="heun"),
                lambda: torch.as_tensor(V0)),
    "cn_euler": (lambda h: CrankNicolsonIMEX(torch.as_tensor(LAM), _square, h, scheme="euler"),
                 lambda: torch.as_tensor(V0)),
}


@pytest.mark.parametrize("name", sorted(STEPPERS))
def test_measured_order_matches_the_declared_order(name: str) -> None:
    build, initial = STEPPERS[name]
    steps = np.array([8, 16, 32, 64])
    errors = []
    for n in steps:
        stepper = build(1.0 / n)
        assert isinstance(stepper, TimeStepper) and stepper.h == 1.0 / n
        v = initial()
        for _ in range(n):
            v = stepper.step(v)
        errors.append(np.abs(np.real(np.asarray(v)) - _exact(1.0)).max())
    slope = np.polyfit(np.log(1.0 / steps), np.log(errors), 1)[0]
    assert abs(slope - stepper.order) < 0.25, (name, slope, errors)
