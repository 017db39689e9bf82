"""Batched preconditioned conjugate gradients for symmetric positive definite operators.

Each sample of the batch runs its own CG recurrence (its own step sizes); samples that have
converged are frozen while the others continue, so one call solves B systems at the cost of
the slowest. Works with every :class:`~neurops.solvers.linear.operators.LinearOperator` and any
symmetric positive definite preconditioner ``z = M(r)`` (e.g. a
:class:`~neurops.solvers.linear.multigrid.Multigrid` V-cycle), on whatever device the tensors live.

References
----------
.. [1] M. R. Hestenes, E. Stiefel, "Methods of conjugate gradients for solving linear systems",
   J. Res. Nat. Bur. Standards 49 (1952) 409-436.
.. [2] Y. Saad, "Iterative Methods for Sparse Linear Systems", 2nd ed., SIAM 2003, Algorithm 9.1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from neurops.errors import ConfigError, DataError, SolverError
from neurops.solvers.linear.operators import LinearOperator, batch_dot

Preconditioner = Callable[[torch.Tensor], torch.Tensor]


class ConvergenceError(SolverError):
    """An iterative solve stopped at ``maxiter`` before reaching its tolerance (``.result`` holds it)."""

    def __init__(self, message: str, result: SolveResult) -> None:
        super().__init__(message)
        self.result = result

    def __reduce__(self) -> tuple:
        # picklable, so that a failure inside a worker process reaches the caller intact
        return type(self), (str(self), self.result)


class NotSPDError(SolverError):
    """The operator (or the preconditioner) is not symmetric positive definite."""


@dataclass
class SolveResult:
    """Outcome of a batched iterative solve.

    Attributes
    ----------
    x : [B, *shape] the solutions.
    iterations : [B] iterations each sample took.
    residual : [B] relative residuals ``||b - A x|| / ||b||`` at the end (recomputed, not recursive).
    converged : [B] whether each sample reached the tolerance.
    history : per iteration, the [B] relative residuals (only with ``record_history=True``).
    """

    x: torch.Tensor
    iterations: torch.Tensor
    residual: torch.Tensor
    converged: torch.Tensor
    history: list[torch.Tensor] = field(default_factory=list)

    @property
    def max_iterations(self) -> int:
        """The largest iteration count over the batch."""
        return int(self.iterations.max()) if self.iterations.numel() else 0


def _safe_div(num: torch.Tensor, den: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    return torch.where(active, num / torch.where(active, den, torch.ones_like(den)), torch.zeros_like(num))


def _expand(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.ndim - 1)))


def check_rhs(op: LinearOperator, b: torch.Tensor, x0: torch.Tensor | None, *, same_dtype: bool = True) -> None:
    """Raise a clear error for a right-hand side or initial guess that does not fit ``op`` (of another dtype
    too, with ``same_dtype``: torch solvers multiply them; the scipy bridges compute in float64 anyway)."""
    op.check_input(b, "right-hand side b")
    if not b.is_floating_point():
        raise DataError(f"right-hand side b must be a real floating-point tensor, got {b.dtype}; pass "
                        f"b.to({op.dtype}).")
    if same_dtype:
        _check_dtype(op, b, "right-hand side b", "b")
    if x0 is not None:
        op.check_input(x0, "initial guess x0")
        if x0.shape != b.shape:
            raise DataError(f"initial guess x0 {tuple(x0.shape)} and b {tuple(b.shape)} differ in shape.")
        if same_dtype:
            _check_dtype(op, x0, "initial guess x0", "x0")
    if not torch.isfinite(b).all():
        raise DataError("right-hand side b contains NaN or Inf; check the forcing.")


def check_stopping(rtol: float, atol: float, maxiter: int, *, min_iterations: int = 0) -> None:
    """Raise a :class:`~neurops.errors.ConfigError` for tolerances below 0 (or NaN, or both 0) or fewer than
    ``min_iterations`` iterations: the stopping rule every Krylov solve here shares."""
    if not rtol >= 0 or not atol >= 0 or rtol == atol == 0:
        raise ConfigError(f"rtol={rtol}, atol={atol}: tolerances must be >= 0 and not both 0.")
    if maxiter < min_iterations:
        raise ConfigError(f"maxiter must be >= {min_iterations}, got {maxiter}.")


def _check_dtype(op: LinearOperator, u: torch.Tensor, what: str, name: str) -> None:
    if u.dtype != op.dtype:
        raise DataError(f"{what} is {u.dtype} but the operator is {op.dtype}; pass {name}.to({op.dtype}), or build "
                        f"the operator in {u.dtype} (e.g. from a coefficient of that dtype).")


def check_consistent(op: LinearOperator, b: torch.Tensor, target: torch.Tensor,
                     unscale: torch.Tensor | None = None) -> None:
    """Raise a :class:`~neurops.errors.DataError` for the samples of ``b`` that ``op`` cannot solve to ``target``.

    For an operator whose null space is the constants (``op.constant_null_space``: pure Neumann/periodic
    diffusion), the residual ``b - A x`` keeps the constant part of ``b``, ``|sum(b)| / sqrt(N)``, whatever
    ``x`` is (``A`` is symmetric, so ``A x`` has none): a sample whose constant part exceeds the stopping
    target (plus the rounding every solve is allowed, and of the sum itself) can never converge, and CG
    broke down on it with a misleading "not positive definite". Per sample, in float64; ``unscale`` (the
    :func:`rhs_scale` ``b`` was divided by) only makes the reported mean the user's.
    """
    if not op.constant_null_space:
        return
    flat = b.detach().reshape(b.shape[0], -1).double()
    n = flat.shape[1]
    constant = flat.sum(dim=1).abs() / math.sqrt(n)
    norm = torch.linalg.vector_norm(flat, dim=1)
    allowed = target.double() * (1 + 1e-6) + (2 + math.log2(n)) * torch.finfo(b.dtype).eps * norm
    bad = torch.nonzero(constant > allowed).flatten().tolist()
    if bad:
        i = bad[0]
        mean = float(flat[i].mean()) * (1.0 if unscale is None else float(unscale[i]))
        raise DataError(f"the right-hand side b has a non-zero mean in {len(bad)} of {b.shape[0]} samples (sample {i}: "
                        f"mean {mean:.3g}, its constant part {float(constant[i] / norm[i]):.2e} of "
                        f"|b|, above the tolerance {float(target[i] / norm[i]):.1e}), but the operator is singular: "
                        f"with no Dirichlet axis (pure Neumann/periodic) constant fields are in its kernel, so A x = b "
                        f"has a solution only for b of zero mean; subtract each sample's mean, "
                        f"b - b.mean(dim=tuple(range(1, b.ndim)), keepdim=True) (in float64 if the rounding of a "
                        f"float32 b leaves more than the tolerance), or make an axis Dirichlet.")


def rhs_scale(b: torch.Tensor) -> torch.Tensor:
    """``s : [B]``, per sample the power of two with ``max|b| / s`` in ``[0.5, 1)`` (1 for a zero ``b``).

    Krylov solvers run on ``b / s`` and return ``s x``: the system is linear, and scaling by a power of
    two is exact in floating point, so this changes no digit of an ordinary solve, while norms and
    inner products of a right-hand side near the end of the float range (``|b|^2`` overflows from
    about 1e154 in float64) no longer overflow to inf.
    """
    peak = b.detach().abs().reshape(b.shape[0], -1).amax(dim=1)
    return torch.ldexp(torch.ones_like(peak), torch.frexp(peak).exponent)


def initial_state(op: LinearOperator, b: torch.Tensor, x0: torch.Tensor | None, rtol: float, atol: float = 0.0
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor,
                             torch.Tensor]:
    """Start of a batched Krylov solve, on ``b`` and ``x0`` divided by :func:`rhs_scale` ``s`` (exact: a power
    of two per sample, so that ``|b|`` cannot overflow), and after :func:`check_consistent`.

    Returns ``(b / s, s, x, r, |r|, target, scale)``: ``x`` (``x0 / s`` or zeros), ``r = b / s - A x``, its
    norm, the stopping targets ``max(rtol |b / s|, atol / s)`` and the norm scale ``|b / s|`` (1 for a zero
    ``b``), each per sample; :func:`final_result` (``unscale=s``) returns ``s x``.
    """
    s = rhs_scale(b)
    b = b / _expand(s, b)
    x0 = None if x0 is None else x0 / _expand(s, x0)
    bnorm = torch.linalg.vector_norm(b.reshape(b.shape[0], -1), dim=1)
    target = torch.maximum(rtol * bnorm, atol / s)
    scale = torch.where(bnorm > 0, bnorm, torch.ones_like(bnorm))
    check_consistent(op, b, target, unscale=s)
    x = torch.zeros_like(b) if x0 is None else x0.clone()
    r = b.clone() if x0 is None else op.residual(x, b)
    rnorm = torch.linalg.vector_norm(r.reshape(r.shape[0], -1), dim=1)
    return b, s, x, r, rnorm, target, scale


def final_result(op: LinearOperator, b: torch.Tensor, x: torch.Tensor, iterations: torch.Tensor,
                 history: list[torch.Tensor], target: torch.Tensor, scale: torch.Tensor, *, slack: float,
                 check: bool, failure: str, fix: str, unscale: torch.Tensor | None = None) -> SolveResult:
    """The :class:`SolveResult` of a batched Krylov solve, judged on the true residual ``|b - A x|``
    (within ``slack`` of the target, plus rounding; a non-finite residual never passes), with ``x``
    multiplied by ``unscale`` (the :func:`rhs_scale` the solve ran under); with ``check``, a
    :class:`ConvergenceError` ``"<failure> for k of B samples (worst relative residual ...); <fix>"``
    if a sample missed it, or one saying that the solution overflows ``b``'s dtype."""
    true_res = torch.linalg.vector_norm(op.residual(x, b).reshape(b.shape[0], -1), dim=1)
    converged = (true_res <= target * (1 + slack) + torch.finfo(b.dtype).eps * scale) & torch.isfinite(true_res)
    if unscale is not None:
        x = x * _expand(unscale, x)
    finite = torch.isfinite(x.reshape(x.shape[0], -1)).all(dim=1)
    converged = converged & finite
    result = SolveResult(x, iterations, true_res / scale, converged, history)
    if check and not bool(finite.all()):
        raise ConvergenceError(f"the solution of {int((~finite).sum())} of {b.shape[0]} samples overflows "
                               f"{str(b.dtype).replace('torch.', '')}: the right-hand side is too large for the "
                               f"operator; rescale the problem (e.g. the units of b or of the coefficient) so that "
                               f"the solution fits. Or the matrix is singular and b not in its range (e.g. a pure "
                               f"Neumann/periodic operator and b of non-zero mean, or a zero row): then no solution "
                               f"exists; make b consistent or the matrix non-singular.", result)
    if check and not bool(converged.all()):
        raise ConvergenceError(f"{failure} for {int((~converged).sum())} of {b.shape[0]} samples (worst relative "
                               f"residual {float(result.residual.max()):.2e}); {fix}", result)
    return result


