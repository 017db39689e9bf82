"""Chaotic flows: vector fields, Jacobians and fixed points of Lorenz-63, Roessler and Lorenz-96.

Each system is a small frozen dataclass of its parameters with ``field(x)``,
``jacobian(x)`` (both vectorised over leading axes, ``x : [..., D]``) and
``fixed_points()``. They drive the generators of :mod:`neurops.data.generators.chaotic`
and give the "true" Jacobians for Lyapunov exponents and fixed-point comparisons.

References
----------
.. [1] Lorenz, E. N. (1963). Deterministic nonperiodic flow. J. Atmos. Sci. 20, 130-141.
.. [2] Roessler, O. E. (1976). An equation for continuous chaos. Phys. Lett. A 57(5), 397-398.
.. [3] Lorenz, E. N. (1996). Predictability - a problem partly solved. Proc. ECMWF Seminar
   on Predictability.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


def _parameters(system: Lorenz63 | Roessler | Lorenz96) -> dict[str, float]:
    """The parameters of a system, by name: its dataclass fields except the state dimension ``dim``."""
    return {k: v for k, v in asdict(system).items() if k != "dim"}


@dataclass(frozen=True)
class Lorenz63:
    """``x' = s (y - x)``, ``y' = x (r - z) - y``, ``z' = x y - b z`` (chaotic at 10, 28, 8/3)."""

    sigma: float = 10.0
    rho: float = 28.0
    beta: float = 8.0 / 3.0
    dim: int = 3

    def field(self, x: np.ndarray) -> np.ndarray:
        a, b, c = x[..., 0], x[..., 1], x[..., 2]
        return np.stack([self.sigma * (b - a), a * (self.rho - c) - b, a * b - self.beta * c], axis=-1)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        a, b, c = x[..., 0], x[..., 1], x[..., 2]
        one, zero = np.ones_like(a), np.zeros_like(a)
        rows = [
            [-self.sigma * one, self.sigma * one, zero],
            [self.rho - c, -one, -a],
            [b, a, -self.beta * one],
        ]
        return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)

    def fixed_points(self) -> np.ndarray:
        """[K, 3]: the origin and, for rho > 1, ``C+- = (+-q, +-q, rho - 1)``, ``q = sqrt(beta (rho - 1))``."""
        points = [np.zeros(3)]
        if self.rho > 1:
            q = math.sqrt(self.beta * (self.rho - 1.0))
            points += [np.array([q, q, self.rho - 1.0]), np.array([-q, -q, self.rho - 1.0])]
        return np.stack(points)

    def initial_state(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.normal(0.0, 1.0, (n, 3)) + np.array([0.0, 0.0, 25.0])

    def parameters(self) -> dict[str, float]:
        return _parameters(self)


@dataclass(frozen=True)
class Roessler:
    """``x' = -y - z``, ``y' = x + a y``, ``z' = b + z (x - c)`` (chaotic at 0.2, 0.2, 5.7)."""

    a: float = 0.2
    b: float = 0.2
    c: float = 5.7
    dim: int = 3

    def field(self, x: np.ndarray) -> np.ndarray:
        u, v, w = x[..., 0], x[..., 1], x[..., 2]
        return np.stack([-v - w, u + self.a * v, self.b + w * (u - self.c)], axis=-1)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        u, w = x[..., 0], x[..., 2]
        one, zero = np.ones_like(u), np.zeros_like(u)
        rows = [[zero, -one, -one], [one, self.a * one, zero], [w, zero, u - self.c]]
        return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)

    def fixed_points(self) -> np.ndarray:
        """[K, 3]: ``x = a z``, ``y = -z``, with ``z = (c +- sqrt(c^2 - 4ab)) / (2a)``."""
        disc = self.c**2 - 4.0 * self.a * self.b
        if disc < 0:
            return np.zeros((0, 3))
        zs = [(self.c - math.sqrt(disc)) / (2 * self.a), (self.c + math.sqrt(disc)) / (2 * self.a)]
        return np.array([[self.a * z, -z, z] for z in zs])

    def initial_state(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.normal(0.0, 1.0, (n, 3)) + np.array([1.0, 1.0, 0.0])

    def parameters(self) -> dict[str, float]:
        return _parameters(self)


@dataclass(frozen=True)
class Lorenz96:
    """``x_i' = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F`` on a ring of ``n`` sites (chaotic for F >~ 8)."""

    n: int = 10
    forcing: float = 8.0

    @property
    def dim(self) -> int:
        return self.n

    def field(self, x: np.ndarray) -> np.ndarray:
        return (np.roll(x, -1, axis=-1) - np.roll(x, 2, axis=-1)) * np.roll(x, 1, axis=-1) - x + self.forcing

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        n = self.n
        jac = np.zeros((*x.shape[:-1], n, n))
        idx = np.arange(n)
        jac[..., idx, idx] = -1.0
        jac[..., idx, (idx + 1) % n] = np.roll(x, 1, axis=-1)
        jac[..., idx, (idx - 2) % n] = -np.roll(x, 1, axis=-1)
        jac[..., idx, (idx - 1) % n] = np.roll(x, -1, axis=-1) - np.roll(x, 2, axis=-1)
        return jac

    def fixed_points(self) -> np.ndarray:
        """[1, n]: the homogeneous state ``x_i = F`` (others are not known in closed form)."""
        return np.full((1, self.n), self.forcing)

    def initial_state(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.forcing + rng.normal(0.0, 0.01, (n, self.n))

    def parameters(self) -> dict[str, float]:
        return _parameters(self)


SYSTEMS = {"lorenz63": Lorenz63, "rossler": Roessler, "lorenz96": Lorenz96}


def system_from_attrs(name: str, parameters: dict) -> Lorenz63 | Roessler | Lorenz96 | None:
    """The system a generated file came from (``name`` and ``parameters`` root attributes), or None."""
    cls = SYSTEMS.get(name)
    if cls is None:
        return None
    fields = {k: v for k, v in parameters.items() if k in cls.__dataclass_fields__ and k != "dim"}
    return cls(**fields)


__all__ = ["SYSTEMS", "Lorenz63", "Lorenz96", "Roessler", "system_from_attrs"]
