"""Numerical methods used to generate data and inside physics losses, one folder per idea.

* :mod:`neurops.solvers.linear` -- linear algebra: matrix-free batched operators, preconditioned
  conjugate gradients, geometric multigrid, differentiable solves, scipy / pyamg references;
* :mod:`neurops.solvers.pde` -- PDE discretisations: finite-difference assembly, the Darcy solve;
* :mod:`neurops.solvers.timestepping` -- time steppers (RK4, ETDRK4, ...) and the ODE and
  pseudo-spectral PDE solvers built on them;
* :mod:`neurops.solvers.learned` -- the deep conjugate direction method (a learned linear solver).

``linear`` imports nothing from the other three; ``pde`` and ``learned`` build on ``linear``;
``timestepping`` stands alone. The names below are the public ones.
"""

from neurops.solvers.learned import dcdm_solve
from neurops.solvers.linear import (
    ConvergenceError,
    CSROperator,
    DiffusionOperator,
    LinearOperator,
    Multigrid,
    NotSPDError,
    SolveResult,
    StencilOperator,
    diffusion_solve,
    linear_solve,
    pcg,
)
from neurops.solvers.pde import DarcySolveInfo, diffusion_matrix, solve_darcy
from neurops.solvers.timestepping import ETDRK4, Burgers1D, KuramotoSivashinsky, NavierStokes2D, integrate

__all__ = ["ETDRK4", "Burgers1D", "CSROperator", "ConvergenceError", "DarcySolveInfo", "DiffusionOperator",
           "KuramotoSivashinsky", "LinearOperator", "Multigrid", "NavierStokes2D", "NotSPDError", "SolveResult",
           "StencilOperator", "dcdm_solve", "diffusion_matrix", "diffusion_solve", "integrate", "linear_solve", "pcg",
           "solve_darcy"]