def _zero_mean_output(preconditioner: Preconditioner) -> Preconditioner:
    """``M`` followed by the projection onto zero-mean fields, for an operator whose kernel is the constants: a
    V-cycle's output keeps a constant part of rounding size, which made ``p^T A p`` a rounding-size number of either
    sign (a NotSPDError at 1e-11 on a 101-point periodic grid). ``P M P`` is SPD on the zero-mean fields CG works in
    there."""
    def apply(r: torch.Tensor) -> torch.Tensor:
        z = preconditioner(r)
        return z - z.mean(dim=tuple(range(1, z.ndim)), keepdim=True)
    return apply


def _check_curvature(rz: torch.Tensor, pAp: torch.Tensor, active: torch.Tensor, it: int) -> None:
    if bool(((rz <= 0) & active).any()):
        raise NotSPDError(f"r^T M r <= 0 at iteration {it}: the preconditioner is not positive definite; "
                          f"use a symmetric smoother/V-cycle or no preconditioner.")
    if bool(((pAp <= 0) & active).any()):
        bad = int(torch.nonzero((pAp <= 0) & active)[0])
        raise NotSPDError(f"p^T A p = {float(pAp[bad]):.3g} <= 0 at iteration {it} (sample {bad}): the operator "
                          f"is not symmetric positive definite; check that the coefficient is positive and "
                          f"the matrix symmetric, or use a solver for indefinite systems. A singular matrix with "
                          f"b not in its range (e.g. pure Neumann/periodic conditions and b of non-zero mean) "
                          f"breaks CG down the same way: then make b consistent (subtract its mean).")


