"""Relative Lp and H1 errors of fields ``[B, C, *spatial]``, averaged over the batch.

Convention: every loss is computed per sample over all channels and grid points, then
**averaged** over the batch (``reduction="mean"``), so its value does not depend on the
batch size (unlike losses summed over the batch). Domains are the unit cube with node
grids, so the grid spacing along a dim with ``n`` points is ``1 / (n - 1)``. Norms are plain
sums over the nodes (the quadrature weight cancels in the ratios).
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from neurops.errors import ConfigError, DataError
from neurops.registry import Registry

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ConfigError(f"unknown reduction {reduction!r}; use 'mean', 'sum' or 'none'.")


def _check(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise DataError(f"prediction shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}.")
    if pred.dim() < 2:
        raise DataError(f"expected fields [B, C, *spatial], got shape {tuple(pred.shape)}.")
    if pred.device != target.device:
        raise DataError(f"the prediction is on {pred.device} but the target on {target.device}; move one of them "
                        f"(e.g. target.to({str(pred.device)!r})).")
    for name, t in (("prediction", pred), ("target", target)):
        if not (t.is_floating_point() or t.is_complex()):
            raise DataError(f"the {name} is {t.dtype}; the relative errors take floating-point fields: pass "
                            f"{name if name == 'target' else 'pred'}.float().")


def relative_lp(pred: Float[Tensor, "_batch _channel *_space"], target: Float[Tensor, "_batch _channel *_space"],
                p: float = 2, reduction: str = "mean", eps: float = 1e-12) -> Float[Tensor, "*batch"]:
    """``||pred - target||_p / ||target||_p`` per sample (all channels and points), then reduced.

    Parameters
    ----------
    pred, target : [B, C, *spatial].
    p : norm order.
    reduction : ``mean`` (default), ``sum`` or ``none`` (per-sample values ``[B]``).
    """
    _check(pred, target)
    diff = torch.linalg.vector_norm((pred - target).flatten(1), ord=p, dim=1)
    ref = torch.linalg.vector_norm(target.flatten(1), ord=p, dim=1)
    return _reduce(diff / (ref + eps), reduction)


def relative_l2(pred: Float[Tensor, "_batch _channel *_space"], target: Float[Tensor, "_batch _channel *_space"],
                reduction: str = "mean") -> Float[Tensor, "*batch"]:
    """Relative L2 error (see :func:`relative_lp`)."""
    return relative_lp(pred, target, 2, reduction)


def _sq_h1_seminorm_fd(u: torch.Tensor, spacing: Sequence[float]) -> torch.Tensor:
    """Sum over dims of ``||d_i u||^2`` per sample, second-order finite differences."""
    dims = tuple(range(2, u.dim()))
    grads = torch.gradient(u, spacing=list(spacing), dim=dims, edge_order=2) if len(dims) > 1 else (
        torch.gradient(u, spacing=list(spacing), dim=dims[0], edge_order=2))
    return functools.reduce(operator.add, [g.flatten(1).pow(2).sum(1) for g in grads])


def _sq_h1_seminorm_fourier(u: torch.Tensor, k_max: int | None) -> torch.Tensor:
    """``sum_k |k|^2 |u_hat(k)|^2`` per sample (periodic extension, integer wavenumbers, optional cut-off)."""
    dims = tuple(range(2, u.dim()))
    uf = torch.fft.fftn(u, dim=dims, norm="forward")
    k2 = torch.zeros(u.shape[2:], device=u.device, dtype=u.real.dtype if u.is_complex() else u.dtype)
    for i, n in enumerate(u.shape[2:]):
        k = torch.fft.fftfreq(n, d=1.0 / n, device=u.device)
        shape = [1] * len(dims)
        shape[i] = n
        k2 = k2 + k.view(shape).pow(2)
    weight = (2 * torch.pi) ** 2 * k2
    if k_max is not None:
        weight = torch.where(k2 < k_max**2, weight, torch.zeros_like(weight))
    sq_l2 = uf.abs().pow(2)
    return (sq_l2 * weight).flatten(1).sum(1) * math.prod(u.shape[2:])


def relative_h1(pred: Float[Tensor, "_batch _channel *_space"], target: Float[Tensor, "_batch _channel *_space"],
                method: str = "fd", reduction: str = "mean", spacing: Sequence[float] | None = None,
                k_max: int | None = 20, eps: float = 1e-12) -> Float[Tensor, "*batch"]:
    """Relative H1 error ``||e||_H1 / ||target||_H1`` with ``||v||_H1^2 = ||v||^2 + ||grad v||^2``.

    Parameters
    ----------
    pred, target : [B, C, *spatial].
    pred, target : real floating-point fields on one device (else a :class:`~neurops.errors.DataError`).
    method : ``"fd"`` (second-order finite differences on the node grid of the unit cube; at least 3 points per axis) or
        ``"fourier"`` (MgNO's Fourier-weighted H1: spectral derivatives of the periodic extension).
    spacing : grid spacing per spatial dim (default ``1 / (n - 1)``, for ``fd``).
    k_max : for ``fourier``: only wavenumbers ``|k| < k_max`` enter the seminorm (MgNO uses 20); > 0, or None for all.
    reduction : ``mean``, ``sum`` or ``none``.

    References
    ----------
    He, Liu, Xu, "MgNO: Efficient Parameterization of Linear Operators via Multigrid", ICLR 2024
    (Fourier-weighted H1 loss).
    """
    _check(pred, target)
    if pred.is_complex() or target.is_complex():
        raise DataError("relative_h1 takes real fields (squares of complex values are not |.|^2); pass the real and "
                        "imaginary parts as channels, torch.view_as_real(...).movedim(-1, 2).flatten(1, 2).")
    err = pred - target
    if method == "fd":
        spatial = tuple(pred.shape[2:])
        if not spatial or min(spatial) < 3:
            raise DataError(f"relative_h1(method='fd') takes second-order differences along every spatial axis, which "
                            f"needs at least 3 points per axis; got fields of shape {tuple(pred.shape)} = [B, C, "
                            f"*spatial]; use method='fourier' or relative_lp.")
        spacing = list(spacing) if spacing is not None else [1.0 / (n - 1) for n in spatial]
        if len(spacing) != len(spatial) or not all(math.isfinite(h) and h > 0 for h in spacing):
            raise DataError(f"spacing={spacing!r}: give one finite grid spacing > 0 per spatial axis "
                            f"({len(spatial)} for fields of shape {tuple(pred.shape)}).")
        num = err.flatten(1).pow(2).sum(1) + _sq_h1_seminorm_fd(err, spacing)
        den = target.flatten(1).pow(2).sum(1) + _sq_h1_seminorm_fd(target, spacing)
    elif method == "fourier":
        if k_max is not None and not k_max > 0:
            raise ConfigError(f"k_max={k_max!r}: the Fourier H1 seminorm keeps the wavenumbers |k| < k_max, so k_max "
                              "must be > 0 (None keeps all of them).")
        num = err.flatten(1).pow(2).sum(1) + _sq_h1_seminorm_fourier(err, k_max)
        den = target.flatten(1).pow(2).sum(1) + _sq_h1_seminorm_fourier(target, k_max)
    else:
        raise ConfigError(f"unknown H1 method {method!r}; use 'fd' or 'fourier'.")
    return _reduce(num.sqrt() / (den.sqrt() + eps), reduction)


#: losses by config name: ``loss: rel_l2`` in a task config
LOSSES: Registry[Loss] = Registry("loss", ConfigError)
LOSSES.add("rel_l2", relative_l2)
LOSSES.add("rel_h1", lambda pred, target: relative_h1(pred, target, method="fd"))
LOSSES.add("rel_h1_fourier", lambda pred, target: relative_h1(pred, target, method="fourier"))


def get_loss(name: str) -> Loss:
    """A loss by name, with the known names in the error."""
    return LOSSES.get(name)
