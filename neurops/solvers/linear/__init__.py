"""Linear algebra: batched operators and the solvers of ``A x = b`` on them.

The interface (:mod:`~neurops.solvers.linear.operators`) and its matrix-free stencils
(:mod:`~neurops.solvers.linear.stencil`), the variable-coefficient diffusion operator with the face
averaging every solver shares (:mod:`~neurops.solvers.linear.diffusion`), CSR matrices
(:mod:`~neurops.solvers.linear.csr`); batched preconditioned conjugate gradients
(:mod:`~neurops.solvers.linear.cg`), geometric multigrid (:mod:`~neurops.solvers.linear.coarsening`,
:mod:`~neurops.solvers.linear.multigrid`), solves differentiable by one adjoint solve
(:mod:`~neurops.solvers.linear.differentiable`) and the scipy / pyamg references
(:mod:`~neurops.solvers.linear.adapters`). Nothing here knows a particular PDE beyond
``-div(a grad u)``; :mod:`neurops.solvers.pde` builds on it.
"""

from neurops.solvers.linear.adapters import from_scipy, pyamg_solve, scipy_solve, to_scipy
from neurops.solvers.linear.cg import ConvergenceError, NotSPDError, SolveResult, jacobi_preconditioner, pcg
from neurops.solvers.linear.csr import CSROperator
from neurops.solvers.linear.differentiable import diffusion_solve, linear_solve
from neurops.solvers.linear.diffusion import FACE_MEANS, DiffusionOperator, face_coefficients
from neurops.solvers.linear.multigrid import Multigrid, multigrid_preconditioner
from neurops.solvers.linear.operators import LinearOperator, batch_dot, normalize_boundary
from neurops.solvers.linear.stencil import StencilOperator

__all__ = ["CSROperator", "ConvergenceError", "DiffusionOperator", "FACE_MEANS", "LinearOperator", "Multigrid",
           "NotSPDError", "SolveResult", "StencilOperator", "batch_dot", "diffusion_solve", "face_coefficients",
           "from_scipy", "jacobi_preconditioner", "linear_solve", "multigrid_preconditioner", "normalize_boundary",
           "pcg", "pyamg_solve", "scipy_solve", "to_scipy"]
