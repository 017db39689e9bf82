"""MgNO: neural operator whose linear operators are multi-channel multigrid V-cycles.

Each layer maps ``u_{i} [B, C_i, *spatial] -> u_{i+1} [B, c, *spatial]`` by

.. math:: u_{i+1} = \\sigma\\big(W_i u_i + K_i u_i + b_i\\big),

with ``W_i`` one V-cycle (:class:`~neurops.layers.multigrid.MultigridConv`), ``K_i``
a pointwise (1x1) map and ``b_i`` a bias. There is no lifting: the input field is the
right-hand side of the first V-cycle. A bias-free pointwise head maps the last layer's
``c`` channels to the output channels.

Resolution: the V-cycle's 3x3 stencils and stride-2 transfers are defined in grid cells.
Without ``reference_resolution`` every V-cycle runs on the input's own grid, so on a grid
twice as fine each stencil spans half the physical distance and the trained operator
changes (declared ``fixed_grid``). With ``reference_resolution`` (the training grid;
``OperatorTask`` fills it in) the V-cycles run on that grid
(:func:`~neurops.layers.resample.on_grid`): a finer input is sampled onto it and each
V-cycle's output interpolated back, while the pointwise maps ``K_i``, the activations and
the head act at every point of the input grid; a coarser input is interpolated up to the
training grid and the whole model runs there. Every V-cycle then keeps the physical grid
sizes of its levels, and on the reference points of a finer nested grid the model gives
exactly its training-grid prediction. This adds no parameters: the two variants share
their weights.

References
----------
.. [1] He, J., Liu, X., & Xu, J. (2024). MgNO: Efficient parameterization of linear
   operators via multigrid. International Conference on Learning Representations
   (ICLR). https://arxiv.org/abs/2310.19809
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neurops.errors import ModelError
from neurops.layers.activations import get_activation
from neurops.layers.boundary import BoundaryLike, resolve_boundary
from neurops.layers.multigrid import (
    MultigridConv,
    SmoothingSchedule,
    default_smoothing,
    parse_smoothing,
)
from neurops.layers.resample import coarser, on_grid
from neurops.models.arguments import check_dtype, reference_grid
from neurops.models.registry import Presets, register

#: Paper configurations (``MGNO.from_preset(name)``, or ``preset: name`` in a model's kwargs).
#: ``darcy`` is the official rough-Darcy model (572,661 parameters for 1 input and 1 output
#: channel). ``navier_stokes`` and ``helmholtz`` keep the official width, depth, levels and
#: boundary handling but omit the resolution-locked LayerNorms (and, for Helmholtz, the
#: per-level channel growth and unpadded restriction), so they stay resolution-agnostic.
PRESETS: dict[str, dict[str, Any]] = {
    "darcy": {
        "width": 24,
        "n_layers": 4,
        "smoothing": [1, 1, 1, 1, 1, 2],
        "boundary": "dirichlet",
    },
    "navier_stokes": {
        "width": 32,
        "n_layers": 5,
        "smoothing": [1, 1, 1, 2, 2],
        "boundary": "periodic",
    },
    "helmholtz": {
        "width": 20,
        "n_layers": 4,
        "smoothing": [1, 1, 1, 1, 2],
        "boundary": "neumann",
    },
}


@register("mgno")
class MGNO(Presets, nn.Module):
    """Multigrid neural operator (MgNO) for 1D, 2D and 3D fields.

    Parameters
    ----------
    in_channels : int
        Channels of the input field (the right-hand side of the first V-cycle).
    out_channels : int
        Channels of the output field.
    width : int, optional
        Channels ``c`` of every hidden layer. Default 24.
    n_layers : int, optional
        Number of nonlinear operator layers. Default 4.
    levels : int, optional
        Grid levels of every V-cycle, with the default schedule (one pre-smoothing
        step per level, two on the coarsest). Ignored if ``smoothing`` is given.
    smoothing : sequence, optional
        Per-level smoothing schedule, finest first: ints (pre-smoothing steps) or
        ``(pre, post)`` pairs, e.g. ``[1, 1, 1, 1, 1, 2]`` (the official Darcy one,
        the default) or ``[(1, 0), (1, 1), (2, 0)]``.
    boundary : str or sequence of str or mapping, optional
        Boundary condition per spatial dimension: ``"dirichlet"`` (zero padding),
        ``"periodic"`` (circular) or ``"neumann"`` (reflect); one string for all
        dims, a list with one per dim, or the HDF5 ``{dim: condition}`` mapping
        together with ``dims``. Default ``"dirichlet"``.
    dim : int, optional
        Number of spatial dimensions (1, 2 or 3). Inferred from a per-dimension
        ``boundary`` or from ``dims``; otherwise 2.
    dims : sequence of str, optional
        Names of the spatial dimensions (the HDF5 ``dims`` attribute).
    activation : str, optional
        ``"gelu"`` (default), ``"relu"``, ``"tanh"``, ``"silu"`` or ``"identity"``.
    channels_last : bool, optional
        Run 2D/3D convolutions in channels-last memory format (faster on CPU with
        oneDNN). Inputs and outputs keep the caller's layout semantics
        ``[B, C, *spatial]``. Default True.
    reference_resolution : sequence of int, optional
        Points per axis of the grid the V-cycles run on (the training grid). ``None``
        (default): the input's own grid, today's grid-unit behaviour (``fixed_grid``).
        Adds no parameters.

    Shapes
    ------
    ``x : [B, in_channels, *spatial] -> [B, out_channels, *spatial]`` for any grid
    size (see :mod:`neurops.layers.multigrid` for how odd sizes are handled).

    References
    ----------
    .. [1] He, J., Liu, X., & Xu, J. (2024). MgNO: Efficient parameterization of
       linear operators via multigrid. ICLR 2024. https://arxiv.org/abs/2310.19809

    Examples
    --------
    >>> sum(p.numel() for p in MGNO.from_preset("darcy").parameters())  # the official rough-Darcy model
    572661
    """

    presets = PRESETS
    paper_name = "MgNO"
    #: refined per instance: "function_space" with ``reference_resolution``
    resolution_behaviour = "fixed_grid"

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        width: int = 24,
        n_layers: int = 4,
        levels: int | None = None,
        smoothing: SmoothingSchedule | None = None,
        boundary: BoundaryLike = "dirichlet",
        dim: int | None = None,
        dims: Sequence[str] | None = None,
        activation: str = "gelu",
        channels_last: bool = True,
        reference_resolution: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self._check_sizes(in_channels, out_channels, width, n_layers, levels, smoothing)
        ndim = self._infer_dim(dim, boundary, dims)
        try:
            schedule = parse_smoothing(smoothing) if smoothing is not None else default_smoothing(levels or 6)
            self.boundary = resolve_boundary(boundary, ndim, dims)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"invalid MgNO configuration: {exc}") from exc

        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.width = int(width)
        self.n_layers = int(n_layers)
        self.ndim = ndim
        self.schedule = schedule
        # channels-last layouts exist for 4D and 5D tensors only
        self.channels_last = bool(channels_last) and ndim in (2, 3)

        self.reference_resolution = reference_grid("MgNO", reference_resolution, ndim,
                                                   "model_kwargs.dim, or a boundary per axis")
        #: how predictions behave on another grid (read by ``neurops predict``)
        self.resolution_behaviour = "fixed_grid" if reference_resolution is None else "function_space"

        channels = [self.in_channels] + [self.width] * self.n_layers
        self.vcycles = nn.ModuleList(
            MultigridConv(c_in, self.width, schedule, self.boundary, ndim)
            for c_in in channels[:-1]
        )
        self.pointwise = nn.ModuleList(
            _pointwise_conv(c_in, self.width, ndim, bias=True) for c_in in channels[:-1]
        )
        self.act = get_activation(activation)
        self.head = _pointwise_conv(self.width, self.out_channels, ndim, bias=False)

    @staticmethod
    def _check_sizes(in_channels: int, out_channels: int, width: int, n_layers: int, levels: int | None,
                     smoothing: SmoothingSchedule | None) -> None:
        """One ``ModelError`` for a size below 1 or a smoothing schedule of another depth than ``levels``."""
        if levels is not None and smoothing is not None and len(smoothing) != levels:
            raise ModelError(
                f"levels={levels} but the smoothing schedule has {len(smoothing)} entries; "
                "give one of them, or a schedule with one entry per level"
            )
        if in_channels < 1 or out_channels < 1:
            raise ModelError(
                f"MgNO needs in_channels >= 1 and out_channels >= 1, got "
                f"{in_channels} and {out_channels}"
            )
        if width < 1 or n_layers < 1:
            raise ModelError(f"MgNO needs width >= 1 and n_layers >= 1, got {width} and {n_layers}")

    @classmethod
    def preset_arguments(cls, preset: str, **overrides: Any) -> dict[str, Any]:
        """As :meth:`Presets.preset_arguments`; an explicit ``levels`` without ``smoothing`` replaces the
        preset's schedule by the default one of that depth."""
        arguments = super().preset_arguments(preset, **overrides)
        if overrides.get("levels") is not None and overrides.get("smoothing") is None:
            arguments.pop("smoothing", None)
        return arguments

    @staticmethod
    def _infer_dim(
        dim: int | None, boundary: BoundaryLike, dims: Sequence[str] | None
    ) -> int:
        inferred: int | None = None
        if dims is not None:
            inferred = len(dims)
        elif not isinstance(boundary, (str, Mapping)) and isinstance(boundary, Sequence):
            inferred = len(boundary)
        if dim is None:
            dim = inferred if inferred is not None else 2
        elif inferred is not None and inferred != dim:
            raise ModelError(
                f"dim={dim} disagrees with the {inferred} dimension(s) given by "
                "boundary/dims; give one boundary condition per spatial dimension"
            )
        if dim not in (1, 2, 3):
            raise ModelError(f"MgNO supports 1, 2 or 3 spatial dimensions, got dim={dim}")
        return int(dim)

    @property
    def levels(self) -> int:
        """Grid levels of every V-cycle."""
        return len(self.schedule)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the operator.

        Parameters
        ----------
        x : [B, in_channels, *spatial]

        Returns
        -------
        [B, out_channels, *spatial]
        """
        check_dtype("MgNO", x, self)
        if x.dim() != self.ndim + 2 or x.shape[1] != self.in_channels:
            raise ModelError(
                f"MgNO expects input [B, {self.in_channels}, {self.ndim} spatial dims], got "
                f"shape {tuple(x.shape)}; check in_channels/dim against the data"
            )
        grid = self.reference_resolution
        if grid is not None and coarser(x.shape[2:], grid, self.boundary):
            return on_grid(self.forward, x, grid, self.boundary)
        if self.channels_last:
            x = _channels_last(x)
        u = x
        for vcycle, pointwise in zip(self.vcycles, self.pointwise):
            w = vcycle(u) if grid is None else on_grid(vcycle, u, grid, self.boundary)
            u = self.act(w.add_(_pointwise(u, pointwise.weight, pointwise.bias)))
        return _pointwise(u, self.head.weight, None).contiguous()


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` with channels-last strides, also when it has a single channel.

    ``Tensor.contiguous(memory_format=...)`` leaves a one-channel tensor with
    channels-first strides (both layouts are "contiguous"), and convolutions then
    pick channels-first for their outputs; an explicit copy fixes the strides.
    """
    fmt = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
    out = torch.empty(x.shape, dtype=x.dtype, device=x.device, memory_format=fmt)
    return out.copy_(x)


def _pointwise(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """1x1 convolution ``[B, C_in, *s] -> [B, C_out, *s]`` as one GEMM over channels.

    With channels-last inputs the channel axis is innermost in memory, so moving it
    last is free and ``F.linear`` is a single matrix product (about twice as fast as
    a 1x1 ``conv2d`` forward + backward on CPU); the result is channels-last again.
    """
    w = weight.reshape(weight.shape[0], weight.shape[1])
    return F.linear(x.movedim(1, -1), w, bias).movedim(-1, 1)


def _pointwise_conv(c_in: int, c_out: int, ndim: int, bias: bool) -> nn.Module:
    """1x1 convolution module of the right dimension (only its parameters are used)."""
    cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[ndim]
    return cls(c_in, c_out, kernel_size=1, bias=bias)
