"""Piecewise-linear recurrent networks for dynamical-systems reconstruction.

Five latent maps ``z_t = F(z_{t-1}) + C s_t`` share one base class
(:class:`PiecewiseLinearRNN`) that owns the observation model, the external inputs,
the regularisers and the piecewise-linear description used by symbolic analysis:

================  ==============================================================
``plrnn``         ``z' = A z + W relu(z) + h``  (W off-diagonal)
``shplrnn``       ``z' = A z + W1 relu(W2 z + h2) + h1``
``clipped_shplrnn`` ``z' = A z + W1 [relu(W2 z + h2) - relu(W2 z)] + h1``
``alrnn``         ``z' = A z + W [z_1..z_{M-P}, relu(z_{M-P+1..M})] + h``
``dendplrnn``     ``z' = A z + W sum_b alpha_b relu(z - theta_b) + h``
================  ==============================================================

``A`` is a diagonal (stored as a vector). Every map is affine inside a linear
subregion selected by a boolean *region code*: :meth:`PiecewiseLinearRNN.region_code`
returns it and :meth:`PiecewiseLinearRNN.linear_map` the ``(J, c)`` with
``F(z) = J z + c`` there, so fixed points, cycles and Jacobians are written once.

Observation models: ``identity`` reads the first ``N`` latent units (``x = z[:N]``; if
``M > N`` a learned ``L`` completes the first state, ``z_1 = [x_1; L x_1]``), and
``affine`` reads ``x = B z`` and forces with the pseudo-inverse ``B^+ x``.

References
----------
.. [1] Durstewitz, D. (2017). A state space approach for piecewise-linear recurrent
   neural networks for identifying computational dynamics from neural measurements.
   PLoS Comput. Biol. 13(6): e1005542.
.. [2] Brenner, M. et al. (2022). Tractable dendritic RNNs for reconstructing nonlinear
   dynamical systems. ICML 2022, PMLR 162.
.. [3] Hess, F., Monfared, Z., Brenner, M., Durstewitz, D. (2023). Generalized teacher
   forcing for learning chaotic dynamics. ICML 2023, PMLR 202, 13017-13049.
.. [4] Brenner, M., Hemmer, C. J., Monfared, Z., Durstewitz, D. (2024). Almost-linear
   RNNs yield highly interpretable symbolic codes in dynamical systems reconstruction.
   NeurIPS 2024.
.. [5] Talathi, S. S., Vartak, A. (2016). Improving performance of recurrent neural
   network with ReLU nonlinearity. ICLR workshop, arXiv:1511.03771.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from neurops.errors import ModelError
from neurops.models.registry import register

Observation = Literal["identity", "affine"]


def talathi_vartak_init(m: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Diagonal and off-diagonal parts of a random positive-definite matrix with spectral radius 1.

    ``K = R^T R / M + I`` with ``R ~ N(0, 1)``, then ``K /= lambda_max(K)``.

    Returns
    -------
    a : [M] diagonal of ``K``.
    w : [M, M] ``K`` with its diagonal zeroed.

    References
    ----------
    Talathi & Vartak (2016), arXiv:1511.03771.
    """
    r = torch.randn(m, m, generator=generator, dtype=torch.float64)
    k = r.T @ r / m + torch.eye(m, dtype=torch.float64)
    k = k / torch.linalg.eigvalsh(k).max()
    a = torch.diagonal(k).clone()
    return a.float(), (k - torch.diag(a)).float()


def _uniform(shape: tuple[int, ...], bound: float, generator: torch.Generator) -> torch.Tensor:
    return (torch.rand(shape, generator=generator) * 2.0 - 1.0) * bound


