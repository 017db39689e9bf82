"""Assembled operators and dynamics models, with a registry (``build(name, **kwargs)``)."""

from neurops.models.registry import (
    MODELS,
    RESOLUTION_BEHAVIOURS,
    Presets,
    available,
    build,
    get_class,
    register,
    resolution_behaviour,
    spec_of,
)

# model modules (one import line each; importing registers them) -------------------------
from neurops.models import fno  # noqa: E402,F401
from neurops.models import lsm  # noqa: E402,F401
from neurops.models import mgno  # noqa: E402,F401
from neurops.models import plrnn  # noqa: E402,F401
from neurops.models import dgno  # noqa: E402,F401
from neurops.models import dcdm  # noqa: E402,F401
from neurops.models import external  # noqa: E402,F401
from neurops.models import unet  # noqa: E402,F401

__all__ = [
    "MODELS",
    "Presets",
    "RESOLUTION_BEHAVIOURS",
    "available",
    "build",
    "get_class",
    "register",
    "resolution_behaviour",
    "spec_of",
]
