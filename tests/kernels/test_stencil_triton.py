"""The Triton star-stencil kernel against the torch stencil operator and smoothers
(neurops/kernels/stencil_triton.py, its dispatch in neurops/kernels/stencil.py).

On ``cpu`` the kernel runs in Triton's interpreter; ``pytest --device cuda`` runs it compiled.
The kernel and torch sum the same terms in another order: tolerances are a few ulps.
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton")

from neurops.errors import ConfigError  # noqa: E402
from neurops.kernels.stencil import PATH_VARIABLE, select_stencil_path  # noqa: E402
from neurops.kernels.stencil_triton import star_stencil  # noqa: E402
from neurops.solvers.linear.coarsening import galerkin_coarse_operator, plan_axis  # noqa: E402
from neurops.solvers.linear.diffusion import DiffusionOperator  # noqa: E402
from neurops.solvers.linear.multigrid import Multigrid  # noqa: E402

CASES = [((9,), "dirichlet"), ((7, 8), ("periodic", "neumann")), ((5, 6, 5), ("dirichlet", "periodic", "periodic"))]
TOL = {torch.float64: dict(rtol=1e-12, atol=1e-12), torch.float32: dict(rtol=1e-5, atol=1e-5)}


def _operator(shape, boundary, device, dtype=torch.float64, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.exp(torch.randn(batch, *shape, generator=g, dtype=torch.float64))
    op = DiffusionOperator.from_coefficient(a.to(device=device, dtype=dtype), boundary)
    u = torch.randn(2, *op.shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)
    return op, u, torch.randn(u.shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)


def _parity(shape, device):
    grids = torch.meshgrid(*[torch.arange(n, device=device) for n in shape], indexing="ij")
    return sum(grids) % 2


@pytest.mark.parametrize("shape,boundary", CASES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_every_mode_matches_the_torch_operator(shape, boundary, dtype, triton_device, monkeypatch):
    """apply, residual, a Jacobi sweep and a red-black half sweep (odd periodic axes included, where
    two points of one colour are neighbours); a batch-1 operator broadcasts over the fields."""
    monkeypatch.setenv(PATH_VARIABLE, "torch")  # the reference
    op, u, f = _operator(shape, boundary, triton_device, dtype)
    r = op.residual(u, f)
    odd = _parity(op.shape, triton_device) == 1
    expected = {"apply": op.apply(u), "residual": r, "jacobi": u + 0.8 * r / op.diag,
                "colour": torch.where(odd, u + r / op.diag, u)}
    for mode, want in expected.items():
        got = star_stencil(mode, op.diag, op.coeffs, op.periodic, u, f, omega=0.8, colour=1)
        assert got.dtype == dtype and got.device == u.device
        torch.testing.assert_close(got, want, **TOL[dtype])
    one = op.select(1)
    torch.testing.assert_close(star_stencil("apply", one.diag, one.coeffs, one.periodic, u), one.apply(u), **TOL[dtype])


@pytest.mark.parametrize("smoother", ["jacobi", "rbgs"])
def test_v_cycle_with_the_kernel_equals_the_torch_v_cycle(smoother, triton_device, monkeypatch):
    op, _, f = _operator((12, 11), ("dirichlet", "periodic"), triton_device)
    mg = Multigrid(op, smoother=smoother, coarse_size=30)
    assert mg.num_levels == 2
    monkeypatch.setenv(PATH_VARIABLE, "torch")
    expected = mg(f)
    monkeypatch.setenv(PATH_VARIABLE, "triton")
    torch.testing.assert_close(mg(f), expected, rtol=1e-12, atol=1e-12)


def test_dispatch(triton_device, monkeypatch):
    op, u, _ = _operator((7, 8), "dirichlet", triton_device, batch=1)
    expected = "triton" if torch.device(triton_device).type == "cuda" else "torch"
    assert op.kernel_path(u) == expected
    assert select_stencil_path(u, star=True, differentiable=True) == "torch"  # no backward in the kernel
    full = galerkin_coarse_operator(op, tuple(plan_axis(n, "dirichlet") for n in op.shape))
    monkeypatch.setenv(PATH_VARIABLE, "triton")
    assert op.kernel_path(u) == "triton" and full.kernel_path(u[:, :3, :3]) == "torch"  # 3^d points: torch
    with pytest.raises(ConfigError, match=rf"{PATH_VARIABLE}=triton.*cannot take gradients"):
        op.kernel_path(u.clone().requires_grad_(True))
    with pytest.raises(ConfigError, match="cannot take dtype torch.float16"):
        op.kernel_path(u.half())
    monkeypatch.setenv(PATH_VARIABLE, "cuda")
    with pytest.raises(ConfigError, match=rf"{PATH_VARIABLE}='cuda' is not a path of this kernel"):
        op.apply(u)
