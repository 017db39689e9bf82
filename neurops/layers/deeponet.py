"""DeepONet and MultiONet heads and field encoders (DGNO's "shortcut" activations: :mod:`neurops.layers.activations`).

A DeepONet [1]_ evaluates an operator output at query points ``x`` as the inner product of a
*trunk* network of ``x`` and a *branch* network of the (encoded) input function:

.. math:: u(x; \\beta) = \\langle t(x), b(\\beta) \\rangle + c .

A MultiONet [2]_ takes the inner product at several hidden layers of trunk and branch (which
have equal width) and combines them with learnable scalar weights,

.. math:: u(x; \\beta) = \\frac{1}{l} \\sum_{k=1}^{l} w_k \\langle t_k(x), b_k(\\beta) \\rangle + c ,

over the last ``l`` hidden layers, with the ``w_k`` initialised to zero. It costs only
``l + 1`` parameters more than a DeepONet of the same width.

Both heads map ``x : [N, d]`` (points shared by the batch) or ``[B, N, d]`` (points per
sample) and ``beta : [B, m]`` to ``[B, N, C]``. ``value_and_grad`` also returns the spatial
gradient ``[B, N, C, d]`` by forward-mode differentiation of the trunk only, so its cost
does not grow with the batch. Several output channels split the hidden features into ``C``
groups, one inner product per group: equal groups when ``C`` divides the width, otherwise the
first ``width % C`` groups have one feature more (a width of 100 and 3 outputs: 34, 33, 33).

References
----------
.. [1] L. Lu, P. Jin, G. Pang, Z. Zhang, G. E. Karniadakis, "Learning nonlinear operators via
   DeepONet based on the universal approximation theorem of operators", Nature Machine
   Intelligence 3, 218-229 (2021).
.. [2] Y. Zang, P.-S. Koutsourelakis, "DGenNO: a novel physics-aware neural operator for
   solving forward and inverse PDE problems based on deep, generative probabilistic
   modeling", J. Comput. Phys. 538, 114137 (2025), arXiv:2502.06250.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from jaxtyping import Float
from torch import Tensor, nn

from neurops.errors import ConfigError, ModelError
from neurops.layers.activations import ACTIVATIONS, SiLUId, SiLUSin, TanhSin, get_activation
from neurops.layers.resample import resample

__all__ = [
    "ACTIVATIONS",
    "ConvFieldEncoder",
    "DeepONet",
    "MLP",
    "MLPFieldEncoder",
    "MultiONet",
    "SiLUId",
    "dirichlet_factor",
    "SiLUSin",
    "TanhSin",
    "get_activation",
]

Domain = Sequence[tuple[float, float]]


class MLP(nn.Module):
    """Fully connected network that can return all its hidden activations.

    Parameters
    ----------
    in_features : input width.
    hidden : widths of the hidden layers (each followed by the activation).
    out_features : width of a final linear layer (None: no output layer, the last hidden
        activation is the output).
    activation : name in ``ACTIVATIONS``.
    """

    def __init__(self, in_features: int, hidden: Sequence[int], out_features: int | None = None,
                 activation: str = "tanh") -> None:
        super().__init__()
        widths = [int(in_features), *map(int, hidden)]
        if len(widths) < 2 and out_features is None:
            raise ConfigError("an MLP needs at least one hidden layer or an output layer.")
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.acts = nn.ModuleList(get_activation(activation) for _ in self.linears)
        self.out = nn.Linear(widths[-1], int(out_features)) if out_features is not None else None

    def hidden_states(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations after every hidden layer, ``[..., width]`` each."""
        states = []
        for lin, act in zip(self.linears, self.acts):
            x = act(lin(x))
            states.append(x)
        return states

    def forward(self, x: Float[Tensor, "*batch in_feature"]) -> Float[Tensor, "*batch out_feature"]:
        for lin, act in zip(self.linears, self.acts):
            x = act(lin(x))
        return self.out(x) if self.out is not None else x


