"""Inverse problems: infer a coefficient field, with uncertainty, from sparse noisy observations.

Posteriors are sampled in the coefficients of the data generator's Gaussian random field prior
(through the true Darcy solve, the reference, or through any trained operator) or in the latent
space of a DGNO; every inversion reports convergence diagnostics and a posterior-predictive check
through the true solver. See ``docs/inverse.md``.
"""

from neurops.inverse.calibration import (
    band_coverage,
    crps_ensemble,
    field_relative_l2,
    interval_coverage,
    sliced_wasserstein,
)
from neurops.inverse.diagnostics import effective_sample_size, split_rhat
from neurops.inverse.field_posterior import FieldPosterior
from neurops.inverse.forward import DarcyForward, SurrogateForward, observe
from neurops.inverse.inversion import (
    InversionConfig,
    InversionWarning,
    PosteriorResult,
    invert_fields,
    invert_latent,
    run_chains,
)
from neurops.inverse.laplace import laplace_reference
from neurops.inverse.latent import LatentPosterior
from neurops.inverse.likelihood import GaussianLikelihood, ModelError, estimate_model_error
from neurops.inverse.mcmc import Chains, GaussianReference, map_estimate, pcn, pcnl
from neurops.inverse.observations import (
    Observations,
    make_observations,
    observations_from_file,
    read_observations,
    write_observations,
)
from neurops.inverse.prior import GRFPrior, prior_from_file
from neurops.inverse.results import read_posterior, write_posterior
from neurops.inverse.surrogate import Surrogate, load_surrogate

__all__ = [
    "Chains",
    "DarcyForward",
    "FieldPosterior",
    "GRFPrior",
    "GaussianLikelihood",
    "GaussianReference",
    "InversionConfig",
    "InversionWarning",
    "LatentPosterior",
    "ModelError",
    "Observations",
    "PosteriorResult",
    "Surrogate",
    "SurrogateForward",
    "band_coverage",
    "crps_ensemble",
    "effective_sample_size",
    "estimate_model_error",
    "field_relative_l2",
    "interval_coverage",
    "invert_fields",
    "invert_latent",
    "laplace_reference",
    "load_surrogate",
    "make_observations",
    "map_estimate",
    "observations_from_file",
    "observe",
    "pcn",
    "pcnl",
    "prior_from_file",
    "read_observations",
    "read_posterior",
    "run_chains",
    "sliced_wasserstein",
    "split_rhat",
    "write_observations",
    "write_posterior",
]