class PiecewiseLinearRNN(nn.Module):
    """Base class: observation model, inputs, generation, regularisers, PWL description.

    Subclasses define the latent parameters, :meth:`latent_step`, :meth:`region_code`,
    :meth:`linear_map` and :meth:`_recurrent_parts`.

    Parameters
    ----------
    obs_dim : N, number of observed variables.
    latent_dim : M, number of latent units.
    observation : ``"identity"`` (``x = z[:N]``, needs ``M >= N``) or ``"affine"`` (``x = B z``).
    input_dim : K, number of external inputs ``s_t`` entering as ``+ C s_t`` (0: none).
    seed : seed of the initialisation (same seed, same weights).
    """

    def __init__(self, obs_dim: int, latent_dim: int, *, observation: Observation = "identity",
                 input_dim: int = 0, seed: int | None = 0) -> None:
        super().__init__()
        if obs_dim < 1 or latent_dim < 1:
            raise ModelError(f"obs_dim and latent_dim must be >= 1, got obs_dim={obs_dim}, latent_dim={latent_dim}.")
        if observation not in ("identity", "affine"):
            raise ModelError(f"observation {observation!r} is unknown; use 'identity' or 'affine'.")
        if observation == "identity" and latent_dim < obs_dim:
            raise ModelError(f"the identity observation reads the first {obs_dim} of {latent_dim} latent units; "
                             f"use latent_dim >= obs_dim or observation='affine'.")
        if input_dim < 0:
            raise ModelError(f"input_dim must be >= 0, got {input_dim}.")
        self.obs_dim, self.latent_dim, self.observation, self.input_dim = obs_dim, latent_dim, observation, input_dim
        self._generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
        g = self._generator
        if observation == "affine":
            # kaiming-normal with fan_in = M, drawn from our generator
            self.B = nn.Parameter(torch.randn(obs_dim, latent_dim, generator=g) * math.sqrt(2.0 / latent_dim))
        elif latent_dim > obs_dim:
            self.L = nn.Parameter(_uniform((latent_dim - obs_dim, obs_dim), 1.0 / math.sqrt(obs_dim), g))
        if input_dim:
            self.C = nn.Parameter(_uniform((latent_dim, input_dim), 1.0 / math.sqrt(input_dim), g))

    # -- latent dynamics, defined by subclasses --------------------------------------
    def latent_step(self, z: torch.Tensor) -> torch.Tensor:
        """Autonomous map ``F(z)``; ``z : [..., M] -> [..., M]``."""
        raise NotImplementedError

    def region_code(self, z: torch.Tensor) -> torch.Tensor:
        """Boolean code ``[..., R]`` of the linear subregion holding ``z : [..., M]``."""
        raise NotImplementedError

    def linear_map(self, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(J [..., M, M], c [..., M])`` with ``F(z) = J z + c`` in the region ``code : [..., R]``."""
        raise NotImplementedError

    def _recurrent_parts(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(A [M], W [M, K], h [M])``: row ``i`` of ``W`` and ``h_i`` drive unit ``i`` (for MAR)."""
        raise NotImplementedError

    def _extra_weights(self) -> list[torch.Tensor]:
        """Weights besides those of :meth:`_recurrent_parts` that the latent regulariser shrinks."""
        return []

    @property
    def code_size(self) -> int:
        """Number of bits R of a region code."""
        ref = next(self.parameters())
        return int(self.region_code(ref.new_zeros(1, self.latent_dim)).shape[-1])

    @property
    def _device(self) -> torch.device:
        return next(self.parameters()).device

    # -- public API -------------------------------------------------------------------
    def step(self, z: torch.Tensor, s: torch.Tensor | None = None) -> torch.Tensor:
        """One latent step ``z_t = F(z_{t-1}) + C s_t``.

        Parameters
        ----------
        z : [B, M] latent state.
        s : [B, K] external input at the new time step (required iff ``input_dim > 0``).
        """
        z_next = self.latent_step(z)
        if self.input_dim:
            if s is None:
                raise ModelError(f"this model was built with input_dim={self.input_dim}; pass the inputs s.")
            z_next = z_next + s @ self.C.T
        elif s is not None:
            raise ModelError("this model has no external inputs (input_dim=0) but inputs were passed; "
                             "rebuild it with input_dim=K.")
        return z_next

    def jacobian(self, z: torch.Tensor) -> torch.Tensor:
        """Jacobian ``dF/dz : [..., M, M]`` of the latent map at ``z : [..., M]``."""
        return self.linear_map(self.region_code(z))[0]

    def observe(self, z: torch.Tensor) -> torch.Tensor:
        """Observation ``x : [..., N]`` of latent states ``z : [..., M]``."""
        if self.observation == "affine":
            return z @ self.B.T
        return z[..., : self.obs_dim]

    def forcing_mask(self) -> torch.Tensor:
        """Boolean ``[M]``: the latent units that teacher forcing replaces (all for ``affine``)."""
        mask = torch.zeros(self.latent_dim, dtype=torch.bool, device=self._device)
        mask[: self.latent_dim if self.observation == "affine" else self.obs_dim] = True
        return mask

    def infer_latent(self, x: torch.Tensor) -> torch.Tensor:
        """Data-inferred latent states ``z_hat : [..., M]`` of observations ``x : [..., N]``.

        ``affine``: ``B^+ x``; ``identity``: ``[x; L x]`` (``x`` itself when ``M == N``).
        On the forced units (:meth:`forcing_mask`) these are the teacher signals.
        """
        if x.shape[-1] != self.obs_dim:
            raise ModelError(f"observations have {x.shape[-1]} variables, the model expects obs_dim={self.obs_dim}.")
        if self.observation == "affine":
            return x @ torch.linalg.pinv(self.B).T
        if self.latent_dim > self.obs_dim:
            return torch.cat([x, x @ self.L.T], dim=-1)
        return x

    def generate(self, x0: torch.Tensor, n_steps: int, inputs: torch.Tensor | None = None,
                 *, z0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the model freely for ``n_steps`` from an observed (or latent) initial state.

        Parameters
        ----------
        x0 : [B, N] initial observation (ignored if ``z0`` is given).
        n_steps : number of steps T.
        inputs : [B, T, K] external inputs, one per generated step.
        z0 : [B, M] initial latent state.

        Returns
        -------
        x : [B, T, N] observations of ``z_1 .. z_T``.
        z : [B, T, M] latent states ``z_1 .. z_T``.
        """
        z = self.infer_latent(x0) if z0 is None else z0
        states = []
        for t in range(n_steps):
            z = self.step(z, None if inputs is None else inputs[:, t])
            states.append(z)
        zs = torch.stack(states, dim=1) if states else z.new_zeros(z.shape[0], 0, self.latent_dim)
        return self.observe(zs), zs

    def forward(self, x0: torch.Tensor, n_steps: int, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """Free-running prediction ``[B, N] -> [B, n_steps, N]`` (see :meth:`generate`)."""
        return self.generate(x0, n_steps, inputs)[0]

    # -- regularisers -----------------------------------------------------------------
    def latent_regularization(self) -> torch.Tensor:
        """``||1 - A||^2 + sum ||W||^2 + sum ||h||^2`` over the latent parameters.

        References
        ----------
        Hess et al. (2023), ICML (GTF paper), the latent-model regulariser.
        """
        a, w, h = self._recurrent_parts()
        total = (1.0 - a).pow(2).sum() + w.pow(2).sum() + h.pow(2).sum()
        for extra in self._extra_weights():
            total = total + extra.pow(2).sum()
        return total

    def manifold_attractor_regularization(self, fraction: float = 0.5) -> torch.Tensor:
        """Manifold-attractor regulariser over the last ``floor(fraction * M)`` units.

        ``||1 - A_r||^2 + ||W_r||^2 + ||h_r||^2`` pushes those units towards a continuum
        of marginally stable states (``A = 1``, no input from other units) that can hold
        information over long times.

        References
        ----------
        Schmidt, D., Koppe, G., Monfared, Z., Beutelspacher, M., Durstewitz, D. (2021).
        Identifying nonlinear dynamical systems with multiple time scales and long-range
        dependencies. ICLR 2021.
        """
        if not 0.0 <= fraction <= 1.0:
            raise ModelError(f"the MAR fraction must lie in [0, 1], got {fraction}.")
        n = int(math.floor(fraction * self.latent_dim))
        a, w, h = self._recurrent_parts()
        if n == 0:
            return a.sum() * 0.0
        return (1.0 - a[-n:]).pow(2).sum() + w[-n:].pow(2).sum() + h[-n:].pow(2).sum()

    def observation_regularization(self) -> torch.Tensor:
        """``(1 - sigma_max / sigma_min)^2`` of ``B`` (affine only, 0 otherwise): keeps ``B^+`` well conditioned."""
        if self.observation != "affine":
            return torch.zeros((), device=self._device)
        s = torch.linalg.svdvals(self.B)
        return (1.0 - s.max() / s.min()).pow(2)


def _diag_plus(a: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    return m + torch.diag_embed(a.expand(m.shape[:-1]))


@register("plrnn")
class PLRNN(PiecewiseLinearRNN):
    """Piecewise-linear RNN ``z' = A z + W relu(z) + h`` with off-diagonal ``W``.

    Region code: ``z > 0`` (``R = M`` bits). ``J = diag(A) + W diag(z > 0)``.
    Initialisation: Talathi-Vartak for ``A`` and ``W``, ``h = 0``.

    Parameters
    ----------
    obs_dim, latent_dim, observation, input_dim, seed : see :class:`PiecewiseLinearRNN`.

    References
    ----------
    Durstewitz (2017), PLoS Comput. Biol. 13(6): e1005542.
    """

    def __init__(self, obs_dim: int, latent_dim: int, *, observation: Observation = "identity",
                 input_dim: int = 0, seed: int | None = 0) -> None:
        super().__init__(obs_dim, latent_dim, observation=observation, input_dim=input_dim, seed=seed)
        a, w = talathi_vartak_init(latent_dim, self._generator)
        self.A = nn.Parameter(a)
        self.W = nn.Parameter(w)
        self.h = nn.Parameter(torch.zeros(latent_dim))
        self.register_buffer("_offdiag", 1.0 - torch.eye(latent_dim), persistent=False)

    def _w(self) -> torch.Tensor:
        return self.W * self._offdiag

    def latent_step(self, z: torch.Tensor) -> torch.Tensor:
        return self.A * z + torch.relu(z) @ self._w().T + self.h

    def region_code(self, z: torch.Tensor) -> torch.Tensor:
        return z > 0

    def linear_map(self, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = code.to(self.A.dtype)
        j = _diag_plus(self.A, self._w() * d.unsqueeze(-2))
        return j, self.h.expand(j.shape[:-1])

    def _recurrent_parts(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.A, self._w(), self.h


@register("shplrnn")
class ShallowPLRNN(PiecewiseLinearRNN):
    """Shallow PLRNN ``z' = A z + W1 relu(W2 z + h2) + h1`` with L hidden units.

    Region code: ``W2 z + h2 > 0`` (``R = L`` bits). ``J = diag(A) + W1 diag(d) W2``.
    Initialisation: ``A`` from Talathi-Vartak, ``W1 ~ U(+-1/sqrt(L))``,
    ``W2 ~ U(+-1/sqrt(M))``, ``h1 = h2 = 0``.

    Parameters
    ----------
    obs_dim, latent_dim, observation, input_dim, seed : see :class:`PiecewiseLinearRNN`.
    hidden_dim : L, width of the hidden ReLU layer.

    References
    ----------
    Hess et al. (2023), ICML, PMLR 202 (generalized teacher forcing).
    """

    clipped: bool = False

    def __init__(self, obs_dim: int, latent_dim: int, hidden_dim: int = 50, *,
                 observation: Observation = "identity", input_dim: int = 0, seed: int | None = 0) -> None:
        super().__init__(obs_dim, latent_dim, observation=observation, input_dim=input_dim, seed=seed)
        if hidden_dim < 1:
            raise ModelError(f"hidden_dim must be >= 1, got {hidden_dim}.")
        self.hidden_dim = hidden_dim
        g = self._generator
        a, _ = talathi_vartak_init(latent_dim, g)
        self.A = nn.Parameter(a)
        self.W1 = nn.Parameter(_uniform((latent_dim, hidden_dim), 1.0 / math.sqrt(hidden_dim), g))
        self.W2 = nn.Parameter(_uniform((hidden_dim, latent_dim), 1.0 / math.sqrt(latent_dim), g))
        self.h1 = nn.Parameter(torch.zeros(latent_dim))
        h2 = _uniform((hidden_dim,), 1.0 / math.sqrt(hidden_dim), g) if self.clipped else torch.zeros(hidden_dim)
        self.h2 = nn.Parameter(h2)

    def latent_step(self, z: torch.Tensor) -> torch.Tensor:
        pre = z @ self.W2.T
        hidden = torch.relu(pre + self.h2)
        if self.clipped:
            hidden = hidden - torch.relu(pre)
        if z.ndim == 2:  # one fused op less per step of a rollout
            return torch.addmm(torch.addcmul(self.h1, self.A, z), hidden, self.W1.T)
        return self.A * z + hidden @ self.W1.T + self.h1

    def region_code(self, z: torch.Tensor) -> torch.Tensor:
        pre = z @ self.W2.T
        if self.clipped:
            return torch.cat([pre + self.h2 > 0, pre > 0], dim=-1)
        return pre + self.h2 > 0

    def linear_map(self, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = code.to(self.A.dtype)
        if self.clipped:
            d_on, d_off = d[..., : self.hidden_dim], d[..., self.hidden_dim:]
            slope = d_on - d_off
        else:
            d_on = slope = d
        return self._jacobian_of_slopes(slope), self.h1 + (d_on * self.h2) @ self.W1.T

    def jacobian(self, z: torch.Tensor) -> torch.Tensor:
        # the slopes straight from the pre-activations (no region code, no offset c)
        pre = z @ self.W2.T
        slope = (pre + self.h2 > 0).to(z.dtype)
        if self.clipped:
            slope = slope - (pre > 0).to(z.dtype)
        return self._jacobian_of_slopes(slope)

    def _jacobian_of_slopes(self, slope: torch.Tensor) -> torch.Tensor:
        """``diag(A) + W1 diag(slope) W2 : [..., M, M]`` for hidden-unit slopes ``[..., L]``."""
        # W1 diag(s) W2 = s @ K with K[l, i*M + j] = W1[i, l] W2[l, j]: one GEMM for many states
        outer = (self.W1.T.unsqueeze(-1) * self.W2.unsqueeze(1)).flatten(1)  # [L, M*M]
        return _diag_plus(self.A, (slope @ outer).unflatten(-1, (self.latent_dim, self.latent_dim)))

    def _recurrent_parts(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.A, self.W1, self.h1

    def _extra_weights(self) -> list[torch.Tensor]:
        return [self.W2, self.h2]


@register("clipped_shplrnn")
class ClippedShallowPLRNN(ShallowPLRNN):
    """Clipped shallow PLRNN ``z' = A z + W1 [relu(W2 z + h2) - relu(W2 z)] + h1``.

    The clipped hidden layer is bounded, so orbits stay bounded when ``max|A| < 1``.
    Region code: ``[W2 z + h2 > 0, W2 z > 0]`` (``R = 2L`` bits).
    Initialisation as :class:`ShallowPLRNN` except ``h2 ~ U(+-1/sqrt(L))``.

    References
    ----------
    Hess et al. (2023), ICML, PMLR 202 (generalized teacher forcing).
    """

    clipped = True


@register("alrnn")
class ALRNN(PiecewiseLinearRNN):
    """Almost-linear RNN ``z' = A z + W Phi*(z) + h``: only the last P of M units pass a ReLU.

    ``Phi*(z) = [z_1, ..., z_{M-P}, relu(z_{M-P+1}), ..., relu(z_M)]`` so the model has at
    most ``2^P`` linear subregions. Region code: ``z_{M-P+1..M} > 0`` (``R = P`` bits).
    Initialisation: ``A`` from Talathi-Vartak, ``W ~ N(0, 0.01^2)`` (full matrix), ``h = 0``.

    Parameters
    ----------
    obs_dim, latent_dim, observation, input_dim, seed : see :class:`PiecewiseLinearRNN`.
    n_relu : P, number of piecewise-linear units (``0 <= P <= M``).

    References
    ----------
    Brenner et al. (2024), NeurIPS: almost-linear RNNs yield highly interpretable symbolic codes.
    """

    def __init__(self, obs_dim: int, latent_dim: int, n_relu: int = 2, *, observation: Observation = "identity",
                 input_dim: int = 0, seed: int | None = 0) -> None:
        super().__init__(obs_dim, latent_dim, observation=observation, input_dim=input_dim, seed=seed)
        if not 0 <= n_relu <= latent_dim:
            raise ModelError(f"n_relu (P) must lie in [0, latent_dim={latent_dim}], got {n_relu}.")
        self.n_relu = n_relu
        a, _ = talathi_vartak_init(latent_dim, self._generator)
        self.A = nn.Parameter(a)
        self.W = nn.Parameter(torch.randn(latent_dim, latent_dim, generator=self._generator) * 0.01)
        self.h = nn.Parameter(torch.zeros(latent_dim))

    def _phi(self, z: torch.Tensor) -> torch.Tensor:
        k = self.latent_dim - self.n_relu
        return torch.cat([z[..., :k], torch.relu(z[..., k:])], dim=-1)

    def latent_step(self, z: torch.Tensor) -> torch.Tensor:
        return self.A * z + self._phi(z) @ self.W.T + self.h

    def region_code(self, z: torch.Tensor) -> torch.Tensor:
        return z[..., self.latent_dim - self.n_relu:] > 0

    def linear_map(self, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = code.to(self.A.dtype)
        ones = d.new_ones((*d.shape[:-1], self.latent_dim - self.n_relu))
        j = _diag_plus(self.A, self.W * torch.cat([ones, d], dim=-1).unsqueeze(-2))
        return j, self.h.expand(j.shape[:-1])

    def _recurrent_parts(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.A, self.W, self.h


@register("dendplrnn")
class DendPLRNN(PiecewiseLinearRNN):
    """Dendritic PLRNN ``z' = A z + W sum_b alpha_b relu(z - theta_b) + h``.

    Each unit's nonlinearity is a sum of ``n_bases`` shifted ReLUs (a linear spline).
    Region code: ``z_i > theta_ib`` (``R = M * n_bases`` bits).
    Initialisation: Talathi-Vartak ``A``, ``W``; ``alpha_b = 1 / n_bases``,
    ``theta ~ U(-1, 1)``; ``h = 0``.

    Parameters
    ----------
    obs_dim, latent_dim, observation, input_dim, seed : see :class:`PiecewiseLinearRNN`.
    n_bases : number of ReLU bases per unit.

    References
    ----------
    Brenner et al. (2022), ICML, PMLR 162: tractable dendritic RNNs.
    """

    def __init__(self, obs_dim: int, latent_dim: int, n_bases: int = 5, *, observation: Observation = "identity",
                 input_dim: int = 0, seed: int | None = 0) -> None:
        super().__init__(obs_dim, latent_dim, observation=observation, input_dim=input_dim, seed=seed)
        if n_bases < 1:
            raise ModelError(f"n_bases must be >= 1, got {n_bases}.")
        self.n_bases = n_bases
        a, w = talathi_vartak_init(latent_dim, self._generator)
        self.A = nn.Parameter(a)
        self.W = nn.Parameter(w)
        self.h = nn.Parameter(torch.zeros(latent_dim))
        self.alpha = nn.Parameter(torch.full((n_bases,), 1.0 / n_bases))
        self.theta = nn.Parameter(_uniform((latent_dim, n_bases), 1.0, self._generator))

    def latent_step(self, z: torch.Tensor) -> torch.Tensor:
        basis = torch.relu(z.unsqueeze(-1) - self.theta) @ self.alpha
        return self.A * z + basis @ self.W.T + self.h

    def region_code(self, z: torch.Tensor) -> torch.Tensor:
        return (z.unsqueeze(-1) > self.theta).flatten(-2)

    def linear_map(self, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = code.to(self.A.dtype).unflatten(-1, (self.latent_dim, self.n_bases))
        slope = d @ self.alpha  # [..., M]
        offset = (d * self.theta) @ self.alpha  # [..., M]
        j = _diag_plus(self.A, self.W * slope.unsqueeze(-2))
        return j, self.h - offset @ self.W.T

    def _recurrent_parts(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.A, self.W, self.h

    def _extra_weights(self) -> list[torch.Tensor]:
        return []


__all__ = ["ALRNN", "ClippedShallowPLRNN", "DendPLRNN", "PLRNN", "PiecewiseLinearRNN", "ShallowPLRNN",
           "talathi_vartak_init"]
