"""Bridges to scipy and pyamg: the reference solvers our tests and benchmarks compare against.

* :func:`to_scipy` / :func:`from_scipy` convert between our operators and ``scipy.sparse`` CSR.
* :func:`scipy_solve` solves each sample with SuperLU (``spsolve``) or scipy's CG.
* :func:`pyamg_solve` solves each sample with pyamg's smoothed-aggregation AMG as a CG
  preconditioner (setup + solve), reporting iterations.

All of them run on the CPU in float64 (scipy and pyamg are CPU libraries): they take operators and
right-hand sides on the CPU and raise :class:`~neurops.errors.SolverError` for any other device.

References
----------
.. [1] P. Virtanen et al., "SciPy 1.0: fundamental algorithms for scientific computing in
   Python", Nature Methods 17 (2020) 261-272.
.. [2] N. Bell, L. N. Olson, J. Schroder, "PyAMG: algebraic multigrid solvers in Python",
   J. Open Source Software 7 (2022) 4142.
.. [3] P. Vanek, J. Mandel, M. Brezina, "Algebraic multigrid by smoothed aggregation for
   second and fourth order elliptic problems", Computing 56 (1996) 179-196.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from neurops.errors import ConfigError, SolverError
from neurops.solvers.linear.cg import SolveResult, check_rhs, check_stopping
from neurops.solvers.linear.csr import CSROperator, csr_tensor
from neurops.solvers.linear.operators import LinearOperator
from neurops.solvers.linear.stencil import StencilOperator


def to_scipy(op: LinearOperator) -> list[sp.csr_matrix]:
    """One float64 ``scipy.sparse.csr_matrix`` ``[N, N]`` per sample (C order of the grid of unknowns)."""
    if isinstance(op, (StencilOperator, CSROperator)):
        _check_cpu(op.device, "the operator")
    mats = []
    for b in range(op.batch_size):
        if isinstance(op, StencilOperator):
            r, c, v = (t.detach().numpy() for t in op.coo(b))
            m = sp.coo_matrix((v.astype(np.float64), (r, c)), shape=(op.numel, op.numel)).tocsr()
            m.sum_duplicates()
            m.eliminate_zeros()
        elif isinstance(op, CSROperator):
            a = op.matrices[b]
            m = sp.csr_matrix((a.values().detach().double().numpy(), a.col_indices().numpy(),
                               a.crow_indices().numpy()), shape=tuple(a.shape))
        else:
            raise TypeError(f"cannot convert {type(op).__name__} to scipy; use a StencilOperator or CSROperator.")
        mats.append(m)
    return mats


def from_scipy(matrices: sp.spmatrix | Sequence[sp.spmatrix], *, dtype: torch.dtype = torch.float64,
               device: torch.device | str | None = None) -> CSROperator:
    """A :class:`~neurops.solvers.linear.csr.CSROperator` from one scipy sparse matrix or one per sample."""
    if not dtype.is_floating_point:
        raise ConfigError(f"from_scipy builds operators of a real floating dtype (the solvers' arithmetic), got "
                          f"dtype={dtype}; pass dtype=torch.float64 (the default) or torch.float32.")
    mats = [matrices] if sp.issparse(matrices) else list(matrices)
    out = []
    for m in mats:
        if not sp.issparse(m):
            raise TypeError(f"from_scipy takes scipy.sparse matrices, got {type(m).__name__}.")
        m = sp.csr_matrix(m)
        m.sort_indices()
        out.append(csr_tensor(torch.as_tensor(m.indptr, dtype=torch.long, device=device),
                              torch.as_tensor(m.indices, dtype=torch.long, device=device),
                              torch.as_tensor(m.data, dtype=dtype, device=device), tuple(m.shape)))
    return CSROperator(out)


def _check_cpu(device: torch.device, what: str) -> None:
    if device.type != "cpu":
        raise SolverError(f"scipy and pyamg run on the CPU, but {what} is on {device}; move it with .to('cpu') "
                          f"(operators: op.to(device='cpu')), or solve on {device} with neurops.solvers.linear.cg.pcg.")


def _per_sample(op: LinearOperator, b: torch.Tensor) -> tuple[list[sp.csr_matrix], np.ndarray]:
    _check_cpu(b.device, "the right-hand side")
    check_rhs(op, b, None, same_dtype=False)  # solved in float64, returned in b's dtype
    mats = to_scipy(op)
    if len(mats) == 1 and b.shape[0] > 1:
        mats = mats * b.shape[0]
    return mats, b.detach().double().reshape(b.shape[0], -1).numpy()


def _result(op: LinearOperator, mats: list[sp.csr_matrix], xs: list[np.ndarray], rhs: np.ndarray, b: torch.Tensor,
            iterations: list[int], rtol: float) -> SolveResult:
    res = []
    for m, xi, r in zip(mats, xs, rhs):
        nb = np.linalg.norm(r)
        res.append(np.linalg.norm(r - m @ xi) / (nb if nb > 0 else 1.0))
    x = torch.as_tensor(np.stack(xs), dtype=b.dtype, device="cpu").reshape(b.shape)
    residual = torch.as_tensor(res, dtype=torch.float64, device="cpu")
    return SolveResult(x, torch.as_tensor(iterations, device="cpu"), residual, residual <= rtol * (1 + 1e-6))


def scipy_solve(op: LinearOperator, b: torch.Tensor, *, method: Literal["spsolve", "cg"] = "spsolve",
                rtol: float = 1e-10, maxiter: int = 10_000) -> SolveResult:
    """Solve each sample with scipy: SuperLU (``"spsolve"``, iterations reported as 0) or plain CG.

    Parameters
    ----------
    op : operator with a scipy conversion (:func:`to_scipy`).
    b : [B, *shape] right-hand sides.
    method : ``"spsolve"`` or ``"cg"``.
    rtol, maxiter : CG settings (``rtol`` also decides ``converged``).
    """
    if method not in ("spsolve", "cg"):
        raise ConfigError(f"scipy method {method!r} is unknown; use 'spsolve' or 'cg'.")
    check_stopping(rtol, 0.0, maxiter)
    mats, rhs = _per_sample(op, b)
    xs, its = [], []
    for m, r in zip(mats, rhs):
        if method == "spsolve":
            xs.append(spla.spsolve(m.tocsc(), r))
            its.append(0)
        else:
            count = [0]

            def cb(_: np.ndarray, count: list[int] = count) -> None:
                count[0] += 1

            x, _info = spla.cg(m, r, rtol=rtol, atol=0.0, maxiter=maxiter, callback=cb)
            xs.append(x)
            its.append(count[0])
    return _result(op, mats, xs, rhs, b, its, rtol)


def pyamg_solve(op: LinearOperator, b: torch.Tensor, *, rtol: float = 1e-8, maxiter: int = 500,
                method: Literal["sa", "rs"] = "sa") -> SolveResult:
    """Solve each sample with pyamg AMG (smoothed aggregation ``"sa"`` or Ruge-Stueben ``"rs"``) + CG.

    The time this takes includes the AMG setup of every sample, as a user of pyamg would pay it.

    References
    ----------
    .. [1] N. Bell, L. N. Olson, J. Schroder, J. Open Source Software 7 (2022) 4142.
    """
    if method not in ("sa", "rs"):
        raise ConfigError(f"pyamg method {method!r} is unknown; use 'sa' or 'rs'.")
    check_stopping(rtol, 0.0, maxiter, min_iterations=1)  # pyamg runs at least one iteration
    try:
        import pyamg
    except ImportError as err:  # pragma: no cover - optional peer
        raise ImportError("pyamg_solve needs pyamg: pip install pyamg (or neurops[bench]).") from err
    mats, rhs = _per_sample(op, b)
    xs, its = [], []
    for m, r in zip(mats, rhs):
        ml = (pyamg.smoothed_aggregation_solver(m, symmetry="symmetric") if method == "sa"
              else pyamg.ruge_stuben_solver(m))
        hist: list[float] = []
        xs.append(ml.solve(r, tol=rtol, accel="cg", maxiter=maxiter, residuals=hist))
        its.append(max(len(hist) - 1, 0))
    return _result(op, mats, xs, rhs, b, its, rtol)
