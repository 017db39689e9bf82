"""Multi-channel multigrid V-cycle as a learned linear operator (MgNO's ``W``).

MgNO [1]_ parameterises a bounded linear operator ``W`` between function spaces by
one V-cycle of a multigrid method whose components are learned multi-channel
convolutions. With right-hand side ``f`` (the layer input, ``C_f`` channels) and
iterate ``u`` (``C_u`` channels), level ``l = 0 .. L-1`` (grid ``h_l = 2^l h``) does

* first step on the finest level: ``u^0 = S^{0,0} f``
* smoothing:                      ``u <- u + S^{l,i} (f_l - A^{l,i} u)``
* restriction to level ``l + 1``: ``u_{l+1} = Pi_l u_l``, ``f_{l+1} = R_l f_l``
* prolongation back up:           ``u_l <- u_l + P_l u_{l+1}``, then post-smoothing

``A`` (``C_u -> C_f``) and ``S`` (``C_f -> C_u``) are 3-point (1D), 3x3 (2D) or
3x3x3 (3D) convolutions without bias; ``Pi`` and ``R`` are the same kernels with
stride 2; ``P`` is a transposed convolution with kernel 4 and stride 2. The output
is the finest-level ``u``. As in the official code, ``f`` itself (not the residual)
is restricted. The smoothing schedule is a list of ``(pre, post)`` step counts per
level; the official Darcy schedule ``[1, 1, 1, 1, 1, 2]`` means one pre-smoothing
step on levels 0-4, two on the coarsest level, and no post-smoothing.

Grids of any size
-----------------
No padding to a multiple of ``2^(L-1)`` is done. The restriction is size-aware: a
stride-2 convolution maps ``n`` points to ``ceil(n / 2)`` (coarse node ``i`` sits
on fine node ``2 i``), and the prolongation produces ``2 ceil(n / 2)`` points that
are cropped to the ``n`` points of the finer level, keeping the same node
alignment. So 29, 61, 85, 100 or 211 points per side work with any number of
levels (levels coarser than one point stay at one point). Boundary conditions act
on every level: the convolutions pad per dimension with zeros (Dirichlet),
circularly (periodic) or by reflection (Neumann); the prolongation pads the coarse
grid by one cell the same way before the transposed convolution, so a periodic
V-cycle wraps on every level. A periodic V-cycle commutes exactly with circular
shifts by multiples of ``2^(L-1)`` when the grid size is divisible by ``2^(L-1)``
(shifts that map every coarse grid onto itself); strided restriction breaks
equivariance to other shifts, as in any multigrid method.

References
----------
.. [1] He, J., Liu, X., & Xu, J. (2024). MgNO: Efficient parameterization of linear
   operators via multigrid. International Conference on Learning Representations
   (ICLR). https://arxiv.org/abs/2310.19809
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from neurops.errors import ModelError
from neurops.layers.boundary import BoundaryLike, pad_boundary, pad_for_conv, resolve_boundary

SmoothingSchedule = Sequence["int | tuple[int, int] | Sequence[int]"]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def parse_smoothing(smoothing: SmoothingSchedule | object) -> tuple[tuple[int, int], ...]:
    """Normalise a smoothing schedule to ``((pre, post), ...)`` per level.

    Parameters
    ----------
    smoothing : sequence
        One entry per level, finest first: an int (pre-smoothing steps, no
        post-smoothing) or a pair ``(pre, post)``. The official code's
        ``--num_iteration 10 10 10 10 10 20`` is ``[1, 1, 1, 1, 1, 2]`` here. The
        coarsest level's post count must be 0 (it has nothing to prolong from). Anything
        else is one clear error, raised here (so the annotation admits any object).

    Returns
    -------
    tuple of (int, int)
    """
    if isinstance(smoothing, (str, bytes)) or not isinstance(smoothing, Sequence):
        raise TypeError(
            f"smoothing must be a list with one entry per level, e.g. [1, 1, 1, 1, 1, 2], "
            f"got {smoothing!r}"
        )
    if len(smoothing) == 0:
        raise ModelError("smoothing schedule is empty; give at least one level, e.g. [2]")
    levels: list[tuple[int, int]] = []
    for entry in smoothing:
        if isinstance(entry, int):
            pair = (int(entry), 0)
        elif isinstance(entry, Sequence) and len(entry) == 2:
            pair = (int(entry[0]), int(entry[1]))
        else:
            raise ModelError(
                f"smoothing entry {entry!r} is neither an int (pre-smoothing steps) nor a "
                "(pre, post) pair"
            )
        if min(pair) < 0:
            raise ModelError(f"smoothing steps must be >= 0, got {pair}")
        levels.append(pair)
    if levels[0][0] < 1:
        raise ModelError(
            "the finest level needs at least one pre-smoothing step (its first step u = S f "
            f"starts the cycle); got schedule {levels}"
        )
    if levels[-1][1] != 0:
        raise ModelError(
            f"the coarsest level cannot post-smooth (got {levels[-1]}); put its steps in 'pre'"
        )
    return tuple(levels)


def default_smoothing(levels: int) -> tuple[tuple[int, int], ...]:
    """The official schedule for ``levels`` levels: one pre-step, two on the coarsest.

    Parameters
    ----------
    levels : int
        Number of grid levels (>= 1).

    Returns
    -------
    tuple of (int, int)
        ``((1, 0),) * (levels - 1) + ((2, 0),)``; a single level gets ``((2, 0),)``.
    """
    if levels < 1:
        raise ModelError(f"levels must be >= 1, got {levels}")
    return ((1, 0),) * (levels - 1) + ((2, 0),)


def _conv_weight(out_ch: int, in_ch: int, kernel: int, ndim: int) -> nn.Parameter:
    """Weight [out, in, *kernel] with torch's default conv init U(+-1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(in_ch * kernel**ndim)
    w = torch.empty(out_ch, in_ch, *([kernel] * ndim))
    nn.init.uniform_(w, -bound, bound)
    return nn.Parameter(w)


