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

# model modules (one import line each; importing registers them, in this order) -----------
# isort: off
from neurops.models import fno  # noqa: E402,F401
from neurops.models import lsm  # noqa: E402,F401
from neurops.models import mgno  # noqa: E402,F401
from neurops.models import plrnn  # noqa: E402,F401
from neurops.models import dgno  # noqa: E402,F401
from neurops.models import dcdm  # noqa: E402,F401
from neurops.models import external  # noqa: E402,F401
from neurops.models import unet  # noqa: E402,F401
# isort: on

from neurops.models.dcdm import DCDMNet  # noqa: E402
from neurops.models.dgno import DGNO  # noqa: E402
from neurops.models.fno import FNO  # noqa: E402
from neurops.models.lsm import LSM  # noqa: E402
from neurops.models.mgno import MGNO  # noqa: E402
from neurops.models.piecewise_linear import PiecewiseLinearRNN, stack_members  # noqa: E402
from neurops.models.plrnn import ALRNN, PLRNN, DendPLRNN  # noqa: E402
from neurops.models.shallow_plrnn import ClippedShallowPLRNN, ShallowPLRNN  # noqa: E402
from neurops.models.unet import FunctionSpaceUNet, UNet  # noqa: E402

__all__ = [
    "ALRNN",
    "DCDMNet",
    "DGNO",
    "FNO",
    "LSM",
    "MGNO",
    "MODELS",
    "PLRNN",
    "RESOLUTION_BEHAVIOURS",
    "ClippedShallowPLRNN",
    "DendPLRNN",
    "FunctionSpaceUNet",
    "PiecewiseLinearRNN",
    "Presets",
    "ShallowPLRNN",
    "UNet",
    "available",
    "build",
    "get_class",
    "register",
    "resolution_behaviour",
    "spec_of",
    "stack_members",
]
