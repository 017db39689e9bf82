"""The k-periodic points of a region code sequence of a PWL map: one point, none, or a continuum.

For codes ``d_1..d_k`` with affine maps ``F_i(z) = J_i z + c_i``, the first points of the
k-periodic orbits solve ``(I - P) z = o`` with ``P = J_k ... J_1`` and ``o`` the offset of the
composed map. If ``I - P`` is regular (by its singular values, to a relative tolerance suited to
float64) the solution is one point, as symbolic analysis always had it. If it is singular, the
system is either inconsistent (no periodic point: e.g. ``z_1' = z_1 + 0.1`` drifts) or its
solutions form an affine subspace ``z_0 + span(N)`` of dimension ``d = dim null(I - P) >= 1``: a
*continuum* of fixed points (``k = 1``; a line attractor, Durstewitz 2017) or of k-periodic points
(e.g. a neutral rotation). Point ``i`` of such an orbit is affine in the free coordinates ``y``
(``z = z_0 + N y``), and so is every region condition ``G z_i + g > 0`` (or ``<= 0``) of the model's
half-spaces (``region_planes``): whether the continuum is *real* (meets its regions) is a
linear-programming problem, solved here with scipy's HiGHS. The part of the continuum in its
regions may be of lower dimension than ``d`` (the regions can pin some directions, down to a single
point); its dimension and directions are those reported.

References
----------
.. [1] Durstewitz, D. (2017). A state space approach for piecewise-linear recurrent neural networks
   for identifying computational dynamics from neural measurements. PLoS Comput. Biol. 13(6): e1005542
   (line attractors of PLRNNs).
.. [2] Eisenmann, L., Monfared, Z., Goering, N., Durstewitz, D. (2023). Bifurcations and loss jumps
   in RNN training. NeurIPS 2023 (SCYFI: k-cycles from code sequences).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linprog
from torch import nn

from neurops.errors import ModelError

#: ``I - P`` is singular if a singular value is below this fraction of ``max(1, sigma_max)``: rounding in a product
#: of a few float64 matrices is ~1e-15 relative, and a regular system this close to singular would put its one
#: periodic point more than 1e12 times the offset away
RANK_RTOL = 1e-12
#: a singular system is consistent if its least-squares residual is below this fraction of the offsets' size
RESIDUAL_RTOL = 1e-9
#: HiGHS' feasibility tolerances (its defaults, 1e-7, are coarser than the margins decided here)
_LP_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


@dataclass
class PeriodicSet:
    """The k-periodic points of a code sequence, as :func:`periodic_set` finds them.

    Attributes
    ----------
    points : [k, M] the orbit through one point (the isolated cycle, or a representative of the continuum).
    prod : [M, M] the k-step Jacobian product ``P``.
    directions : [k, M, d] orthonormal bases of the directions of each point's set (``d = 0``: one point).
    real : for a continuum, whether it meets its regions (decided by LP); ``None`` for an isolated point
        (the caller compares its region codes, as before).
    """

    points: torch.Tensor
    prod: torch.Tensor
    directions: np.ndarray
    real: bool | None


@torch.no_grad()
def periodic_set(m: nn.Module, codes: torch.Tensor) -> PeriodicSet | None:
    """The k-periodic points of the affine maps of ``codes [k, R]`` of a float64 CPU model ``m``; ``None`` if none.

    An isolated point is solved as before (``torch.linalg.solve``); a continuum gets a representative point (in its
    regions if real: near the set's point closest to the origin, half its largest margin from the region
    boundaries; for ``k > 1`` not of a lower period where the set is not) and the dimension and directions of its
    part in the regions (of the whole set if virtual).
    """
    j, c = m.linear_map(codes)
    k, dim = codes.shape[0], j.shape[-1]
    eye = torch.eye(dim, dtype=j.dtype, device=j.device)
    maps = [(eye, torch.zeros(dim, dtype=j.dtype, device=j.device))]  # point i = Q_i z + q_i
    for i in range(k):
        maps.append((j[i] @ maps[-1][0], j[i] @ maps[-1][1] + c[i]))
    prod, offset = maps.pop()
    if not bool(torch.isfinite(prod).all() and torch.isfinite(offset).all()):
        return None  # an overflowing product (a diverging map): no finite periodic point
    svals = torch.linalg.svdvals(eye - prod)
    if bool((svals > RANK_RTOL * max(1.0, float(svals[0]))).all()):
        z = torch.linalg.solve(eye - prod, offset)
        return PeriodicSet(_orbit(j, c, z), prod, np.zeros((k, dim, 0)), None)
    solved = _affine_solutions((eye - prod).numpy(), offset.numpy(), float(c.norm(dim=-1).max()))
    if solved is None:
        return None
    z0, basis = solved
    q = np.stack([qi.numpy() for qi, _ in maps])  # [k, M, M]
    shift = np.stack([oi.numpy() for _, oi in maps])  # [k, M]
    rows, rhs, strict = _region_rows(m, codes.numpy(), q, shift, z0, basis)
    tol = 1e-8 * (1.0 + float(np.abs(z0).max()))
    real, y, hull = _region_part(rows, rhs, strict, tol)
    if k > 1:  # a virtual set's point need not stay in the regions
        n = len(rows) if real else 0
        y = _off_lower_periods(q, shift, z0, basis, y, hull, rows[:n], rhs[:n], tol)
    first = torch.as_tensor(z0 + basis @ y, dtype=j.dtype)
    span = basis @ hull  # [M, d'] the directions of the real part (of the whole set if virtual)
    return PeriodicSet(_orbit(j, c, first), prod, np.stack([_orthonormal(qi @ span) for qi in q]), real)


def _orbit(j: torch.Tensor, c: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``[k, M]``: ``z`` and its images under the first ``k - 1`` maps ``J_i z + c_i``."""
    points = [z]
    for i in range(j.shape[0] - 1):
        points.append(j[i] @ points[-1] + c[i])
    return torch.stack(points)


