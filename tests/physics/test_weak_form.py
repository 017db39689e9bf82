import math

import numpy as np
import pytest
import torch

from neurops.errors import ConfigError, DataError
from neurops.physics.pdes import DarcyProblem
from neurops.physics.weak_form import (
    WeakFormSampler,
    ball_quadrature,
    build_quadrature,
    burgers_weak_residual,
    darcy_weak_residual,
    latin_hypercube,
    mixed_darcy_residual,
    poisson_weak_residual,
    sample_field,
    sample_particles,
    wendland,
    wendland_grad_factor,
)

PI = math.pi


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_wendland_profile_and_gradient(dim):
    r = torch.linspace(0, 1, 101, dtype=torch.float64)
    phi = wendland(r, dim)
    assert phi[0] == 1.0 and phi[-1] == 0.0
    assert (phi[1:] <= phi[:-1]).all()  # decreasing
    rr = r[1:-1].clone().requires_grad_(True)
    (dphi,) = torch.autograd.grad(wendland(rr, dim).sum(), rr)
    assert torch.allclose(wendland_grad_factor(rr, dim) * rr, dphi)
    assert wendland(torch.tensor([1.5], dtype=torch.float64), dim) == 0.0


def test_latin_hypercube_has_one_point_per_stratum_and_is_seeded():
    pts = latin_hypercube(16, 3, torch.Generator().manual_seed(1), dtype=torch.float64)
    for d in range(3):
        assert sorted((pts[:, d] * 16).floor().long().tolist()) == list(range(16))
    again = latin_hypercube(16, 3, torch.Generator().manual_seed(1), dtype=torch.float64)
    assert torch.equal(pts, again)


def test_particles_stay_inside_the_domain_with_radius_range():
    dom = [(0.0, 2.0), (-1.0, 1.0)]
    p = sample_particles(200, 2, (0.05, 0.2), domain=dom, generator=torch.Generator().manual_seed(0),
                         dtype=torch.float64)
    assert p.radii.min() >= 0.05 and p.radii.max() <= 0.2 and p.radii.std() > 0.02
    for d, (lo, hi) in enumerate(dom):
        assert (p.centres[:, d] - p.radii >= lo).all() and (p.centres[:, d] + p.radii <= hi).all()
    with pytest.raises(ConfigError, match="radius range"):
        sample_particles(4, 2, 0.6)
    with pytest.raises(ConfigError, match="low < high"):
        sample_particles(4, 2, 0.1, domain=[(0, 1)])


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_ball_quadrature_gives_ball_averages(dim):
    pts, w = ball_quadrature(dim, 41 if dim < 3 else 25)
    assert (pts.norm(dim=-1) <= 1).all()
    # the Wendland weight vanishes smoothly on the sphere, so its average converges fast;
    # exact: average of phi(|z|) over the unit ball = d * int_0^1 phi(r) r^(d-1) dr
    r = np.linspace(0, 1, 20001)
    phi = wendland(torch.from_numpy(r), dim).numpy()
    exact = dim * np.trapezoid(phi * r ** (dim - 1), r)
    approx = (w * wendland(pts.norm(dim=-1), dim)).sum().item()
    assert approx == pytest.approx(exact, rel=1e-3)
    with pytest.raises(ConfigError, match="n_per_axis"):
        ball_quadrature(2, 1)


def _darcy_manufactured(x: torch.Tensor, wrong: bool = False):
    """u = sin(pi x) sin(pi y), a = 1 + x^2 + y, f = -div(a grad u)."""
    X, Y = x[..., 0], x[..., 1]
    u = torch.sin(PI * X) * torch.sin(PI * Y)
    ux, uy = PI * torch.cos(PI * X) * torch.sin(PI * Y), PI * torch.sin(PI * X) * torch.cos(PI * Y)
    a = 1 + X**2 + Y
    f = -(2 * X * ux + uy) + a * 2 * PI**2 * u
    grad = torch.stack([ux, uy], -1)
    if wrong:  # a different function: u = sin(pi x) sin(2 pi y)
        grad = torch.stack([PI * torch.cos(PI * X) * torch.sin(2 * PI * Y),
                            2 * PI * torch.sin(PI * X) * torch.cos(2 * PI * Y)], -1)
    return a, grad, f


