"""Geometric multigrid V-cycle for batched stencil operators, as a preconditioner or solver.

The hierarchy (coarsening by two per axis on any grid size, linear interpolation and its
transpose, re-discretised ``"average"`` or ``"galerkin"`` coarse operators) is
:mod:`neurops.solvers.linear.coarsening`; the coarsest level is solved exactly by a dense
(pseudo-)inverse per sample. The V-cycle with a zero initial guess is a symmetric positive
definite preconditioner for CG.

Smoothers: damped Jacobi (``omega`` default ``2d/(2d+1)`` for star stencils, 2/3 otherwise) or
multicolour Gauss-Seidel (``"rbgs"``: red-black for star stencils, 2^d colours for full ones),
forward before and backward after the coarse correction so the cycle stays symmetric. On CUDA
tensors, star-stencil levels smooth and take residuals with one Triton kernel per sweep
(:mod:`neurops.kernels.stencil`); transfers and coarse solves stay torch operations.

References
----------
.. [1] U. Trottenberg, C. W. Oosterlee, A. Schueller, "Multigrid", Academic Press 2001,
   chapters 2 and 7 (V-cycle, smoothers).
.. [2] O. Tatebe, "The multigrid preconditioned conjugate gradient method", NASA CP-3224 (1993).
"""

from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass
from typing import Literal

import torch

from neurops.errors import ConfigError
from neurops.kernels.stencil import star_stencil
from neurops.solvers.linear.coarsening import (
    AxisCoarsening,
    average_coarse_operator,
    galerkin_coarse_operator,
    plan_axis,
    prolong,
    restrict,
)
from neurops.solvers.linear.diffusion import DiffusionOperator
from neurops.solvers.linear.operators import LinearOperator
from neurops.solvers.linear.stencil import StencilOperator

CoarseOperator = Literal["average", "galerkin"]
Smoother = Literal["jacobi", "rbgs"]


# ------------------------------------------------------------------ smoothers
def _colour_masks(shape: tuple[int, ...], full: bool, dtype: torch.dtype, device: torch.device) -> list[torch.Tensor]:
    grids = torch.meshgrid(*[torch.arange(n, device=device) for n in shape], indexing="ij")
    if not full:
        parity = sum(grids) % 2
        return [(parity == k).to(dtype) for k in (0, 1)]
    masks = []
    for combo in itertools.product((0, 1), repeat=len(shape)):
        m = torch.ones(shape, dtype=torch.bool, device=device)
        for g, k in zip(grids, combo):
            m = m & (g % 2 == k)
        masks.append(m.to(dtype))
    return masks


@dataclass
class _Level:
    op: StencilOperator
    plans: tuple[AxisCoarsening, ...] | None  # transfer to the next coarser level (None: coarsest)
    omega: float  # Jacobi damping
    inv_diag: torch.Tensor  # omega / diag
    colour_scales: list[torch.Tensor] | None = None  # mask / diag per colour (Gauss-Seidel)


