"""The torch solvers on every test device (``pytest --device``): MG-PCG (both coarse operators, both
smoothers, 2-D and 3-D, mixed boundaries), PCG on CSR matrices, the differentiable diffusion solve,
DCDM and the Navier-Stokes stepper give the CPU's values on the device, and create no tensor
without their inputs' device. scipy/pyamg adapters are CPU-only and say so.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from neurops.errors import SolverError
from neurops.models.dcdm import DCDMNet
from neurops.solvers.learned.dcdm import dcdm_solve
from neurops.solvers.linear.adapters import pyamg_solve, scipy_solve, to_scipy
from neurops.solvers.linear.cg import jacobi_preconditioner, pcg
from neurops.solvers.linear.csr import CSROperator
from neurops.solvers.linear.differentiable import diffusion_solve
from neurops.solvers.linear.diffusion import DiffusionOperator
from neurops.solvers.linear.multigrid import Multigrid
from neurops.solvers.timestepping.pseudospectral import NavierStokes2D, fno_forcing


def _coefficient(shape, seed=0, batch=2):
    g = torch.Generator().manual_seed(seed)
    return torch.exp(torch.randn(batch, *shape, generator=g, dtype=torch.float64, device="cpu"))


def _rhs(shape, seed=1, batch=2):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, *shape, generator=g, dtype=torch.float64, device="cpu")


def _mg_pcg(shape, boundary, **mg) -> Case:
    interior = [n - 2 if bc == "dirichlet" else n
                for n, bc in zip(shape, [boundary] * len(shape) if isinstance(boundary, str) else boundary)]

    def solve(a, b):
        op = DiffusionOperator.from_coefficient(a, boundary)
        res = pcg(op, b, preconditioner=Multigrid(op, coarse_size=20, **mg), rtol=1e-10)
        return [res.x, res.iterations.double()]

    return (lambda: (_coefficient(shape), _rhs(interior))), solve


def _csr_pcg(a, b):
    csr = CSROperator(DiffusionOperator.from_coefficient(a).to_sparse_csr(0))
    res = pcg(csr, b, preconditioner=jacobi_preconditioner(csr), rtol=1e-10)
    return [res.x]


def _diffusion_solve_gradients(a, f):
    a, f = a.clone().requires_grad_(True), f.clone().requires_grad_(True)
    u = diffusion_solve(a, f, boundary=("dirichlet", "periodic"))
    ga, gf = torch.autograd.grad(u.square().sum(), (a, f))
    return [u, ga, gf]


def _dcdm_inputs():
    torch.manual_seed(0)
    return DCDMNet(dim=2, width=4, fine_blocks=1, coarse_blocks=1).double(), _coefficient((10, 10)), _rhs((8, 8))


def _dcdm(net, a, b):
    return [dcdm_solve(DiffusionOperator.from_coefficient(a), b, net, rtol=1e-8, maxiter=20, check=False).x]


def _navier_stokes(w0, forcing):
    return [NavierStokes2D(1e-3, forcing=forcing, dt=1e-2).solve(w0, [0.05, 0.1])]


Case = tuple[Callable[[], tuple], Callable[..., list[torch.Tensor]]]
#: name -> (inputs on the CPU, the solve); the solve follows its inputs' device
CASES: dict[str, Case] = {
    "mg_pcg_2d_jacobi": _mg_pcg((17, 17), "dirichlet"),
    "mg_pcg_2d_rbgs_mixed": _mg_pcg((16, 13), ("periodic", "dirichlet"), smoother="rbgs"),
    "mg_pcg_2d_galerkin_float32_cycle": _mg_pcg((15, 15), ("neumann", "dirichlet"), coarse="galerkin",
                                                 dtype=torch.float32),
    "mg_pcg_3d": _mg_pcg((9, 8, 7), "dirichlet", smoother="rbgs"),
    "mg_pcg_1d": _mg_pcg((33,), "dirichlet"),
    "csr_pcg": (lambda: (_coefficient((9, 8), batch=1), _rhs((42,), batch=1)), _csr_pcg),
    "diffusion_solve_gradients": (lambda: (_coefficient((9, 10)), torch.ones(2, 9, 10, dtype=torch.float64,
                                                                                device="cpu")),
                                  _diffusion_solve_gradients),
    "dcdm": (_dcdm_inputs, _dcdm),
    "navier_stokes": (lambda: (_rhs((16, 16), seed=2), fno_forcing(16, device="cpu")), _navier_stokes),
}


def _to(args: tuple, device: torch.device) -> list:
    return [a.to(device) for a in args]


@pytest.mark.parametrize("case", sorted(CASES))
def test_solver_creates_no_tensor_without_the_inputs_device(case, implicit_device_trap):
    inputs, solve = CASES[case]
    args = inputs()
    expected = solve(*args)
    with implicit_device_trap():
        out = solve(*args)
    for a, b in zip(out, expected):
        assert a.device.type == "cpu"
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("case", sorted(CASES))
def test_solver_on_device_matches_cpu(case, device):
    if torch.device(device).type == "cpu":
        pytest.skip("the CPU is the reference device")
    inputs, solve = CASES[case]
    args = inputs()
    expected = solve(*args)
    out = solve(*_to(args, torch.device(device)))
    if case.endswith("float32_cycle"):
        # a float32 V-cycle rounds differently on the device (FMA, the kernels' summation order), and a PCG
        # driven to 1e-10 (far below float32's 6e-8) by a float32 preconditioner feels that rounding: on an
        # H200 one field took 16 iterations against the CPU's 12. The converged solutions must agree.
        torch.testing.assert_close(out[0].cpu(), expected[0], rtol=1e-6, atol=1e-8)
        assert (out[1].cpu() <= 1.5 * expected[1]).all(), (out[1], expected[1])
        return
    for a, b in zip(out, expected):
        assert a.device.type == torch.device(device).type
        torch.testing.assert_close(a.cpu(), b, rtol=1e-6, atol=1e-8)


def test_scipy_adapters_are_cpu_only_and_say_so():
    op = DiffusionOperator.from_coefficient(_coefficient((6, 6), batch=1))
    b = _rhs((4, 4), batch=1)
    on_meta = op.to(device="meta")
    calls = (lambda: to_scipy(on_meta), lambda: scipy_solve(op, b.to("meta")), lambda: pyamg_solve(op, b.to("meta")))
    for call in calls:
        with pytest.raises(SolverError, match=r"scipy and pyamg run on the CPU.*\.to\('cpu'\)"):
            call()
    assert scipy_solve(op, b).x.device.type == "cpu"
