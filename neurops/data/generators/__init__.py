"""Data generators (``neurops data generate NAME``); each module registers itself."""

from neurops.data.generators.base import GENERATORS, get_generator, register_generator

# generator modules (one import line each; importing registers them, in this order) ----
# isort: off
import neurops.data.generators.darcy  # noqa: F401  (registers "darcy")
import neurops.data.generators.chaotic  # noqa: F401  (lorenz63, rossler, lorenz96, kuramoto_sivashinsky)
import neurops.data.generators.burgers  # noqa: F401  (registers "burgers")
import neurops.data.generators.navier_stokes  # noqa: F401  (registers "navier_stokes")
# isort: on

__all__ = ["GENERATORS", "get_generator", "register_generator"]
