"""Compute kernels: one reference torch path each, and faster paths chosen at run time."""

from neurops.kernels._common import check_modes, max_modes
from neurops.kernels.spectral import spectral_conv, spectral_conv_reference

__all__ = ["check_modes", "max_modes", "spectral_conv", "spectral_conv_reference"]
