"""Metrics and losses: relative Lp / H1 for fields; DSR metrics in :mod:`neurops.metrics.dsr`."""

from neurops.metrics.field import LOSSES, get_loss, relative_h1, relative_lp

__all__ = ["LOSSES", "get_loss", "relative_h1", "relative_lp"]
