"""Crank-Nicolson on a diagonal linear part with an explicit Heun or Euler step for the rest (IMEX).

For ``v_t = nu * lin * v + explicit(v)`` with a diagonal ``lin`` (e.g. the Fourier symbol of the
Laplacian), the linear part is taken implicitly by the trapezoidal rule and the rest explicitly:

* ``scheme="heun"``: a predictor-corrector, ``v* = (P v + h N(v)) / M`` then
  ``v' = (P v + h/2 (N(v) + N(v*))) / M`` with ``P = 1 + h nu lin / 2``, ``M = 1 - h nu lin / 2``:
  second order;
* ``scheme="euler"``: the predictor alone (forward Euler on ``N``, as in the FNO Navier-Stokes data
  script): first order.

It works on numpy arrays and torch tensors alike (only arithmetic is used).

References
----------
.. [1] U. M. Ascher, S. J. Ruuth, B. T. R. Wetton, "Implicit-explicit methods for time-dependent
   partial differential equations", SIAM J. Numer. Anal. 32 (1995) 797-823.
.. [2] Z. Li et al., "Fourier Neural Operator for Parametric PDEs", ICLR 2021 (the Euler variant).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from neurops.errors import ConfigError

IMEX_SCHEMES: dict[str, int] = {"heun": 2, "euler": 1}  # scheme -> order


class CrankNicolsonIMEX:
    """One IMEX step of size ``h`` for ``v_t = nu * lin * v + explicit(v)``: a time stepper of order 2 or 1.

    Parameters
    ----------
    lin : [..., K] diagonal of the linear operator (broadcasts against the state).
    explicit : ``v [..., K] -> N(v) [..., K]``, the explicitly treated part (advection, forcing).
    h : time step (> 0).
    nu : factor of the linear part (e.g. a viscosity).
    scheme : ``"heun"`` (order 2) or ``"euler"`` (order 1).
    """

    def __init__(self, lin: Any, explicit: Callable[[Any], Any], h: float, *, nu: float = 1.0,
                 scheme: Literal["heun", "euler"] = "heun") -> None:
        if scheme not in IMEX_SCHEMES:
            raise ConfigError(f"unknown scheme {scheme!r}; use 'heun' (2nd order) or 'euler' (FNO's, 1st order).")
        if not h > 0:
            raise ConfigError(f"the time step must be > 0, got h={h}.")
        self.explicit, self.h, self.scheme = explicit, h, scheme
        self.order = IMEX_SCHEMES[scheme]
        self.plus = 1 + 0.5 * h * nu * lin
        self.minus = 1 - 0.5 * h * nu * lin

    def step(self, v: Any) -> Any:
        """Advance ``v : [..., K]`` by one step ``h``."""
        n0 = self.explicit(v)
        pred = (self.plus * v + self.h * n0) / self.minus
        if self.scheme == "heun":
            pred = (self.plus * v + 0.5 * self.h * (n0 + self.explicit(pred))) / self.minus
        return pred


__all__ = ["IMEX_SCHEMES", "CrankNicolsonIMEX"]
