"""neurops: neural operators between function spaces and dynamical-systems reconstruction.

Built on PyTorch and Lightning. See https://neurops.readthedocs.io-style docs in ``docs/``.

The subpackages (``neurops.models``, ``neurops.tasks``, ...) are imported on first use, so that
``import neurops`` (and ``neurops --help``) loads neither torch nor Lightning.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: the parts of the package, bottom layer first (docs/architecture.md)
PARTS = ("errors", "registry", "systems", "configs", "utils", "kernels", "solvers", "layers", "models",
         "physics", "data", "metrics", "checkpoints", "dynamics", "inverse", "tasks", "inference", "viz", "cli")


def __getattr__(name: str) -> Any:
    if name in PARTS:
        return importlib.import_module(f"neurops.{name}")
    raise AttributeError(f"module 'neurops' has no attribute {name!r}")


__all__ = ["PARTS", "__version__", *PARTS]
