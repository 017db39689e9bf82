"""DGNO (deep generative neural operator) and the supervised MultiONet operator.

DGNO [1]_ learns from *unlabelled* coefficient fields ``a``. A deterministic encoder maps
``a`` to a bounded latent code ``beta = tanh(enc(a))`` in ``[-1, 1]^m``; two MultiONet heads
decode it:

* ``p(a | beta)``: a Bernoulli phase field for two-phase media
  (``a = a_low + (a_high - a_low) * Bernoulli(sigmoid(logit(x; beta)))``) or a Gaussian with
  mean ``a_low + (a_high - a_low) * m(x; beta)`` for smooth fields;
* ``u(x; beta)``: the PDE solution, with homogeneous Dirichlet conditions built in by a
  factor that vanishes on the boundary, and (mixed form) a flux head ``s(x; beta) ~ a grad u``
  for discontinuous coefficients.

Training (see :class:`neurops.tasks.generative.GenerativeOperatorTask`) reconstructs ``a``
and drives the weak PDE residual of ``u`` to zero; at prediction time ``forward(a)`` returns
``u`` on the grid of ``a`` (or any other grid through :meth:`DGNO.solution`). Inverse problems
search the latent space (:mod:`neurops.inverse`).

References
----------
.. [1] Y. Zang, P.-S. Koutsourelakis, "DGenNO: a novel physics-aware neural operator for
   solving forward and inverse PDE problems based on deep, generative probabilistic
   modeling", J. Comput. Phys. 538, 114137 (2025), arXiv:2502.06250.
.. [2] L. Lu, P. Jin, G. Pang, Z. Zhang, G. E. Karniadakis, "Learning nonlinear operators via
   DeepONet based on the universal approximation theorem of operators", Nature Machine
   Intelligence 3, 218-229 (2021).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from neurops.errors import ModelError
from neurops.layers.deeponet import ConvFieldEncoder, MLPFieldEncoder, MultiONet, dirichlet_factor
from neurops.models.arguments import check_dtype, check_sizes, per_axis
from neurops.models.registry import register

__all__ = ["DGNO", "MultiONetOperator", "grid_points"]

Domain = Sequence[tuple[float, float]]


def grid_points(spatial: Sequence[int], domain: Domain | None = None, *, device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Node coordinates of a uniform grid whose end nodes lie on the domain boundary.

    Parameters
    ----------
    spatial : grid shape ``(n_1, ..., n_d)``.
    domain : ``d`` pairs ``(low, high)`` (default unit cube).

    Returns
    -------
    points : [prod(spatial), d] in C order (last axis fastest), matching ``field.flatten(2)``.
    """
    domain = domain or [(0.0, 1.0)] * len(spatial)
    axes = [torch.linspace(lo, hi, int(n), device=device, dtype=dtype) for (lo, hi), n in zip(domain, spatial)]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(spatial))


def _check_sizes(model: str, in_channels: int, out_channels: int, resolution: Sequence[int], latent_dim: int,
                 encoder_hidden: Sequence[int], encoder_channels: Sequence[int], width: int, depth: int,
                 u_scale: float = 1.0) -> tuple[int, ...]:
    """The encoder's sensor grid (per axis, >= 2 points); one ``ModelError`` for a size the model cannot take."""
    check_sizes(model, in_channels=in_channels, out_channels=out_channels, latent_dim=latent_dim, width=width,
                depth=depth)
    for name, widths in (("encoder_hidden", encoder_hidden), ("encoder_channels", encoder_channels)):
        if not isinstance(widths, Sequence) or isinstance(widths, str):
            raise ModelError(f"{model}: {name} is a list of layer widths (e.g. [512, 256]), got {widths!r}.")
        check_sizes(model, **{f"{name}[{i}]": w for i, w in enumerate(widths)})
    if not (math.isfinite(u_scale) and u_scale > 0):
        raise ModelError(f"{model}: u_scale must be a finite number > 0, got {u_scale}.")
    if width < out_channels:
        raise ModelError(f"{model}: width {width} must be at least out_channels {out_channels}: the head splits its "
                         "hidden features into one group per output channel.")
    return per_axis(model, "resolution", resolution, example="[29, 29] (the sensor grid)", minimum=2)


