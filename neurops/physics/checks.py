"""The check of the tensors that the public functions of :mod:`neurops.physics` and :mod:`neurops.inverse` take.

A NumPy array, an integer tensor or a tensor of the wrong shape otherwise fails deep inside torch
(``'numpy.ndarray' object has no attribute 'to'``, an ``einsum`` operand error) or, for an integer
coefficient, is silently rounded; :func:`check_tensor` names the argument, what it must be and the fix.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import torch

from neurops.errors import ConfigError, DataError

__all__ = ["Domain", "check_at_quadrature", "check_domain", "check_tensor", "radius_range", "source_term"]

Domain = Sequence[tuple[float, float]]


def _kind(x: Any) -> str:
    """What ``x`` is, in words: ``"a numpy ndarray"``, ``"a list"``."""
    return "a " + f"{type(x).__module__.split('.')[0]} {type(x).__name__}".removeprefix("builtins ")


def check_tensor(x: Any, name: str, shape: Sequence[int | str] | str = "") -> torch.Tensor:
    """``x`` itself if it is a real floating-point torch tensor of ``shape``.

    Parameters
    ----------
    x : the argument.
    name : what it is, in the message (``"DarcyForward: a"``).
    shape : one entry per axis, an int for a size it must have, a str for any size (its name in the message,
        e.g. ``("B", 100, 25)``); or a str only shown (``"[B, *R]"``), for a number of axes checked elsewhere.

    Raises
    ------
    DataError : ``DarcyForward: a must be a floating-point torch.Tensor [B, *R], got a numpy ndarray; convert it
        with torch.as_tensor(..., dtype=torch.float64) (or float32).``
    """
    text = shape if isinstance(shape, str) else "[" + ", ".join(map(str, shape)) + "]"
    want = f"{name} must be a floating-point torch.Tensor{' ' + text if text else ''}"
    if not isinstance(x, torch.Tensor):
        raise DataError(f"{want}, got {_kind(x)}; convert it with torch.as_tensor(..., dtype=torch.float64) (or "
                        "float32).")
    if not x.is_floating_point():
        raise DataError(f"{want}, got dtype {str(x.dtype).removeprefix('torch.')}; convert it with "
                        ".to(torch.float64) (or float32).")
    if not isinstance(shape, str) and (x.ndim != len(shape) or any(
            isinstance(n, int) and n != s for n, s in zip(shape, x.shape))):
        raise DataError(f"{want}, got shape {tuple(x.shape)}.")
    return x


def check_at_quadrature(where: str, pqd: Sequence[int], vectors: Sequence[str] = (), **fields: Any) -> None:
    """Each of ``fields`` (None: left out) a floating-point tensor ``[B, P, Q]`` at the quadrature points of test
    functions whose ``grad_phi`` has shape ``pqd = (P, Q, d)``, ``[B, P, Q, d]`` for the names in ``vectors``; one
    ``B`` for all (:func:`check_tensor`'s error, named ``"{where}: {name}"``)."""
    P, Q, d = pqd
    batch: int | str = "B"
    for name, x in fields.items():
        if x is not None:
            batch = check_tensor(x, f"{where}: {name}", (batch, P, Q, d) if name in vectors else (batch, P, Q)).shape[0]


def source_term(f: Any, a: torch.Tensor, where: str) -> torch.Tensor:
    """The forcing ``f`` of a weak residual at the points of ``a [B, P, Q]``: a finite number, or a tensor
    ``[B, P, Q]`` (checked by the residual)."""
    if isinstance(f, torch.Tensor):
        return f
    if isinstance(f, bool) or not isinstance(f, numbers.Real) or not math.isfinite(f):
        raise ConfigError(f"{where}: f must be a finite number or a torch.Tensor [B, P, Q] of the forcing at the "
                          f"quadrature points, got {repr(f) if isinstance(f, numbers.Number) else _kind(f)}.")
    return torch.full_like(a, float(f))


def check_domain(domain: Domain, dim: int) -> list[tuple[float, float]]:
    dom = [(float(lo), float(hi)) for lo, hi in domain]
    if len(dom) != dim or any(hi <= lo for lo, hi in dom):
        raise ConfigError(f"domain must be {dim} (low, high) pairs with low < high, got {list(domain)}.")
    return dom


def radius_range(radius: float | tuple[float, float], domain: Domain) -> tuple[float, float]:
    """``(R_min, R_max)`` of a radius or a range; one ``ConfigError`` unless ``0 < R_min <= R_max`` fit ``domain``."""
    r_min, r_max = (radius, radius) if isinstance(radius, (int, float)) else map(float, radius)
    shortest = min(hi - lo for lo, hi in domain)
    if not 0 < r_min <= r_max < shortest / 2:
        raise ConfigError(f"radius range ({r_min}, {r_max}) must satisfy 0 < R_min <= R_max < "
                          f"{shortest / 2} (half the shortest domain side).")
    return float(r_min), float(r_max)
