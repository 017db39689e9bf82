"""Deep conjugate direction method (DCDM): a CNN proposes search directions for an SPD solve.

A convolutional network ``f`` approximates the action of ``A^{-1}`` up to a scalar. The solver
takes ``q_k = f(r_k / |r_k|)``, A-orthogonalises it against the previous two search directions
and does an exact line search, so the A-norm of the error decreases monotonically whatever the
network returns, and the method is CG when ``f`` is the identity. The network is trained
without labels on one matrix: right-hand sides are random combinations of the matrix's Ritz
vectors (from Lanczos), weighted towards the low end of the spectrum, and the loss is the
residual after the optimal step along the network's direction,

    ``L(b) = || b - A q (q^T b) / (q^T A q) ||^2,  q = f(b),  |b| = 1``,

which is invariant to the scale of ``f``. Being fully convolutional, a network trained on one
grid runs on any other.

The network (:class:`neurops.models.dcdm.DCDMNet`, registered ``"dcdm"``) is bias-free with
ReLU activations, hence positively homogeneous (``f(c r) = c f(r)`` for ``c > 0``); residuals
are fed with unit RMS, so the input looks the same on every grid. A CNN that sees only the
residual is translation-equivariant: it suits constant-coefficient operators (the paper's
pressure Poisson) but cannot represent the inverse of a spatially varying coefficient (Darcy).
``DCDMNet(condition_channels=2d)`` is our extension for that case: it also receives the
operator's normalised stencil (:func:`stencil_features`) and can be trained on several
matrices. Training goes through the one training path: :class:`neurops.tasks.dcdm.DCDMTask`
with the right-hand sides of :class:`neurops.data.datamodule.DCDMDataModule` (``neurops fit
--config dcdm_darcy``); this module holds the solver, the Ritz vectors and the loss.

References
----------
.. [1] A. Kaneda, O. Akar, J. Chen, V. A. T. Kala, D. Hyde, J. Teran, "A deep conjugate
   direction method for iteratively solving linear systems", ICML 2023, PMLR 202:15720-15736.
.. [2] C. Lanczos, "An iteration method for the solution of the eigenvalue problem of linear
   differential and integral operators", J. Res. Nat. Bur. Standards 45 (1950) 255-282.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from neurops.errors import ConfigError, ModelError
from neurops.solvers.linear.cg import NotSPDError, SolveResult, check_rhs, final_result, initial_state
from neurops.solvers.linear.operators import LinearOperator, batch_dot
from neurops.solvers.linear.stencil import StencilOperator


def stencil_features(op: StencilOperator) -> torch.Tensor:
    """Operator description for a conditioned DCDM network: stencil weights over the diagonal.

    Returns ``[B, len(offsets), *shape]`` with ``coeffs / diag`` (dimensionless, independent of
    the grid spacing and of the coefficient's scale; zero where a neighbour is missing).
    """
    if not isinstance(op, StencilOperator):
        raise TypeError(f"stencil_features needs a StencilOperator, got {type(op).__name__}.")
    return op.coeffs / op.diag.unsqueeze(1)


def _unit(r: torch.Tensor) -> torch.Tensor:
    norm = torch.linalg.vector_norm(r.reshape(r.shape[0], -1), dim=1).clamp_min(torch.finfo(r.dtype).tiny)
    return r / norm.reshape(-1, *([1] * (r.ndim - 1)))


def _rms_unit(r: torch.Tensor) -> torch.Tensor:
    """``r`` scaled to unit root-mean-square per sample (O(1) entries on any grid)."""
    return _unit(r) * (r[0].numel() ** 0.5)


def _condition(net: Callable, op: LinearOperator) -> torch.Tensor | None:
    return stencil_features(op) if getattr(net, "condition_channels", 0) else None


def _apply_net(net: Callable, r: torch.Tensor, dtype: torch.dtype, condition: torch.Tensor | None) -> torch.Tensor:
    x = _rms_unit(r).unsqueeze(1).to(dtype)
    out = net(x) if condition is None else net(x, condition)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelError(f"the DCDM network returned {got} for a residual of shape {tuple(x.shape)} = [B, 1, *shape]; "
                         "it must return a direction of the residual's shape (a fully convolutional net with one "
                         "input and one output channel).")
    if not bool(torch.isfinite(out).all()):
        raise ModelError("the DCDM network returned NaN or Inf values for a finite residual; check its weights (a "
                         "diverged training) and its dtype.")
    return out[:, 0].to(r.dtype)


def _net_dtype(net: Callable) -> torch.dtype | None:
    if isinstance(net, nn.Module):
        for p in net.parameters():
            return p.dtype
    return None


def dcdm_solve(
    op: LinearOperator,
    b: torch.Tensor,
    net: Callable[[torch.Tensor], torch.Tensor],
    *,
    x0: torch.Tensor | None = None,
    rtol: float = 1e-6,
    maxiter: int = 200,
    check: bool = True,
    record_history: bool = False,
) -> SolveResult:
    """Solve ``A x = b`` by the deep conjugate direction method (batched).

    Parameters
    ----------
    op : SPD operator on ``[B, *shape]``.
    b : [B, *shape] right-hand sides.
    net : direction generator ``[B, 1, *shape] -> [B, 1, *shape]`` (a
        :class:`~neurops.models.dcdm.DCDMNet`, or any callable: the identity gives CG); a
        conditioned ``DCDMNet`` also receives
        :func:`stencil_features` of ``op``. Inputs are residuals scaled to unit RMS.
    x0 : initial guess; default zeros.
    rtol : stop a sample at ``||b - A x|| <= rtol ||b||``.
    maxiter, check, record_history : as in :func:`neurops.solvers.linear.cg.pcg`.

    Returns
    -------
    SolveResult

    Raises
    ------
    NotSPDError : a direction with ``q^T A q <= 0`` (operator not SPD).
    ConvergenceError : with ``check=True``, when ``maxiter`` is reached first.

    References
    ----------
    .. [1] A. Kaneda et al., ICML 2023, Algorithm 2.
    """
    check_rhs(op, b, x0)
    if not rtol > 0:
        raise ConfigError(f"rtol must be > 0, got {rtol}.")
    dtype = _net_dtype(net) or b.dtype
    expand = lambda v: v.reshape(-1, *([1] * (b.ndim - 1)))  # noqa: E731
    b, s, x, r, rnorm, target, scale = initial_state(op, b, x0, rtol)  # b / s: cannot overflow
    active = rnorm > target
    iterations = torch.zeros(b.shape[0], dtype=torch.long, device=b.device)
    history = [rnorm / scale] if record_history else []
    previous: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    condition = _condition(net, op)
    with torch.no_grad():
        for it in range(maxiter):
            if not bool(active.any()):
                break
            q = _apply_net(net, r, dtype, condition)
            for p, Ap, pAp in previous:  # A-orthogonalise against the last two directions
                q = q - expand(batch_dot(q, Ap) / pAp) * p
            Aq = op.apply(q)
            qAq = batch_dot(q, Aq)
            if bool(((qAq <= 0) & active).any()):
                raise NotSPDError(f"q^T A q <= 0 at iteration {it}: the operator is not symmetric positive definite "
                                  f"(or the network returned a zero direction); check the operator.")
            qAq_safe = torch.where(active, qAq, torch.ones_like(qAq))
            alpha = torch.where(active, batch_dot(q, r) / qAq_safe, torch.zeros_like(qAq))
            x.add_(expand(alpha) * q)
            r.sub_(expand(alpha) * Aq)
            iterations += active.long()
            previous = (previous + [(q, Aq, qAq_safe)])[-2:]
            rnorm = torch.linalg.vector_norm(r.reshape(r.shape[0], -1), dim=1)
            if record_history:
                history.append(rnorm / scale)
            active = active & (rnorm > target)
        return final_result(op, b, x, iterations, history, target, scale, slack=1e-3, check=check, unscale=s,
                            failure=f"DCDM did not reach rtol={rtol:.1e} within maxiter={maxiter} iterations",
                            fix="raise maxiter, train the network longer, or use pcg with a multigrid "
                            "preconditioner.")


def ritz_vectors(op: LinearOperator, k: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Ritz pairs of ``op`` (batch 1) from ``k`` Lanczos steps with full re-orthogonalisation.

    Parameters
    ----------
    op : SPD operator with ``batch_size == 1``.
    k : Lanczos steps (at most the number of unknowns).
    seed : seed of the random start vector.

    Returns
    -------
    values : [k'] Ritz values, ascending (``k' <= k`` if Lanczos broke down early).
    vectors : [k', *shape] orthonormal Ritz vectors.

    References
    ----------
    .. [1] C. Lanczos, J. Res. Nat. Bur. Standards 45 (1950) 255-282.
    """
    if op.batch_size != 1:
        raise ConfigError(f"ritz_vectors takes one operator (batch 1), got a batch of {op.batch_size}; "
                         f"use op.select(i).")
    n = op.numel
    if not 1 <= k <= n:
        raise ConfigError(f"k={k} Lanczos steps for {n} unknowns; use 1 <= k <= {n}.")
    g = torch.Generator(device="cpu").manual_seed(seed)
    q = torch.randn(n, generator=g, dtype=op.dtype, device="cpu").to(op.device)
    Q = torch.zeros(k, n, dtype=op.dtype, device=op.device)
    alphas, betas = [], []
    q = q / q.norm()
    beta = torch.zeros((), dtype=op.dtype, device=op.device)
    q_prev = torch.zeros_like(q)
    for j in range(k):
        Q[j] = q
        w = op.apply(q.reshape(1, *op.shape)).reshape(-1) - beta * q_prev
        alpha = torch.dot(w, q)
        w = w - alpha * q
        for _ in range(2):  # full re-orthogonalisation (twice is enough)
            w = w - Q[: j + 1].T @ (Q[: j + 1] @ w)
        alphas.append(alpha)
        beta = w.norm()
        if j == k - 1 or beta <= 1e-10 * abs(float(alpha)):
            break
        betas.append(beta)
        q_prev, q = q, w / beta
    m = len(alphas)
    T = torch.diag(torch.stack(alphas))
    if m > 1:
        off = torch.stack(betas[: m - 1])
        T = T + torch.diag(off, 1) + torch.diag(off, -1)
    values, S = torch.linalg.eigh(T)
    vectors = (S.T @ Q[:m]).reshape(m, *op.shape)
    return values, vectors


def ritz_right_hand_sides(values: torch.Tensor, vectors: torch.Tensor, n: int, *, seed: int = 0,
                          low_fraction: float = 0.55, boost: float = 9.0, drop_below: float = 1e-8) -> torch.Tensor:
    """Training right-hand sides: random combinations of Ritz vectors, low modes boosted, unit norm.

    As in the paper: coefficients are standard normal, the lowest ``low_fraction`` of the modes
    (``m/2 + theta`` with ``theta = m/20``) are multiplied by ``boost`` (9), and modes with Ritz
    values below ``drop_below * max`` (the kernel of singular operators) are left out.

    Returns
    -------
    [n, *shape] right-hand sides with unit 2-norm.
    """
    keep = values > drop_below * values.abs().max()
    vals, vecs = values[keep], vectors[keep]
    m = vals.numel()
    g = torch.Generator(device="cpu").manual_seed(seed)
    coef = torch.randn(n, m, generator=g, dtype=vecs.dtype, device="cpu").to(vecs.device)
    coef[:, : int(round(low_fraction * m))] *= boost
    rhs = (coef @ vecs.reshape(m, -1)).reshape(n, *vecs.shape[1:])
    return _unit(rhs)


def dcdm_loss(net: nn.Module, op: LinearOperator, b: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``||b - A q (q^T b)/(q^T A q)||^2`` with ``q = net(b)``, ``b : [B, *shape]``.

    Invariant to the scale of ``q``; ``b`` is expected with unit norm.

    References
    ----------
    .. [1] A. Kaneda et al., ICML 2023, eq. (6).
    """
    x = _rms_unit(b).unsqueeze(1)
    condition = _condition(net, op)
    q = (net(x) if condition is None else net(x, condition))[:, 0]
    Aq = op.apply(q)
    step = batch_dot(q, b) / batch_dot(q, Aq).clamp_min(torch.finfo(q.dtype).tiny)
    res = b - step.reshape(-1, *([1] * (b.ndim - 1))) * Aq
    return batch_dot(res, res).mean()
