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


@pytest.mark.parametrize("change, message", [
    ({"a": lambda a: a[:, None], "u": lambda u: u[:, None]},
     "points must be [M, 3] (one coordinate per spatial axis of the pairs [N, *R] = (6, 1, 5, 5)), got (2, 2); drop "
     "a channel axis of the pairs ([N, 1, *R] -> [N, *R])."),
    ({"points": lambda p: p + 1}, "points must lie in the unit cube [0, 1]^d of the pairs' node grid; use the "
                                  "observations' points (obs.points)."),
    ({"a": lambda a: np.where(a > 0.9, np.nan, a)}, "the validation a holds NaN or Inf (22 values); drop those pairs."),
    ({"predict": lambda x: x / 0}, "the surrogate predicts NaN or Inf on some validation pairs, so its error "
                                   "statistics are undefined; check the model (is it trained on this problem?) or "
                                   "drop those pairs."),
], ids=["channel-axis", "points-outside", "nan-pairs", "nan-predictions"])
def test_model_error_of_bad_pairs_is_one_clear_error(change, message):
    """They used to give statistics of NaN or Inf (then a failed Cholesky), or a sample_field error about [..., 3]."""
    rng = np.random.default_rng(0)
    inputs = {"a": rng.random((6, 5, 5)), "u": rng.random((6, 5, 5)), "points": np.array([[0.2, 0.3], [0.5, 1.0]]),
              "predict": lambda x: 2 * x}
    for key, f in change.items():
        inputs[key] = f if key == "predict" else f(inputs[key])
    with pytest.raises(DataError) as err:
        estimate_model_error(inputs["predict"], inputs["a"], inputs["u"], inputs["points"])
    assert str(err.value) == message


def test_model_error_takes_tensors_that_require_grad():
    a = torch.rand(5, 5, 5, dtype=torch.float64, requires_grad=True)
    err = estimate_model_error(lambda x: x, a, 2 * a, np.array([[0.5, 0.5]]))
    assert err.mean == pytest.approx(float(a[:, 2, 2].mean()))
