"""Which implementation a kernel runs: Triton's availability and interpreter, and path overrides.

Triton is optional (the ``gpu`` extra) and imported only by the Triton kernel modules, on first use.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable

from neurops.registry import Registry

#: whether ``@triton.jit`` kernels run in Triton's interpreter (CPU tensors): Triton decides this
#: when a kernel is defined, from ``TRITON_INTERPRET=1`` in the environment
INTERPRETER = os.environ.get("TRITON_INTERPRET", "0") == "1"


def triton_available() -> bool:
    """Whether Triton is installed (``pip install 'neurops[gpu]'``)."""
    return importlib.util.find_spec("triton") is not None


def device_function(fn: Callable) -> Callable:
    """A function the kernels call: jit-compiled for GPUs, plain Python under the interpreter (which
    runs kernels as Python anyway, but re-patches ``triton.language`` at every call of a jit
    function: milliseconds each)."""
    if INTERPRETER:
        return fn
    import triton

    return triton.jit(fn)


def path_from_environment(variable: str, paths: Registry) -> str:
    """The path named by ``$variable`` (``"auto"`` when unset); one clear error for an unknown name."""
    name = os.environ.get(variable) or "auto"
    if name != "auto" and name not in paths:
        raise paths.unknown(name, what=f"{variable}={name!r} is not a path of this kernel; unset it, set it to "
                                       "'auto' or choose a path")
    return paths.canonical(name) if name != "auto" else name
