"""Data generators (``neurops data generate NAME``); each module registers itself."""

from neurops.data.generators.base import GENERATORS, get_generator, register_generator

# generator modules (one import line each) ---------------------------------------------

__all__ = ["GENERATORS", "get_generator", "register_generator"]
