"""Weak-form PDE residuals with compactly supported radial test functions (CSRBF).

The weak form of a divergence-form equation :math:`-\\nabla\\cdot F(u) = S` tested against a
function :math:`\\varphi` that vanishes on the boundary of a small ball :math:`B(c, R)` is

.. math:: r(c, R) = \\frac{1}{|B|}\\int_B F\\cdot\\nabla\\varphi\\,dx
          - \\frac{1}{|B|}\\int_B S\\,\\varphi\\,dx = 0 .

Following ParticleWNN [1]_ and DGNO [2]_, the test functions are Wendland CSRBFs [3]_
:math:`\\varphi(x) = \\phi(|x - c| / R)` with

.. math:: \\phi(r) = (1-r)^{l+2}\\,\\frac{(l^2+4l+3) r^2 + (3l+6) r + 3}{3},
          \\qquad l = \\lfloor d/2 \\rfloor + 3,

their centres ("particles") are drawn afresh at every step by Latin-hypercube sampling, and
the integrals use a uniform grid on the unit ball, scaled by ``R`` and shifted to each centre.
Every function works in any spatial dimension ``d``.

Shapes used throughout: ``P`` particles, ``Q`` quadrature points per ball, ``B`` batch.

References
----------
.. [1] Y. Zang, P.-S. Koutsourelakis, "ParticleWNN: a novel neural networks framework for
   solving partial differential equations", arXiv:2305.12433 (2023).
.. [2] Y. Zang, P.-S. Koutsourelakis, "DGenNO: a novel physics-aware neural operator for
   solving forward and inverse PDE problems based on deep, generative probabilistic
   modeling", J. Comput. Phys. 538, 114137 (2025), arXiv:2502.06250.
.. [3] H. Wendland, "Piecewise polynomial, positive definite and compactly supported radial
   functions of minimal degree", Adv. Comput. Math. 4, 389-396 (1995).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from neurops.errors import ConfigError
from neurops.layers.deeponet import dirichlet_factor  # re-exported: exact Dirichlet enforcement
from neurops.models.arguments import check_sizes
from neurops.physics.checks import Domain, check_at_quadrature, check_domain, check_tensor, radius_range, source_term

__all__ = [
    "Particles",
    "QuadratureBatch",
    "WeakFormSampler",
    "ball_quadrature",
    "build_quadrature",
    "burgers_weak_residual",
    "darcy_weak_residual",
    "dirichlet_factor",
    "latin_hypercube",
    "mixed_darcy_residual",
    "poisson_weak_residual",
    "sample_field",
    "sample_particles",
    "weak_residual",
    "wendland",
    "wendland_grad_factor",
]


def _wendland_order(dim: int) -> int:
    return dim // 2 + 3


def wendland(r: torch.Tensor, dim: int) -> torch.Tensor:
    """Wendland CSRBF profile :math:`\\phi(r)`, zero for ``r >= 1``.

    Parameters
    ----------
    r : [...] normalised radius ``|x - c| / R``.
    dim : spatial dimension d (sets the smoothness order ``l = d // 2 + 3``).

    Returns
    -------
    phi : [...], ``phi(0) = 1``.
    """
    ell = _wendland_order(dim)
    r = r.clamp(min=0.0, max=1.0)
    poly = (ell * ell + 4 * ell + 3) * r**2 + (3 * ell + 6) * r + 3.0
    return (1.0 - r) ** (ell + 2) * poly / 3.0


def wendland_grad_factor(r: torch.Tensor, dim: int) -> torch.Tensor:
    """:math:`\\phi'(r) / r`, finite at ``r = 0``; the gradient is ``factor * (x - c) / R**2``.

    Parameters
    ----------
    r : [...] normalised radius.
    dim : spatial dimension d.
    """
    ell = _wendland_order(dim)
    p = ell + 2
    a, b = ell * ell + 4 * ell + 3, 3 * ell + 6
    r = r.clamp(min=0.0, max=1.0)
    return (1.0 - r) ** (p - 1) * (-(p + 2) * a * r + 2 * a - (p + 1) * b) / 3.0


def _generator_device(generator: torch.Generator | None) -> torch.device:
    """Where random draws happen: on the generator's device (the CPU without one)."""
    return generator.device if generator is not None else torch.device("cpu")


def latin_hypercube(n: int, dim: int, generator: torch.Generator | None = None,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Latin-hypercube sample of ``n`` points in ``[0, 1]^dim``.

    Each axis is cut into ``n`` equal strata; every stratum holds exactly one point, at a
    uniform position inside it, and the strata are paired across axes by random permutations.

    Returns
    -------
    points : [n, dim]
    """
    check_sizes("latin_hypercube", n=n, dim=dim, error=ConfigError)
    device = _generator_device(generator)
    u = torch.rand(n, dim, generator=generator, dtype=torch.float64, device=device)
    perms = torch.stack([torch.randperm(n, generator=generator, device=device) for _ in range(dim)], dim=1)
    return ((perms.to(torch.float64) + u) / n).to(dtype)


@dataclass
class Particles:
    """Test-function centres ``centres : [P, d]`` and radii ``radii : [P]``."""

    centres: torch.Tensor
    radii: torch.Tensor


def sample_particles(n: int, dim: int, radius: float | tuple[float, float], *, domain: Domain | None = None,
                     generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32) -> Particles:
    """Draw ``n`` test-function balls inside a box by Latin hypercube.

    Parameters
    ----------
    n : number of particles P.
    dim : spatial dimension d.
    radius : a fixed radius, or ``(R_min, R_max)`` for radii uniform in that range.
    domain : ``d`` pairs ``(low, high)`` (default: the unit cube).
    generator : torch generator for reproducible draws.

    Returns
    -------
    Particles with ``centres : [n, d]`` placed so that every ball lies inside the domain, and
    ``radii : [n]``.
    """
    check_sizes("sample_particles", n=n, dim=dim, error=ConfigError)
    r_min, r_max = radius_range(radius, dom := check_domain(domain or [(0.0, 1.0)] * dim, dim))
    device = _generator_device(generator)
    radii = r_min + (r_max - r_min) * torch.rand(n, generator=generator, dtype=torch.float64, device=device)
    unit = latin_hypercube(n, dim, generator, dtype=torch.float64)
    lo = torch.tensor([d[0] for d in dom], dtype=torch.float64, device=device)
    hi = torch.tensor([d[1] for d in dom], dtype=torch.float64, device=device)
    centres = lo + radii[:, None] + unit * (hi - lo - 2 * radii[:, None])
    return Particles(centres.to(dtype), radii.to(dtype))


def ball_quadrature(dim: int, n_per_axis: int, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Uniform-grid quadrature on the unit ball, normalised to give the ball *average*.

    The grid has ``n_per_axis`` points per axis on ``[-1, 1]`` (end points included); points
    outside the ball are dropped. Because every integrand used here carries a Wendland factor
    that vanishes smoothly on the sphere, this rule converges quickly.

    Returns
    -------
    points : [Q, d] inside the unit ball.
    weights : [Q] with ``sum_q w_q g(z_q) ~ (1/|B_1|) int_{B_1} g``.
    """
    check_sizes("ball_quadrature", dim=dim, error=ConfigError)
    check_sizes("ball_quadrature", minimum=2, n_per_axis=n_per_axis, error=ConfigError)
    axis = torch.linspace(-1.0, 1.0, n_per_axis, dtype=torch.float64, device="cpu")
    grid = torch.stack(torch.meshgrid(*([axis] * dim), indexing="ij"), dim=-1).reshape(-1, dim)
    points = grid[(grid**2).sum(-1) <= 1.0]
    h = 2.0 / (n_per_axis - 1)
    ball_volume = math.pi ** (dim / 2) / math.gamma(dim / 2 + 1)
    weights = torch.full((points.shape[0],), h**dim / ball_volume, dtype=torch.float64, device="cpu")
    return points.to(dtype), weights.to(dtype)


@dataclass
class QuadratureBatch:
    """Quadrature points and test-function values of one draw of particles.

    Attributes
    ----------
    points : [P, Q, d] quadrature points in physical coordinates.
    phi : [P, Q] test-function values.
    grad_phi : [P, Q, d] test-function gradients.
    weights : [Q] quadrature weights giving ball averages.
    particles : the particles the batch was built from.
    """

    points: torch.Tensor
    phi: torch.Tensor
    grad_phi: torch.Tensor
    weights: torch.Tensor
    particles: Particles

    @property
    def flat_points(self) -> torch.Tensor:
        """All quadrature points as ``[P * Q, d]``."""
        return self.points.reshape(-1, self.points.shape[-1])

    def to(self, device: torch.device | str) -> QuadratureBatch:
        return QuadratureBatch(self.points.to(device), self.phi.to(device), self.grad_phi.to(device),
                                 self.weights.to(device),
                                 Particles(self.particles.centres.to(device), self.particles.radii.to(device)))


def build_quadrature(particles: Particles, ref_points: torch.Tensor, weights: torch.Tensor) -> QuadratureBatch:
    """Evaluate Wendland test functions of ``particles`` at the scaled reference points.

    Parameters
    ----------
    particles : ``centres : [P, d]``, ``radii : [P]``.
    ref_points : [Q, d] points in the unit ball.
    weights : [Q] ball-average weights.
    """
    dim = ref_points.shape[-1]
    radii = particles.radii[:, None, None]
    offsets = ref_points[None] * radii                       # [P, Q, d]
    r = ref_points.norm(dim=-1).expand(particles.radii.shape[0], -1)
    phi = wendland(r, dim)
    grad_phi = wendland_grad_factor(r, dim)[..., None] * offsets / radii**2
    return QuadratureBatch(particles.centres[:, None, :] + offsets, phi, grad_phi, weights, particles)


class WeakFormSampler:
    """Draws particles and builds their quadrature at every call.

    Parameters
    ----------
    dim : spatial dimension d.
    n_particles : P, test functions per draw (DGNO: 100).
    radius : fixed radius or ``(R_min, R_max)`` (DGNO: 1e-4 fixed).
    n_quad_per_axis : grid points per axis of the ball rule (DGNO: 7 for piecewise Darcy
        -> 25 points in 2D, 9 for smooth Darcy -> 45 points).
    domain : box ``[(low, high)] * d`` (default unit cube).
    """

    def __init__(self, dim: int, n_particles: int = 100, radius: float | tuple[float, float] = 1e-4,
                 n_quad_per_axis: int = 7, domain: Domain | None = None) -> None:
        check_sizes("WeakFormSampler", dim=dim, n_particles=n_particles, error=ConfigError)
        check_sizes("WeakFormSampler", minimum=2, n_quad_per_axis=n_quad_per_axis, error=ConfigError)
        self.dim, self.n_particles, self.radius = dim, int(n_particles), radius
        self.domain = check_domain(domain or [(0.0, 1.0)] * dim, dim)
        radius_range(radius, self.domain)  # now, not at the first draw
        self.ref_points, self.weights = ball_quadrature(dim, n_quad_per_axis, dtype=torch.float32)

    def __call__(self, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> QuadratureBatch:
        particles = sample_particles(self.n_particles, self.dim, self.radius, domain=self.domain,
                                     generator=generator)
        return build_quadrature(particles, self.ref_points, self.weights).to(device)


def weak_residual(flux: torch.Tensor, source: torch.Tensor | None, tf: QuadratureBatch) -> torch.Tensor:
    """Weak residual of ``-div F = S`` tested against each particle's function.

    Parameters
    ----------
    flux : [B, P, Q, d] flux F at the quadrature points.
    source : [B, P, Q] source S (None for zero).
    tf : the test functions.

    Returns
    -------
    residual : [B, P], ``avg_B(F . grad phi) - avg_B(S phi)``.
    """
    check_at_quadrature("weak_residual", tf.grad_phi.shape, ("flux",), flux=flux, source=source)
    r = torch.einsum("bpqd,pqd,q->bp", flux, tf.grad_phi, tf.weights)
    if source is not None:
        r = r - torch.einsum("bpq,pq,q->bp", source, tf.phi, tf.weights)
    return r


def darcy_weak_residual(a: torch.Tensor, grad_u: torch.Tensor, f: torch.Tensor | float,
                        tf: QuadratureBatch) -> torch.Tensor:
    """Weak residual of Darcy flow ``-div(a grad u) = f``.

    Parameters
    ----------
    a : [B, P, Q] coefficient at the quadrature points.
    grad_u : [B, P, Q, d].
    f : scalar or [B, P, Q] forcing.
    tf : test functions.

    Returns
    -------
    [B, P]
    """
    check_at_quadrature("darcy_weak_residual", tf.grad_phi.shape, ("grad_u",), a=a, grad_u=grad_u)
    return weak_residual(a[..., None] * grad_u, source_term(f, a, "darcy_weak_residual"), tf)


def poisson_weak_residual(grad_u: torch.Tensor, f: torch.Tensor | float, tf: QuadratureBatch) -> torch.Tensor:
    """Weak residual of the Poisson equation ``-laplace u = f``; ``grad_u : [B, P, Q, d]`` -> [B, P]."""
    check_at_quadrature("poisson_weak_residual", tf.grad_phi.shape, ("grad_u",), grad_u=grad_u)
    return darcy_weak_residual(torch.ones_like(grad_u[..., 0]), grad_u, f, tf)


def burgers_weak_residual(u: torch.Tensor, grad_u: torch.Tensor, nu: float, tf: QuadratureBatch) -> torch.Tensor:
    """Space-time weak residual of viscous Burgers ``u_t + (u^2/2)_x = nu u_xx``.

    Coordinates are ``(x, t)``; the equation is ``-div_{x,t} F = 0`` with
    ``F = (nu u_x - u^2 / 2, -u)``, so only ``u`` and ``u_x`` are needed.

    Parameters
    ----------
    u : [B, P, Q] solution at space-time quadrature points.
    grad_u : [B, P, Q, 2], ``(u_x, u_t)`` (only ``u_x`` is used).
    nu : viscosity.
    tf : test functions in the (x, t) plane.

    Returns
    -------
    [B, P]
    """
    check_at_quadrature("burgers_weak_residual", tf.grad_phi.shape, ("grad_u",), u=u, grad_u=grad_u)
    flux = torch.stack([nu * grad_u[..., 0] - 0.5 * u**2, -u], dim=-1)
    return weak_residual(flux, None, tf)


def mixed_darcy_residual(s: torch.Tensor, a: torch.Tensor, grad_u: torch.Tensor, f: torch.Tensor | float,
                         tf: QuadratureBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixed form of Darcy flow with a flux field ``s ~ a grad u`` (for discontinuous ``a``) [2]_.

    Parameters
    ----------
    s : [B, P, Q, d] flux network output.
    a : [B, P, Q] coefficient.
    grad_u : [B, P, Q, d].
    f : scalar or [B, P, Q] forcing.
    tf : test functions.

    Returns
    -------
    flux_mismatch : [B, P, Q], ``|s - a grad u|^2``.
    residual : [B, P], weak residual of ``-div s = f``.
    """
    check_at_quadrature("mixed_darcy_residual", tf.grad_phi.shape, ("s", "grad_u"), s=s, a=a, grad_u=grad_u)
    mismatch = ((s - a[..., None] * grad_u) ** 2).sum(-1)
    return mismatch, weak_residual(s, source_term(f, a, "mixed_darcy_residual"), tf)


def sample_field(field: torch.Tensor, points: torch.Tensor, *, domain: Domain | None = None,
                 mode: str = "linear") -> torch.Tensor:
    """Evaluate grid fields at arbitrary points (1D/2D/3D), nodes at the domain corners.

    Parameters
    ----------
    field : [B, C, *spatial] values on a uniform grid whose first and last nodes lie on the
        domain boundary (``coords = linspace(low, high, n)`` per axis).
    points : [N, d] (shared) or [B, N, d] physical coordinates.
    domain : ``d`` pairs ``(low, high)`` (default unit cube).
    mode : ``"linear"`` (multilinear) or ``"nearest"`` (cell lookup, for piecewise fields).

    Returns
    -------
    values : [B, N, C]
    """
    check_tensor(field, "sample_field: field", "[B, C, *spatial]")
    check_tensor(points, "sample_field: points", "[N, d] or [B, N, d]")
    dim = field.ndim - 2  # a [H, W] grid's field has 0 spatial axes here: say what it lacks, not 'points [..., 0]'
    want = f"points [N, {dim}] or [B, N, {dim}]" if dim in (1, 2, 3) else "a [B, C, *spatial] field (field[None, None])"
    if dim not in (1, 2, 3) or points.ndim not in (2, 3) or points.shape[-1] != dim:
        raise ConfigError(f"sample_field needs {want}, got field {tuple(field.shape)}, points {tuple(points.shape)}.")
    if mode not in ("linear", "nearest"):
        raise ConfigError(f"unknown interpolation mode {mode!r}; choose 'linear' or 'nearest'.")
    dom = check_domain(domain or [(0.0, 1.0)] * dim, dim)
    lo = torch.tensor([d[0] for d in dom], dtype=points.dtype, device=points.device)
    width = torch.tensor([d[1] - d[0] for d in dom], dtype=points.dtype, device=points.device)
    g = 2.0 * (points - lo) / width - 1.0
    if g.ndim == 2:
        g = g.expand(field.shape[0], -1, -1)
    if dim == 1:  # treat as a 2D field of height 1
        field = field.unsqueeze(2)
        g = torch.cat([torch.zeros_like(g), g], dim=-1)  # (height axis, width axis)
        dim = 2
    # grid_sample wants the last spatial axis first
    g = g.flip(-1).reshape(g.shape[0], g.shape[1], *([1] * (dim - 1)), dim)
    out = F.grid_sample(field, g.to(field.dtype), mode="bilinear" if mode == "linear" else "nearest",
                        padding_mode="border", align_corners=True)
    return out.reshape(field.shape[0], field.shape[1], -1).transpose(1, 2)
