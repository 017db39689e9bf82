import numpy as np
import pytest
import torch

from neurops.errors import DataError
from neurops.inverse import GaussianLikelihood, ModelError, estimate_model_error


def test_potential_is_the_whitened_misfit():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((2, 5))
    cov = np.cov(rng.standard_normal((5, 40)))
    err = ModelError(mean=0.1 * np.ones(5), cov=cov, n_pairs=40, relative_rms=0.1)
    lik = GaussianLikelihood(y, np.array([0.3, 0.5]), [err, None])
    pred = torch.as_tensor(rng.standard_normal((2, 3, 5)))
    phi = lik.potential(pred).numpy()
    r0 = y[0] - pred[0].numpy() - 0.1
    full = 0.09 * np.eye(5) + cov
    assert np.allclose(phi[0], 0.5 * np.einsum("ci,ij,cj->c", r0, np.linalg.inv(full), r0))
    assert np.allclose(phi[1], 0.5 * ((y[1] - pred[1].numpy()) ** 2).sum(-1) / 0.25)
    assert np.allclose(lik.chi2(pred).numpy()[1], ((y[1] - pred[1].numpy()) ** 2).mean(-1) / 0.25)
    with pytest.raises(DataError, match="positive noise"):
        GaussianLikelihood(y, np.array([0.3, 0.0]))


def test_model_error_statistics_of_a_biased_noisy_surrogate():
    """A surrogate off by +0.2 with independent N(0, 0.1^2) errors at every node: m_e = -0.2, S_e = 0.01 I."""
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(4000, 5, 5, generator=gen, dtype=torch.float64)
    u = 3 * a
    noise = 0.1 * torch.randn(a.shape, generator=gen, dtype=torch.float64)
    calls = iter(range(10**6))

    def surrogate(x):
        start = next(calls) * 500
        return 3 * x + 0.2 + noise[start:start + len(x)]

    pts = np.array([[0.25, 0.25], [0.5, 0.75], [1.0, 0.0]])
    err = estimate_model_error(surrogate, a.numpy(), u.numpy(), pts, batch_size=500)
    assert err.n_pairs == 4000
    assert np.allclose(err.mean, -0.2, atol=0.01)
    assert np.allclose(err.cov, 0.01 * np.eye(3), atol=0.002)
    assert err.summary()["std_rms"] == pytest.approx(0.1, rel=0.05)