def _check_inputs(x: torch.Tensor, beta: torch.Tensor, dim: int, latent: int) -> None:
    if beta.ndim != 2 or beta.shape[1] != latent:
        raise ModelError(f"beta must have shape [B, {latent}], got {tuple(beta.shape)}.")
    if x.ndim not in (2, 3) or x.shape[-1] != dim:
        raise ModelError(f"query points must have shape [N, {dim}] or [B, N, {dim}], got {tuple(x.shape)}.")
    if x.ndim == 3 and x.shape[0] != beta.shape[0]:
        raise ModelError(f"per-sample points [B, N, d] need B = {beta.shape[0]} (the batch of beta), "
                         f"got {x.shape[0]}.")


def _grouped_inner(t: torch.Tensor, b: torch.Tensor, groups: int) -> torch.Tensor:
    """Inner products per feature group: t [N, H] or [B, N, H], b [B, H] -> [B, N, groups].

    Groups of ``H // groups`` features, the first ``H % groups`` of them one feature larger.
    """
    width, extra = divmod(b.shape[-1], groups)
    if extra:
        sizes = [width + 1] * extra + [width] * (groups - extra)
        pattern = "nh,bh->bn" if t.ndim == 2 else "bnh,bh->bn"
        return torch.stack([torch.einsum(pattern, tg, bg) for tg, bg in zip(t.split(sizes, dim=-1),
                                                                          b.split(sizes, dim=-1))], dim=-1)
    bg = b.reshape(b.shape[0], groups, width)
    if t.ndim == 2:
        return torch.einsum("ngh,bgh->bng", t.reshape(t.shape[0], groups, width), bg)
    return torch.einsum("bngh,bgh->bng", t.reshape(*t.shape[:2], groups, width), bg)


class _InnerProductHead(nn.Module):
    """Shared machinery: trunk features of x, branch features of beta, combined by ``combine``."""

    trunk: MLP
    branch: MLP
    dim: int
    latent_dim: int
    out_channels: int

    def _trunk_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError

    def _branch_features(self, beta: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError

    def _combine(self, trunk: Sequence[torch.Tensor], branch: Sequence[torch.Tensor],
                 with_bias: bool = True) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: Float[Tensor, "*_sample points _dim"],
                beta: Float[Tensor, "batch _latent"]) -> Float[Tensor, "batch points out_channel"]:
        """Evaluate the head.

        Parameters
        ----------
        x : [N, d] points shared by the batch, or [B, N, d] points per sample.
        beta : [B, m] branch inputs (latent codes).

        Returns
        -------
        u : [B, N, C]
        """
        _check_inputs(x, beta, self.dim, self.latent_dim)
        return self._combine(self._trunk_features(x), self._branch_features(beta))

    def value_and_grad(
        self, x: Float[Tensor, "*_sample points dim"], beta: Float[Tensor, "batch _latent"]
    ) -> tuple[Float[Tensor, "batch points out_channel"], Float[Tensor, "batch points out_channel dim"]]:
        """Value and spatial gradient, differentiable w.r.t. parameters and ``beta``.

        Parameters
        ----------
        x : [N, d] or [B, N, d]
        beta : [B, m]

        Returns
        -------
        u : [B, N, C]
        grad : [B, N, C, d], ``du_c / dx_i``.
        """
        _check_inputs(x, beta, self.dim, self.latent_dim)
        branch = self._branch_features(beta)
        trunk = None
        grads = []
        for i in range(self.dim):
            tangent = torch.zeros_like(x)
            tangent[..., i] = 1.0
            trunk, dtrunk = torch.func.jvp(lambda p: tuple(self._trunk_features(p)), (x,), (tangent,))
            grads.append(self._combine(dtrunk, branch, with_bias=False))
        assert trunk is not None
        return self._combine(trunk, branch), torch.stack(grads, dim=-1)