def pcg(
    op: LinearOperator,
    b: torch.Tensor,
    *,
    x0: torch.Tensor | None = None,
    preconditioner: Preconditioner | None = None,
    rtol: float = 1e-8,
    atol: float = 0.0,
    maxiter: int = 1000,
    check: bool = True,
    record_history: bool = False,
) -> SolveResult:
    """Solve ``A x = b`` for a batch by (preconditioned) conjugate gradients.

    Parameters
    ----------
    op : SPD operator acting on ``[B, *shape]`` (batch B or 1).
    b : [B, *shape] right-hand sides.
    x0 : [B, *shape] initial guesses (warm start); default zeros.
    preconditioner : SPD map ``r -> z ~ A^{-1} r`` (e.g. :class:`~neurops.solvers.linear.multigrid.Multigrid`);
        ``None`` runs plain CG.
    rtol, atol : stop a sample when ``||b - A x|| <= max(rtol ||b||, atol)``.
    maxiter : iteration cap.
    check : raise :class:`ConvergenceError` if a sample misses the tolerance (otherwise return the
        partial result with ``converged`` False).
    record_history : keep the relative residual of every iteration.

    Returns
    -------
    SolveResult

    Raises
    ------
    DataError : ``b`` does not fit ``op`` (shape, batch, dtype, NaN), or ``op`` is singular with constants in
        its kernel (pure Neumann/periodic diffusion) and a sample of ``b`` has a mean that keeps its
        residual above the tolerance (:func:`check_consistent`).
    NotSPDError : a search direction with ``p^T A p <= 0`` (operator not SPD, or singular with ``b`` outside
        its range) or ``r^T M r <= 0`` (preconditioner not SPD).
    ConvergenceError : with ``check=True``, when ``maxiter`` is reached first.

    References
    ----------
    .. [1] Y. Saad, "Iterative Methods for Sparse Linear Systems", 2nd ed., SIAM 2003, Alg. 9.1.
    """
    check_rhs(op, b, x0)
    check_stopping(rtol, atol, maxiter)
    if preconditioner is not None and not callable(preconditioner):
        raise ConfigError(f"preconditioner must be a map r -> z (e.g. Multigrid(op)) or None, got "
                          f"{type(preconditioner).__name__}.")
    if b.shape[0] == 0:  # an empty batch of right-hand sides: nothing to iterate on
        empty = torch.zeros(0, dtype=b.dtype, device=b.device)
        return SolveResult(b.clone(), torch.zeros(0, dtype=torch.long, device=b.device), empty,
                           torch.zeros(0, dtype=torch.bool, device=b.device))
    precond = preconditioner if preconditioner is not None else (lambda r: r)
    if preconditioner is not None and op.constant_null_space:
        precond = _zero_mean_output(preconditioner)
    b, s, x, r, rnorm, target, scale = initial_state(op, b, x0, rtol, atol)  # b / s: cannot overflow
    active = rnorm > target
    iterations = torch.zeros(b.shape[0], dtype=torch.long, device=b.device)
    history = [rnorm / scale] if record_history else []
    z = precond(r)
    rz = batch_dot(r, z)
    p = z.clone()
    for it in range(maxiter):
        if not bool(active.any()):
            break
        Ap = op.apply(p)
        pAp = batch_dot(p, Ap)
        _check_curvature(rz, pAp, active, it)
        alpha = _safe_div(rz, pAp, active)
        x.add_(_expand(alpha, x) * p)
        r.sub_(_expand(alpha, r) * Ap)
        iterations += active.long()
        rnorm = torch.linalg.vector_norm(r.reshape(r.shape[0], -1), dim=1)
        if record_history:
            history.append(rnorm / scale)
        active = active & (rnorm > target)
        if not bool(active.any()):
            break
        z = precond(r)
        rz_new = batch_dot(r, z)
        beta = _safe_div(rz_new, rz, active)
        rz = torch.where(active, rz_new, rz)
        p = torch.where(_expand(active, p), z + _expand(beta, p) * p, p)
    try:
        return final_result(op, b, x, iterations, history, target, scale, slack=1e-6, check=check, unscale=s,
                            failure=f"CG did not reach rtol={rtol:.1e} within maxiter={maxiter} iterations",
                            fix=_precision_hint(op.dtype, rtol) + "raise maxiter, use a multigrid preconditioner, or "
                            "pass check=False to get the partial result.")
    except ConvergenceError as err:
        _raise_if_not_symmetric(op, f"CG did not reach rtol={rtol:.1e} within maxiter={maxiter} iterations", err)
        raise