def _make_encoder(kind: str, in_channels: int, resolution: Sequence[int], hidden: Sequence[int],
                  channels: Sequence[int], out_features: int, activation: str) -> nn.Module:
    if kind == "mlp":
        return MLPFieldEncoder(in_channels, resolution, hidden, out_features, activation)
    if kind == "cnn":
        return ConvFieldEncoder(in_channels, resolution, channels, hidden, out_features, activation)
    raise ModelError(f"unknown encoder {kind!r}; choose 'mlp' or 'cnn'.")


def _check_grid_input(a: torch.Tensor, channels: int, dim: int, name: str, model: nn.Module) -> None:
    check_dtype(name, a, model)
    if a.ndim != dim + 2 or a.shape[1] != channels:
        raise ModelError(f"{name} expects input [B, {channels}, {dim} spatial dims], got {tuple(a.shape)}.")


def _check_query(method: str, model: nn.Module, x: torch.Tensor | None, beta: torch.Tensor) -> None:
    """Refuse query points ``x`` or latent codes ``beta`` that are not tensors of the model's dtype, naming the
    argument (a NumPy array raised torch's TypeError or AttributeError deep inside the heads)."""
    for argument, value in (("x", x), ("beta", beta)):
        if value is not None:
            check_dtype(f"DGNO.{method}", value, model, argument)


