"""Tests of neurops.solvers.linear.adapters: scipy and pyamg references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from neurops.solvers.linear.adapters import from_scipy, pyamg_solve, scipy_solve, to_scipy
from neurops.solvers.linear.cg import pcg
from neurops.solvers.linear.diffusion import DiffusionOperator
from neurops.solvers.linear.multigrid import Multigrid
from neurops.solvers.linear.operators import LinearOperator
from neurops.solvers.pde.diffusion_fd import diffusion_matrix


def _problem(shape=(23, 19), batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(batch, *shape, generator=g, dtype=torch.float64) * 3 + 0.5
    op = DiffusionOperator.from_coefficient(a)
    return a, op, torch.randn(batch, *op.shape, generator=g, dtype=torch.float64)


def test_to_scipy_equals_assembly_and_round_trips():
    a, op, _ = _problem()
    mats = to_scipy(op)
    for i, m in enumerate(mats):
        assert abs(m - diffusion_matrix(a[i].numpy())).max() < 1e-9
    back = from_scipy(mats)
    u = torch.randn(2, op.numel, dtype=torch.float64)
    torch.testing.assert_close(back.apply(u), op.apply(u.reshape(2, *op.shape)).reshape(2, -1))
    assert all(abs(m1 - m2).max() == 0 for m1, m2 in zip(to_scipy(back), mats))


@pytest.mark.parametrize("method", ["spsolve", "cg"])
def test_scipy_solve_agrees_with_mgpcg(method):
    _, op, b = _problem()
    ours = pcg(op, b, preconditioner=Multigrid(op), rtol=1e-11)
    ref = scipy_solve(op, b, method=method, rtol=1e-11)
    assert ref.converged.all()
    torch.testing.assert_close(ref.x, ours.x, rtol=1e-7, atol=1e-10)
    if method == "cg":
        assert (ref.iterations > ours.iterations).all()


def test_pyamg_solve_agrees_and_reports_iterations():
    pytest.importorskip("pyamg")
    _, op, b = _problem(shape=(33, 33))
    res = pyamg_solve(op, b, rtol=1e-10)
    assert res.converged.all() and (res.iterations > 0).all() and (res.iterations < 40).all()
    torch.testing.assert_close(res.x, pcg(op, b, rtol=1e-12).x, rtol=1e-6, atol=1e-9)


def test_bad_inputs():
    _, op, b = _problem()
    with pytest.raises(ValueError, match="scipy method"):
        scipy_solve(op, b, method="lu")
    with pytest.raises(ValueError, match="pyamg method"):
        pyamg_solve(op, b, method="gmg")
    with pytest.raises(TypeError, match="scipy.sparse"):
        from_scipy([np.eye(3)])
    with pytest.raises(ValueError, match="shape"):
        scipy_solve(op, b[:, 1:])
    assert sp.issparse(to_scipy(op)[0])

    class Other(LinearOperator):
        batch_size = 1

    with pytest.raises(TypeError, match="cannot convert"):
        to_scipy(Other())


def test_stopping_rules_and_dtypes_the_references_cannot_take_are_named():
    """scipy_solve(method="cg", rtol=0) ran to maxiter behind a numpy warning and pyamg_solve(rtol=-1) returned,
    both with ``converged`` False and no word why; pyamg_solve(maxiter=0) raised pyamg's ValueError; and
    from_scipy(dtype=torch.int64) built an int operator whose solve then advised b.to(torch.int64)."""
    import re

    from neurops.errors import ConfigError

    _, op, b = _problem(shape=(7, 6), batch=1)
    for call in (lambda: scipy_solve(op, b, method="cg", rtol=0.0), lambda: scipy_solve(op, b, rtol=float("nan")),
                 lambda: pyamg_solve(op, b, rtol=-1.0)):
        with pytest.raises(ConfigError, match=r"^rtol=(0\.0|nan|-1\.0), atol=0\.0: tolerances must be >= 0 and not "
                                              r"both 0\.$"):
            call()
    with pytest.raises(ConfigError, match=r"^maxiter must be >= 1, got 0\.$"):
        pyamg_solve(op, b, maxiter=0)
    with pytest.raises(ConfigError, match=r"^maxiter must be >= 0, got -1\.$"):
        scipy_solve(op, b, method="cg", maxiter=-1)
    for dtype in (torch.int64, torch.complex128):
        with pytest.raises(ConfigError, match="^" + re.escape(
                f"from_scipy builds operators of a real floating dtype (the solvers' arithmetic), got dtype={dtype}; "
                "pass dtype=torch.float64 (the default) or torch.float32.") + "$"):
            from_scipy(sp.identity(4, format="csr"), dtype=dtype)
    assert scipy_solve(op, b, method="cg", rtol=1e-10).converged.all()
