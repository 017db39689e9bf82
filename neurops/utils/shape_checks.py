"""Run-time checking of the jaxtyping shape annotations of kernels, layers and metrics (opt-in).

The public functions and forward passes of :mod:`neurops.kernels`, :mod:`neurops.layers` and
:mod:`neurops.metrics` are annotated with shapes (``x: Float[Tensor, "batch in_channel *space"]``).
Nothing checks them unless :func:`install` is called before those modules are imported: then every
call is checked against its annotations by beartype (the ``test`` extra), and a wrong shape, rank
or dtype kind fails at the call with a ``jaxtyping.TypeCheckError`` naming the argument. The test
session does this (``tests/conftest.py``); a user can do it to find where a wrong shape enters::

    from neurops.utils.shape_checks import install
    install()
    import neurops.models  # imported after install(): checked
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch

#: the modules whose annotations :func:`install` checks (with their submodules); the Triton kernel
#: modules are left out: their functions are compiled by Triton
CHECKED_MODULES = ("neurops.kernels._common", "neurops.kernels.spectral", "neurops.kernels.spectral_fft",
                   "neurops.kernels.spectral_dft", "neurops.layers", "neurops.metrics")


def typechecker(fn: Callable[..., Any]) -> Callable[..., Any]:
    """beartype's check of ``fn`` (an int is accepted where a float is annotated).

    Code that ``torch.compile`` traces runs the check outside the graph, on the real tensors:
    the traced fake tensors would not pass it.
    """
    from beartype import BeartypeConf, beartype

    return torch.compiler.disable(beartype(conf=BeartypeConf(is_pep484_tower=True))(fn))


def install(modules: Sequence[str] = CHECKED_MODULES) -> None:
    """Check the annotations of ``modules`` (and their submodules) on every call from now on.

    Call it before anything imports them: the check is added when a module is imported.
    """
    from jaxtyping import install_import_hook

    imported = sorted(m for m in modules if m in sys.modules)
    if imported:
        raise RuntimeError(f"shape checks must be installed before importing {', '.join(imported)}.")
    install_import_hook(list(modules), f"{__name__}.typechecker")
