"""Numerical methods used to generate data and inside physics losses.

Finite-difference assembly and the Darcy solve, matrix-free batched operators,
preconditioned conjugate gradients with a geometric multigrid preconditioner, differentiable
linear solves, the deep conjugate direction method, pseudo-spectral / ETDRK4 time steppers and
ODE integrators.
"""

from neurops.solvers.darcy import DarcySolveInfo, solve_darcy
from neurops.solvers.differentiable import diffusion_solve, linear_solve
from neurops.solvers.multigrid import Multigrid
from neurops.solvers.operators import CSROperator, DiffusionOperator, StencilOperator
from neurops.solvers.pcg import ConvergenceError, NotSPDError, SolveResult

__all__ = ["CSROperator", "ConvergenceError", "DarcySolveInfo", "DiffusionOperator", "Multigrid", "NotSPDError",
           "SolveResult", "StencilOperator", "diffusion_solve", "linear_solve", "solve_darcy"]
# ``pcg`` (the function) stays in ``neurops.solvers.pcg``: re-exporting it here would shadow that module
