"""Forced rollouts of PWL RNNs, with a hand-written backward pass (the engine of GTF and STF).

A forced rollout runs ``z_{k+1} = F(z~_k) + C s_k`` from ``z~_0 = z_hat_0`` and pulls the
state towards the data after every step, ``z~_{k+1} = (1 - w_k) z_{k+1} + w_k z_hat_{k+1}``
with per-step, per-unit weights ``w_k``: ``w = alpha`` on the forced units is generalized
teacher forcing, ``w in {0, 1}`` every ``tau`` steps is sparse teacher forcing, ``w = 0``
is free running.

Autograd records ~20 small operations per step of such a loop; on a CPU that bookkeeping,
not arithmetic, is the training time of the small models DSR uses. The fused path runs the
forward loop without autograd and back-propagates by hand: a piecewise-linear map has the
exact Jacobian ``J(z~_k)`` of its linear subregion, so the adjoint recursion
``a_{k-1} = g_{k-1} + (1 - w_{k-1}) J(z~_k)^T a_k`` costs two operations per step, and the
parameter gradients are one batched vector-Jacobian product of the map over all ``T B``
step inputs. ``benchmarks/dsr_lorenz63.py --quick`` trains the same models either way.

References
----------
.. [1] Hess, F., Monfared, Z., Brenner, M., Durstewitz, D. (2023). Generalized teacher
   forcing for learning chaotic dynamics. ICML 2023, PMLR 202 (the GTF recursion).
.. [2] Mikhaeil, J. M., Monfared, Z., Durstewitz, D. (2022). On the difficulty of learning
   chaotic dynamics with RNNs. NeurIPS 2022 (sparse teacher forcing).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from neurops.models.plrnn import PiecewiseLinearRNN

_JACOBIAN_CHUNK = 2**21  # elements of the Jacobians held at once in the backward pass


def forced_rollout(model: nn.Module, z_hat: torch.Tensor, weights: torch.Tensor,
                   inputs: torch.Tensor | None = None, *, fused: bool = True) -> torch.Tensor:
    """Un-forced predictions ``z_1 .. z_T : [B, T, M]`` of a forced rollout.

    Parameters
    ----------
    model : the RNN (``step``); the fused backward needs a
        :class:`~neurops.models.plrnn.PiecewiseLinearRNN` (its region Jacobians).
    z_hat : [B, T+1, M] data-inferred latent states; ``z_hat[:, 0]`` starts the rollout.
    weights : [T, M] forcing weights ``w_k`` in [0, 1], applied after step ``k + 1``
        (``w_{T-1}`` is unused).
    inputs : [B, T, K] external inputs ``s_k`` of the steps.
    fused : use the hand-written backward pass when the model allows it (same values and
        gradients as autograd through the loop, several times faster on a CPU).
    """
    if fused and isinstance(model, PiecewiseLinearRNN):
        params = [p for p in model.parameters() if p.requires_grad]
        return _FusedForcedRollout.apply(model, z_hat, weights, inputs, *params)
    return _autograd_rollout(model, z_hat, weights, inputs)


def _autograd_rollout(model: nn.Module, z_hat: torch.Tensor, weights: torch.Tensor,
                      inputs: torch.Tensor | None) -> torch.Tensor:
    """The reference: the same loop, differentiated by autograd."""
    z_tilde, preds = z_hat[:, 0], []
    for k in range(weights.shape[0]):
        z = model.step(z_tilde, None if inputs is None else inputs[:, k])
        preds.append(z)
        z_tilde = z - weights[k] * (z - z_hat[:, k + 1])
    return torch.stack(preds, dim=1)


def _forward_loop(model: nn.Module, z_hat: torch.Tensor, keep: torch.Tensor, pull: torch.Tensor,
                  inputs: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Step inputs ``z~_0 .. z~_{T-1}`` and outputs ``z_1 .. z_T``, both ``[T, B, M]``."""
    z_tilde, starts, preds = z_hat[:, 0], [], []
    for k in range(keep.shape[0]):
        starts.append(z_tilde)
        z = model.step(z_tilde, None if inputs is None else inputs[:, k])
        preds.append(z)
        z_tilde = torch.addcmul(pull[:, k], keep[k], z)
    return torch.stack(starts), torch.stack(preds)