class MultiONet(_InnerProductHead):
    """MultiONet head: weighted inner products of the last ``sum_layers`` hidden layers [2]_.

    Parameters
    ----------
    latent_dim : width m of the branch input ``beta``.
    dim : spatial dimension d of the query points.
    width : hidden width H of trunk and branch, split into ``out_channels`` groups of features (equal
        when divisible, else differing by one), so at least ``out_channels``.
    depth : number of hidden layers of trunk and branch.
    out_channels : C, number of output fields.
    sum_layers : l, how many of the last hidden layers contribute (default: all).
    activation : trunk and branch activation (``tanh_sin`` as in [2]_).

    Notes
    -----
    Shapes: ``x : [N, d]`` or ``[B, N, d]``, ``beta : [B, m]`` -> ``[B, N, C]``.
    """

    def __init__(self, latent_dim: int, dim: int, width: int = 100, depth: int = 5, out_channels: int = 1,
                 sum_layers: int | None = None, activation: str = "tanh_sin") -> None:
        super().__init__()
        if width < out_channels:
            raise ConfigError(f"MultiONet width {width} must be at least out_channels {out_channels}: each output "
                              f"takes the inner product of its own group of the width's hidden features.")
        sum_layers = depth if sum_layers is None else int(sum_layers)
        if not 1 <= sum_layers <= depth:
            raise ConfigError(f"sum_layers must be between 1 and depth={depth}, got {sum_layers}.")
        self.latent_dim, self.dim, self.out_channels, self.sum_layers = latent_dim, dim, out_channels, sum_layers
        self.trunk = MLP(dim, [width] * depth, activation=activation)
        self.branch = MLP(latent_dim, [width] * depth, activation=activation)
        self.layer_weights = nn.Parameter(torch.zeros(sum_layers))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def _trunk_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.trunk.hidden_states(x)[-self.sum_layers:]

    def _branch_features(self, beta: torch.Tensor) -> list[torch.Tensor]:
        return self.branch.hidden_states(beta)[-self.sum_layers:]

    def _combine(self, trunk: Sequence[torch.Tensor], branch: Sequence[torch.Tensor],
                 with_bias: bool = True) -> torch.Tensor:
        out = sum(w * _grouped_inner(t, b, self.out_channels)
                  for w, t, b in zip(self.layer_weights, trunk, branch)) / self.sum_layers
        return out + self.bias if with_bias else out


class DeepONet(_InnerProductHead):
    """DeepONet head: one inner product of the trunk and branch outputs [1]_.

    Parameters
    ----------
    latent_dim : width m of the branch input.
    dim : spatial dimension d.
    width : hidden width of trunk and branch.
    depth : hidden layers of trunk and branch.
    basis : number p of basis functions per output channel (final linear layers have p*C units).
    out_channels : C.
    activation : name in ``ACTIVATIONS``.
    """

    def __init__(self, latent_dim: int, dim: int, width: int = 100, depth: int = 4, basis: int = 100,
                 out_channels: int = 1, activation: str = "tanh") -> None:
        super().__init__()
        self.latent_dim, self.dim, self.out_channels = latent_dim, dim, out_channels
        self.trunk = MLP(dim, [width] * depth, basis * out_channels, activation=activation)
        self.branch = MLP(latent_dim, [width] * depth, basis * out_channels, activation=activation)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def _trunk_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.trunk(x)]

    def _branch_features(self, beta: torch.Tensor) -> list[torch.Tensor]:
        return [self.branch(beta)]

    def _combine(self, trunk: Sequence[torch.Tensor], branch: Sequence[torch.Tensor],
                 with_bias: bool = True) -> torch.Tensor:
        out = _grouped_inner(trunk[0], branch[0], self.out_channels)
        return out + self.bias if with_bias else out


class MLPFieldEncoder(nn.Module):
    """Encode a field on a fixed sensor grid with an MLP of its flattened values.

    Fields on another grid are first resampled to ``resolution`` (multilinear), so the encoder
    accepts any resolution.

    Parameters
    ----------
    in_channels : C of the field.
    resolution : sensor grid (spatial shape), e.g. ``(29, 29)``.
    hidden : hidden widths.
    out_features : code width.
    activation : name in ``ACTIVATIONS``.

    Notes
    -----
    Shapes: ``a : [B, C, *spatial]`` -> ``[B, out_features]``.
    """

    def __init__(self, in_channels: int, resolution: Sequence[int], hidden: Sequence[int], out_features: int,
                 activation: str = "silu") -> None:
        super().__init__()
        self.in_channels, self.resolution = in_channels, tuple(int(r) for r in resolution)
        self.net = MLP(in_channels * math.prod(self.resolution), hidden, out_features, activation=activation)

    def forward(self, a: Float[Tensor, "batch _channel *_space"]) -> Float[Tensor, "batch out_feature"]:
        _check_field(a, self.in_channels, len(self.resolution))
        return self.net(resample(a, self.resolution).flatten(1))


