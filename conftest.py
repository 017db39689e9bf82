"""Collection settings for the whole checkout (``pytest`` also collects the package's docstring examples).

Modules that import an optional package at import time are collected only where it is installed:
the Triton kernels (Triton's wheels exist for Linux x86-64 only; the kernel tests skip elsewhere).
"""

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("triton") else ["neurops/kernels/*_triton.py"]
