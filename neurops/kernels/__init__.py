"""Compute kernels: one reference torch path each, and faster paths chosen at run time."""

from neurops.kernels.spectral import spectral_conv, spectral_conv_reference

__all__ = ["spectral_conv", "spectral_conv_reference"]
