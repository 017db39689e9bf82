"""Lyapunov exponents by QR re-orthonormalisation of tangent vectors (Benettin's method).

* :func:`lyapunov_spectrum_map` for a differentiable map (a trained RNN): tangent vectors
  are pushed through the model Jacobians along its own orbit.
* :func:`lyapunov_spectrum_orbit` for a sampled orbit of a flow with known Jacobian
  ``J(x)`` (the data's "true" exponents): the one-step tangent map is
  ``expm(J(x_mid) dt)`` at the midpoint of consecutive samples.
* :func:`lyapunov_max_twin` for any stepper without a Jacobian (e.g. a PDE solver):
  two nearby states, renormalised after each step.

References
----------
.. [1] Benettin, G., Galgani, L., Giorgilli, A., Strelcyn, J.-M. (1980). Lyapunov
   characteristic exponents for smooth dynamical systems and for Hamiltonian systems;
   a method for computing all of them. Meccanica 15, 9-30.
.. [2] Eckmann, J.-P., Ruelle, D. (1985). Ergodic theory of chaos and strange attractors.
   Rev. Mod. Phys. 57, 617-656.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from neurops.errors import ConfigError


def _check_steps(n_steps: int, dt: float) -> None:
    if n_steps < 1 or dt <= 0:
        raise ConfigError(f"Lyapunov exponents need n_steps >= 1 averaging steps and dt > 0; got n_steps={n_steps}, "
                         f"dt={dt}.")


@torch.no_grad()
def lyapunov_spectrum_map(step: Callable[[Tensor], Tensor], jacobian: Callable[[Tensor], Tensor],
                          z0: Float[Tensor, "batch latent"], n_steps: int, *, n_exponents: int | None = None,
                          transient: int = 1000, dt: float = 1.0, seed: int = 0) -> Float[Tensor, "batch exponents"]:
    """Lyapunov exponents of the map ``z -> step(z)`` along orbits from ``z0``.

    Parameters
    ----------
    step : ``[B, M] -> [B, M]`` the map.
    jacobian : ``[B, M] -> [B, M, M]`` its Jacobian.
    z0 : [B, M] initial states (one orbit each).
    n_steps : steps averaged over (after ``transient``).
    n_exponents : how many exponents (default all M).
    dt : time per step; exponents are divided by it (per time unit).
    seed : seed of the random initial tangent frame.

    Returns
    -------
    exponents : [B, n_exponents], sorted as produced by QR (largest first for generic frames).
    """
    _check_steps(n_steps, dt)
    z = z0
    m = z.shape[-1]
    k = m if n_exponents is None else n_exponents
    for _ in range(transient):
        z = step(z)
    g = torch.Generator().manual_seed(seed)  # on the CPU: the same frame on every device
    frame = torch.randn(z.shape[0], m, k, generator=g, dtype=torch.float64, device="cpu").to(z.device)
    q = torch.linalg.qr(frame)[0]
    total = torch.zeros(z.shape[0], k, dtype=torch.float64, device=z.device)
    for _ in range(n_steps):
        q, r = torch.linalg.qr(jacobian(z).double() @ q)
        total += torch.log(torch.diagonal(r, dim1=-2, dim2=-1).abs().clamp_min(1e-300))
        z = step(z)
    return total / (n_steps * dt)


def lyapunov_spectrum_orbit(jacobian: Callable[[np.ndarray], np.ndarray], orbit: Float[np.ndarray, "*batch time dim"],
                            dt: float, *, n_exponents: int | None = None,
                            seed: int = 0) -> Float[np.ndarray, "*batch exponents"]:
    """Lyapunov exponents of a flow along sampled orbits, from its true Jacobian.

    Parameters
    ----------
    jacobian : ``[..., D] -> [..., D, D]`` Jacobian of the vector field.
    orbit : [B, T, D] (or [T, D]) states sampled every ``dt``.
    dt : sampling interval.
    n_exponents : how many exponents (default D).
    seed : seed of the random initial tangent frame.

    Returns
    -------
    exponents : [B, n_exponents] (or [n_exponents]) per time unit.
    """
    _check_steps(orbit.shape[-2] - 1, dt)
    single = orbit.ndim == 2
    x = np.asarray(orbit, dtype=np.float64)[None] if single else np.asarray(orbit, dtype=np.float64)
    b, t, d = x.shape
    k = d if n_exponents is None else n_exponents
    # batched matrix exponentials (torch's: scipy's expm loops in Python, ~50x slower for 10^5 3x3 matrices)
    steps = torch.linalg.matrix_exp(torch.from_numpy(np.ascontiguousarray(
        jacobian(0.5 * (x[:, 1:] + x[:, :-1])) * dt, dtype=np.float64))).numpy()  # [B, T-1, D, D]
    q = np.linalg.qr(np.random.default_rng(seed).normal(size=(b, d, k)))[0]
    total = np.zeros((b, k))
    for i in range(t - 1):
        q, r = np.linalg.qr(steps[:, i] @ q)
        total += np.log(np.abs(np.diagonal(r, axis1=-2, axis2=-1)))
    out = total / ((t - 1) * dt)
    return out[0] if single else out


def lyapunov_max_twin(step: Callable[[np.ndarray], np.ndarray], x0: Float[np.ndarray, "batch dim"], n_steps: int,
                      dt: float, *, eps: float = 1e-7, transient: int = 0,
                      seed: int = 0) -> Float[np.ndarray, " batch"]:
    """Largest Lyapunov exponent from a reference and a perturbed state, renormalised every step.

    Parameters
    ----------
    step : ``[B, D] -> [B, D]`` advances states by ``dt``.
    x0 : [B, D] initial states.
    n_steps : steps averaged over (after ``transient``).
    eps : size of the perturbation.

    Returns
    -------
    lambda_max : [B] per time unit.
    """
    _check_steps(n_steps, dt)
    x = np.asarray(x0, dtype=np.float64)
    for _ in range(transient):
        x = step(x)
    v = np.random.default_rng(seed).normal(size=x.shape)
    y = x + eps * v / np.linalg.norm(v, axis=-1, keepdims=True)
    total = np.zeros(x.shape[0])
    for _ in range(n_steps):
        x, y = step(x), step(y)
        dist = np.linalg.norm(y - x, axis=-1)
        total += np.log(dist / eps)
        y = x + (y - x) * (eps / dist)[:, None]
    return total / (n_steps * dt)


__all__ = ["lyapunov_max_twin", "lyapunov_spectrum_map", "lyapunov_spectrum_orbit"]
