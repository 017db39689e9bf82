"""The base of the piecewise-linear recurrent networks: observation model, inputs, regularisers, ensembles.

Every PL latent map (:mod:`neurops.models.plrnn`, :mod:`neurops.models.shallow_plrnn`) is affine inside a linear
subregion selected by a boolean *region code*: :meth:`PiecewiseLinearRNN.region_code` returns it and
:meth:`PiecewiseLinearRNN.linear_map` the ``(J, c)`` with ``F(z) = J z + c`` there, so fixed
points, cycles and Jacobians are written once, here.

Observation models: ``identity`` reads the first ``N`` latent units (``x = z[:N]``; if
``M > N`` a learned ``L`` completes the first state, ``z_1 = [x_1; L x_1]``), and
``affine`` reads ``x = B z`` and forces with the pseudo-inverse ``B^+ x``.

Ensembles: :func:`stack_members` turns R models of one kind into ONE model whose
parameters carry a leading member axis (``A : [R, M]``, ``W1 : [R, M, L]`` ...) and whose
states do too (``z : [R, ..., M]``); every method above then works member by member in
batched operations, so R independent seeds train in one process at little more than the
cost of one. :meth:`PiecewiseLinearRNN.member` takes member ``r`` out as a plain model.

References
----------
.. [1] Durstewitz, D. (2017). A state space approach for piecewise-linear recurrent
   neural networks for identifying computational dynamics from neural measurements.
   PLoS Comput. Biol. 13(6): e1005542.
.. [2] Hess, F., Monfared, Z., Brenner, M., Durstewitz, D. (2023). Generalized teacher
   forcing for learning chaotic dynamics. ICML 2023, PMLR 202, 13017-13049 (the observation
   models of the shPLRNN experiments).
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Sequence
from typing import Literal, TypeVar

import torch
from torch import nn

from neurops.errors import ModelError
from neurops.models.pl_init import _uniform, seeded_generator

Observation = Literal["identity", "affine"]


F = TypeVar("F", bound=Callable)


def _accumulate(into: list[torch.Tensor | None], grads: Sequence[torch.Tensor | None]) -> None:
    """``into[i] += grads[i]`` in place (``into[i] = grads[i]`` while it is ``None``; ``None`` adds nothing)."""
    for i, g in enumerate(grads):
        if g is not None:
            into[i] = g if into[i] is None else into[i].add_(g)


def _per_member(fn: F) -> F:
    """Let a method of an ensemble take states ``[R, *batch, X]``: it sees ``[R, n, X]``, results get ``*batch`` back.

    A plain model (``members == 0``) calls ``fn`` unchanged.
    """

    @functools.wraps(fn)
    def wrapper(self: PiecewiseLinearRNN, z: torch.Tensor, *args: torch.Tensor | None) -> torch.Tensor:
        if not self.members or (z.ndim == 3 and z.shape[0] == self.members):
            return fn(self, z, *args)  # one model, or states already [R, n, X]
        if z.shape[0] != self.members:
            raise ModelError(f"an ensemble of {self.members} members takes states with the member axis first, "
                             f"[{self.members}, ..., X]; got shape {tuple(z.shape)}.")
        batch = z.shape[1:-1]
        flat = [None if a is None else a.reshape(self.members, -1, a.shape[-1]) for a in args]
        out = fn(self, z.reshape(self.members, -1, z.shape[-1]), *flat)
        if isinstance(out, tuple):
            return tuple(o.reshape(self.members, *batch, *o.shape[2:]) for o in out)
        return out.reshape(self.members, *batch, *out.shape[2:])

    return wrapper  # type: ignore[return-value]


class PiecewiseLinearRNN(nn.Module):
    """Base class: observation model, inputs, generation, regularisers, PWL description.

    Subclasses define the latent parameters, :meth:`latent_step`, :meth:`region_code` and its half-spaces
    ``region_planes() -> (G [R, M], g [R])`` (code ``G z + g > 0``), :meth:`linear_map`, :meth:`_recurrent_parts`.

    Parameters
    ----------
    obs_dim : N, number of observed variables.
    latent_dim : M, number of latent units.
    observation : ``"identity"`` (``x = z[:N]``, needs ``M >= N``) or ``"affine"`` (``x = B z``).
    input_dim : K, number of external inputs ``s_t`` entering as ``+ C s_t`` (0: none).
    seed : seed of the initialisation (same seed, same weights), in ``[0, 2**32)``; ``None``: 0.

    Attributes
    ----------
    members : R for an ensemble of R stacked models (:func:`stack_members`), 0 for one model.
    """

    members: int = 0
    resolution_behaviour = "not_spatial"

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
        self._generator = seeded_generator(seed)
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
        return int(self.region_code(ref.new_zeros(*self._member_shape, 1, self.latent_dim)).shape[-1])

    @property
    def _member_shape(self) -> tuple[int, ...]:
        """``(R,)`` for an ensemble, ``()`` for one model: the leading axes of parameters and states."""
        return (self.members,) if self.members else ()

    def _lift(self, p: torch.Tensor, axes: int = 1) -> torch.Tensor:
        """An ensemble's parameter ``[R, ...]`` with ``axes`` broadcast axes after the member axis (``p`` if one
        model)."""
        return p.reshape(p.shape[0], *(1,) * axes, *p.shape[1:]) if self.members else p

    def member(self, r: int) -> PiecewiseLinearRNN:
        """Member ``r`` of an ensemble as a plain model (a copy; its own parameters)."""
        if not self.members:
            raise ModelError("member(r) takes one model out of an ensemble; this model is not one.")
        if not -self.members <= r < self.members:
            raise ModelError(f"member {r} is out of range for an ensemble of {self.members}.")
        single = copy.deepcopy(self)
        for module in single.modules():
            for name, p in list(module.named_parameters(recurse=False)):
                setattr(module, name, nn.Parameter(p.detach()[r].clone(), requires_grad=p.requires_grad))
        single.members = 0
        seeds = getattr(self, "member_seeds", None)
        if seeds is not None:
            del single.member_seeds
            if hasattr(single, "_neurops_spec"):
                single._neurops_spec[1]["seed"] = seeds[r]
        return single

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
            z_next = z_next + self._input_drive(z_next, s)
        elif s is not None:
            raise ModelError("this model has no external inputs (input_dim=0) but inputs were passed; "
                             "rebuild it with input_dim=K.")
        return z_next

    def _stepper(self) -> Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]:
        """:meth:`step` for loops without autograd (its values; to rounding where ShallowPLRNN binds its parameters
        once and forms its hidden layer as one clamp)."""
        return self.step

    @_per_member
    def _input_drive(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """``C s : [..., M]`` (``z`` only carries the batch shape)."""
        return s @ self.C.mT

    def jacobian(self, z: torch.Tensor) -> torch.Tensor:
        """Jacobian ``dF/dz : [..., M, M]`` of the latent map at ``z : [..., M]``."""
        return self.linear_map(self.region_code(z))[0]

    # -- pieces of the hand-written backward pass of forced rollouts -------------------
    def _chunk_width(self) -> int:
        """Numbers per state of the largest array :meth:`_transposed_jacobians` keeps for a chunk of steps (here
        ``J``, ``M^2``, and the region code); sets the chunk length of the backward pass."""
        return self.latent_dim ** 2 + self.code_size

    def _transposed_jacobians(self, z: torch.Tensor, batch: int, work: dict | None = None
                              ) -> tuple[Callable[..., torch.Tensor], tuple[torch.Tensor, ...]]:
        """``(i, a : [*E, B, M], out=None) -> J(z_i)^T a`` (written into ``out`` if given) for step ``i`` of the
        states ``z : [*E, t * B, M]`` (``t`` steps of ``B``), and the data :meth:`_step_vjp` uses once the
        recursion ran it on every step. ``work`` is a dict that the calls of one backward pass share (buffers
        reused from chunk to chunk).

        Here from the Jacobians; ShallowPLRNN and UnitwiseRNN override it with closed forms.
        """
        e = len(self._member_shape)
        jac = self.jacobian(z).unflatten(e, (-1, batch))  # [*E, t, B, M, M]

        def product(i: int, a: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
            b = torch.matmul(a.unsqueeze(-2), jac.select(e, i)).squeeze(-2)
            return b if out is None else out.copy_(b)

        return product, ()

    def _step_vjp(self, z: torch.Tensor, s: torch.Tensor | None, cotangent: torch.Tensor,
                  data: tuple[torch.Tensor, ...], params: Sequence[torch.Tensor], wrt_inputs: bool,
                  into: list[torch.Tensor | None]) -> torch.Tensor | None:
        """Add the gradients of ``sum(cotangent * step(z, s))`` w.r.t. ``params`` into ``into`` (one entry per
        parameter, ``None`` until a gradient arrives; left ``None`` for a parameter ``step`` does not use) and
        return the gradient w.r.t. ``s`` if ``wrt_inputs`` (else ``None``). ``z, cotangent : [*E, n, M]``,
        ``s : [*E, n, K]``, ``data`` from :meth:`_transposed_jacobians` (which the call may overwrite). Here by
        autograd; ShallowPLRNN has a closed form."""
        with torch.enable_grad():
            if s is not None:
                s = s.detach().requires_grad_(wrt_inputs)
            wrt = [*params, *([s] if wrt_inputs else [])]
            if not wrt:
                return None
            grads = torch.autograd.grad(self.step(z.detach(), s), wrt, cotangent, allow_unused=True)
        _accumulate(into, grads[: len(params)])
        return grads[-1] if wrt_inputs else None

    @_per_member
    def observe(self, z: torch.Tensor) -> torch.Tensor:
        """Observation ``x : [..., N]`` of latent states ``z : [..., M]``."""
        if self.observation == "affine":
            return z @ self.B.mT
        return z[..., : self.obs_dim]

    def forcing_mask(self) -> torch.Tensor:
        """Boolean ``[M]``: the latent units that teacher forcing replaces (all for ``affine``)."""
        mask = torch.zeros(self.latent_dim, dtype=torch.bool, device=self._device)
        mask[: self.latent_dim if self.observation == "affine" else self.obs_dim] = True
        return mask

    @_per_member
    def infer_latent(self, x: torch.Tensor) -> torch.Tensor:
        """Data-inferred latent states ``z_hat : [..., M]`` of observations ``x : [..., N]``.

        ``affine``: ``B^+ x``; ``identity``: ``[x; L x]`` (``x`` itself when ``M == N``).
        On the forced units (:meth:`forcing_mask`) these are the teacher signals.
        """
        if x.shape[-1] != self.obs_dim:
            raise ModelError(f"observations have {x.shape[-1]} variables, the model expects obs_dim={self.obs_dim}; "
                             f"give it data of the system it was trained on ({self.obs_dim} variables).")
        if self.observation == "affine":
            return x @ torch.linalg.pinv(self.B).mT
        if self.latent_dim > self.obs_dim:
            return torch.cat([x, x @ self.L.mT], dim=-1)
        return x

    def generate(self, x0: torch.Tensor, n_steps: int, inputs: torch.Tensor | None = None,
                 *, z0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the model freely for ``n_steps`` from an observed (or latent) initial state.

        Parameters
        ----------
        x0 : [B, N] initial observation (ignored if ``z0`` is given); ``[R, B, N]`` for an ensemble.
        n_steps : number of steps T.
        inputs : [B, T, K] external inputs, one per generated step.
        z0 : [B, M] initial latent state.

        Returns
        -------
        x : [B, T, N] observations of ``z_1 .. z_T`` (``[R, B, T, N]`` for an ensemble).
        z : [B, T, M] latent states ``z_1 .. z_T``.
        """
        z = self.infer_latent(x0) if z0 is None else z0
        states, step = [], self.step if torch.is_grad_enabled() else self._stepper()
        for t in range(n_steps):
            z = step(z, None if inputs is None else inputs[..., t, :])
            states.append(z)
        zs = torch.stack(states, dim=-2) if states else z.new_zeros(*z.shape[:-1], 0, self.latent_dim)
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
        return (1.0 - a[..., -n:]).pow(2).sum() + w[..., -n:, :].pow(2).sum() + h[..., -n:].pow(2).sum()

    def observation_regularization(self) -> torch.Tensor:
        """``(1 - sigma_max / sigma_min)^2`` of ``B`` (affine only, 0 otherwise): keeps ``B^+`` well conditioned.

        An ensemble's regularisers are the sums of its members'.
        """
        if self.observation != "affine":
            return torch.zeros((), device=self._device)
        s = torch.linalg.svdvals(self.B)
        return (1.0 - s.amax(dim=-1) / s.amin(dim=-1)).pow(2).sum()

    def _diag_plus(self, a: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """``m + diag(a)`` for a diagonal ``a : [M]`` (``[R, M]``) and matrices ``m : [..., M, M]``."""
        return m + torch.diag_embed(self._lift(a).expand(m.shape[:-1]))


def stack_members(models: Sequence[PiecewiseLinearRNN], seeds: Sequence[int] | None = None) -> PiecewiseLinearRNN:
    """One ensemble model from R models of the same kind and size: parameters stacked on a leading member axis.

    Member ``r`` computes exactly what ``models[r]`` computes (states ``[R, ..., M]``, member
    axis first) and gets exactly its gradients from a loss that sums the members' losses;
    :meth:`PiecewiseLinearRNN.member` takes it out again.

    Parameters
    ----------
    models : R >= 1 models built with the same class and arguments (except ``seed``).
    seeds : the members' seeds, recorded as ``member_seeds`` (and put back by ``member``).
    """
    if not models:
        raise ModelError("an ensemble needs at least one member.")
    first = models[0]
    if any(m.members for m in models):
        raise ModelError("stack_members takes plain models, not ensembles.")
    shapes = [[(n, p.shape) for n, p in m.named_parameters()] for m in models]
    if any(type(m) is not type(first) or s != shapes[0] for m, s in zip(models, shapes)):
        raise ModelError("ensemble members must be models of one class with parameters of the same shapes.")
    ensemble = copy.deepcopy(first)
    params = [dict(m.named_parameters()) for m in models]
    for module_name, module in ensemble.named_modules():
        prefix = f"{module_name}." if module_name else ""
        for name, p in list(module.named_parameters(recurse=False)):
            stacked = torch.stack([ps[prefix + name].detach() for ps in params])
            setattr(module, name, nn.Parameter(stacked, requires_grad=p.requires_grad))
    ensemble.members = len(models)
    if seeds is not None:
        if len(seeds) != len(models):
            raise ModelError(f"got {len(seeds)} seeds for {len(models)} members.")
        ensemble.member_seeds = [int(s) for s in seeds]
    return ensemble


__all__ = ["Observation", "PiecewiseLinearRNN", "stack_members"]
