"""PDE discretisations and solves built on :mod:`neurops.solvers.linear`.

The scipy assembly of ``-div(a grad u)`` by second-order finite differences
(:mod:`~neurops.solvers.pde.diffusion_fd`) and the Darcy solve data generators call
(:mod:`~neurops.solvers.pde.darcy`: direct, AMG or multigrid-PCG).
"""

from neurops.solvers.pde.darcy import DARCY_METHODS, DarcySolveInfo, solve_darcy
from neurops.solvers.pde.diffusion_fd import diffusion_matrix, grid_spacing, interior

__all__ = ["DARCY_METHODS", "DarcySolveInfo", "diffusion_matrix", "grid_spacing", "interior", "solve_darcy"]
