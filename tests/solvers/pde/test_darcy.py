"""solve_darcy: second-order convergence, agreement with a dense solve, batches, residual checks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from neurops.errors import SolverError
from neurops.solvers.pde.darcy import nested_dissection, solve_darcy


def _manufactured(n: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """u = prod sin(pi x_i) * (1 + x_1), a = 2 + exp(x_1 x_d) (variable, smooth), f = -div(a grad u)."""
    axes = np.meshgrid(*([np.linspace(0.0, 1.0, n)] * d), indexing="ij")
    x1, xd = axes[0], axes[-1]
    s = [np.sin(np.pi * x) for x in axes]
    c = [np.pi * np.cos(np.pi * x) for x in axes]
    prod_s = np.prod(s, axis=0)
    u = prod_s * (1 + x1)
    grad_u = []
    for i in range(d):
        others = np.prod([s[j] for j in range(d) if j != i], axis=0) if d > 1 else 1.0
        g = c[i] * others * (1 + x1)
        if i == 0:
            g = g + prod_s
        grad_u.append(g)
    lap_u = -d * np.pi**2 * u + 2 * c[0] * (np.prod(s[1:], axis=0) if d > 1 else 1.0)
    e = np.exp(x1 * xd)
    a = 2 + e
    grad_a = [xd * e if i == 0 else np.zeros_like(e) for i in range(d)]
    if d == 1:
        grad_a = [2 * x1 * e]
    else:
        grad_a[-1] = grad_a[-1] + x1 * e
    f = -(sum(ga * gu for ga, gu in zip(grad_a, grad_u)) + a * lap_u)
    return a, f, u


@pytest.mark.parametrize("mean", ["arithmetic", "harmonic"])
@pytest.mark.parametrize(("d", "sizes"), [(1, (33, 65, 129)), (2, (17, 33, 65)), (3, (9, 17))])
def test_second_order_convergence(d, sizes, mean):
    errors = []
    for n in sizes:
        a, f, u = _manufactured(n, d)
        u_h = solve_darcy(a, f, ndim=d, mean=mean)
        errors.append(np.abs(u_h - u).max())
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 1.85) and np.all(orders < 2.2), (errors, orders)


def test_quadratic_solution_is_exact_in_1d():
    """-u'' = 1 with u(0) = u(1) = 0 has u = x(1-x)/2, which the 3-point stencil reproduces exactly."""
    x = np.linspace(0, 1, 11)
    np.testing.assert_allclose(solve_darcy(np.ones(11), 1.0, ndim=1), x * (1 - x) / 2, atol=1e-14)


def _dense_reference(a: np.ndarray, f: np.ndarray, mean: str) -> np.ndarray:
    """Assemble the 5-point system entry by entry as a dense matrix and solve it with numpy."""
    n1, n2 = a.shape
    h1, h2 = 1 / (n1 - 1), 1 / (n2 - 1)
    nodes = list(itertools.product(range(1, n1 - 1), range(1, n2 - 1)))
    index = {p: k for k, p in enumerate(nodes)}
    A = np.zeros((len(nodes), len(nodes)))
    avg = (lambda p, q: (p + q) / 2) if mean == "arithmetic" else (lambda p, q: 2 * p * q / (p + q))
    for (i, j), k in index.items():
        for (di, dj), h in (((1, 0), h1), ((-1, 0), h1), ((0, 1), h2), ((0, -1), h2)):
            w = avg(a[i, j], a[i + di, j + dj]) / h**2
            A[k, k] += w
            if (i + di, j + dj) in index:
                A[k, index[(i + di, j + dj)]] -= w
    u = np.zeros_like(a)
    sol = np.linalg.solve(A, np.array([f[p] for p in nodes]))
    for p, k in index.items():
        u[p] = sol[k]
    return u


@pytest.mark.parametrize("mean", ["arithmetic", "harmonic"])
@pytest.mark.parametrize("method", ["direct", "amg"])
def test_agrees_with_dense_solve(method, mean):
    rng = np.random.default_rng(4)
    a = np.where(rng.standard_normal((9, 8)) > 0, 12.0, 3.0)
    f = rng.uniform(0.5, 2.0, a.shape)
    u = solve_darcy(a, f, method=method, mean=mean)
    np.testing.assert_allclose(u, _dense_reference(a, f, mean), rtol=1e-9, atol=1e-12)


def test_batch_boundary_and_info():
    rng = np.random.default_rng(5)
    a = rng.uniform(1.0, 4.0, (3, 17, 17))
    u, info = solve_darcy(a, 1.0, return_info=True)
    assert u.shape == a.shape
    for i in range(3):
        np.testing.assert_allclose(u[i], solve_darcy(a[i], 1.0), rtol=1e-12)
    for edge in (u[:, 0], u[:, -1], u[:, :, 0], u[:, :, -1]):
        assert np.all(edge == 0)
    assert len(info.residuals) == 3 and info.max_residual <= 1e-10
    assert info.methods == ["direct"] * 3


def test_direct_and_amg_agree():
    a = np.exp(np.random.default_rng(6).standard_normal((33, 33)) * 0.5)
    u_direct = solve_darcy(a, 1.0, method="direct")
    u_amg, info = solve_darcy(a, 1.0, method="amg", return_info=True)
    assert info.methods == ["amg"] and info.iterations[0] > 0
    np.testing.assert_allclose(u_amg, u_direct, rtol=1e-8, atol=1e-12)


def test_unreachable_tolerance_raises_solver_error():
    with pytest.raises(SolverError, match="relative residual"):
        solve_darcy(np.ones((17, 17)), 1.0, method="direct", rtol=1e-19)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"a": np.ones((9, 9)), "method": "lu"}, "method"),
        ({"a": np.ones((9, 9)), "mean": "geometric"}, "face mean"),
        ({"a": np.ones((2, 3, 9, 9))}, "batch"),
        ({"a": np.ones((9, 9)), "f": np.ones(4)}, "broadcast"),
        ({"a": np.ones((9, 9)), "rtol": 0.0}, "rtol"),
        ({"a": -np.ones((9, 9))}, "> 0"),
        ({"a": np.ones((9, 9)), "f": np.nan}, "^the forcing contains NaN; pass a finite forcing.$"),
        ({"a": np.ones((9, 9)), "f": -np.inf}, "^the forcing contains inf; pass a finite forcing.$"),
        # a grid with no unknown failed deep inside CG (IndexError from amax); complex values lost their
        # imaginary part with only numpy's ComplexWarning
        ({"a": np.ones((4, 2, 9))}, r"^coefficient of shape \(4, 2, 9\): every spatial axis needs at least 3 nodes "
                                    r"\(two boundary nodes and one unknown\); pass a finer grid\.$"),
        ({"a": np.ones((9, 9), dtype=complex)}, r"^the coefficient is complex; solve_darcy takes real values"),
        ({"a": np.ones((9, 9)), "f": 1 + 1j}, r"^the forcing is complex; solve_darcy takes real values"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        solve_darcy(**{"f": 1.0, **kwargs})


@pytest.mark.parametrize("shape", [(50,), (19, 23), (9, 10, 11)])
def test_nested_dissection_is_a_permutation(shape):
    perm = nested_dissection(shape, leaf=3)
    np.testing.assert_array_equal(np.sort(perm), np.arange(int(np.prod(shape))))
    assert not np.array_equal(perm, np.arange(perm.size))  # it reorders


def test_multigrid_path_finishes_samples_the_float32_cycle_leaves_short(monkeypatch):
    """If the float32-preconditioned CG stops short of rtol, a float64 cycle finishes the solve."""
    import neurops.solvers.linear.cg as pcg_module

    real_pcg = pcg_module.pcg
    calls = []

    def first_call_stops_early(*args, **kwargs):
        calls.append(kwargs.get("x0") is not None)
        if len(calls) == 1:
            kwargs["maxiter"] = 2  # simulate the stall seen in worker processes
        return real_pcg(*args, **kwargs)

    monkeypatch.setattr(pcg_module, "pcg", first_call_stops_early)
    a = np.where(np.random.default_rng(0).standard_normal((2, 101, 101)) > 0, 12.0, 3.0)
    u, info = solve_darcy(a, 1.0, rtol=1e-10, return_info=True)
    assert calls == [False, True]  # second call warm-started from the first
    assert max(info.residuals) <= 1e-10 and set(info.methods) == {"multigrid"}
    np.testing.assert_allclose(u, solve_darcy(a, 1.0, rtol=1e-10, method="direct"), rtol=1e-7, atol=1e-12)


def test_convergence_error_survives_pickling():
    """Errors raised in generator worker processes must reach the parent intact."""
    import pickle

    import torch

    from neurops.solvers.linear.cg import ConvergenceError, SolveResult

    result = SolveResult(x=torch.zeros(1, 3), iterations=torch.tensor([5]), residual=torch.tensor([1e-3]),
                         converged=torch.tensor([False]))
    err = pickle.loads(pickle.dumps(ConvergenceError("CG stopped", result)))
    assert str(err) == "CG stopped" and int(err.result.iterations[0]) == 5


@pytest.mark.parametrize("method", ["direct", "amg"])
def test_forcing_near_the_float_range_scales_the_solution(method):
    # the problem is linear: u(1e300) = 1e300 u(1), where |f|^2 overflows float64
    a = np.exp(np.random.default_rng(3).standard_normal((17, 17)) * 0.5)
    np.testing.assert_allclose(solve_darcy(a, 1e300, method=method), 1e300 * solve_darcy(a, 1.0, method="direct"),
                               rtol=1e-8, atol=0.0)


def test_solution_beyond_the_float_range_raises():
    with pytest.raises(SolverError, match="^the solution of Darcy sample 0 overflows float64: the forcing is too large "
                                          "for the coefficient; rescale the problem"):
        solve_darcy(np.full((9, 9), 1e-20), 1e300, method="direct")
