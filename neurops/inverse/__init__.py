"""Inverse problems: infer a coefficient field from sparse noisy observations of the solution,
by MAP estimation and MALA sampling in the latent space of a trained DGNO."""

from neurops.inverse.calibration import band_coverage, field_relative_l2
from neurops.inverse.checkpoint import load_dgno
from neurops.inverse.observations import (
    Observations,
    make_observations,
    observations_from_file,
    read_observations,
    write_observations,
)
from neurops.inverse.posterior import (
    InversionConfig,
    InversionResult,
    LatentPosterior,
    invert,
    mala,
    map_estimate,
    posterior_fields,
    write_posterior,
)

__all__ = [
    "InversionConfig",
    "InversionResult",
    "LatentPosterior",
    "Observations",
    "band_coverage",
    "field_relative_l2",
    "invert",
    "load_dgno",
    "make_observations",
    "mala",
    "map_estimate",
    "observations_from_file",
    "posterior_fields",
    "read_observations",
    "write_observations",
    "write_posterior",
]
