"""Piecewise-linear recurrent networks for dynamical-systems reconstruction.

Five latent maps ``z_t = F(z_{t-1}) + C s_t`` share one base class
(:class:`~neurops.models.piecewise_linear.PiecewiseLinearRNN`) that owns the observation model, the external inputs,
the regularisers and the piecewise-linear description used by symbolic analysis:

================  ==============================================================
``plrnn``         ``z' = A z + W relu(z) + h``  (W off-diagonal)
``shplrnn``       ``z' = A z + W1 relu(W2 z + h2) + h1``
``clipped_shplrnn`` ``z' = A z + W1 [relu(W2 z + h2) - relu(W2 z)] + h1``
``alrnn``         ``z' = A z + W [z_1..z_{M-P}, relu(z_{M-P+1..M})] + h``
``dendplrnn``     ``z' = A z + W sum_b alpha_b relu(z - theta_b) + h``
================  ==============================================================

``A`` is a diagonal (stored as a vector). Each map defines its region code and its affine map per
region; the rest (observation, inputs, generation, regularisers, ensembles of several seeds) is the
base's. The three maps here act on each unit by its own nonlinearity, so their Jacobians are
``diag(A) + W diag(phi'(z))`` and the fused backward of forced rollouts takes ``J^T a`` in closed form
(:class:`UnitwiseRNN`). The two shallow maps, with their own closed-form backward pieces, live in
:mod:`neurops.models.shallow_plrnn`.

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
.. [5] Talathi, S. S., Vartak, A. (2016), arXiv:1511.03771 (the initialisation,
   :func:`~neurops.models.pl_init.talathi_vartak_init`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from neurops.errors import ModelError
from neurops.models.piecewise_linear import Observation, PiecewiseLinearRNN, _per_member
from neurops.models.pl_init import _uniform, talathi_vartak_init
from neurops.models.registry import register

__all__ = ["ALRNN", "PLRNN", "DendPLRNN", "UnitwiseRNN"]


class UnitwiseRNN(PiecewiseLinearRNN):
    """Base of the maps ``z' = A z + W phi(z) + h`` whose nonlinearity ``phi`` acts unit by unit.

    Their Jacobian is ``J = diag(A) + W diag(phi'(z))``, so the fused backward of forced rollouts
    (:mod:`neurops.dynamics.forced_rollout`) takes ``J^T a = A a + phi'(z) * (W^T a)``: one
    ``[B, M] x [M, M]`` product a step, as autograd's, instead of forming a ``[B, M, M]`` Jacobian per
    state (``M^2`` numbers a state to build and read, which made AL-RNNs of ``M = 100`` train 2-3x slower
    than autograd; ``benchmarks/dsr_training_speed.py``). The same slopes give each region's affine map
    (:meth:`linear_map`). Subclasses give :meth:`_code_slopes` and :meth:`_coupling`.
    """

    def _code_slopes(self, code: torch.Tensor) -> torch.Tensor:
        """``phi' : [..., M]``, the slope of each unit's nonlinearity in the region ``code : [..., R]``."""
        raise NotImplementedError

    def _coupling(self) -> torch.Tensor:
        """``W : [M, M]`` (``[R, M, M]``) as the step uses it."""
        raise NotImplementedError

    def _unit_slopes(self, z: torch.Tensor) -> torch.Tensor:
        """``phi'(z) : [..., M]`` at the states ``z : [..., M]``."""
        return self._code_slopes(self.region_code(z))

    @_per_member
    def linear_map(self, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        j = self._diag_plus(self.A, self._lift(self._coupling()) * self._code_slopes(code).unsqueeze(-2))
        return j, self._lift(self.h).expand(j.shape[:-1])

    def _chunk_width(self) -> int:
        return self.latent_dim  # the slopes, [n, M]: no Jacobians are formed

    def _transposed_jacobians(self, z: torch.Tensor, batch: int, work: dict | None = None
                              ) -> tuple[Callable[..., torch.Tensor], tuple[torch.Tensor, ...]]:
        e, work = len(self._member_shape), {} if work is None else work
        if "w" not in work:  # shared by the chunks of one backward pass
            work["w"], work["w_a"] = self._coupling(), z.new_empty(*z.shape[:e], batch, self.latent_dim)
        w, w_a, a_diag = work["w"], work["w_a"], self._lift(self.A)
        slopes = self._unit_slopes(z).unflatten(e, (-1, batch))  # [*E, t, B, M]

        def product(i: int, a: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
            u = torch.mul(torch.matmul(a, w, out=w_a), slopes.select(e, i), out=w_a)  # phi' * (W^T a)
            return torch.addcmul(u, a_diag, a, out=out)

        return product, ()


@register("plrnn")
class PLRNN(UnitwiseRNN):
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

    @_per_member
    def latent_step(self, z: torch.Tensor) -> torch.Tensor:
        return self._lift(self.A) * z + torch.relu(z) @ self._w().mT + self._lift(self.h)

    def region_code(self, z: torch.Tensor) -> torch.Tensor:
        return z > 0

    def region_planes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(G, g) = (I, 0)``: the region code ``z > 0`` is ``G z + g > 0``."""
        eye = torch.eye(self.latent_dim, dtype=self.A.dtype, device=self.A.device)
        return eye.expand(*self._member_shape, -1, -1), self.A.new_zeros(*self._member_shape, self.latent_dim)

    def _code_slopes(self, code: torch.Tensor) -> torch.Tensor:
        return code.to(self.A.dtype)

    def _coupling(self) -> torch.Tensor:
        return self._w()

    def _recurrent_parts(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.A, self._w(), self.h


@register("alrnn")
class ALRNN(UnitwiseRNN):
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

    @_per_member
    def latent_step(self, z: torch.Tensor) -> torch.Tensor:
        return self._lift(self.A) * z + self._phi(z) @ self.W.mT + self._lift(self.h)

    def region_code(self, z: torch.Tensor) -> torch.Tensor:
        return z[..., self.latent_dim - self.n_relu:] > 0

    def region_planes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(G, g)``, the last P rows of ``I`` and 0: the region code ``z_{M-P+1..M} > 0`` is ``G z + g > 0``."""
        eye = torch.eye(self.latent_dim, dtype=self.A.dtype, device=self.A.device)[self.latent_dim - self.n_relu:]
        return eye.expand(*self._member_shape, -1, -1), self.A.new_zeros(*self._member_shape, self.n_relu)

    def _code_slopes(self, code: torch.Tensor) -> torch.Tensor:
        d = code.to(self.A.dtype)  # the last P units'; the first M - P are linear
        return torch.cat([d.new_ones((*d.shape[:-1], self.latent_dim - self.n_relu)), d], dim=-1)

    def _coupling(self) -> torch.Tensor:
        return self.W

    def _recurrent_parts(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.A, self.W, self.h


@register("dendplrnn")
class DendPLRNN(UnitwiseRNN):
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

    @_per_member
    def latent_step(self, z: torch.Tensor) -> torch.Tensor:
        basis = self._bases(torch.relu(z.unsqueeze(-1) - self._lift(self.theta)))
        return self._lift(self.A) * z + basis @ self.W.mT + self._lift(self.h)

    def _bases(self, per_base: torch.Tensor) -> torch.Tensor:
        """``sum_b alpha_b v_b : [..., M]`` of per-base values ``v : [..., M, n_bases]``."""
        return (per_base @ self._lift(self.alpha, 1).unsqueeze(-1)).squeeze(-1)

    @_per_member
    def region_code(self, z: torch.Tensor) -> torch.Tensor:
        return (z.unsqueeze(-1) > self._lift(self.theta)).flatten(-2)

    def region_planes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(G, g)`` with the region code ``G z + g > 0``: bit ``i * n_bases + b`` is ``z_i - theta_ib > 0``."""
        eye = torch.eye(self.latent_dim, dtype=self.A.dtype, device=self.A.device)
        return eye.repeat_interleave(self.n_bases, 0).expand(*self._member_shape, -1, -1), -self.theta.flatten(-2)

    def _per_base(self, code: torch.Tensor) -> torch.Tensor:
        """The region ``code : [..., M * n_bases]`` as ``[..., M, n_bases]`` numbers."""
        return code.to(self.A.dtype).unflatten(-1, (self.latent_dim, self.n_bases))

    def _code_slopes(self, code: torch.Tensor) -> torch.Tensor:
        return self._bases(self._per_base(code))

    @_per_member
    def linear_map(self, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        j, h = super().linear_map(code)
        offset = self._bases(self._per_base(code) * self._lift(self.theta))  # [..., M]
        return j, h - offset @ self.W.mT

    def _coupling(self) -> torch.Tensor:
        return self.W

    def _recurrent_parts(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.A, self.W, self.h

    def _extra_weights(self) -> list[torch.Tensor]:
        return []