def _raise_if_not_symmetric(op: LinearOperator, failure: str, err: ConvergenceError) -> None:
    """After a failed solve only (it costs a pass over the matrix): a non-symmetric stencil is the reason, not the
    iteration count, and CG may stall on it without ever meeting ``p^T A p <= 0``."""
    measure = getattr(op, "symmetry_error", None)
    if measure is None:
        return
    asym = measure()
    if asym > 1e-8:
        raise NotSPDError(f"{failure}, and the operator is not symmetric (max |A - A^T| / max |A| = {asym:.2e}), "
                          "which CG needs: check the stencil coefficients (c_o[i] must equal c_-o[i + o]), or use a "
                          "solver for non-symmetric systems (e.g. scipy.sparse.linalg.gmres on to_scipy(op)).") from err


def _precision_hint(dtype: torch.dtype, rtol: float) -> str:
    """The first fix to name when ``rtol`` is within 10 roundings of ``dtype``: no iteration count reaches it."""
    eps = torch.finfo(dtype).eps
    if rtol >= 10 * eps:
        return ""
    return (f"rtol={rtol:.1e} is below what {dtype} arithmetic reaches (10 x its rounding, {10 * eps:.1e}): solve in "
            f"float64 (a float64 coefficient or operator and b) or pass rtol >= {10 * eps:.1e}; otherwise ")


def jacobi_preconditioner(op: LinearOperator) -> Preconditioner:
    """``z = D^{-1} r`` with ``D`` the diagonal of ``op`` (must be positive)."""
    diag = op.diagonal()
    if (diag <= 0).any():
        raise NotSPDError("the operator has a non-positive diagonal entry, so it is not SPD; check the coefficient.")
    inv = 1.0 / diag
    return lambda r: inv * r