def test_darcy_residual_of_exact_solution_is_quadrature_error_and_converges():
    particles = sample_particles(40, 2, (0.05, 0.1), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    errors = []
    for n in (7, 13, 25):
        tf = build_quadrature(particles, *ball_quadrature(2, n))
        a, grad, f = _darcy_manufactured(tf.points)
        r = darcy_weak_residual(a[None], grad[None], f[None], tf)
        source = torch.einsum("pq,pq,q->p", f, tf.phi, tf.weights).abs().mean()
        errors.append((r.abs().max() / source).item())
    assert errors[-1] < 1e-5
    assert errors[0] > errors[1] > errors[2]
    assert errors[1] / errors[2] > 20  # fast (high-order) convergence
    a, grad, f = _darcy_manufactured(tf.points, wrong=True)
    wrong = darcy_weak_residual(a[None], grad[None], f[None], tf)
    assert (wrong.abs().max() / source).item() > 0.1


def test_poisson_residual_in_3d():
    """u = prod sin(pi x_i) solves -laplace u = 3 pi^2 u."""
    particles = sample_particles(20, 3, 0.1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    tf = build_quadrature(particles, *ball_quadrature(3, 15))
    x = tf.points
    s, c = torch.sin(PI * x), torch.cos(PI * x)
    u = s.prod(-1)
    grad = torch.stack([PI * c[..., 0] * s[..., 1] * s[..., 2], PI * s[..., 0] * c[..., 1] * s[..., 2],
                        PI * s[..., 0] * s[..., 1] * c[..., 2]], -1)
    r = poisson_weak_residual(grad[None], 3 * PI**2 * u[None], tf)
    r_wrong = poisson_weak_residual(grad[None], 2 * PI**2 * u[None], tf)
    assert r.abs().max() < 1e-3 * r_wrong.abs().max()


def test_burgers_space_time_residual_of_a_travelling_wave():
    """u = c - A tanh(A (x - c t) / (2 nu)) solves u_t + u u_x = nu u_xx."""
    nu, c, amp = 0.1, 0.5, 1.0
    particles = sample_particles(30, 2, 0.05, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    tf = build_quadrature(particles, *ball_quadrature(2, 25))
    X, T = tf.points[..., 0], tf.points[..., 1]
    th = torch.tanh(amp * (X - 0.5 - c * T) / (2 * nu))
    u = c - amp * th
    ux = -amp * (1 - th**2) * amp / (2 * nu)
    grad = torch.stack([ux, -c * ux], -1)
    r = burgers_weak_residual(u[None], grad[None], nu, tf)
    r_wrong = burgers_weak_residual(u[None], grad[None], 3 * nu, tf)
    assert r.abs().max() < 1e-3 * r_wrong.abs().max()
    assert r_wrong.abs().max() > 1e-2


def test_mixed_form_with_exact_flux():
    particles = sample_particles(20, 2, 0.08, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    tf = build_quadrature(particles, *ball_quadrature(2, 25))
    a, grad, f = _darcy_manufactured(tf.points)
    s = a[..., None] * grad
    mismatch, r = mixed_darcy_residual(s[None], a[None], grad[None], f[None], tf)
    assert mismatch.abs().max() < 1e-12 and r.abs().max() < 1e-4
    mismatch, _ = mixed_darcy_residual(1.1 * s[None], a[None], grad[None], f[None], tf)
    assert torch.allclose(mismatch[0], 0.01 * (s**2).sum(-1))


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_sample_field_is_exact_for_multilinear_fields(dim):
    shape = (5, 7, 6)[:dim]
    axes = [torch.linspace(0, 2, n, dtype=torch.float64) for n in shape]
    mesh = torch.meshgrid(*axes, indexing="ij")
    field = torch.stack([1 + sum((i + 1) * m for i, m in enumerate(mesh)), 2 * mesh[0]])[None]  # [1, 2, *shape]
    pts = torch.rand(30, dim, dtype=torch.float64) * 2
    out = sample_field(field, pts, domain=[(0.0, 2.0)] * dim)
    assert out.shape == (1, 30, 2)
    assert torch.allclose(out[0, :, 0], 1 + sum((i + 1) * pts[:, i] for i in range(dim)), atol=1e-10)
    assert torch.allclose(out[0, :, 1], 2 * pts[:, 0], atol=1e-10)


def test_sample_field_nearest_reads_cells_and_rejects_bad_modes():
    field = torch.arange(9.0).reshape(1, 1, 3, 3)
    pts = torch.tensor([[0.1, 0.1], [0.9, 0.4], [0.5, 0.95]])
    out = sample_field(field, pts, mode="nearest")[0, :, 0]
    assert out.tolist() == [0.0, 7.0, 5.0]
    with pytest.raises(ConfigError, match="interpolation mode"):
        sample_field(field, pts, mode="cubic")
    with pytest.raises(ConfigError, match="sample_field needs"):
        sample_field(field, torch.rand(4, 3))
    # a [H, W] field used to be told 'points [..., 0]', as if the points were wrong
    with pytest.raises(ConfigError) as err:
        sample_field(torch.ones(9, 9), torch.rand(4, 2))
    assert str(err.value) == ("sample_field needs a [B, C, *spatial] field (field[None, None]), got field (9, 9), "
                              "points (4, 2).")
    with pytest.raises(ConfigError) as err:
        sample_field(torch.ones(1, 1, 9, 9), torch.rand(4, 3))
    assert str(err.value) == ("sample_field needs points [N, 2] or [B, N, 2], got field (1, 1, 9, 9), points "
                              "(4, 3).")


def test_sampler_is_seeded_and_darcy_problem_validates():
    sampler = WeakFormSampler(2, n_particles=10, radius=(0.01, 0.02), n_quad_per_axis=5)
    one = sampler(torch.Generator().manual_seed(5))
    two = sampler(torch.Generator().manual_seed(5))
    assert one.points.shape == (10, 13, 2) and torch.equal(one.points, two.points)
    with pytest.raises(ConfigError, match="interpolation"):
        DarcyProblem(interpolation="cubic")
    with pytest.raises(ConfigError, match="top_k"):
        DarcyProblem(top_k=-1)
    for bad in (float("nan"), float("inf"), 0.0):  # 0 too: u = 0 whatever a (it used to be taken)
        with pytest.raises(ConfigError) as err:
            DarcyProblem(forcing=bad)
        assert str(err.value) == (f"forcing must be a finite number other than 0 (with f = 0 the pressure u is 0 for "
                                  f"every coefficient a, so u says nothing about a), got {bad}; pass the forcing of "
                                  f"the problem's data (--model.forcing to train a DGNO, --forcing to invert).")
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="residual_weight must be > 0"):
            DarcyProblem(residual_weight=bad)
    # the sampler refuses its settings when it is built, not at its first draw
    for kwargs, what in (({"n_particles": 0}, "n_particles must be a whole number >= 1, got 0"),
                         ({"n_quad_per_axis": 1}, "n_quad_per_axis must be a whole number >= 2, got 1")):
        with pytest.raises(ConfigError, match=f"^WeakFormSampler: {what}.$"):
            WeakFormSampler(2, **kwargs)
    for radius in (-1.0, 0.0, (0.02, 0.01), 0.6):
        with pytest.raises(ConfigError, match="radius range"):
            WeakFormSampler(2, radius=radius)


def test_residuals_refuse_arrays_of_another_type_or_shape_with_the_shape_they_need():
    """darcy_weak_residual with grad_u [B, P, Q] (no axis d) raised einsum's "operand has more dimensions than
    subscripts given", a NumPy array an AttributeError or TypeError, a forcing array a TypeError of float()."""
    tf = WeakFormSampler(2, n_particles=5, n_quad_per_axis=5)(torch.Generator().manual_seed(0))
    P, Q, d = tf.grad_phi.shape
    a, grad_u = torch.ones(3, P, Q), torch.ones(3, P, Q, d)
    need = "must be a floating-point torch.Tensor"
    cases = [
        (lambda: darcy_weak_residual(a, torch.ones(3, P, Q), 1.0, tf),
         f"darcy_weak_residual: grad_u {need} [3, {P}, {Q}, {d}], got shape (3, {P}, {Q})."),
        (lambda: darcy_weak_residual(torch.ones(3, P + 1, Q), grad_u, 1.0, tf),
         f"darcy_weak_residual: a {need} [B, {P}, {Q}], got shape (3, {P + 1}, {Q})."),
        (lambda: darcy_weak_residual(a, torch.ones(2, P, Q, d), 1.0, tf),
         f"darcy_weak_residual: grad_u {need} [3, {P}, {Q}, {d}], got shape (2, {P}, {Q}, {d})."),
        (lambda: poisson_weak_residual(grad_u.numpy(), 1.0, tf),
         f"poisson_weak_residual: grad_u {need} [B, {P}, {Q}, {d}], got a numpy ndarray; convert it with "
         "torch.as_tensor(..., dtype=torch.float64) (or float32)."),
        (lambda: mixed_darcy_residual(a, a, grad_u, 1.0, tf),
         f"mixed_darcy_residual: s {need} [B, {P}, {Q}, {d}], got shape (3, {P}, {Q})."),
        (lambda: burgers_weak_residual(a, grad_u[..., :1], 0.1, tf),
         f"burgers_weak_residual: grad_u {need} [3, {P}, {Q}, {d}], got shape (3, {P}, {Q}, 1)."),
        (lambda: darcy_weak_residual(a, grad_u, torch.ones(3, P), tf),
         f"weak_residual: source {need} [3, {P}, {Q}], got shape (3, {P})."),
        (lambda: sample_field(np.ones((1, 1, 9, 9)), torch.rand(5, 2)),
         f"sample_field: field {need} [B, C, *spatial], got a numpy ndarray; convert it with torch.as_tensor(..., "
         "dtype=torch.float64) (or float32)."),
    ]
    for call, message in cases:
        with pytest.raises(DataError) as err:
            call()
        assert str(err.value) == message
    for f, got in ((math.nan, "nan"), (np.ones((3, P, Q)), "a numpy ndarray")):
        with pytest.raises(ConfigError) as err:
            darcy_weak_residual(a, grad_u, f, tf)
        assert str(err.value) == ("darcy_weak_residual: f must be a finite number or a torch.Tensor [B, P, Q] of the "
                                  f"forcing at the quadrature points, got {got}.")


@pytest.mark.parametrize("call, what", [
    (lambda: sample_particles(2.5, 2, 0.01), "sample_particles: n must be a whole number >= 1, got 2.5"),
    (lambda: sample_particles(-1, 2, 0.01), "sample_particles: n must be a whole number >= 1, got -1"),
    (lambda: latin_hypercube(4, 1.5), "latin_hypercube: dim must be a whole number >= 1, got 1.5"),
    (lambda: ball_quadrature(2, 2.5), "ball_quadrature: n_per_axis must be a whole number >= 2, got 2.5"),
    (lambda: WeakFormSampler(2, n_particles=2.5), "WeakFormSampler: n_particles must be a whole number >= 1, got 2.5"),
])
def test_counts_that_are_not_whole_numbers_are_refused(call, what):
    """sample_particles(-1) raised torch's RuntimeError (negative dimension), 2.5 a TypeError of torch.rand, and
    WeakFormSampler(n_particles=2.5) drew 2 particles."""
    with pytest.raises(ConfigError) as err:
        call()
    assert str(err.value) == what + "."
