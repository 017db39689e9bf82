"""Resampling of fields between grids of the same domain: (bi/tri)linear and Fourier.

A grid is described per spatial dimension by its boundary condition, which fixes where
its points sit on the unit interval (see :mod:`neurops.layers.boundary`):

* ``periodic``: ``n`` points ``j / n``, ``j = 0 .. n-1`` (spacing ``1 / n``);
* ``dirichlet`` / ``neumann``: ``n`` nodes ``j / (n - 1)`` with both boundary nodes
  included (spacing ``1 / (n - 1)``), as the Darcy data's 33, 65, 129 nodes.

So 65 -> 129 nodes halves the spacing, and every node of the coarse grid is a node of
the fine one. Both resampling modes work in 1, 2 and 3 dimensions, upwards and
downwards, and map a grid onto itself exactly:

* ``linear``: piecewise-linear interpolation through the nodes (periodic dims wrap
  around). Downwards on nested grids it is injection (every ``s``-th node).
* ``fourier``: trigonometric interpolation. Periodic dims keep the Fourier modes the
  smaller grid holds (zero-padding upwards, truncation downwards, with the Nyquist
  mode split or folded so the result stays real). Non-periodic dims are first
  extended evenly (mirrored about the boundary nodes, a DCT-I), so no jump appears at
  the boundary. A field made of modes both grids hold is reproduced exactly.

References
----------
.. [1] J. Berner, M. Liu-Schiaffini, J. Kossaifi, V. Duruisseaux, B. Bonev,
   K. Azizzadenesheli, A. Anandkumar, "Principled Approaches for Extending Neural
   Architectures to Function Spaces for Operator Learning", 2025, arXiv:2506.10973
   (resampling to a reference grid, Sec. 3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from neurops.errors import ModelError
from neurops.layers.boundary import BoundaryLike, BoundaryMode, resolve_boundary

__all__ = ["Resample", "ResampleMode", "coarser", "on_grid", "cells", "coarse_size", "fine_size", "resample",
           "spacing_ratio"]

ResampleMode = Literal["linear", "fourier"]
_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


def cells(n: int, mode: BoundaryMode) -> int:
    """Number of cells of an axis with ``n`` points (its spacing is ``1 / cells``)."""
    return n if mode == "periodic" else n - 1


def spacing_ratio(shape: Sequence[int], reference: Sequence[int],
                  boundary: Sequence[BoundaryMode]) -> tuple[float, ...]:
    """``h_ref / h`` per dimension: how many times finer ``shape`` is than ``reference``.

    Parameters
    ----------
    shape : points per axis of the grid at hand.
    reference : points per axis of the reference grid (e.g. the training grid).
    boundary : canonical boundary mode per axis (fixes the grid type).

    Returns
    -------
    tuple of float, e.g. ``(2.0, 2.0)`` for 129x129 nodes against 65x65.
    """
    if not len(shape) == len(reference) == len(boundary):
        raise ModelError(f"grid {tuple(shape)}, reference {tuple(reference)} and boundary {tuple(boundary)} "
                         "must have one entry per spatial dimension")
    out = []
    for n, r, m in zip(shape, reference, boundary):
        if cells(n, m) < 1 or cells(r, m) < 1:
            raise ModelError(f"a {m} axis needs at least {1 if m == 'periodic' else 2} points; "
                             f"got grid {tuple(shape)} and reference {tuple(reference)}")
        out.append(cells(n, m) / cells(r, m))
    return tuple(out)


def coarse_size(n: int, mode: BoundaryMode, factor: int = 2) -> int:
    """Points of the grid ``factor`` times as coarse that shares every ``factor``-th point, or -1.

    ``65 -> 33`` nodes, ``64 -> 32`` periodic points (``factor=2``); -1 when no such grid
    exists (``factor`` does not divide the cells).
    """
    c = cells(n, mode)
    if factor < 1 or c < factor or c % factor:
        return -1
    return c // factor + (0 if mode == "periodic" else 1)


def fine_size(n: int, mode: BoundaryMode) -> int:
    """Points of the grid with half the spacing (``33 -> 65`` nodes, ``32 -> 64`` periodic)."""
    return 2 * n if mode == "periodic" else 2 * n - 1


def resample(x: Float[Tensor, "batch channel *_space"], size: Sequence[int], mode: str = "linear",
             boundary: BoundaryLike = "dirichlet") -> Float[Tensor, "batch channel *target"]:
    """Resample a field onto another grid of the same domain.

    Parameters
    ----------
    x : [B, C, *spatial] with 1, 2 or 3 spatial dims.
    size : points per spatial axis of the target grid.
    mode : ``"linear"`` or ``"fourier"`` (see the module docstring; checked here, with an error naming both).
    boundary : boundary condition per axis (one string for all); it fixes the grid type.

    Returns
    -------
    [B, C, *size], same dtype and device as ``x``.
    """
    ndim = x.dim() - 2
    if ndim not in _LINEAR:
        raise ModelError(f"resample expects [B, C, *spatial] with 1-3 spatial dims, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ModelError(f"resample interpolates real floating-point fields, got {x.dtype}; pass x.float().")
    size = tuple(int(s) for s in size)
    modes = resolve_boundary(boundary, ndim)
    if len(size) != ndim:
        raise ModelError(f"size {size} must give one point count per spatial dim of a field of shape "
                         f"{tuple(x.shape)}")
    for n, target, m in zip(x.shape[2:], size, modes):
        # an axis kept at its size is mapped onto itself (exact, even with no spacing: 1 node)
        if n != target and min(cells(n, m), cells(target, m)) < 1:
            raise ModelError(f"a {m} axis needs at least {1 if m == 'periodic' else 2} points; cannot resample "
                             f"{tuple(x.shape[2:])} -> {size}")
    if tuple(x.shape[2:]) == size:
        return x
    if mode == "linear":
        return _linear(x, size, modes)
    if mode == "fourier":
        for axis, (n, m) in enumerate(zip(size, modes)):
            x = _fourier_axis(x, 2 + axis, n, m)
        return x
    raise ModelError(f"unknown resampling mode {mode!r}; use 'linear' or 'fourier'")


def _linear(x: torch.Tensor, size: tuple[int, ...], modes: tuple[BoundaryMode, ...]) -> torch.Tensor:
    """Node-to-node linear interpolation; periodic axes get their first point appended as
    the last node of a closed interval, which is cropped off afterwards."""
    periodic = [m == "periodic" for m in modes]
    target = list(size)
    for axis, p in enumerate(periodic):
        if p:
            x = torch.cat([x, x.narrow(2 + axis, 0, 1)], dim=2 + axis)
            target[axis] += 1
    y = F.interpolate(x, size=tuple(target), mode=_LINEAR[len(size)], align_corners=True)
    if any(periodic):
        index = (slice(None), slice(None), *(slice(0, n) for n in size))
        y = y[index]
    return y


def _fourier_axis(x: torch.Tensor, axis: int, m: int, mode: BoundaryMode) -> torch.Tensor:
    """Trigonometric resampling of one axis to ``m`` points (even extension if not periodic)."""
    n = x.shape[axis]
    if n == m:
        return x
    if mode == "periodic":
        return _periodic_axis(x, axis, m)
    # even extension about both boundary nodes: period 2 (n - 1), then keep the first m nodes
    inner = x.narrow(axis, 1, n - 2).flip(axis) if n > 2 else x.narrow(axis, 0, 0)
    extended = torch.cat([x, inner], dim=axis)
    return _periodic_axis(extended, axis, 2 * (m - 1)).narrow(axis, 0, m)


def _periodic_axis(x: torch.Tensor, axis: int, m: int) -> torch.Tensor:
    """Resample a periodic axis of ``n`` points to ``m`` points by its Fourier modes."""
    n = x.shape[axis]
    if n == m:
        return x
    spec = torch.fft.rfft(x, dim=axis, norm="forward")
    small = min(n, m)
    keep = small // 2 + 1
    spec = spec.narrow(axis, 0, keep)
    if small % 2 == 0:
        # the small grid's Nyquist mode: the two halves +-small/2 share one real coefficient
        nyquist = spec.narrow(axis, keep - 1, 1)
        fixed = nyquist / 2 if m > n else 2 * nyquist.real.to(spec.dtype)
        spec = torch.cat([spec.narrow(axis, 0, keep - 1), fixed], dim=axis)
    return torch.fft.irfft(spec, n=m, dim=axis, norm="forward")


class Resample(nn.Module):
    """Module form of :func:`resample`: a fixed target grid or a fixed refinement factor.

    Parameters
    ----------
    size : points per axis of the target grid; or
    factor : spacing ratio ``h_in / h_out`` per axis (2 doubles the resolution: 65 -> 129
        nodes, 64 -> 128 periodic points; 0.5 halves it). Exactly one of the two.
    mode : ``"linear"`` or ``"fourier"``.
    boundary : boundary condition per axis (fixes the grid type).
    ndim : number of spatial dims (1, 2 or 3).

    Shapes
    ------
    ``[B, C, *spatial] -> [B, C, *size]``.
    """

    def __init__(self, size: Sequence[int] | None = None, factor: float | Sequence[float] | None = None,
                 mode: ResampleMode = "linear", boundary: BoundaryLike = "dirichlet", ndim: int = 2) -> None:
        super().__init__()
        if (size is None) == (factor is None):
            raise ModelError("give exactly one of size (target points per axis) and factor (refinement)")
        if mode not in ("linear", "fourier"):
            raise ModelError(f"unknown resampling mode {mode!r}; use 'linear' or 'fourier'")
        self.boundary = resolve_boundary(boundary, ndim)
        self.size = None if size is None else tuple(int(s) for s in size)
        self.factor = None if factor is None else (
            (float(factor),) * ndim if isinstance(factor, (int, float)) else tuple(float(f) for f in factor))
        if self.factor is not None and not all(0 < f < math.inf for f in self.factor):
            raise ModelError(f"factor={factor!r}: a refinement factor must be finite and > 0 (0.5 coarsens by 2).")
        self.mode = mode

    def target(self, shape: Sequence[int]) -> tuple[int, ...]:
        """Target points per axis for an input grid ``shape``."""
        if self.size is not None:
            return self.size
        out = []
        for n, f, m in zip(shape, self.factor, self.boundary):
            c = cells(n, m) * f
            if abs(c - round(c)) > 1e-9 or round(c) < 1:
                raise ModelError(f"a grid of {n} points ({m}) has no counterpart {f}x as fine; choose a "
                                 f"factor that maps its {cells(n, m)} cells to a whole number")
            out.append(int(round(c)) + (0 if m == "periodic" else 1))
        return tuple(out)

    def forward(self, x: Float[Tensor, "batch channel *space"]) -> Float[Tensor, "batch channel *target"]:
        """``x : [B, C, *spatial] -> [B, C, *target]``."""
        return resample(x, self.target(x.shape[2:]), self.mode, self.boundary)

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"factor={self.factor}"
        return f"{what}, mode={self.mode!r}, boundary={self.boundary}"



def coarser(shape: Sequence[int], reference: Sequence[int], boundary: Sequence[BoundaryMode]) -> bool:
    """Whether a grid of ``shape`` is coarser than ``reference`` along any axis."""
    return any(cells(n, m) < cells(r, m) for n, r, m in zip(shape, reference, boundary))


def on_grid(fn: Callable[[Tensor], Tensor], x: Float[Tensor, "batch in_channel *space"], grid: Sequence[int],
            boundary: BoundaryLike = "dirichlet",
            mode: ResampleMode = "linear") -> Float[Tensor, "batch out_channel *space"]:
    """Apply ``fn`` on another grid: ``resample(fn(resample(x, grid)), x's grid)``.

    Runs a block trained on a reference grid (the training grid) on inputs of any
    resolution: a finer input is sampled onto the reference grid (on nested grids linear
    resampling is injection, so the block sees exactly what it saw in training) and the
    result is interpolated back; a coarser one is interpolated up and the result sampled.
    The block's stencils keep the physical size they were trained with; what lies between
    the reference points reaches the output only through layers outside the block.

    Parameters
    ----------
    fn : maps ``[B, C, *grid] -> [B, C', *grid]``.
    x : [B, C, *spatial]
    grid : points per axis of the grid ``fn`` runs on.
    boundary, mode : as in :func:`resample`.

    Returns
    -------
    [B, C', *spatial]

    References
    ----------
    .. [1] Berner et al., "Principled Approaches for Extending Neural Architectures to
       Function Spaces for Operator Learning", 2025, arXiv:2506.10973 (resampling to a
       reference resolution).
    """
    shape = tuple(x.shape[2:])
    if shape == tuple(grid):
        return fn(x)
    return resample(fn(resample(x, grid, mode, boundary)), shape, mode, boundary)