def _orthonormal(vectors: np.ndarray) -> np.ndarray:
    """An orthonormal basis ``[M, d]`` of the span of ``vectors [M, d]``, each column's largest entry positive."""
    if not vectors.shape[1]:
        return vectors
    basis = np.linalg.qr(vectors)[0]
    return basis * np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(basis.shape[1])]) + 0.0  # no -0.0


def _affine_solutions(a: np.ndarray, b: np.ndarray, offsets: float) -> tuple[np.ndarray, np.ndarray] | None:
    """``(z_0 [M], N [M, d])`` with ``{z : a z = b} = z_0 + span(N)`` for a singular ``a``, ``z_0`` the solution of
    least norm; ``None`` if ``a z = b`` is inconsistent (residual above ``RESIDUAL_RTOL`` of the offsets' size)."""
    u, s, vt = np.linalg.svd(a)
    rank = int((s > RANK_RTOL * max(1.0, s[0])).sum())
    z0 = vt[:rank].T @ ((u[:, :rank].T @ b) / s[:rank])
    scale = max(float(np.linalg.norm(b)), offsets, float(s[0] * np.linalg.norm(z0)))
    if np.linalg.norm(a @ z0 - b) > RESIDUAL_RTOL * scale:
        return None
    return z0, vt[rank:].T