@register("dgno")
class DGNO(nn.Module):
    """Deep generative neural operator: encoder, coefficient decoder and solution MultiONet [1]_.

    Parameters
    ----------
    in_channels : channels of the coefficient ``a`` (1 for the Bernoulli decoder).
    out_channels : channels of the solution ``u``.
    resolution : sensor grid of the encoder; inputs on other grids are resampled to it.
    latent_dim : m, dimension of ``beta`` (paper: 128).
    encoder : ``"mlp"`` (flattened field, paper's piecewise case) or ``"cnn"`` (smooth case).
    encoder_hidden : hidden widths of the encoder MLP (after the convolutions for ``cnn``).
    encoder_channels : conv channels of the ``cnn`` encoder.
    encoder_activation : activation of the encoder.
    width, depth, sum_layers, activation : MultiONet heads (same for all heads). A head with several
        outputs (the flux head has ``dim * out_channels``) splits the width into one group of hidden
        features per output (34, 33, 33 for the default width 100 in 3-D).
    a_likelihood : ``"bernoulli"`` (two-phase ``a`` in ``{a_low, a_high}``) or ``"gaussian"``.
    a_low, a_high : phase values (Bernoulli) or the range used to scale ``a`` (Gaussian).
    mixed_form : add the flux head ``s ~ a grad u`` (paper's piecewise case).
    dirichlet : ``"sin"`` or ``"poly"`` factor enforcing ``u = 0`` on the boundary, or ``"none"``.
    u_scale : constant multiplying the solution head (helps when ``|u|`` is far from 1).
    domain : ``d`` pairs ``(low, high)``; default unit cube.

    Notes
    -----
    Shapes: ``forward(a : [B, C_a, *spatial]) -> u : [B, C_u, *spatial]``; the heads take points
    ``x : [N, d]`` (or ``[B, N, d]``) and ``beta : [B, m]``.
    """

    #: fields are resampled to the encoder's sensor grid; the decoders are functions of coordinates
    resolution_behaviour = "function_space"

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        resolution: Sequence[int] = (29, 29),
        latent_dim: int = 128,
        encoder: Literal["mlp", "cnn"] = "mlp",
        encoder_hidden: Sequence[int] = (512, 256),
        encoder_channels: Sequence[int] = (64, 64, 64),
        encoder_activation: str = "silu",
        width: int = 100,
        depth: int = 5,
        sum_layers: int | None = None,
        activation: str = "tanh_sin",
        a_likelihood: Literal["bernoulli", "gaussian"] = "bernoulli",
        a_low: float = 5.0,
        a_high: float = 10.0,
        mixed_form: bool = True,
        dirichlet: Literal["sin", "poly", "none"] = "sin",
        u_scale: float = 1.0,
        domain: Domain | None = None,
    ) -> None:
        super().__init__()
        self.resolution = _check_sizes("DGNO", in_channels, out_channels, resolution, latent_dim, encoder_hidden,
                                       encoder_channels, width, depth, u_scale)
        self.dim = len(self.resolution)
        if mixed_form and width < self.dim * out_channels:
            raise ModelError(f"DGNO: the mixed form's flux head s ~ a grad u has dim * out_channels = {self.dim} * "
                             f"{out_channels} = {self.dim * out_channels} outputs, one group of the width's hidden "
                             f"features each, so width must be at least {self.dim * out_channels}, got {width}; raise "
                             "width or set mixed_form=False.")
        if a_likelihood not in ("bernoulli", "gaussian"):
            raise ModelError(f"unknown a_likelihood {a_likelihood!r}; choose 'bernoulli' or 'gaussian'.")
        if a_likelihood == "bernoulli" and in_channels != 1:
            raise ModelError("the Bernoulli coefficient decoder needs in_channels=1; use a_likelihood='gaussian'.")
        if dirichlet not in ("sin", "poly", "none"):
            raise ModelError(f"unknown dirichlet factor {dirichlet!r}; choose 'sin', 'poly' or 'none'.")
        if not a_high > a_low:
            raise ModelError(f"need a_high > a_low, got a_low={a_low}, a_high={a_high}.")
        if a_likelihood == "bernoulli" and not a_low > 0:
            raise ModelError(f"DGNO: the two-phase (Bernoulli) decoder's values a_low, a_high are those of the Darcy "
                             "coefficient a, which must be > 0 (-div(a grad u) = f is elliptic only then; the true "
                             f"solver refuses others), got a_low={a_low}, a_high={a_high}; give the two phases' "
                             "values, e.g. a_low=5, a_high=10.")
        self.in_channels, self.out_channels, self.latent_dim = in_channels, out_channels, latent_dim
        self.a_likelihood, self.a_low, self.a_high = a_likelihood, float(a_low), float(a_high)
        self.mixed_form, self.dirichlet, self.u_scale = bool(mixed_form), dirichlet, float(u_scale)
        self.domain = [(float(lo), float(hi)) for lo, hi in (domain or [(0.0, 1.0)] * self.dim)]
        self.encoder = _make_encoder(encoder, in_channels, self.resolution, encoder_hidden, encoder_channels,
                                     latent_dim, encoder_activation)
        head = dict(latent_dim=latent_dim, dim=self.dim, width=width, depth=depth, sum_layers=sum_layers,
                    activation=activation)
        self.a_head = MultiONet(out_channels=in_channels, **head)
        self.u_head = MultiONet(out_channels=out_channels, **head)
        self.flux_head = MultiONet(out_channels=self.dim * out_channels, **head) if mixed_form else None
        # latent statistics of the training encodings (Gaussian prior of inverse problems) and
        # typical weak residual of the trained model; filled in by the training task
        self.register_buffer("latent_mean", torch.zeros(latent_dim))
        self.register_buffer("latent_std", torch.ones(latent_dim))
        self.register_buffer("residual_rms", torch.ones(()))

    # encoder ------------------------------------------------------------------------------
    def encode(self, a: torch.Tensor) -> torch.Tensor:
        """``a : [B, C_a, *spatial]`` (any grid) -> ``beta : [B, m]`` in ``(-1, 1)``.

        The encoder sees ``a`` scaled to ``(a - a_low) / (a_high - a_low)``.
        """
        _check_grid_input(a, self.in_channels, self.dim, "DGNO.encode", self)
        return torch.tanh(self.encoder(self.a_scaled(a)))

    # coefficient decoder -------------------------------------------------------------------
    def a_params(self, x: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """Raw decoder output ``[B, N, C_a]``: logits (Bernoulli) or the scaled mean (Gaussian)."""
        _check_query("a_params", self, x, beta)
        return self.a_head(x, beta)

    def a_scaled(self, a: torch.Tensor) -> torch.Tensor:
        """Physical ``a`` -> the decoder's target scale ``(a - a_low) / (a_high - a_low)``."""
        return (a - self.a_low) / (self.a_high - self.a_low)

    def a_mean(self, x: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """Expected coefficient ``E[a(x) | beta]``, ``[B, N, C_a]``."""
        _check_query("a_mean", self, x, beta)
        p = self.a_params(x, beta)
        if self.a_likelihood == "bernoulli":
            p = torch.sigmoid(p)
        return self.a_low + (self.a_high - self.a_low) * p

    def a_variance(self, x: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """Decoder variance ``Var[a(x) | beta]``, ``[B, N, C_a]`` (zero for the Gaussian mean decoder)."""
        _check_query("a_variance", self, x, beta)
        p = self.a_params(x, beta)
        if self.a_likelihood == "gaussian":
            return torch.zeros_like(p)
        q = torch.sigmoid(p)
        return (self.a_high - self.a_low) ** 2 * q * (1.0 - q)

    def a_nll(self, a: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """Reconstruction loss of ``a : [B, C_a, *spatial]`` at its grid nodes, a scalar.

        Binary cross-entropy against the phase indicator (Bernoulli) or mean squared error of
        the scaled field (Gaussian), averaged over points and batch.
        """
        _check_grid_input(a, self.in_channels, self.dim, "DGNO.a_nll", self)
        _check_query("a_nll", self, None, beta)
        x = grid_points(a.shape[2:], self.domain, device=a.device, dtype=a.dtype)
        target = self.a_scaled(a).flatten(2).transpose(1, 2)          # [B, N, C]
        pred = self.a_params(x, beta)
        if self.a_likelihood == "bernoulli":
            return F.binary_cross_entropy_with_logits(pred, target.clamp(0.0, 1.0))
        return F.mse_loss(pred, target)

    # solution -------------------------------------------------------------------------------
    def solution(self, x: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """``u(x; beta)``: ``x : [N, d]`` or ``[B, N, d]``, ``beta : [B, m]`` -> ``[B, N, C_u]``."""
        _check_query("solution", self, x, beta)
        u = self.u_scale * self.u_head(x, beta)
        if self.dirichlet == "none":
            return u
        m, _ = dirichlet_factor(x, self.domain, self.dirichlet)
        return u * m[..., None]

    def solution_and_grad(self, x: torch.Tensor, beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``u : [B, N, C_u]`` and its spatial gradient ``[B, N, C_u, d]``."""
        _check_query("solution_and_grad", self, x, beta)
        n, dn = self.u_head.value_and_grad(x, beta)
        n, dn = self.u_scale * n, self.u_scale * dn
        if self.dirichlet == "none":
            return n, dn
        m, dm = dirichlet_factor(x, self.domain, self.dirichlet)
        if m.ndim == 1:  # shared points
            m, dm = m[None], dm[None]
        u = n * m[..., None]
        du = dn * m[..., None, None] + n[..., None] * dm[:, :, None, :]
        return u, du

    def flux(self, x: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """Flux head ``s(x; beta) ~ a grad u`` (mixed form): ``[B, N, C_u, d]``."""
        _check_query("flux", self, x, beta)
        if self.flux_head is None:
            raise ModelError("this DGNO has no flux head; build it with mixed_form=True.")
        s = self.flux_head(x, beta)
        return s.reshape(*s.shape[:-1], self.out_channels, self.dim)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """``a : [B, C_a, *spatial] -> u : [B, C_u, *spatial]`` on the same grid."""
        beta = self.encode(a)
        return self.decode_solution(beta, a.shape[2:])

    def decode_solution(self, beta: torch.Tensor, spatial: Sequence[int]) -> torch.Tensor:
        """``u`` of latent codes ``beta : [B, m]`` on a grid of shape ``spatial`` -> ``[B, C_u, *spatial]``."""
        _check_query("decode_solution", self, None, beta)
        x = grid_points(spatial, self.domain, device=beta.device, dtype=beta.dtype)
        return self.solution(x, beta).transpose(1, 2).reshape(beta.shape[0], self.out_channels, *spatial)

    def decode_coefficient(self, beta: torch.Tensor, spatial: Sequence[int]) -> torch.Tensor:
        """``E[a | beta]`` on a grid of shape ``spatial`` -> ``[B, C_a, *spatial]``."""
        _check_query("decode_coefficient", self, None, beta)
        x = grid_points(spatial, self.domain, device=beta.device, dtype=beta.dtype)
        return self.a_mean(x, beta).transpose(1, 2).reshape(beta.shape[0], self.in_channels, *spatial)


@register("multionet")
class MultiONetOperator(nn.Module):
    """Supervised MultiONet operator ``a -> u`` on grids: field encoder branch + MultiONet [1]_, [2]_.

    The encoder maps the input field (resampled to ``resolution``) to the branch input; the
    trunk takes the output grid's node coordinates, so predictions come on the input's grid
    (or any grid via :meth:`predict_on`).

    Parameters
    ----------
    in_channels, out_channels : channels of input and output fields.
    resolution : sensor grid of the encoder.
    latent_dim : width of the encoder output fed to the branch.
    encoder, encoder_hidden, encoder_channels, encoder_activation : see :class:`DGNO`.
    width, depth, sum_layers, activation : MultiONet head.
    dirichlet : ``"none"`` (default), ``"sin"`` or ``"poly"`` factor for zero boundary values. The
        factor acts on the model's output, so with normalised outputs (``OperatorTask`` with
        ``normalize=True``) it would pin the boundary to the output mean: keep ``"none"`` there.
    domain : ``d`` pairs ``(low, high)``.

    Notes
    -----
    Shapes: ``x : [B, C_in, *spatial] -> [B, C_out, *spatial]``.
    """

    #: fields are resampled to the encoder's sensor grid; the trunk is a function of coordinates
    resolution_behaviour = "function_space"

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        resolution: Sequence[int] = (29, 29),
        latent_dim: int = 128,
        encoder: Literal["mlp", "cnn"] = "mlp",
        encoder_hidden: Sequence[int] = (512, 256),
        encoder_channels: Sequence[int] = (64, 64, 64),
        encoder_activation: str = "silu",
        width: int = 100,
        depth: int = 5,
        sum_layers: int | None = None,
        activation: str = "tanh_sin",
        dirichlet: Literal["sin", "poly", "none"] = "none",
        domain: Domain | None = None,
    ) -> None:
        super().__init__()
        self.resolution = _check_sizes("MultiONet", in_channels, out_channels, resolution, latent_dim, encoder_hidden,
                                       encoder_channels, width, depth)
        self.dim = len(self.resolution)
        if dirichlet not in ("sin", "poly", "none"):
            raise ModelError(f"unknown dirichlet factor {dirichlet!r}; choose 'sin', 'poly' or 'none'.")
        self.in_channels, self.out_channels, self.dirichlet = in_channels, out_channels, dirichlet
        self.domain = [(float(lo), float(hi)) for lo, hi in (domain or [(0.0, 1.0)] * self.dim)]
        self.encoder = _make_encoder(encoder, in_channels, self.resolution, encoder_hidden, encoder_channels,
                                     latent_dim, encoder_activation)
        self.head = MultiONet(latent_dim, self.dim, width, depth, out_channels, sum_layers, activation)

    def predict_on(self, a: torch.Tensor, spatial: Sequence[int]) -> torch.Tensor:
        """Prediction for ``a : [B, C_in, *any]`` on a grid of shape ``spatial`` -> ``[B, C_out, *spatial]``."""
        _check_grid_input(a, self.in_channels, self.dim, "MultiONetOperator", self)
        x = grid_points(spatial, self.domain, device=a.device, dtype=a.dtype)
        u = self.head(x, self.encoder(a))
        if self.dirichlet != "none":
            u = u * dirichlet_factor(x, self.domain, self.dirichlet)[0][None, :, None]
        return u.transpose(1, 2).reshape(a.shape[0], self.out_channels, *spatial)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x : [B, C_in, *spatial] -> [B, C_out, *spatial]`` on the same grid."""
        return self.predict_on(x, x.shape[2:])
