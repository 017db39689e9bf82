"""Finite-difference assembly of -div(a grad u): face averaging, stencil, symmetry, definiteness."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from neurops.solvers.linear.diffusion import face_coefficients
from neurops.solvers.pde.diffusion_fd import diffusion_matrix, grid_spacing, interior


def test_face_coefficients_values():
    a = np.array([1.0, 3.0, 6.0])
    (arith,) = face_coefficients(a, "arithmetic")
    (harm,) = face_coefficients(a, "harmonic")
    np.testing.assert_allclose(arith, [2.0, 4.5])
    np.testing.assert_allclose(harm, [2 * 3 / 4, 2 * 18 / 9])


def test_face_coefficients_shapes_batch_and_torch():
    a = np.random.default_rng(0).uniform(1, 2, (3, 5, 6))
    fx, fy = face_coefficients(a, ndim=2)  # leading batch axis
    assert fx.shape == (3, 4, 6) and fy.shape == (3, 5, 5)
    np.testing.assert_allclose(fy[1, 2, 3], (a[1, 2, 3] + a[1, 2, 4]) / 2)
    tx, ty = face_coefficients(torch.from_numpy(a), "harmonic", ndim=2)
    nx, ny = face_coefficients(a, "harmonic", ndim=2)
    assert isinstance(tx, torch.Tensor)
    np.testing.assert_allclose(tx.numpy(), nx)
    np.testing.assert_allclose(ty.numpy(), ny)


def test_face_means_agree_on_constant_and_differ_at_jumps():
    const = np.full((4, 4), 7.0)
    for mean in ("arithmetic", "harmonic"):
        for faces in face_coefficients(const, mean):
            np.testing.assert_allclose(faces, 7.0)
    (arith,), (harm,) = face_coefficients(np.array([3.0, 12.0])), face_coefficients(np.array([3.0, 12.0]), "harmonic")
    assert harm[0] == pytest.approx(4.8) and arith[0] == pytest.approx(7.5)


def _apply_stencil(a: np.ndarray, u: np.ndarray, mean: str) -> np.ndarray:
    """-div(a grad u) at interior nodes, written node by node (u = 0 on the boundary)."""
    h = grid_spacing(a.shape)
    out = np.zeros(tuple(n - 2 for n in a.shape))
    avg = (lambda p, q: (p + q) / 2) if mean == "arithmetic" else (lambda p, q: 2 * p * q / (p + q))
    for j in itertools.product(*(range(1, n - 1) for n in a.shape)):
        total = 0.0
        for axis in range(a.ndim):
            for step in (-1, 1):
                nb = list(j)
                nb[axis] += step
                nb = tuple(nb)
                total += avg(a[j], a[nb]) * (u[j] - u[nb]) / h[axis] ** 2
        out[tuple(i - 1 for i in j)] = total
    return out


@pytest.mark.parametrize("mean", ["arithmetic", "harmonic"])
@pytest.mark.parametrize("shape", [(9,), (6, 7), (5, 4, 6)])
def test_matrix_equals_the_stencil(shape, mean):
    rng = np.random.default_rng(1)
    a = rng.uniform(0.5, 5.0, shape)
    u = np.zeros(shape)
    interior(u)[...] = rng.standard_normal(tuple(n - 2 for n in shape))
    A = diffusion_matrix(a, mean=mean)
    assert sp.isspmatrix_csr(A)
    np.testing.assert_allclose(A @ interior(u).ravel(), _apply_stencil(a, u, mean).ravel(), rtol=1e-12)
    assert A.nnz <= (2 * len(shape) + 1) * A.shape[0]


def test_constant_coefficient_is_the_kronecker_laplacian():
    n1, n2 = 7, 5
    h1, h2 = 1 / (n1 - 1), 1 / (n2 - 1)

    def lap1d(n: int, h: float) -> sp.spmatrix:
        return sp.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1]) / h**2

    ref = sp.kron(lap1d(n1 - 2, h1), sp.identity(n2 - 2)) + sp.kron(sp.identity(n1 - 2), lap1d(n2 - 2, h2))
    A = diffusion_matrix(np.full((n1, n2), 2.5))
    np.testing.assert_allclose(A.toarray(), 2.5 * ref.toarray(), rtol=1e-12)


def test_matrix_is_symmetric_positive_definite():
    a = np.where(np.random.default_rng(2).standard_normal((8, 8)) > 0, 12.0, 3.0)
    A = diffusion_matrix(a, mean="harmonic").toarray()
    np.testing.assert_allclose(A, A.T)
    assert np.linalg.eigvalsh(A).min() > 0


@pytest.mark.parametrize(
    ("a", "match"),
    [
        (np.ones((2, 5)), ">= 3 nodes"),
        (np.ones((3, 3, 3, 3)), "1-, 2- or 3-D"),
        (-np.ones((5, 5)), "> 0"),
        (np.full((5, 5), np.nan), "finite"),
    ],
)
def test_bad_coefficient(a, match):
    with pytest.raises(ValueError, match=match):
        diffusion_matrix(a)


def test_bad_face_mean_and_ndim():
    with pytest.raises(ValueError, match="arithmetic"):
        face_coefficients(np.ones(4), "geometric")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ndim=3"):
        face_coefficients(np.ones((4, 4)), ndim=3)


def test_ordering_assembles_the_permuted_matrix():
    a = np.random.default_rng(3).uniform(1.0, 3.0, (6, 7))
    perm = np.random.default_rng(4).permutation(4 * 5)
    A = diffusion_matrix(a).toarray()
    np.testing.assert_allclose(diffusion_matrix(a, ordering=perm).toarray(), A[np.ix_(perm, perm)])
    with pytest.raises(ValueError, match="permutation"):
        diffusion_matrix(a, ordering=perm[:-1])
