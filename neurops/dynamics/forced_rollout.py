"""Forced rollouts of PWL RNNs, with a hand-written backward pass (the engine of GTF and STF).

A forced rollout runs ``z_{k+1} = F(z~_k) + C s_k`` from ``z~_0 = z_hat_0`` and pulls the
state towards the data after every step, ``z~_{k+1} = (1 - w_k) z_{k+1} + w_k z_hat_{k+1}``
with per-step, per-unit weights ``w_k``: ``w = alpha`` on the forced units is generalized
teacher forcing, ``w in {0, 1}`` every ``tau`` steps is sparse teacher forcing, ``w = 0``
is free running.

Autograd records a dozen or more small operations per step of such a loop; on a CPU that
bookkeeping, not arithmetic, is the training time of the small models DSR uses. The fused
path runs the forward loop without autograd and back-propagates by hand: a piecewise-linear
map has the exact Jacobian ``J(z~_k)`` of its linear subregion, so the adjoint recursion
``a_{k-1} = g_{k-1} + (1 - w_{k-1}) J(z~_k)^T a_k`` costs a few operations per step, and the
parameter gradients are one batched vector-Jacobian product of the map per chunk of steps.
The model supplies both pieces (``_transposed_jacobians``, ``_step_vjp`` of
:class:`~neurops.models.piecewise_linear.PiecewiseLinearRNN`): from its region Jacobians and
autograd by default; ``J^T a`` in closed form, without forming ``J``, for the shallow PLRNNs,
whose Jacobian is ``diag(A) + W1 diag(d) W2``, and for the unit-wise maps (PLRNN, AL-RNN,
dendPLRNN: ``diag(A) + W diag(phi'(z))``, :class:`~neurops.models.plrnn.UnitwiseRNN`).
Values and gradients equal autograd's (``tests/dynamics/test_forced_rollout.py``); the
speed-up is measured by ``benchmarks/dsr_training_speed.py``.

An ensemble (:func:`neurops.models.piecewise_linear.stack_members`) rolls out all its members at once:
states, data and weights carry the member axis first (``z_hat : [R, B, T+1, M]``), every
step is one batched operation over the members, and the backward pass is the same
recursion, batched over the members. Member ``r`` gets the gradient of its own loss.

References
----------
.. [1] Hess, F., Monfared, Z., Brenner, M., Durstewitz, D. (2023). Generalized teacher
   forcing for learning chaotic dynamics. ICML 2023, PMLR 202 (the GTF recursion).
.. [2] Mikhaeil, J. M., Monfared, Z., Durstewitz, D. (2022). On the difficulty of learning
   chaotic dynamics with RNNs. NeurIPS 2022 (sparse teacher forcing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from neurops.errors import ModelError
from neurops.models.piecewise_linear import PiecewiseLinearRNN

_FUSED_MAX_COST = 2**16  # M^2 R above which autograd is faster (fused_backward_pays)
_CHUNK_ELEMENTS = 2**18  # numbers per chunk of steps of the backward pass (~1 MB an array; measured best)


def forced_rollout(model: nn.Module, z_hat: torch.Tensor, weights: torch.Tensor,
                   inputs: torch.Tensor | None = None, *, fused: bool | None = None) -> torch.Tensor:
    """Un-forced predictions ``z_1 .. z_T : [B, T, M]`` of a forced rollout.

    Parameters
    ----------
    model : the RNN (``step``); the fused backward needs a
        :class:`~neurops.models.piecewise_linear.PiecewiseLinearRNN` (its region Jacobians).
    z_hat : [B, T+1, M] data-inferred latent states; ``z_hat[:, 0]`` starts the rollout
        (``[R, B, T+1, M]`` for an ensemble of R members).
    weights : [T, M] forcing weights ``w_k`` in [0, 1], applied after step ``k + 1``
        (``w_{T-1}`` is unused); an ensemble also takes ``[R, T, M]`` (one per member).
    inputs : [B, T, K] external inputs ``s_k`` of the steps (``[R, B, T, K]``).
    fused : ``True`` back-propagates by the hand-written recursion, ``False`` by autograd
        through the loop (the same values and gradients, to rounding); ``None`` picks the faster
        (:func:`fused_backward_pays`).

    Returns
    -------
    z : [B, T, M] (``[R, B, T, M]`` for an ensemble).

    Notes
    -----
    The rollout runs in the precision of the model's parameters, also under autocast
    (``bf16-mixed`` training): a chaotic recursion loses its accuracy in bfloat16 within a few
    steps, and these small maps gain no speed from it.
    """
    members = getattr(model, "members", 0)
    lead = (members,) if members else ()
    t, m = z_hat.shape[-2] - 1, z_hat.shape[-1]
    if z_hat.ndim != 3 + len(lead) or z_hat.shape[: len(lead)] != lead or weights.shape[-2:] != (t, m) \
            or weights.shape[:-2] not in ((), lead):
        shapes = "[R, B, T+1, M] and weights [T, M] or [R, T, M]" if members else "[B, T+1, M] and weights [T, M]"
        raise ModelError(f"a forced rollout needs latent windows z_hat : {shapes}; got weights "
                         f"{tuple(weights.shape)} and z_hat {tuple(z_hat.shape)}.")
    weights = weights.expand(*lead, t, m)  # one set per member
    if fused is None:
        fused = fused_backward_pays(model)
    dtype = next(model.parameters()).dtype
    z_hat, weights = z_hat.to(dtype), weights.to(dtype)
    inputs = None if inputs is None else inputs.to(dtype)
    with torch.autocast(z_hat.device.type, enabled=False):
        if fused and isinstance(model, PiecewiseLinearRNN):
            params = [p for p in model.parameters() if p.requires_grad]
            return _FusedForcedRollout.apply(model, z_hat, weights, inputs, *params)
        # the reference: the same loop, differentiated by autograd
        keep, pull = _forcing_terms(z_hat, weights)
        return _forward_loop(model, z_hat, keep, pull, inputs)[1].movedim(0, -2)


def fused_backward_pays(model: nn.Module) -> bool:
    """Whether the fused backward is expected to beat autograd for ``model``.

    A model with a closed-form ``J^T a`` (the shallow PLRNNs: ``A a + W2^T (s * W1^T a)``; the unit-wise PLRNN,
    AL-RNN and dendPLRNN: ``A a + phi'(z) * (W^T a)``) costs about what autograd's step does, and always pays.
    Otherwise the fused path builds every step's ``M x M`` Jacobian, ``~M^2 R`` operations a state for ``R``
    region bits, while autograd's cost grows only like ``M R``. Measured training steps
    (``benchmarks/dsr_training_speed.py``, one thread): fused 1.7-2.6x faster than autograd for every closed
    form, from the Lorenz-63 shPLRNN to AL-RNNs of ``M = 100``; the Jacobian path was 0.4x autograd at
    ``M^2 R = 5e5`` (an AL-RNN of M = 100, P = 50, before it had its closed form).
    """
    if not isinstance(model, PiecewiseLinearRNN):
        return False
    closed_form = type(model)._transposed_jacobians is not PiecewiseLinearRNN._transposed_jacobians
    return closed_form or model.latent_dim ** 2 * model.code_size <= _FUSED_MAX_COST


def _forcing_terms(z_hat: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``keep = 1 - w : [T, *E, 1, M]`` and ``pull = w z_hat_{1..T} : [T, *E, B, M]``, time first.

    ``E`` is the member axis of an ensemble (absent for one model).
    """
    w = weights.movedim(-2, 0).unsqueeze(-2)  # [T, *E, 1, M]
    return 1.0 - w, w * z_hat[..., 1:, :].movedim(-2, 0)


def _forward_loop(model: nn.Module, z_hat: torch.Tensor, keep: torch.Tensor, pull: torch.Tensor,
                  inputs: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Step inputs ``z~_0 .. z~_{T-1}`` and outputs ``z_1 .. z_T``, both ``[T, *E, B, M]``.

    ``keep`` and ``pull`` (:func:`_forcing_terms`) give ``z~_{k+1} = keep_k z_{k+1} + pull_k``;
    differentiable when grad mode is on.
    """
    z_tilde, starts, preds = z_hat[..., 0, :], [], []
    step = model.step if torch.is_grad_enabled() or not isinstance(model, PiecewiseLinearRNN) else model._stepper()
    for k in range(keep.shape[0]):
        starts.append(z_tilde)
        z = step(z_tilde, None if inputs is None else inputs[..., k, :])
        preds.append(z)
        z_tilde = torch.addcmul(pull[k], keep[k], z)
    return torch.stack(starts), torch.stack(preds)


def _steps_per_chunk(model: PiecewiseLinearRNN, batch: int) -> int:
    """Steps whose backward data (``batch`` states of :meth:`~PiecewiseLinearRNN._chunk_width` numbers each) fit
    ``_CHUNK_ELEMENTS``.

    ``batch`` counts the states of a step (windows times members).
    """
    return max(1, _CHUNK_ELEMENTS // (batch * model._chunk_width()))


def _members_first(x: torch.Tensor, members: int) -> torch.Tensor:
    """Time-first states ``[t, R, B, X]`` of an ensemble as ``[R, t * B, X]`` (one model: ``[t * B, X]``)."""
    if members:
        return x.transpose(0, 1).reshape(members, -1, x.shape[-1])
    return x.reshape(-1, x.shape[-1])


def _chunk_adjoints(product: Callable[..., torch.Tensor], first: int, stop: int, keep: torch.Tensor,
                    grad_z: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> None:
    """The adjoint recursion over steps ``first .. stop - 1``, newest first, written into ``a`` and ``b``.

    ``a_k = dL/dz_{k+1}``, ``b_k = dL/dz~_k = J(z~_k)^T a_k`` (``product(k - first, a_k, out=b_k)``, see
    :meth:`~PiecewiseLinearRNN._transposed_jacobians`) and ``a_{k-1} = g_{k-1} + (1 - w_{k-1}) b_k``.
    ``a, b, grad_z : [T, *E, B, M]``; ``a`` holds ``a_{stop-1}`` on entry.
    """
    for k in range(stop - 1, first - 1, -1):
        product(k - first, a[k], b[k])
        if k:
            torch.addcmul(grad_z[k - 1], keep[k - 1], b[k], out=a[k - 1])


class _FusedForcedRollout(torch.autograd.Function):
    """``forced_rollout`` with the adjoint recursion written out (see the module docstring).

    The backward pass walks chunks of steps, newest first (:func:`_steps_per_chunk`): the
    chunk's transposed Jacobians, its adjoint recursion, then one vector-Jacobian product of
    the map over the chunk's ``steps x B`` inputs for the parameter (and input) gradients, added
    in place into the gradients of the chunks before. Chunks sized to the CPU cache keep wide
    hidden layers (ECG, EEG settings) fast; the model keeps its chunk arrays in one ``work`` dict
    for all chunks (fresh arrays of that size cost more than the arithmetic on them).
    """

    @staticmethod
    def forward(ctx: Any, model: PiecewiseLinearRNN, z_hat: torch.Tensor, weights: torch.Tensor,
                inputs: torch.Tensor | None, *params: torch.Tensor) -> torch.Tensor:
        keep, pull = _forcing_terms(z_hat, weights)
        starts, preds = _forward_loop(model, z_hat, keep, pull, inputs)
        ctx.model, ctx.params = model, params
        ctx.save_for_backward(starts, keep, weights, inputs)
        return preds.movedim(0, -2)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        starts, keep, weights, inputs = ctx.saved_tensors  # starts : [T, *E, B, M], keep : [T, *E, 1, M]
        model, members = ctx.model, ctx.model.members
        n_steps, batch, m = starts.shape[0], starts.shape[-2], starts.shape[-1]
        grad_z = grad_out.movedim(-2, 0)  # [T, *E, B, M]
        needed = ctx.needs_input_grad[4:]
        targets = [p for p, n in zip(ctx.params, needed, strict=True) if n]
        wrt_inputs = inputs is not None and ctx.needs_input_grad[3]
        grad_targets: list[torch.Tensor | None] = [None] * len(targets)
        a_all, b_all = torch.empty_like(grad_z), torch.empty_like(grad_z)  # [T, *E, B, M]
        a_all[-1] = grad_z[-1]
        grad_inputs = torch.zeros_like(inputs) if wrt_inputs else None

        chunk, work = _steps_per_chunk(model, batch * max(1, members)), dict[Any, Any]()
        for stop in range(n_steps, 0, -chunk):
            first = max(0, stop - chunk)
            z_in = _members_first(starts[first:stop], members)  # [R, t * B, M] ([t * B, M])
            product, data = model._transposed_jacobians(z_in, batch, work)
            _chunk_adjoints(product, first, stop, keep, grad_z, a_all, b_all)
            s = None  # the parameter (and input) gradients of this chunk's steps
            if inputs is not None:
                s = _members_first(inputs[..., first:stop, :].movedim(-2, 0), members)
            g_s = model._step_vjp(z_in, s, _members_first(a_all[first:stop], members), data, targets, wrt_inputs,
                                  grad_targets)
            if g_s is not None:
                g_s = g_s.reshape(*inputs.shape[:-3], stop - first, batch, -1)  # [*E, t, B, K]
                grad_inputs[..., first:stop, :] = g_s.transpose(-3, -2)

        grad_z_hat = None
        if ctx.needs_input_grad[1]:
            grad_z_hat = grad_out.new_zeros(*grad_out.shape[:-2], n_steps + 1, m)  # [*E, B, T+1, M]
            grad_z_hat[..., 0, :] = b_all[0]
            w = weights.movedim(-2, 0)[:-1].unsqueeze(-2)  # [T-1, *E, 1, M]
            grad_z_hat[..., 1:n_steps, :] = (w * b_all[1:]).movedim(0, -2)
        found = iter(grad_targets)
        grad_params = [next(found) if n else None for n in needed]
        return (None, grad_z_hat, None, grad_inputs, *grad_params)


__all__ = ["forced_rollout", "fused_backward_pays"]
