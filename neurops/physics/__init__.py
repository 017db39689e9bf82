"""PDE definitions and residuals: weak forms with CSRBF test functions, strong forms."""

from neurops.physics.pdes import DarcyProblem, DarcyResiduals, LatentSolutionModel
from neurops.physics.weak_form import Particles, QuadratureBatch, WeakFormSampler

__all__ = ["DarcyProblem", "DarcyResiduals", "LatentSolutionModel", "Particles", "QuadratureBatch", "WeakFormSampler"]