def _region_rows(m: nn.Module, codes: np.ndarray, q: np.ndarray, shift: np.ndarray, z0: np.ndarray,
                 basis: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The region conditions of all ``k`` points as ``rows y + rhs >= 0`` in the free coordinates ``y [d]``.

    Each row is a signed, normalised ``(G z_i + g) / ||G_r||`` (the distance of ``z_i`` to the plane, positive on
    the side of its code bit); ``strict`` marks the bits that are set (``> 0``; a clear bit means ``<= 0``).
    """
    if not hasattr(m, "region_planes"):
        raise ModelError(f"{type(m).__name__} does not describe its linear subregions as half-spaces "
                         "(region_planes); symbolic analysis cannot decide whether its continua of fixed points "
                         "meet their regions.")
    planes, offsets = (t.detach().numpy() for t in m.region_planes())
    norms = np.linalg.norm(planes, axis=1)
    norms = np.where(norms > 0, norms, 1.0)
    rows, rhs = [], []
    for i, code in enumerate(codes):
        sign = np.where(code, 1.0, -1.0) / norms
        rows.append(sign[:, None] * (planes @ q[i] @ basis))
        rhs.append(sign * (planes @ (q[i] @ z0 + shift[i]) + offsets))
    return np.concatenate(rows), np.concatenate(rhs), np.concatenate(list(codes)).astype(bool)


def _region_part(rows: np.ndarray, rhs: np.ndarray, strict: np.ndarray, tol: float
                 ) -> tuple[bool, np.ndarray, np.ndarray]:
    """Whether ``{y : rows y + rhs > 0 (strict), >= 0 (else)}`` is non-empty, a point ``y`` of it (``0``, the
    least-norm point of the set, if it is empty) and a basis ``[d, d']`` of its directions (its affine hull)."""
    d = rows.shape[1]
    whole, none = np.eye(d), (False, np.zeros(d), np.eye(d))
    moving = np.linalg.norm(rows, axis=1) > 1e-12
    fixed_rhs, fixed_strict = rhs[~moving], strict[~moving]  # conditions that are the same all over the set
    if (fixed_rhs[fixed_strict] <= tol).any() or (fixed_rhs[~fixed_strict] < -tol).any():
        return none
    rows, rhs, strict = rows[moving], rhs[moving], strict[moving]
    if not len(rows):
        return True, np.zeros(d), whole
    depth, y = _max_margin(rows, rhs, np.ones(len(rows), bool))
    if depth > tol:  # an open piece of the set lies in the regions: all d directions
        depth = min([depth] + [abs(v) for v in fixed_rhs if abs(v) > tol])  # the distance to every boundary
        return True, _nearest(rows, rhs, np.full(len(rows), depth / 2), y), whole
    depth, y = _max_margin(rows, rhs, strict)  # on the boundary of the clear bits' half-spaces
    if y is None or (strict.any() and depth <= tol):
        return none
    floor = np.where(strict, min(depth, 1.0) / 2, 0.0)
    pinned = [i for i in np.flatnonzero(~strict) if _pinned(rows, rhs, floor, i, tol)]
    hull = _null_space(rows[pinned]) if pinned else whole
    return True, _nearest(rows, rhs, floor, y), hull


def _lp(cost: np.ndarray, a_ub: np.ndarray, b_ub: np.ndarray, bounds: list) -> np.ndarray | None:
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs", options=_LP_OPTIONS)
    return res.x if res.status == 0 else None


def _max_margin(rows: np.ndarray, rhs: np.ndarray, on: np.ndarray) -> tuple[float, np.ndarray | None]:
    """``max t <= 1`` with ``rows y + rhs >= t`` on the rows ``on`` and ``>= 0`` on the others, and its ``y``
    (``(-inf, None)`` if infeasible)."""
    d = rows.shape[1]
    x = _lp(np.r_[np.zeros(d), -1.0], np.c_[-rows, on.astype(float)], rhs, [(None, None)] * d + [(None, 1.0)])
    return (-np.inf, None) if x is None else (float(x[-1]), x[:d])


def _nearest(rows: np.ndarray, rhs: np.ndarray, floor: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """The ``y`` of least 1-norm with ``rows y + rhs >= floor`` (``fallback``, a feasible ``y``, if the LP fails)."""
    n, d = rows.shape
    eye = np.eye(d)
    a_ub = np.block([[-rows, np.zeros((n, d))], [eye, -eye], [-eye, -eye]])
    x = _lp(np.r_[np.zeros(d), np.ones(d)], a_ub, np.r_[rhs - floor, np.zeros(2 * d)],
            [(None, None)] * d + [(0, None)] * d)
    return fallback if x is None else x[:d]


def _pinned(rows: np.ndarray, rhs: np.ndarray, floor: np.ndarray, i: int, tol: float) -> bool:
    """Whether row ``i`` is 0 all over ``{rows y + rhs >= floor}`` (an implicit equality: the regions pin it)."""
    x = _lp(-rows[i], -rows, rhs - floor, [(None, None)] * rows.shape[1])
    return x is not None and float(rows[i] @ x + rhs[i]) <= tol


def _null_space(a: np.ndarray) -> np.ndarray:
    _, s, vt = np.linalg.svd(a)
    rank = int((s > RANK_RTOL * max(1.0, s[0])).sum()) if len(s) else 0
    return vt[rank:].T


def _off_lower_periods(q: np.ndarray, shift: np.ndarray, z0: np.ndarray, basis: np.ndarray, y: np.ndarray,
                       hull: np.ndarray, rows: np.ndarray, rhs: np.ndarray, tol: float) -> np.ndarray:
    """Move ``y`` within the set and its regions off the points of a lower period ``p | k`` (a neutral rotation's
    continuum holds its centre; the least-norm point is often that fixed point) where the set is not p-periodic."""
    k = len(q)
    for p in (p for p in range(1, k) if k % p == 0):
        z = z0 + basis @ y
        points, dirs = q @ z + shift, q @ basis @ hull  # [k, M], [k, M, d']
        scale = 1.0 + float(np.abs(points).max())
        if not np.allclose(np.roll(points, p, axis=0), points, atol=1e-9 * scale):
            continue
        moves = [i for i in range(hull.shape[1]) if not np.allclose(np.roll(dirs[..., i], p, axis=0), dirs[..., i],
                                                                     atol=1e-9)]
        for i in moves:  # the set is not p-periodic along hull[:, i]: step along it, keeping half of every margin
            slope, value = rows @ hull[:, i], rows @ y + rhs
            for sign in (1.0, -1.0):
                down = sign * slope < -1e-12
                step = min([scale] + list(0.5 * value[down] / np.abs(slope[down])))
                if step > tol:
                    y = y + sign * step * hull[:, i]
                    break
            else:
                continue
            break
    return y