class ConvFieldEncoder(nn.Module):
    """Encode a field with strided convolutions (1D/2D/3D from ``len(resolution)``) and an MLP.

    Parameters
    ----------
    in_channels : C of the field.
    resolution : sensor grid the field is resampled to.
    channels : conv channels (each conv: kernel 3, stride 2, padding 1, then the activation).
    hidden : widths of the MLP after flattening.
    out_features : code width.
    activation : name in ``ACTIVATIONS``.

    Notes
    -----
    Shapes: ``a : [B, C, *spatial]`` -> ``[B, out_features]``.
    """

    def __init__(self, in_channels: int, resolution: Sequence[int], channels: Sequence[int],
                 hidden: Sequence[int], out_features: int, activation: str = "silu") -> None:
        super().__init__()
        self.in_channels, self.resolution = in_channels, tuple(int(r) for r in resolution)
        conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[len(self.resolution)]
        layers: list[nn.Module] = []
        shape = list(self.resolution)
        for c_in, c_out in zip([in_channels, *channels[:-1]], channels):
            layers += [conv(c_in, c_out, 3, stride=2, padding=1), get_activation(activation)]
            shape = [(s + 1) // 2 for s in shape]
        self.convs = nn.Sequential(*layers)
        self.head = MLP(int(channels[-1]) * math.prod(shape), hidden, out_features, activation=activation)

    def forward(self, a: Float[Tensor, "batch _channel *_space"]) -> Float[Tensor, "batch out_feature"]:
        _check_field(a, self.in_channels, len(self.resolution))
        return self.head(self.convs(resample(a, self.resolution)).flatten(1))


def _check_field(a: torch.Tensor, channels: int, dim: int) -> None:
    if a.ndim != dim + 2 or a.shape[1] != channels:
        raise ModelError(f"expected a field of shape [B, {channels}, {', '.join(['n'] * dim)}], "
                         f"got {tuple(a.shape)}.")


def dirichlet_factor(x: Float[Tensor, "*points dim"], domain: Domain | None = None,
                     kind: str = "sin") -> tuple[Float[Tensor, "*points"], Float[Tensor, "*points dim"]]:
    """A factor that vanishes on the boundary of a box, for exact Dirichlet conditions.

    ``u = g + m(x) * N(x)`` equals ``g`` on the boundary for any network ``N``. ``kind="sin"``
    gives :math:`m = \\prod_i \\sin(\\pi \\xi_i)` as in DGNO [2]_, ``kind="poly"`` gives
    :math:`m = \\prod_i 4 \\xi_i (1 - \\xi_i)`, with :math:`\\xi` the coordinates scaled to [0, 1].

    Parameters
    ----------
    x : [..., d] points.
    domain : ``d`` pairs ``(low, high)`` (default unit cube).
    kind : ``"sin"`` or ``"poly"``.

    Returns
    -------
    m : [...] the factor.
    grad_m : [..., d] its gradient.
    """
    dim = x.shape[-1]
    dom = [(0.0, 1.0)] * dim if domain is None else [(float(lo), float(hi)) for lo, hi in domain]
    if len(dom) != dim or any(hi <= lo for lo, hi in dom):
        raise ConfigError(f"domain must be {dim} (low, high) pairs with low < high, got {domain}.")
    lo = torch.tensor([d[0] for d in dom], dtype=x.dtype, device=x.device)
    width = torch.tensor([d[1] - d[0] for d in dom], dtype=x.dtype, device=x.device)
    xi = (x - lo) / width
    if kind == "sin":
        fac, dfac = torch.sin(math.pi * xi), math.pi * torch.cos(math.pi * xi) / width
    elif kind == "poly":
        fac, dfac = 4.0 * xi * (1.0 - xi), 4.0 * (1.0 - 2.0 * xi) / width
    else:
        raise ConfigError(f"unknown Dirichlet factor kind {kind!r}; choose 'sin' or 'poly'.")
    m = fac.prod(-1)
    grads = []
    for i in range(dim):
        others = torch.cat([fac[..., :i], fac[..., i + 1:]], dim=-1).prod(-1)
        grads.append(dfac[..., i] * others)
    return m, torch.stack(grads, dim=-1)
