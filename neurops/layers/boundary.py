"""Boundary-condition padding for convolutions on regular grids.

A convolution of width ``2 p + 1`` needs ``p`` ghost cells beyond each side of the
domain. What those ghost cells hold *is* the boundary condition the layer sees:

=============  ==================  ======================================
condition      torch padding mode  ghost cells
=============  ==================  ======================================
``dirichlet``  ``zeros``           0 (homogeneous Dirichlet)
``periodic``   ``circular``        copies from the opposite side
``neumann``    ``reflect``         mirror image about the boundary node
=============  ==================  ======================================

The HDF5 boundary value ``"none"`` (no condition imposed by the data) pads with
zeros, like ``dirichlet``. Conditions are given per spatial dimension, so a
channel that is periodic in ``x`` and Dirichlet in ``y`` is ``("periodic",
"dirichlet")``. One implementation serves 1D, 2D and 3D fields.

References
----------
.. [1] He, J., Liu, X., & Xu, J. (2024). MgNO: Efficient parameterization of linear
   operators via multigrid. ICLR 2024. (boundary conditions through the padding
   mode of every convolution)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from neurops.errors import ModelError

BoundaryMode = Literal["dirichlet", "periodic", "neumann"]
BoundaryLike = str | Sequence[str] | Mapping[str, str]

_ALIASES: dict[str, BoundaryMode] = {
    "dirichlet": "dirichlet",
    "zeros": "dirichlet",
    "zero": "dirichlet",
    "none": "dirichlet",
    "periodic": "periodic",
    "circular": "periodic",
    "neumann": "neumann",
    "reflect": "neumann",
}

_TORCH_MODE: dict[BoundaryMode, str] = {
    "dirichlet": "constant",
    "periodic": "circular",
    "neumann": "reflect",
}


def _canonical(mode: str | object) -> BoundaryMode:
    if not isinstance(mode, str):
        raise TypeError(
            f"boundary condition must be a string, got {type(mode).__name__}; "
            f"use one of {sorted(set(_ALIASES))}"
        )
    key = mode.strip().lower()
    if key not in _ALIASES:
        raise ModelError(
            f"unknown boundary condition {mode!r}; use one of "
            "'dirichlet' (zero padding), 'periodic' (circular) or 'neumann' (reflect)"
        )
    return _ALIASES[key]


def resolve_boundary(
    boundary: BoundaryLike | object, ndim: int, dims: Sequence[str] | None = None
) -> tuple[BoundaryMode, ...]:
    """Normalise a boundary specification to one canonical mode per spatial dim.

    Parameters
    ----------
    boundary : str or sequence of str or mapping of str to str
        One condition for all dimensions (``"periodic"``), one per dimension
        (``("periodic", "dirichlet")``), or a mapping from dimension name to
        condition as stored in the HDF5 ``boundary`` attribute
        (``{"x": "periodic", "y": "dirichlet"}``; needs ``dims``). Aliases:
        ``zeros``/``none`` -> dirichlet, ``circular`` -> periodic,
        ``reflect`` -> neumann. Anything else is one clear TypeError (so the
        annotation admits any object: this function is where it is checked).
    ndim : int
        Number of spatial dimensions (1, 2 or 3).
    dims : sequence of str, optional
        Names of the spatial dimensions in order; required for a mapping.

    Returns
    -------
    tuple of str
        ``ndim`` entries from ``{"dirichlet", "periodic", "neumann"}``.
    """
    if isinstance(boundary, str):
        return (_canonical(boundary),) * ndim
    if isinstance(boundary, Mapping):
        if dims is None:
            raise ModelError(
                "a boundary mapping needs the dimension names to order it; pass dims=[...] "
                "(the 'dims' attribute of the HDF5 file) or give one condition per dimension"
            )
        missing = [d for d in dims if d not in boundary]
        if missing:
            raise ModelError(
                f"boundary mapping {dict(boundary)} has no entry for dimension(s) {missing}; "
                f"add them (e.g. {{'{missing[0]}': 'dirichlet'}})"
            )
        modes = tuple(_canonical(boundary[d]) for d in dims)
    elif isinstance(boundary, Sequence):
        modes = tuple(_canonical(b) for b in boundary)
    else:
        raise TypeError(
            f"boundary must be a string, a sequence of strings or a mapping, got "
            f"{type(boundary).__name__}"
        )
    if len(modes) != ndim:
        raise ModelError(
            f"got {len(modes)} boundary condition(s) {modes} for {ndim} spatial dimension(s); "
            "give one per dimension or a single string for all"
        )
    return modes


def _torch_mode(mode: BoundaryMode, size: int, width: int) -> str:
    """torch padding mode for ``width`` ghost cells on an axis of ``size`` points."""
    if mode == "neumann":
        if size == 1:
            # the mirror image of a single node is the node itself
            return "replicate"
        if width >= size:
            raise ModelError(
                f"reflect (neumann) padding of width {width} needs more than {width} points, "
                f"got {size}; use a larger grid or fewer multigrid levels"
            )
    elif mode == "periodic" and width > size:
        raise ModelError(
            f"circular (periodic) padding of width {width} needs at least {width} points, "
            f"got {size}; use a larger grid or fewer multigrid levels"
        )
    return _TORCH_MODE[mode]


def _pad_list(widths: Sequence[int]) -> list[int]:
    """F.pad argument (last axis first) for symmetric ``widths`` per spatial dim."""
    pad: list[int] = []
    for w in reversed(widths):
        pad += [w, w]
    return pad


def pad_boundary(
    x: Float[Tensor, "batch channel *_space"], boundary: Sequence[BoundaryMode], width: int | Sequence[int]
) -> Float[Tensor, "batch channel *padded"]:
    """Pad every spatial dimension with ghost cells set by its boundary condition.

    Parameters
    ----------
    x : [B, C, *spatial]
        Field with 1, 2 or 3 spatial dimensions.
    boundary : sequence of str
        Canonical modes per spatial dimension (see :func:`resolve_boundary`).
    width : int or sequence of int
        Number of ghost cells on each side, per dimension or for all.

    Returns
    -------
    [B, C, *(spatial + 2 * width)]
    """
    ndim = x.dim() - 2
    widths = _widths(width, ndim)
    if len(boundary) != ndim:
        raise ModelError(
            f"{len(boundary)} boundary condition(s) for a field with {ndim} spatial dims "
            f"(shape {tuple(x.shape)}); give one per spatial dimension"
        )
    modes = [
        _torch_mode(m, x.shape[2 + i], w) if w else "none"
        for i, (m, w) in enumerate(zip(boundary, widths))
    ]
    used = {m for m in modes if m != "none"}
    if not used:
        return x
    if len(used) == 1 and "circular" not in used:
        (mode,) = used
        return F.pad(x, _pad_list(widths), mode=mode)
    for i, (mode, w) in enumerate(zip(modes, widths)):
        if mode == "circular":
            x = _circular_pad_dim(x, 2 + i, w)
        elif mode != "none":
            one = [0] * ndim
            one[i] = w
            x = F.pad(x, _pad_list(one), mode=mode)
    return x


def _circular_pad_dim(x: torch.Tensor, axis: int, width: int) -> torch.Tensor:
    """Circular padding of one axis by concatenation.

    Unlike ``F.pad(mode="circular")`` this keeps a channels-last memory layout, which
    the convolutions that follow need to stay on their fast path.
    """
    n = x.shape[axis]
    return torch.cat(
        [x.narrow(axis, n - width, width), x, x.narrow(axis, 0, width)], dim=axis
    )


def pad_for_conv(
    x: Float[Tensor, "batch channel *_space"], boundary: Sequence[BoundaryMode], width: int | Sequence[int]
) -> tuple[Float[Tensor, "batch channel *padded"], tuple[int, ...]]:
    """Pad the non-Dirichlet dimensions explicitly, leave zero padding to the conv.

    Convolutions pad with zeros themselves at no extra memory traffic, so Dirichlet
    dimensions are returned as the ``padding`` argument for ``F.conv{1,2,3}d``
    and only periodic/Neumann dimensions are padded here.

    Parameters
    ----------
    x : [B, C, *spatial]
    boundary : sequence of str
        Canonical mode per spatial dimension.
    width : int or sequence of int
        Ghost cells needed on each side.

    Returns
    -------
    x_padded : [B, C, *spatial']
        ``x`` with periodic/Neumann dims padded.
    conv_padding : tuple of int
        Zero padding per spatial dimension to pass to the convolution.
    """
    ndim = x.dim() - 2
    widths = _widths(width, ndim)
    conv_padding = tuple(w if m == "dirichlet" else 0 for m, w in zip(boundary, widths))
    explicit = tuple(0 if m == "dirichlet" else w for m, w in zip(boundary, widths))
    if any(explicit):
        x = pad_boundary(x, boundary, explicit)
    return x, conv_padding


def _widths(width: int | Sequence[int], ndim: int) -> tuple[int, ...]:
    if isinstance(width, int):
        return (width,) * ndim
    widths = tuple(int(w) for w in width)
    if len(widths) != ndim:
        raise ModelError(f"got {len(widths)} padding widths for {ndim} spatial dimensions")
    return widths


class BoundaryPad(nn.Module):
    """Module form of :func:`pad_boundary`.

    Parameters
    ----------
    boundary : str or sequence of str or mapping
        See :func:`resolve_boundary`.
    width : int
        Ghost cells on each side of every dimension.
    ndim : int
        Number of spatial dimensions.
    dims : sequence of str, optional
        Dimension names, for a mapping ``boundary``.

    Shapes
    ------
    ``[B, C, *spatial] -> [B, C, *(spatial + 2 * width)]``
    """

    def __init__(
        self,
        boundary: BoundaryLike,
        width: int,
        ndim: int,
        dims: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.boundary = resolve_boundary(boundary, ndim, dims)
        self.width = int(width)

    def forward(self, x: Float[Tensor, "batch channel *_space"]) -> Float[Tensor, "batch channel *padded"]:
        """Pad ``x : [B, C, *spatial]``."""
        if x.dim() - 2 != len(self.boundary):
            raise ModelError(
                f"BoundaryPad for {len(self.boundary)}D fields got shape {tuple(x.shape)}; "
                f"expected [B, C] + {len(self.boundary)} spatial dims"
            )
        return pad_boundary(x, self.boundary, self.width)

    def extra_repr(self) -> str:
        return f"boundary={self.boundary}, width={self.width}"