def _adjoints(model: PiecewiseLinearRNN, starts: torch.Tensor, keep: torch.Tensor,
              grad_z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Adjoints ``a_k = dL/dz_{k+1}`` and ``b_k = dL/dz~_k``, both ``[T, B, M]``.

    ``a_{T-1} = g_{T-1}``, ``b_k = J(z~_k)^T a_k``, ``a_{k-1} = g_{k-1} + (1 - w_{k-1}) b_k``.
    Jacobians are built for chunks of steps, newest first, to bound memory.
    """
    n_steps, batch, m = starts.shape
    chunk = max(1, _JACOBIAN_CHUNK // (batch * m * m))
    a_list: list[torch.Tensor] = [grad_z[-1]] * n_steps
    b_list: list[torch.Tensor] = [grad_z[-1]] * n_steps
    a = grad_z[-1]
    for stop in range(n_steps, 0, -chunk):
        first = max(0, stop - chunk)
        jac = model.jacobian(starts[first:stop])  # [chunk, B, M, M]
        for k in range(stop - 1, first - 1, -1):
            a_list[k] = a
            b_list[k] = b = torch.bmm(a.unsqueeze(1), jac[k - first]).squeeze(1)
            if k:
                a = torch.addcmul(grad_z[k - 1], keep[k - 1], b)
    return torch.stack(a_list), torch.stack(b_list)


class _FusedForcedRollout(torch.autograd.Function):
    """``forced_rollout`` with the adjoint recursion written out (see the module docstring)."""

    @staticmethod
    def forward(ctx: Any, model: PiecewiseLinearRNN, z_hat: torch.Tensor, weights: torch.Tensor,
                inputs: torch.Tensor | None, *params: torch.Tensor) -> torch.Tensor:
        keep = 1.0 - weights
        starts, preds = _forward_loop(model, z_hat, keep, weights * z_hat[:, 1:], inputs)
        ctx.model, ctx.params = model, params
        ctx.save_for_backward(starts, keep, weights, inputs)
        return preds.transpose(0, 1)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        starts, keep, weights, inputs = ctx.saved_tensors
        model, (n_steps, batch, m) = ctx.model, starts.shape
        a, b = _adjoints(model, starts, keep, grad_out.transpose(0, 1).contiguous())

        grad_z_hat = None
        if ctx.needs_input_grad[1]:
            grad_z_hat = grad_out.new_zeros(batch, n_steps + 1, m)
            grad_z_hat[:, 0] = b[0]
            grad_z_hat[:, 1:n_steps] = (weights[:-1, None] * b[1:]).transpose(0, 1)

        # parameter (and input) gradients: one vector-Jacobian product of the batched map
        needed = ctx.needs_input_grad[4:]
        wrt_inputs = inputs is not None and ctx.needs_input_grad[3]
        with torch.enable_grad():
            flat_s = None
            if inputs is not None:
                flat_s = inputs.detach().transpose(0, 1).reshape(n_steps * batch, -1).requires_grad_(wrt_inputs)
            out = model.step(starts.reshape(-1, m), flat_s)
            targets = [p for p, n in zip(ctx.params, needed, strict=True) if n] + ([flat_s] if wrt_inputs else [])
            grads = iter(torch.autograd.grad(out, targets, a.reshape(-1, m), allow_unused=True) if targets else ())
        grad_params = [next(grads) if n else None for n in needed]
        grad_inputs = next(grads).reshape(n_steps, batch, -1).transpose(0, 1) if wrt_inputs else None
        return (None, grad_z_hat, None, grad_inputs, *grad_params)


__all__ = ["forced_rollout"]
