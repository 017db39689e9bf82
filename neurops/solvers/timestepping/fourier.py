"""Periodic grids, wavenumbers, dealiasing and spectral derivatives (the pseudo-spectral machinery).

Fields live on the uniform periodic grid ``x_j = j L / n`` (``j = 0..n-1``) of a box of side
lengths ``L``; the last ``d`` axes of an array are the spatial ones (channels-first
convention, ``u : [..., *spatial]``). Spectra use the ``rfftn`` layout: every axis is a full
FFT axis except the last one, which holds the ``n // 2 + 1`` non-negative wavenumbers.

References
----------
.. [1] S. A. Orszag, "On the elimination of aliasing in finite-difference schemes by filtering
   high-wavenumber components", J. Atmos. Sci. 28 (1971).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from neurops.errors import ConfigError

Tensor = torch.Tensor
Lengths = float | Sequence[float]


def _as_lengths(lengths: Lengths, ndim: int) -> tuple[float, ...]:
    if isinstance(lengths, (int, float)):
        return (float(lengths),) * ndim
    lengths = tuple(float(v) for v in lengths)
    if len(lengths) != ndim:
        raise ConfigError(f"got {len(lengths)} domain lengths for a {ndim}-D grid; give one length per axis.")
    return lengths


def _check_shape(shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(int(n) for n in shape)
    if not shape or any(n < 2 for n in shape):
        raise ConfigError(f"grid shape {shape} is invalid; every axis needs at least 2 points.")
    return shape


def periodic_grid(n: int, length: float = 1.0, *, dtype: torch.dtype = torch.float64,
                  device: torch.device | str | None = None) -> Tensor:
    """Nodes ``x_j = j L / n`` of a periodic grid, the right end point excluded.

    Parameters
    ----------
    n : number of points.
    length : period ``L``.

    Returns
    -------
    x : [n]
    """
    _check_shape((n,))
    return torch.arange(n, dtype=dtype, device=device) * (length / n)


def wavenumbers(n: int, length: float = 1.0, *, real: bool = False, dtype: torch.dtype = torch.float64,
                device: torch.device | str | None = None) -> Tensor:
    """Angular wavenumbers ``2 pi m / L`` of an ``n``-point periodic axis in FFT order.

    Parameters
    ----------
    n : number of grid points.
    length : period ``L``.
    real : the ``rfft`` half axis (``m = 0..n//2``) instead of the full ``fft`` one
        (``m = 0..n/2-1, -n/2..-1``).

    Returns
    -------
    k : [n] or [n // 2 + 1]
    """
    _check_shape((n,))
    freq = (torch.fft.rfftfreq if real else torch.fft.fftfreq)(n, d=1.0 / n, dtype=dtype, device=device)
    return (2 * math.pi / length) * freq


def wavenumber_grid(shape: Sequence[int], lengths: Lengths = 1.0, *, dtype: torch.dtype = torch.float64,
                    device: torch.device | str | None = None) -> tuple[Tensor, ...]:
    """Broadcastable angular wavenumbers of a ``d``-D grid in ``rfftn`` layout.

    Parameters
    ----------
    shape : spatial grid ``(n_1, ..., n_d)``.
    lengths : period per axis (one float for all).

    Returns
    -------
    ks : d tensors; ``ks[i]`` has shape ``[1, ..., n_i, ..., 1]`` (``n_d // 2 + 1`` on the last axis)
        so that ``sum(k**2 for k in ks)`` is ``|k|^2`` on the spectral grid.
    """
    shape = _check_shape(shape)
    lengths = _as_lengths(lengths, len(shape))
    out = []
    for axis, (n, length) in enumerate(zip(shape, lengths)):
        real = axis == len(shape) - 1
        k = wavenumbers(n, length, real=real, dtype=dtype, device=device)
        view = [1] * len(shape)
        view[axis] = k.numel()
        out.append(k.reshape(view))
    return tuple(out)


def dealias_mask(shape: Sequence[int], *, device: torch.device | str | None = None) -> Tensor:
    """Orszag's 2/3 rule: keep the modes with ``|m_i| < n_i / 3`` on every axis.

    Multiplying the spectra of two fields truncated by this mask, and truncating the product
    again, removes the aliasing error of a quadratic nonlinearity.

    Parameters
    ----------
    shape : spatial grid ``(n_1, ..., n_d)``.

    Returns
    -------
    mask : bool [n_1, ..., n_{d-1}, n_d // 2 + 1]
    """
    shape = _check_shape(shape)
    mask = torch.ones((), dtype=torch.bool, device=device)
    for axis, n in enumerate(shape):
        real = axis == len(shape) - 1
        m = (torch.fft.rfftfreq if real else torch.fft.fftfreq)(n, d=1.0 / n, device=device)
        view = [1] * len(shape)
        view[axis] = m.numel()
        mask = mask & (m.abs() < n / 3.0).reshape(view)
    return mask


def spectral_derivative(u: Tensor, order: Sequence[int], lengths: Lengths = 1.0) -> Tensor:
    """Mixed partial derivative of a periodic field by Fourier differentiation.

    For odd orders the Nyquist mode of an even-sized axis is dropped (its derivative is not
    real), as usual.

    Parameters
    ----------
    u : [..., n_1, ..., n_d] real field; the last ``d = len(order)`` axes are spatial.
    order : derivative order per spatial axis, e.g. ``(1, 0)`` for ``d/dx`` in 2D.
    lengths : period per axis.

    Returns
    -------
    du : same shape as ``u``.
    """
    d = len(order)
    if d == 0 or u.ndim < d:
        raise ConfigError(f"order {tuple(order)} needs a field with at least {max(d, 1)} spatial axes; "
                          f"got shape {tuple(u.shape)}.")
    if any(int(o) < 0 for o in order):
        raise ConfigError(f"derivative orders must be >= 0, got {tuple(order)}.")
    shape = tuple(u.shape[-d:])
    dims = tuple(range(-d, 0))
    ks = wavenumber_grid(shape, lengths, dtype=u.dtype if u.is_floating_point() else torch.float64,
                         device=u.device)
    u_hat = torch.fft.rfftn(u, dim=dims)
    factor = torch.ones((), dtype=u_hat.dtype, device=u.device)
    for axis, (k, o) in enumerate(zip(ks, order)):
        if o == 0:
            continue
        k = k.clone()
        n = shape[axis]
        if o % 2 == 1 and n % 2 == 0:  # Nyquist mode of an odd derivative
            idx = [0] * d
            idx[axis] = n // 2
            k[tuple(idx[i] if i == axis else slice(None) for i in range(d))] = 0.0
        factor = factor * (1j * k) ** int(o)
    return torch.fft.irfftn(u_hat * factor, s=shape, dim=dims)
