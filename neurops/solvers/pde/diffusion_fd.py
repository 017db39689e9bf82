"""Second-order finite differences for ``-div(a grad u)`` on a node grid of (0,1)^d.

The grid has ``N_i`` nodes per axis at ``x = j h_i``, ``h_i = 1 / (N_i - 1)``, boundary
nodes included. The flux through the face between nodes ``j`` and ``j+1`` of axis ``i``
uses a face coefficient ``a_{j+1/2}`` built from the two neighbouring node values
(:func:`~neurops.solvers.linear.diffusion.face_coefficients`), giving the (2d+1)-point stencil (3/5/7 points in 1/2/3-D)

    (A u)_j = sum_i [ a_{j+1/2} (u_j - u_{j+1}) + a_{j-1/2} (u_j - u_{j-1}) ] / h_i^2 .

With ``u = 0`` on the boundary (homogeneous Dirichlet) the unknowns are the interior
nodes; :func:`diffusion_matrix` assembles ``A`` over them (C order of the interior grid)
as a symmetric positive definite scipy CSR matrix.

Face averaging: ``"arithmetic"`` (the default, as FNO's Darcy data) or ``"harmonic"`` (for
high-contrast media); the matrix-free and multigrid solvers share the same function, so every
solver discretises the same equation (the choice and its references:
:mod:`neurops.solvers.linear.diffusion`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import scipy.sparse as sp

from neurops.errors import DataError
from neurops.solvers.linear.diffusion import FaceMean, face_coefficients
from neurops.solvers.linear.operators import axis_index

ArrayT = TypeVar("ArrayT")  # numpy array or torch tensor


def grid_spacing(shape: Sequence[int]) -> tuple[float, ...]:
    """Node spacing ``h_i = 1 / (N_i - 1)`` of a node grid of (0,1)^d with ``N_i`` nodes per axis."""
    return tuple(1.0 / (int(n) - 1) for n in shape)


def interior(x: ArrayT, ndim: int | None = None) -> ArrayT:
    """The interior nodes ``x[..., 1:-1, .., 1:-1]`` of the last ``ndim`` (default: all) axes."""
    total = len(x.shape)
    ndim = total if ndim is None else int(ndim)
    return x[(Ellipsis,) + (slice(1, -1),) * ndim]


def _checked_coefficient(a: np.ndarray) -> np.ndarray:
    """``a`` as float64 node values on a 1-3-D grid of at least 3 nodes per axis, finite and positive."""
    a = np.asarray(a, dtype=np.float64)
    if not 1 <= a.ndim <= 3:
        raise DataError(f"coefficient of shape {a.shape}: expected a 1-, 2- or 3-D node grid.")
    if min(a.shape) < 3:
        raise DataError(f"coefficient of shape {a.shape}: every axis needs >= 3 nodes (one interior node).")
    if not np.isfinite(a).all():
        raise DataError("the diffusion coefficient has NaN or Inf values; it must be finite and > 0 at every node.")
    if (a <= 0).any():
        raise DataError(f"the diffusion coefficient must be > 0 at every node (min {a.min():.3g}); "
                         "check the coefficient field.")
    return a


def _unknown_index(n_int: tuple[int, ...], ordering: np.ndarray | None) -> np.ndarray:
    """The row of each interior node [*n_int]: natural order, or the permutation ``ordering``."""
    n = int(np.prod(n_int))
    if ordering is None:
        return np.arange(n).reshape(n_int)
    ordering = np.asarray(ordering)
    if ordering.shape != (n,):
        raise DataError(f"ordering has shape {ordering.shape}; it must be a permutation of the {n} "
                         "interior nodes.")
    index = np.empty(n, dtype=np.int64)
    index[ordering] = np.arange(n)
    return index.reshape(n_int)


def diffusion_matrix(a: np.ndarray, *, mean: FaceMean = "arithmetic",
                     ordering: np.ndarray | None = None) -> sp.csr_matrix:
    """Assemble ``-div(a grad .)`` with ``u = 0`` on the boundary, over the interior nodes.

    Parameters
    ----------
    a : [N_1, .., N_d] coefficient at the nodes of (0,1)^d (boundary nodes included),
        d in 1..3, every ``N_i >= 3``, positive.
    mean : face averaging, ``"arithmetic"`` (default, as FNO's data) or ``"harmonic"``.
    ordering : optional permutation of ``0 .. n-1``: unknown ``k`` is the interior node
        ``ordering[k]`` (C order), i.e. the matrix is ``P A P^T`` assembled directly (used by
        the direct solver with a nested-dissection ordering).

    Returns
    -------
    A : scipy CSR matrix ``[n, n]``, ``n = prod(N_i - 2)``, symmetric positive definite,
        rows and columns in C order of the interior grid ``u[1:-1, .., 1:-1].ravel()``
        (or in ``ordering``).

    References
    ----------
    .. [1] R. J. LeVeque, "Finite Difference Methods for Ordinary and Partial Differential
       Equations", SIAM 2007, section 2.15 (variable-coefficient diffusion).
    """
    a = _checked_coefficient(a)
    d = a.ndim
    n_int = tuple(n - 2 for n in a.shape)
    n = int(np.prod(n_int))
    index = _unknown_index(n_int, ordering)
    diag = np.zeros(n_int)
    rows, cols, vals = [], [], []
    for axis, (faces, h) in enumerate(zip(face_coefficients(a, mean), grid_spacing(a.shape))):
        # faces restricted to interior nodes on the other axes; along `axis` there are N-1 faces
        other = tuple(slice(None) if i == axis else slice(1, -1) for i in range(d))
        k = faces[other] / h**2
        diag += k[axis_index(d, axis, slice(None, -1))] + k[axis_index(d, axis, slice(1, None))]
        # couplings between interior neighbours j, j+1 (faces 1 .. N-3)
        rows.append(index[axis_index(d, axis, slice(None, -1))].ravel())
        cols.append(index[axis_index(d, axis, slice(1, None))].ravel())
        vals.append(-k[axis_index(d, axis, slice(1, -1))].ravel())
    r, c, v = (np.concatenate(x) for x in (rows, cols, vals))
    A = sp.coo_matrix(
        (np.concatenate([diag.ravel(), v, v]), (np.concatenate([index.ravel(), r, c]),
                                                np.concatenate([index.ravel(), c, r]))),
        shape=(n, n),
    )
    return A.tocsr()
