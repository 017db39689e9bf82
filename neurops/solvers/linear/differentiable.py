"""Differentiable linear solves: gradients by one adjoint solve instead of backpropagating through CG.

For ``u = A(w)^{-1} b`` with ``A`` symmetric and a loss ``L(u)``, the adjoint ``lam = A^{-1} dL/du``
gives ``dL/db = lam`` and, for a diffusion operator ``v^T A u = sum_f w_f (u_i - u_j)(v_i - v_j)``,
``dL/dw_f = -(u_i - u_j)(lam_i - lam_j)`` per face. Gradients with respect to the coefficient
``a`` then follow by ordinary autograd through the face averaging. Memory is O(1) in the number
of CG iterations, and the backward solve reuses the forward multigrid hierarchy.

References
----------
.. [1] M. B. Giles, N. A. Pierce, "An introduction to the adjoint approach to design",
   Flow, Turbulence and Combustion 65 (2000) 393-415.
.. [2] B. Amos, J. Z. Kolter, "OptNet: differentiable optimization as a layer in neural
   networks", ICML 2017 (implicit differentiation of a solve).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from neurops.errors import DataError
from neurops.solvers.linear.cg import Preconditioner, pcg
from neurops.solvers.linear.diffusion import DiffusionOperator, FaceMean
from neurops.solvers.linear.multigrid import Multigrid
from neurops.solvers.linear.operators import LinearOperator


def _solve(op: LinearOperator, b: torch.Tensor, precond: Preconditioner | None, opts: dict[str, Any]) -> torch.Tensor:
    return pcg(op, b, preconditioner=precond, **opts).x


class _LinearSolve(torch.autograd.Function):
    """``x = A^{-1} b`` for a fixed SPD operator; gradient w.r.t. ``b`` only."""

    @staticmethod
    def forward(ctx, b, op, precond, opts):  # type: ignore[override]
        ctx.op, ctx.precond, ctx.opts = op, precond, opts
        return _solve(op, b, precond, opts)

    @staticmethod
    def backward(ctx, grad_x):  # type: ignore[override]
        return _solve(ctx.op, grad_x.contiguous(), ctx.precond, ctx.opts), None, None, None


class _DiffusionSolve(torch.autograd.Function):
    """``u = A(w)^{-1} b`` for a diffusion operator with face weights ``w``; gradients w.r.t. ``b`` and ``w``."""

    @staticmethod
    def forward(ctx, b, boundary, mg_options, opts, *weights):  # type: ignore[override]
        op = DiffusionOperator([w.detach() for w in weights], boundary)
        precond = Multigrid(op, **mg_options) if mg_options is not None else None
        u = _solve(op, b, precond, opts)
        ctx.op, ctx.precond, ctx.opts = op, precond, opts
        ctx.save_for_backward(u)
        return u

    @staticmethod
    def backward(ctx, grad_u):  # type: ignore[override]
        (u,) = ctx.saved_tensors
        lam = _solve(ctx.op, grad_u.contiguous(), ctx.precond, ctx.opts)
        grad_w = [None] * len(ctx.op.face_weights)
        if any(ctx.needs_input_grad[4:]):
            grad_w = [-g for g in ctx.op.face_gradient(u, lam)]
        grad_b = lam if ctx.needs_input_grad[0] else None
        return (grad_b, None, None, None, *grad_w)


def linear_solve(
    op: LinearOperator,
    b: torch.Tensor,
    *,
    preconditioner: Preconditioner | None = None,
    rtol: float = 1e-10,
    maxiter: int = 1000,
) -> torch.Tensor:
    """``x = A^{-1} b`` by PCG, differentiable with respect to ``b`` (adjoint solve, ``A`` symmetric).

    Parameters
    ----------
    op : SPD operator on ``[B, *shape]``.
    b : [B, *shape] right-hand sides.
    preconditioner : optional SPD preconditioner (reused by the backward solve).
    rtol, maxiter : PCG settings for both solves.

    Returns
    -------
    x : [B, *shape]

    References
    ----------
    .. [1] M. B. Giles, N. A. Pierce, Flow, Turbulence and Combustion 65 (2000) 393-415.
    """
    return _LinearSolve.apply(b, op, preconditioner, {"rtol": rtol, "maxiter": maxiter})


def diffusion_solve(
    a: torch.Tensor,
    f: torch.Tensor,
    *,
    boundary: str | Sequence[str] | Mapping[str, str] = "dirichlet",
    mean: FaceMean = "arithmetic",
    rtol: float = 1e-10,
    maxiter: int = 500,
    multigrid: bool | Mapping[str, Any] = True,
) -> torch.Tensor:
    """Solve ``-div(a grad u) = f`` on a node grid, differentiable w.r.t. ``a`` and ``f``.

    Parameters
    ----------
    a : [B, *R] positive coefficient at the nodes (boundary nodes included), 1-3 spatial axes.
    f : [B, *R] forcing at the nodes (values on Dirichlet boundary nodes are unused).
    boundary : per-axis condition (:func:`neurops.solvers.linear.operators.normalize_boundary`); Dirichlet
        means ``u = 0`` there.
    mean : face averaging of ``a`` (the same as :func:`neurops.solvers.linear.diffusion.face_coefficients`).
    rtol, maxiter : PCG tolerance (relative residual) and iteration cap, forward and adjoint.
    multigrid : ``True`` for the default V-cycle preconditioner, a dict of
        :class:`~neurops.solvers.linear.multigrid.Multigrid` options, or ``False`` for plain CG.

    Returns
    -------
    u : [B, *R] solution on the full node grid, zero on Dirichlet boundary nodes.

    Notes
    -----
    Pure Neumann/periodic problems are singular: pass a forcing with zero mean.

    References
    ----------
    .. [1] M. B. Giles, N. A. Pierce, "An introduction to the adjoint approach to design",
       Flow, Turbulence and Combustion 65 (2000) 393-415.
    """
    if not isinstance(f, torch.Tensor) or not isinstance(a, torch.Tensor):
        raise TypeError("diffusion_solve takes torch tensors a [B, *R] and f [B, *R].")
    if f.shape != a.shape:
        raise DataError(f"forcing f {tuple(f.shape)} and coefficient a {tuple(a.shape)} must have the same "
                         f"shape [B, *R] (node values on the full grid).")
    op = DiffusionOperator.from_coefficient(a, boundary, mean=mean)
    mg_options = None if multigrid is False else ({} if multigrid is True else dict(multigrid))
    b = op.interior(f)
    u = _DiffusionSolve.apply(b, op.boundary, mg_options, {"rtol": rtol, "maxiter": maxiter}, *op.face_weights)
    return op.embed(u)
