"""Learned solvers: the deep conjugate direction method (DCDM).

:mod:`~neurops.solvers.learned.dcdm` holds the solver loop, the Ritz vectors its training
right-hand sides come from, and its loss. The network is the registered model ``"dcdm"``
(:class:`neurops.models.dcdm.DCDMNet`), trained through the one training path
(:class:`neurops.tasks.DCDMTask`, ``neurops fit --config dcdm_darcy``).
"""

from neurops.solvers.learned.dcdm import dcdm_loss, dcdm_solve, ritz_right_hand_sides, ritz_vectors, stencil_features

__all__ = ["dcdm_loss", "dcdm_solve", "ritz_right_hand_sides", "ritz_vectors", "stencil_features"]