class MultigridConv(nn.Module):
    """Linear operator ``f -> u`` given by one multi-channel multigrid V-cycle.

    Parameters
    ----------
    in_channels : int
        Channels ``C_f`` of the right-hand side ``f``.
    out_channels : int
        Channels ``C_u`` of the iterate ``u`` (the output).
    smoothing : sequence, optional
        Per-level schedule, finest level first (see :func:`parse_smoothing`).
        Default: ``[1, 1, 1, 1, 1, 2]`` (6 levels, the official Darcy schedule).
    boundary : str or sequence of str or mapping
        Boundary condition per spatial dimension (see
        :func:`neurops.layers.boundary.resolve_boundary`).
    ndim : int
        Number of spatial dimensions, 1, 2 or 3.
    dims : sequence of str, optional
        Dimension names, needed when ``boundary`` is a mapping.

    Shapes
    ------
    ``f : [B, C_f, *spatial] -> u : [B, C_u, *spatial]`` for any spatial size.

    References
    ----------
    .. [1] He, J., Liu, X., & Xu, J. (2024). MgNO: Efficient parameterization of
       linear operators via multigrid. ICLR 2024.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        smoothing: SmoothingSchedule | None = None,
        boundary: BoundaryLike = "dirichlet",
        ndim: int = 2,
        dims: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        if ndim not in _CONV:
            raise ModelError(f"ndim must be 1, 2 or 3, got {ndim}")
        if in_channels < 1 or out_channels < 1:
            raise ModelError(
                f"channel counts must be positive, got in={in_channels}, out={out_channels}"
            )
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.ndim = int(ndim)
        self.schedule = parse_smoothing(
            smoothing if smoothing is not None else default_smoothing(6)
        )
        self.boundary = resolve_boundary(boundary, ndim, dims)
        cf, cu = self.in_channels, self.out_channels
        n_levels = len(self.schedule)

        # smoothing steps: A: u -> f channels, S: f -> u channels
        self.pre_A = nn.ParameterList()
        self.pre_S = nn.ParameterList()
        self.post_A = nn.ParameterList()
        self.post_S = nn.ParameterList()
        for level, (pre, _post) in enumerate(self.schedule):
            for step in range(pre):
                if not (level == 0 and step == 0):
                    self.pre_A.append(_conv_weight(cf, cu, 3, ndim))
                self.pre_S.append(_conv_weight(cu, cf, 3, ndim))
        for level in range(n_levels - 1, -1, -1):  # post-smoothing runs coarse to fine
            for _ in range(self.schedule[level][1]):
                self.post_A.append(_conv_weight(cf, cu, 3, ndim))
                self.post_S.append(_conv_weight(cu, cf, 3, ndim))
        # inter-grid transfers between level l and l + 1
        self.restrict_u = nn.ParameterList(
            [_conv_weight(cu, cu, 3, ndim) for _ in range(n_levels - 1)]
        )
        self.restrict_f = nn.ParameterList(
            [_conv_weight(cf, cf, 3, ndim) for _ in range(n_levels - 1)]
        )
        # transposed-conv weight layout: [in, out, *kernel]
        self.prolong = nn.ParameterList(
            [_conv_weight(cu, cu, 4, ndim) for _ in range(n_levels - 1)]
        )

    @property
    def levels(self) -> int:
        """Number of grid levels of the V-cycle."""
        return len(self.schedule)

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, stride: int = 1) -> torch.Tensor:
        x, padding = pad_for_conv(x, self.boundary, 1)
        return _CONV[self.ndim](x, weight, stride=stride, padding=padding)

    def _smooth(
        self, u: torch.Tensor, f: torch.Tensor, A: torch.Tensor, S: torch.Tensor
    ) -> torch.Tensor:
        """One step ``u + S (f - A u)``.

        The additions go in place into the fresh convolution outputs (which autograd
        does not keep), saving two allocations of a full field per step.
        """
        residual = self._conv(u, -A).add_(f)
        return self._conv(residual, S).add_(u)

    def _prolongate(
        self, u_coarse: torch.Tensor, weight: torch.Tensor, fine: torch.Tensor
    ) -> torch.Tensor:
        """``fine + P u_coarse``: transposed conv (kernel 4, stride 2), boundary-aware.

        Dirichlet dims use the transposed conv's own cropping (zero ghost cells);
        periodic/Neumann dims get one explicit ghost cell on the coarse grid first,
        whose contribution lands on the fine boundary nodes. The sum goes in place into
        the fresh convolution output only when no crop is needed: an in-place update of
        a cropped view makes autograd clone the whole gradient (``CopySlices``).
        """
        explicit = tuple(0 if m == "dirichlet" else 1 for m in self.boundary)
        if any(explicit):
            u_coarse = pad_boundary(u_coarse, self.boundary, explicit)
        out = _CONV_T[self.ndim](u_coarse, weight, stride=2, padding=1)
        fine_shape = fine.shape[2:]
        if not any(explicit) and out.shape[2:] == fine_shape:
            return out.add_(fine)
        index = [slice(None), slice(None)]
        for e, n in zip(explicit, fine_shape):
            start = 2 * e
            index.append(slice(start, start + n))
        return out[tuple(index)] + fine

    def forward(self, f: Float[Tensor, "batch in_channel *space"]) -> Float[Tensor, "batch out_channel *space"]:
        """Apply the V-cycle.

        Parameters
        ----------
        f : [B, C_f, *spatial]

        Returns
        -------
        u : [B, C_u, *spatial]
        """
        if f.dim() != self.ndim + 2 or f.shape[1] != self.in_channels:
            raise ModelError(
                f"MultigridConv expects [B, {self.in_channels}, "
                f"{', '.join(['n'] * self.ndim)}], got shape {tuple(f.shape)}"
            )
        pre_A, pre_S = iter(self.pre_A), iter(self.pre_S)
        us: list[torch.Tensor] = []
        fs: list[torch.Tensor] = []
        u: torch.Tensor | None = None
        for level, (pre, _) in enumerate(self.schedule):
            if level > 0:
                assert u is not None
                u = self._conv(u, self.restrict_u[level - 1], stride=2)
                f = self._conv(f, self.restrict_f[level - 1], stride=2)
            for _ in range(pre):
                if u is None:
                    u = self._conv(f, next(pre_S))
                else:
                    u = self._smooth(u, f, next(pre_A), next(pre_S))
            assert u is not None
            us.append(u)
            fs.append(f)

        post_A, post_S = iter(self.post_A), iter(self.post_S)
        u = us[-1]
        for level in range(self.levels - 2, -1, -1):
            fine = us[level]
            u = self._prolongate(u, self.prolong[level], fine)
            for _ in range(self.schedule[level][1]):
                u = self._smooth(u, fs[level], next(post_A), next(post_S))
        return u

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, ndim={self.ndim}, "
            f"schedule={list(self.schedule)}, boundary={self.boundary}"
        )
