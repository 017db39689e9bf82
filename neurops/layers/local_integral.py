"""Local integral convolution (DISCO-style): a kernel of physical radius, evaluated on any grid.

The layer is the integral operator

.. math:: (K v)_o(x) = \\sum_c \\int_{|y| < r} \\kappa_{oc}(y) \\, v_c(x - y) \\, dy,
          \\qquad \\kappa_{oc}(y) = \\frac{1}{|B_r|} \\sum_b \\theta_{ocb} \\, \\phi_b(y),

with learned coefficients ``theta`` on a fixed basis ``phi_b`` of continuous functions
supported in the ball of radius ``r`` (a fraction of the domain's side), discretised on
the input's grid by quadrature: ``kappa`` is evaluated at the grid offsets inside the
ball and ``v`` is multiplied by the trapezoidal weights of the domain grid (``h^d``;
half of that on Dirichlet boundary nodes, where the integrand jumps to the zero
extension). The number of taps grows as the grid is refined, the parameters do not,
and the output converges to ``K v`` as ``h -> 0``.

The basis (in 1, 2 and 3 dims alike):

* ``n_rings`` radial hats ``phi_i(|y|) = max(0, 1 - |n_rings |y| / r - i|)``,
  ``i = 0 .. n_rings - 1``, which all vanish at ``|y| = r``;
* with ``order=1``, the dipoles ``phi_i(|y|) y_k / |y|`` for ``i >= 1`` and every axis ``k``
  (anisotropic, first-derivative-like kernels).

References
----------
.. [1] J. Ocampo, M. A. Price, J. D. McEwen, "Scalable and Equivariant Spherical CNNs by
   Discrete-Continuous (DISCO) Convolutions", ICLR 2023, arXiv:2209.13603.
.. [2] M. Liu-Schiaffini, J. Berner, B. Bonev, T. Kurth, K. Azizzadenesheli, A. Anandkumar,
   "Neural Operators with Localized Integral and Differential Kernels", ICML 2024,
   arXiv:2402.16845.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from neurops.errors import ModelError, NeuropsWarning
from neurops.layers.boundary import BoundaryLike
from neurops.layers.kernel_interp import GridStencilConv, grid_spacing
from neurops.layers.resample import cells

__all__ = ["LocalIntegralConv", "local_basis", "quadrature_weights"]


def _ball_volume(radius: float, ndim: int) -> float:
    return math.pi ** (ndim / 2) / math.gamma(ndim / 2 + 1) * radius**ndim


@functools.lru_cache(maxsize=128)
def _basis(spacing: tuple[float, ...], radius: float, n_rings: int, order: int) -> np.ndarray:
    ndim = len(spacing)
    taps = [int(math.floor(radius / h + 1e-9)) for h in spacing]
    axes = [np.arange(-t, t + 1) * h for t, h in zip(taps, spacing)]
    y = np.stack(np.meshgrid(*axes, indexing="ij"))  # [d, *taps]
    rho = np.sqrt((y**2).sum(0)) / radius
    rings = [np.clip(1.0 - np.abs(n_rings * rho - i), 0.0, None) * (rho < 1) for i in range(n_rings)]
    basis = list(rings)
    if order >= 1:
        unit = np.divide(y, rho * radius, out=np.zeros_like(y), where=rho > 0)
        basis += [ring * unit[k] for ring in rings[1:] for k in range(ndim)]
    return np.stack(basis) / _ball_volume(radius, ndim)


def local_basis(spacing: Sequence[float], radius: float, n_rings: int = 3, order: int = 1) -> np.ndarray:
    """Basis functions sampled at the grid offsets inside the ball, divided by its volume.

    Parameters
    ----------
    spacing : grid spacing per axis (fraction of the domain's side).
    radius : support radius ``r`` (same units).
    n_rings : radial hat functions.
    order : 0 (isotropic) or 1 (also the dipoles).

    Returns
    -------
    float64 array ``[n_basis, *taps]`` with ``2 floor(r / h) + 1`` taps per axis.
    """
    return _basis(tuple(round(float(h), 15) for h in spacing), float(radius), int(n_rings), int(order))


def quadrature_weights(shape: Sequence[int], boundary: Sequence[str], dtype: torch.dtype = torch.float32,
                       device: torch.device | str | None = None) -> torch.Tensor:
    """Trapezoidal weights ``[*shape]`` of a grid on the unit cube (``prod h``, halved per Dirichlet boundary node)."""
    weights = None
    for axis, (n, mode, h) in enumerate(zip(shape, boundary, grid_spacing(shape, boundary))):
        w = torch.full((int(n),), h, dtype=dtype, device=device)
        if mode == "dirichlet":
            w[0] = w[-1] = h / 2
        view = [1] * len(shape)
        view[axis] = int(n)
        weights = w.view(view) if weights is None else weights * w.view(view)
    assert weights is not None
    return weights


class LocalIntegralConv(GridStencilConv):
    """Local integral operator with a kernel of physical radius on a fixed basis (DISCO-style).

    Parameters
    ----------
    radius : support radius as a fraction of the domain's side (e.g. ``1 / 32``); a grid
        needs ``h <= radius`` to resolve the kernel at all. On a grid with ``h > radius`` along
        an axis the kernel is only its centre tap there and the outputs scale like
        ``(h / radius)^d``: the layer still runs (coarse levels of a U-Net do) but warns, once
        per grid shape, with a :class:`~neurops.errors.NeuropsWarning` naming the points needed.
    n_rings : radial basis functions.
    order : 0 (isotropic kernels) or 1 (also first-order anisotropic ones).
    bias : add a learned bias per output channel.
    in_channels, out_channels, boundary, ndim : as in
        :class:`~neurops.layers.kernel_interp.GridStencilConv` (the boundary also sets the quadrature).

    References
    ----------
    .. [1] Ocampo, Price, McEwen, "Scalable and Equivariant Spherical CNNs by
       Discrete-Continuous (DISCO) Convolutions", ICLR 2023.
    .. [2] Liu-Schiaffini et al., "Neural Operators with Localized Integral and
       Differential Kernels", ICML 2024.
    """

    def __init__(self, in_channels: int, out_channels: int, radius: float = 1.0 / 32, n_rings: int = 3,
                 order: int = 1, boundary: BoundaryLike = "dirichlet", ndim: int = 2, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, boundary, ndim)
        if not 0 < radius < math.inf or n_rings < 1 or order not in (0, 1):
            raise ModelError(f"need a finite radius > 0, n_rings >= 1 and order 0 or 1; got {radius}, {n_rings}, "
                             f"{order}")
        self.radius, self.n_rings, self.order = float(radius), int(n_rings), int(order)
        n_basis = n_rings + (ndim * (n_rings - 1) if order else 0)
        bound = 1.0 / math.sqrt(in_channels)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, n_basis).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound)) if bias else None
        self._checked_shapes: set[tuple[int, ...]] = set()

    def _warn_unresolved(self, shape: tuple[int, ...], spacing: Sequence[float]) -> None:
        """One :class:`~neurops.errors.NeuropsWarning` per grid shape whose spacing exceeds the radius on an axis
        (only the centre tap there: ``floor(r / h) = 0``), naming the points that resolve it."""
        self._checked_shapes.add(shape)
        coarse = [i for i, h in enumerate(spacing) if math.floor(self.radius / h + 1e-9) == 0]
        if not coarse:
            return
        axes = ", ".join(f"axis {i} ({shape[i]} points, spacing {spacing[i]:g})" for i in coarse)
        need = ", ".join(f"{math.ceil(1 / self.radius - 1e-9) + shape[i] - cells(shape[i], self.boundary[i])} "
                         f"points on axis {i}" for i in coarse)
        warnings.warn(f"LocalIntegralConv(radius={self.radius:g}) on a grid of shape {shape}: the grid spacing exceeds "
                      f"the radius on {axes}, so the kernel there is only its centre tap and the quadrature does not "
                      f"resolve it (outputs scale like (spacing / radius)^{len(shape)}); use a grid of at least "
                      f"{need}, or a radius >= {max(spacing[i] for i in coarse):g}.", NeuropsWarning, stacklevel=3)

    def stencil(self, shape: Sequence[int]) -> torch.Tensor:
        """The kernel ``[out, in, *taps]`` sampled on a grid of ``shape`` (warns if it does not resolve it)."""
        w = self.weight
        spacing = grid_spacing(shape, self.boundary)
        if tuple(int(n) for n in shape) not in self._checked_shapes:
            self._warn_unresolved(tuple(int(n) for n in shape), spacing)
        phi = torch.as_tensor(local_basis(spacing, self.radius, self.n_rings, self.order), dtype=w.dtype,
                              device=w.device)
        return torch.tensordot(w, phi, dims=([2], [0]))

    def weigh(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` times the trapezoidal weights of its grid (the quadrature of the integral)."""
        return x * quadrature_weights(x.shape[2:], self.boundary, x.dtype, x.device)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, radius={self.radius}, n_rings={self.n_rings}, "
                f"order={self.order}, boundary={self.boundary}")
