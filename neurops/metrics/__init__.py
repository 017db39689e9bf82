"""Metrics and losses: relative Lp / H1 for fields; DSR metrics in :mod:`neurops.metrics.dsr`."""

from neurops.metrics.dsr import (
    dominant_periods,
    evaluate_reconstruction,
    hellinger_distance,
    power_spectra,
    prediction_error,
    state_space_divergence,
)
from neurops.metrics.field import LOSSES, get_loss, relative_h1, relative_lp
from neurops.metrics.lyapunov import lyapunov_spectrum_map, lyapunov_spectrum_orbit

__all__ = ["LOSSES", "dominant_periods", "evaluate_reconstruction", "get_loss", "hellinger_distance",
           "lyapunov_spectrum_map", "lyapunov_spectrum_orbit", "power_spectra", "prediction_error", "relative_h1",
           "relative_lp", "state_space_divergence"]
