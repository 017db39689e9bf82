"""Darcy flow ``-div(a grad u) = f`` on (0,1)^d with ``u = 0`` on the boundary.

:func:`solve_darcy` is the one entry point data generators and benchmarks call. It
discretises with :func:`neurops.solvers.pde.diffusion_fd.diffusion_matrix` (second-order
(2d+1)-point finite differences on the node grid) and solves the sparse system with
scipy's SuperLU after a nested-dissection ordering (``"direct"``) or with conjugate
gradients preconditioned by pyamg's smoothed-aggregation AMG (``"amg"``). Every solution's relative residual
``||f - A u||_2 / ||f||_2`` is checked against ``rtol`` (direct solves get up to three
steps of iterative refinement first); a solve that misses it raises
:class:`neurops.errors.SolverError`.

References
----------
.. [1] Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
   Equations", ICLR 2021, arXiv:2010.08895 (the Darcy benchmark problem).
.. [2] P. Vanek, J. Mandel, M. Brezina, "Algebraic multigrid by smoothed aggregation for
   second and fourth order elliptic problems", Computing 56 (1996) 179-196.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from neurops.errors import ConfigError, DataError, SolverError
from neurops.solvers.linear.cg import rhs_scale
from neurops.solvers.linear.diffusion import FACE_MEANS, FaceMean
from neurops.solvers.pde.diffusion_fd import diffusion_matrix, interior


def check_forcing(forcing: float, fix: str) -> float:
    """``forcing`` as a float if it can identify the coefficient of ``-div(a grad u) = f``: finite and not 0
    (with ``f = 0``, ``u = 0`` for every ``a``); else one :class:`ConfigError` ending with ``fix``.

    The one check of the Darcy forcing of the generator, the true solver of an inversion and DGNO's physics.
    """
    if isinstance(forcing, bool) or not isinstance(forcing, numbers.Real) or not math.isfinite(forcing) \
            or forcing == 0:
        raise ConfigError(f"forcing must be a finite number other than 0 (with f = 0 the pressure u is 0 for every "
                          f"coefficient a, so u says nothing about a), got {forcing!r}; {fix}.")
    return float(forcing)


DarcyMethod = Literal["auto", "direct", "amg"]
DARCY_METHODS: tuple[str, ...] = ("auto", "direct", "amg")

#: "auto" switches from the direct solver to AMG-PCG above this many unknowns, per dimension
#: (measured on a 2-core CPU: in 2-D, nested-dissection SuperLU and AMG-PCG cost about the same
#: at 421^2 nodes; in 3-D the direct solver's fill grows faster).
AUTO_DIRECT_MAX_UNKNOWNS: dict[int, int] = {1: 10**7, 2: 180_000, 3: 30_000}


@dataclass
class DarcySolveInfo:
    """What :func:`solve_darcy` did: the method per sample, relative residuals, iterations."""

    methods: list[str] = field(default_factory=list)
    residuals: list[float] = field(default_factory=list)
    iterations: list[int] = field(default_factory=list)

    @property
    def max_residual(self) -> float:
        """The largest relative residual ``||f - A u|| / ||f||`` over the samples."""
        return max(self.residuals, default=0.0)


def _relative_residual(A: sp.csr_matrix, u: np.ndarray, b: np.ndarray) -> float:
    norm_b = np.linalg.norm(b)
    return float(np.linalg.norm(b - A @ u) / (norm_b if norm_b > 0 else 1.0))


@functools.lru_cache(maxsize=8)
def nested_dissection(shape: tuple[int, ...], leaf: int = 4) -> np.ndarray:
    """A nested-dissection ordering of the nodes of a grid (C order), computed geometrically.

    The grid is split across its longest axis by a one-node-thick separator; both halves
    are ordered recursively, then the separator. Eliminating in this order keeps the fill
    of a sparse factorisation of a (2d+1)-point stencil near the optimum [1]_.

    Parameters
    ----------
    shape : the grid, e.g. the interior nodes ``(N_1 - 2, .., N_d - 2)``.
    leaf : blocks with at most ``leaf^d`` nodes keep their natural order.

    Returns
    -------
    perm : int64 [prod(shape)], a permutation of ``0 .. prod(shape) - 1``.

    References
    ----------
    .. [1] A. George, "Nested dissection of a regular finite element mesh",
       SIAM J. Numer. Anal. 10 (1973) 345-363.
    """
    order: list[np.ndarray] = []

    def visit(block: np.ndarray) -> None:
        if block.size <= leaf**block.ndim or max(block.shape) < 3:
            order.append(block.ravel())
            return
        axis = int(np.argmax(block.shape))
        mid = block.shape[axis] // 2
        visit(block[(slice(None),) * axis + (slice(0, mid),)])
        visit(block[(slice(None),) * axis + (slice(mid + 1, None),)])
        order.append(block[(slice(None),) * axis + (slice(mid, mid + 1),)].ravel())

    visit(np.arange(int(np.prod(shape))).reshape(shape))
    perm = np.concatenate(order)
    perm.setflags(write=False)  # cached and shared between calls
    return perm


def _solve_direct(a: np.ndarray, b: np.ndarray, rtol: float, mean: FaceMean) -> tuple[np.ndarray, int, float]:
    # SuperLU without pivoting (A is SPD) on the matrix assembled in nested-dissection order:
    # measured 1.2-1.3x faster than SuperLU's own minimum-degree ordering on 257^2..421^2 grids.
    perm = nested_dissection(interior(a).shape)
    A = diffusion_matrix(a, mean=mean, ordering=perm)
    A = sp.csc_matrix((A.data, A.indices, A.indptr), shape=A.shape)  # CSR of a symmetric matrix = its CSC
    lu = spla.splu(A, permc_spec="NATURAL", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    b_perm = b[perm]
    x = lu.solve(b_perm)
    steps, res = 0, _relative_residual(A, x, b_perm)
    while steps < 3 and res > rtol:  # iterative refinement
        x = x + lu.solve(b_perm - A @ x)
        steps, res = steps + 1, _relative_residual(A, x, b_perm)
    u = np.empty_like(x)
    u[perm] = x
    return u, steps, res


def _solve_amg(a: np.ndarray, b: np.ndarray, rtol: float, mean: FaceMean) -> tuple[np.ndarray, int, float]:
    try:
        import pyamg
    except ImportError as err:  # pragma: no cover - pyamg is a core dependency
        raise SolverError("method='amg' needs pyamg: pip install pyamg (or use method='direct').") from err
    residuals: list[float] = []
    A = diffusion_matrix(a, mean=mean)
    ml = pyamg.smoothed_aggregation_solver(A, symmetry="symmetric")
    # pyamg's tol is relative to ||b||; aim a little below rtol so the checked residual passes
    u = ml.solve(b, tol=0.5 * rtol, accel="cg", maxiter=500, residuals=residuals)
    return u, max(len(residuals) - 1, 0), _relative_residual(A, u, b)


def _check_inputs(a: np.ndarray, f: float | np.ndarray, ndim: int, rtol: float, method: str,
                  mean: str) -> tuple[np.ndarray, np.ndarray]:
    if method not in DARCY_METHODS:
        raise ConfigError(f"Darcy solver method {method!r} is unknown; use one of {DARCY_METHODS}.")
    if mean not in FACE_MEANS:
        raise ConfigError(f"face mean {mean!r} is unknown; use one of {FACE_MEANS}.")
    if not 0 < rtol < 1:
        raise ConfigError(f"rtol must be in (0, 1), got {rtol}.")
    if not 1 <= ndim <= 3:
        raise ConfigError(f"ndim must be 1, 2 or 3, got {ndim}.")
    for name, value in (("coefficient", a), ("forcing", f)):
        if np.iscomplexobj(value):
            raise DataError(f"the {name} is complex; solve_darcy takes real values (pass its real part, "
                            "np.real(...), if the imaginary part is zero).")
    a = np.asarray(a, dtype=np.float64)
    if a.ndim not in (ndim, ndim + 1):
        raise DataError(f"coefficient of shape {a.shape} is neither one {ndim}-D field [*spatial] nor a batch "
                         f"[B, *spatial]; pass ndim= for other dimensions.")
    if min(a.shape[a.ndim - ndim:]) < 3:
        raise DataError(f"coefficient of shape {a.shape}: every spatial axis needs at least 3 nodes (two boundary "
                        "nodes and one unknown); pass a finer grid.")
    try:
        f_arr = np.broadcast_to(np.asarray(f, dtype=np.float64), a.shape)
    except ValueError as err:
        raise DataError(f"forcing of shape {np.shape(f)} does not broadcast to the coefficient's shape "
                         f"{a.shape}; pass a scalar or an array of that shape.") from err
    if not np.isfinite(f_arr).all():
        raise DataError(f"the forcing contains {'NaN' if np.isnan(f_arr).any() else 'inf'}; pass a finite forcing.")
    return a, f_arr


def solve_darcy(
    a: np.ndarray,
    f: float | np.ndarray = 1.0,
    *,
    rtol: float = 1e-10,
    method: DarcyMethod = "auto",
    mean: FaceMean = "arithmetic",
    ndim: int = 2,
    return_info: bool = False,
) -> np.ndarray | tuple[np.ndarray, DarcySolveInfo]:
    """Solve ``-div(a grad u) = f`` in (0,1)^d, ``u = 0`` on the boundary, for one or many ``a``.

    Parameters
    ----------
    a : [*spatial] or [B, *spatial] coefficient at the nodes of a grid of (0,1)^d with
        both end points (``x = j / (N - 1)``); positive.
    f : scalar or array broadcastable to ``a`` (node values; boundary values are unused).
    rtol : required relative residual ``||f - A u||_2 / ||f||_2`` of the discrete system.
    method : ``"direct"`` (SuperLU after a nested-dissection ordering), ``"amg"``
        (smoothed-aggregation AMG + CG) or ``"auto"``: from 9,000 interior nodes per sample
        on, all samples at once by batched geometric-multigrid PCG
        (:class:`neurops.solvers.linear.multigrid.Multigrid` with a float32 V-cycle inside float64
        CG, torch, chunks of at most 2^22 unknowns; the fastest path measured, see
        ``docs/solvers.md``), and the direct solver below that.
    mean : face averaging of ``a`` (:func:`neurops.solvers.linear.diffusion.face_coefficients`).
    ndim : number of spatial dimensions d (a has d or d + 1 axes).
    return_info : also return a :class:`DarcySolveInfo` with residuals and iterations.

    Returns
    -------
    u : float64, the shape of ``a``, zero on the boundary nodes.
    info : only with ``return_info=True``.

    Raises
    ------
    SolverError : a solution misses ``rtol``.

    References
    ----------
    .. [1] Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
       Equations", ICLR 2021, arXiv:2010.08895.

    Examples
    --------
    >>> u = solve_darcy(np.ones((33, 33)), 1.0)
    >>> float(u[16, 16])  # doctest: +ELLIPSIS
    0.0736...
    """
    a, f_arr = _check_inputs(a, f, ndim, rtol, method, mean)
    single = a.ndim == ndim
    a_b, f_b = (a[None], f_arr[None]) if single else (a, f_arr)
    u_b = np.zeros_like(a_b)
    info = DarcySolveInfo()
    unknowns = int(np.prod([n - 2 for n in a_b.shape[1:]]))
    if method == "auto" and unknowns >= 9_000:
        _solve_multigrid_batches(a_b, f_b, u_b, rtol, mean, info)
    else:
        _solve_each(a_b, f_b, u_b, rtol, method, mean, info)
    u = u_b[0] if single else u_b
    return (u, info) if return_info else u


def _solve_multigrid_batches(a_b: np.ndarray, f_b: np.ndarray, u_b: np.ndarray, rtol: float, mean: FaceMean,
                             info: DarcySolveInfo) -> None:
    """Batched geometric-multigrid PCG (torch) for every sample, chunks of at most 2^22 unknowns, into ``u_b``."""
    import multiprocessing

    from neurops.solvers.linear.cg import pcg
    from neurops.solvers.linear.diffusion import DiffusionOperator
    from neurops.solvers.linear.multigrid import Multigrid

    unknowns = int(np.prod([n - 2 for n in a_b.shape[1:]]))
    threads = torch.get_num_threads()
    if multiprocessing.parent_process() is not None:
        torch.set_num_threads(1)  # a worker of a process pool: do not oversubscribe the cores
    try:
        chunk = max(1, (1 << 22) // unknowns)
        for start in range(0, a_b.shape[0], chunk):
            with torch.no_grad():
                op = DiffusionOperator.from_coefficient(torch.from_numpy(a_b[start:start + chunk]), "dirichlet",
                                                        mean=mean)
                rhs = op.interior(torch.from_numpy(np.ascontiguousarray(f_b[start:start + chunk])))
                res = pcg(op, rhs, preconditioner=Multigrid(op, dtype=torch.float32), rtol=rtol, maxiter=500,
                          check=False)
                if not bool(res.converged.all()):
                    # the float32 V-cycle can stall right at a tight rtol (rounding differs between
                    # processes): finish from where it stopped with a float64 cycle
                    res = pcg(op, rhs, x0=res.x, preconditioner=Multigrid(op, dtype=torch.float64), rtol=rtol,
                              maxiter=500)
            u_b[start:start + chunk] = op.embed(res.x).numpy()
            info.methods += ["multigrid"] * res.x.shape[0]
            info.residuals += res.residual.tolist()
            info.iterations += res.iterations.tolist()
    finally:
        torch.set_num_threads(threads)


def _solve_each(a_b: np.ndarray, f_b: np.ndarray, u_b: np.ndarray, rtol: float, method: str, mean: FaceMean,
                info: DarcySolveInfo) -> None:
    """Sample by sample with scipy: SuperLU (``direct``) or AMG-CG (``amg``; ``auto`` picks by size), into ``u_b``."""
    ndim = a_b.ndim - 1
    for i in range(a_b.shape[0]):
        b = np.ascontiguousarray(interior(f_b[i])).ravel()
        grid = interior(a_b[i]).shape
        chosen = method if method != "auto" else ("direct" if b.size <= AUTO_DIRECT_MAX_UNKNOWNS[ndim] else "amg")
        # solve for b / s with s a power of two (exact; the scaling of the Krylov solvers), so that |b|^2 of a forcing
        # near 1e300 cannot overflow
        scale = float(rhs_scale(torch.from_numpy(b)[None])[0])
        x, its, residual = (_solve_direct if chosen == "direct" else _solve_amg)(a_b[i], b / scale, rtol, mean)
        with np.errstate(over="ignore"):
            x = x * scale
        if not np.isfinite(x).all():
            raise SolverError(f"the solution of Darcy sample {i} overflows float64: the forcing is too large for the "
                              f"coefficient; rescale the problem (e.g. the units of f or of a) so that it fits.")
        if not residual <= rtol:
            raise SolverError(f"Darcy solve of sample {i} ({chosen}) reached a relative residual {residual:.2e} > "
                              f"rtol={rtol:.0e}; loosen rtol or try method='direct'.")
        interior(u_b[i])[...] = x.reshape(grid)
        info.methods.append(chosen)
        info.residuals.append(residual)
        info.iterations.append(its)