class Multigrid:
    """Geometric multigrid V-cycle for a batch of SPD stencil operators.

    Calling the object applies one V-cycle with a zero initial guess, ``z = M^{-1} r`` -- a
    symmetric positive definite preconditioner for :func:`neurops.solvers.linear.cg.pcg`.

    Parameters
    ----------
    op : the fine operator, ``[B, *shape]`` (a :class:`DiffusionOperator` for ``coarse="average"``,
        any symmetric :class:`StencilOperator` for ``"galerkin"``).
    coarse : ``"average"`` (re-discretised, averaged coefficients) or ``"galerkin"`` (``P^T A P``).
    smoother : ``"jacobi"`` (damped) or ``"rbgs"`` (multicolour Gauss-Seidel).
    pre_smooth, post_smooth : smoothing sweeps before / after the coarse correction.
    omega : Jacobi damping; default ``2d/(2d+1)`` on star stencils, ``2/3`` on full ones. Damped
        Jacobi needs ``0 < omega < 2 / lambda_max(D^-1 A)`` (at most 2); on a diffusion operator
        ``lambda_max`` reaches 2 (periodic grids, fine grids), so there ``0 < omega < 1``. Only for
        ``smoother="jacobi"``.
    coarse_size : the hierarchy stops once a level has at most this many unknowns.
    max_levels : optional cap on the number of levels (>= 1).
    dtype : precision of the cycle, ``torch.float32`` or ``torch.float64`` (e.g. float32 inside a
        float64 CG: half the memory traffic, and a preconditioner does not need full precision);
        default: the operator's.

    References
    ----------
    .. [1] U. Trottenberg, C. W. Oosterlee, A. Schueller, "Multigrid", Academic Press 2001.
    .. [2] O. Tatebe, "The multigrid preconditioned conjugate gradient method", NASA CP-3224 (1993).
    """

    def __init__(
        self,
        op: StencilOperator,
        *,
        coarse: CoarseOperator = "average",
        smoother: Smoother = "jacobi",
        pre_smooth: int = 2,
        post_smooth: int = 2,
        omega: float | None = None,
        coarse_size: int = 400,
        max_levels: int | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if not isinstance(op, StencilOperator):
            raise TypeError(f"Multigrid needs a StencilOperator (or DiffusionOperator), got {type(op).__name__}; "
                            f"use PCG with a Jacobi preconditioner for CSR matrices.")
        if coarse not in ("average", "galerkin"):
            raise ConfigError(f"coarse operator {coarse!r} is unknown; use 'average' or 'galerkin'.")
        if coarse == "average" and not isinstance(op, DiffusionOperator):
            raise ConfigError("coarse='average' re-discretises a DiffusionOperator; for a general stencil use "
                             "coarse='galerkin'.")
        if smoother not in ("jacobi", "rbgs"):
            raise ConfigError(f"smoother {smoother!r} is unknown; use 'jacobi' or 'rbgs'.")
        if pre_smooth < 0 or post_smooth < 0 or pre_smooth + post_smooth == 0:
            raise ConfigError(f"pre_smooth={pre_smooth}, post_smooth={post_smooth}: use non-negative counts, "
                             f"at least one sweep in total.")
        if coarse_size < 1:
            raise ConfigError(f"coarse_size must be >= 1, got {coarse_size}.")
        if max_levels is not None and (isinstance(max_levels, bool) or not isinstance(max_levels, numbers.Integral)
                                       or max_levels < 1):
            raise ConfigError(f"max_levels must be a whole number >= 1 (1: no coarsening, the fine level solved "
                              f"directly) or None (no cap), got {max_levels!r}.")
        self.coarse, self.smoother = coarse, smoother
        self.pre_smooth, self.post_smooth = int(pre_smooth), int(post_smooth)
        self.dtype = _checked_dtype(dtype, op.dtype)
        self.omega = _checked_omega(omega, smoother, isinstance(op, DiffusionOperator))
        if dtype is not None and dtype != op.dtype:
            op = op.to(dtype=dtype)
        self.levels: list[_Level] = []
        bcs = getattr(op, "boundary", None) or tuple("periodic" if p else "dirichlet" for p in op.periodic)
        current = op
        while True:
            plans = tuple(plan_axis(n, bc) for n, bc in zip(current.shape, bcs))
            last = (current.numel <= coarse_size or not any(p.coarsened for p in plans)
                    or (max_levels is not None and len(self.levels) + 1 >= max_levels))
            self.levels.append(self._make_level(current, None if last else plans))
            if last:
                break
            if coarse == "average" and isinstance(current, DiffusionOperator):
                current = average_coarse_operator(current, plans)
            else:
                current = galerkin_coarse_operator(current, plans)
        dense = self.levels[-1].op.to_dense()
        self._coarse_inverse = torch.linalg.pinv(dense, hermitian=True)

    def _make_level(self, op: StencilOperator, plans: tuple[AxisCoarsening, ...] | None) -> _Level:
        diag = op.diagonal()
        if (diag <= 0).any():
            from neurops.errors import SolverError

            raise SolverError("the operator has a non-positive diagonal entry, so it is not symmetric positive "
                              "definite; check the coefficient field (it must be > 0).")
        full = len(op.offsets) > 2 * op.ndim
        omega = self.omega if self.omega is not None else (2 * op.ndim / (2 * op.ndim + 1) if not full else 2 / 3)
        level = _Level(op, plans, omega, omega / diag)
        if self.smoother == "rbgs":
            level.colour_scales = [m / diag for m in _colour_masks(op.shape, full, op.dtype, op.device)]
        return level

    @property
    def num_levels(self) -> int:
        """Levels of the hierarchy, the fine one included."""
        return len(self.levels)

    def _smooth(self, level: _Level, u: torch.Tensor | None, f: torch.Tensor, sweeps: int,
                reverse: bool) -> torch.Tensor:
        op = level.op
        kernel = op.kernel_path(f) == "triton"  # one fused pass per sweep (neurops.kernels.stencil)
        for _ in range(sweeps):
            if level.colour_scales is None:
                if u is None:
                    u = level.inv_diag * f
                elif kernel:
                    u = star_stencil("jacobi", op.diag, op.coeffs, op.periodic, u, f, omega=level.omega)
                else:
                    u = u.addcmul_(level.inv_diag, op.residual(u, f))
            else:
                colours = list(enumerate(level.colour_scales))
                for colour, scale in reversed(colours) if reverse else colours:
                    if u is None:
                        u = scale * f
                    elif kernel:  # star stencils: the colours are the two parities
                        u = star_stencil("colour", op.diag, op.coeffs, op.periodic, u, f, colour=colour)
                    else:
                        u = u.addcmul_(scale, op.residual(u, f))
        return u if u is not None else torch.zeros_like(f)

    def _coarse_solve(self, f: torch.Tensor) -> torch.Tensor:
        flat = f.reshape(f.shape[0], -1, 1)
        return (self._coarse_inverse @ flat).reshape(f.shape)

    def vcycle(self, f: torch.Tensor, k: int = 0) -> torch.Tensor:
        """One V-cycle from a zero guess on level ``k`` for right-hand sides ``f : [B, *shape_k]``."""
        level = self.levels[k]
        if level.plans is None:
            return self._coarse_solve(f)
        u = self._smooth(level, None, f, self.pre_smooth, reverse=False)
        r = level.op.residual(u, f) if self.pre_smooth else f
        u = u + prolong(self.vcycle(restrict(r, level.plans), k + 1), level.plans)
        return self._smooth(level, u, f, self.post_smooth, reverse=True)

    def __call__(self, r: torch.Tensor) -> torch.Tensor:
        if r.dtype != self.dtype:
            return self.vcycle(r.to(self.dtype)).to(r.dtype)
        return self.vcycle(r)


def _checked_dtype(dtype: object, op_dtype: torch.dtype) -> torch.dtype:
    """The cycle's dtype (``dtype``, else the operator's); a ``ConfigError`` unless it is float32 or float64."""
    if dtype is None and op_dtype in (torch.float32, torch.float64):
        return op_dtype
    if dtype in (torch.float32, torch.float64):
        return dtype  # type: ignore[return-value]
    given = f"dtype={dtype!r}" if dtype is not None else f"an operator of dtype {op_dtype}"
    raise ConfigError(f"Multigrid runs in float32 or float64 (its coarsest level is solved by a dense pseudo-inverse, "
                      f"its smoothers divide by the diagonal), got {given}; pass dtype=torch.float32 or "
                      f"dtype=torch.float64.")


def _checked_omega(omega: object, smoother: str, diffusion: bool) -> float | None:
    """The Jacobi damping as a float (or ``None``: the default); a ``ConfigError`` for a value that cannot make
    the V-cycle a positive definite preconditioner, or an omega given to a smoother that takes none."""
    if omega is None:
        return None
    if smoother != "jacobi":
        raise ConfigError(f"omega={omega!r} is the damping of the Jacobi smoother; smoother={smoother!r} takes "
                          "none: drop omega or use smoother='jacobi'.")
    if isinstance(omega, bool) or not isinstance(omega, numbers.Real) or not math.isfinite(omega):
        raise ConfigError(f"omega must be a number, the Jacobi damping, got {omega!r}.")
    why = ("on a diffusion operator lambda_max reaches 2 (periodic and fine grids), so 0 < omega < 1" if diffusion
           else "lambda_max is at least 1, so 0 < omega < 2, and 0 < omega < 1 is the usual range")
    if not 0 < omega < (1.0 if diffusion else 2.0):
        raise ConfigError(f"omega={omega}: damped Jacobi smooths, and keeps the V-cycle a positive definite "
                          f"preconditioner, only for 0 < omega < 2 / lambda_max(D^-1 A); {why}. Leave omega=None for "
                          "the default, 2d/(2d+1) on star stencils (0.8 in 2-D) and 2/3 on full ones.")
    return float(omega)


def multigrid_preconditioner(op: LinearOperator, **options) -> Multigrid:
    """:class:`Multigrid` with ``coarse="galerkin"`` for operators that are not diffusion operators."""
    if not isinstance(op, DiffusionOperator):
        options.setdefault("coarse", "galerkin")
    return Multigrid(op, **options)  # type: ignore[arg-type]
