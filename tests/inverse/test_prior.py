import json

import numpy as np
import pytest
import torch

from neurops.data.generators.darcy import DarcyConfig, darcy_coefficient_sample, generate_darcy
from neurops.data.generators.grf import gaussian_random_field
from neurops.errors import ConfigError, DataError
from neurops.inverse import GRFPrior, prior_from_file


@pytest.mark.parametrize("ndim,n", [(1, 17), (2, 17), (3, 7)])
def test_field_is_the_generators_gaussian_random_field(ndim, n):
    """The same standard normals give exactly the generator's field (constant mode left out)."""
    prior = GRFPrior(resolution=n, ndim=ndim, alpha=2.5, tau=4.0)
    z = np.random.default_rng(3).standard_normal((n,) * ndim)
    g = prior.field(torch.as_tensor(z.ravel()[prior.modes]))
    ref = gaussian_random_field((n,) * ndim, np.random.default_rng(3), alpha=2.5, tau=4.0, sigma=prior.amplitude)
    assert np.allclose(g.numpy(), ref, atol=1e-12)
    assert prior.dim == n**ndim - 1


def test_prior_of_a_darcy_file_reproduces_its_coefficients(tmp_path):
    config = DarcyConfig(n_train=2, n_val=0, n_test=1, resolution=9, coefficient="piecewise", a_high=10.0,
                         a_low=5.0, seed=4)
    path = generate_darcy(config, tmp_path / "d.h5", workers=1, progress=False)
    prior = prior_from_file(path)
    assert (prior.coefficient, prior.a_high, prior.a_low, prior.resolution) == ("piecewise", 10.0, 5.0, 9)
    rng = np.random.default_rng(np.random.SeedSequence(4, spawn_key=(2, 0)))  # test sample 0
    z = rng.standard_normal((9, 9))
    a = prior.coefficient_field(torch.as_tensor(z.ravel()[prior.modes]))
    assert np.array_equal(a.numpy(), darcy_coefficient_sample(config, "test", 0))
    assert not prior.differentiable and GRFPrior(resolution=9).differentiable
    lognormal = prior_from_file(path, coefficient="lognormal", max_wavenumber=3)
    assert lognormal.dim == 3 * 3 - 1 and lognormal.to_dict()["max_wavenumber"] == 3
    assert json.dumps(lognormal.to_dict())


def test_modes_are_ordered_by_eigenvalue_and_samples_are_standard_normal():
    prior = GRFPrior(resolution=9, max_wavenumber=4)
    mu = prior.eigenvalues_full.ravel()[prior.modes]
    assert np.all(np.diff(mu) <= 0)
    xi = prior.sample(5, torch.Generator().manual_seed(0))
    assert xi.shape == (5, prior.dim) and xi.dtype == torch.float64


def test_bad_priors_get_clear_errors():
    with pytest.raises(ConfigError, match="coefficient"):
        GRFPrior(resolution=9, coefficient="binary")
    with pytest.raises(ConfigError, match="a_low < a_high"):
        GRFPrior(resolution=9, coefficient="piecewise", a_low=5.0, a_high=1.0)
    with pytest.raises(ConfigError, match="unknown prior setting"):
        GRFPrior.from_dict({"resolution": 9, "tua": 3})
    with pytest.raises(DataError, match="not 'darcy'"):
        GRFPrior.from_generator({"name": "burgers"})
    with pytest.raises(DataError, match="modes"):
        GRFPrior(resolution=9).field(torch.zeros(3))


@pytest.mark.parametrize("key, value, wanted", [
    ("tau", "x", "a finite number"),
    ("alpha", True, "a finite number"),
    ("a_low", None, "a finite number"),
    ("tau", float("inf"), "a finite number"),
    ("resolution", "17", "a whole number"),
    ("resolution", 17.0, "a whole number"),
    ("max_wavenumber", 2.5, "a whole number"),
])
def test_prior_settings_of_the_wrong_type_are_one_line_naming_key_value_and_type(key, value, wanted):
    # '{"tau": "x"}' and '{"resolution": "17"}' used to be TypeErrors, '{"alpha": true}' was alpha = 1; made
    # directly (GRFPrior(resolution=17.0), max_wavenumber=2.5) they were taken without a check
    example = {"tau": 3, "alpha": 2, "a_low": 3, "resolution": 17, "max_wavenumber": 8}[key]
    for make in (GRFPrior.from_dict, lambda values: GRFPrior(**values)):
        with pytest.raises(ConfigError) as err:
            make({"resolution": 9, key: value})
        assert str(err.value) == (f"prior setting {key!r} must be {wanted}, got {value!r} ({type(value).__name__}); "
                                  f"give e.g. --prior '{{\"{key}\": {example}}}'.")


def test_prior_settings_take_integers_for_reals_and_none_where_it_means_the_default():
    prior = GRFPrior.from_dict({"resolution": np.int64(9), "tau": 4, "sigma": None, "max_wavenumber": None})
    assert prior.tau == 4 and prior.sigma is None and prior.resolution == 9


@pytest.mark.parametrize("n", [-1, 0, 2.5, "3", float("nan"), True])
def test_a_number_of_draws_that_is_not_a_whole_number_of_at_least_one_is_refused(n):
    """GRFPrior.sample(-1) raised torch's RuntimeError 'Trying to create tensor with negative dimension', 2.5 or
    '3' a TypeError of torch.randn, True drew one sample."""
    with pytest.raises(ConfigError) as err:
        GRFPrior(resolution=9).sample(n)
    assert str(err.value) == f"GRFPrior.sample: n must be a whole number >= 1, got {n!r}."


def test_coefficients_that_are_not_a_tensor_are_refused():
    """GRFPrior.field/coefficient_field given a NumPy array raised AttributeError ('numpy.ndarray' object has no
    attribute 'device')."""
    prior = GRFPrior(resolution=9)
    with pytest.raises(DataError) as err:
        prior.coefficient_field(np.zeros((2, prior.dim)))
    assert str(err.value) == ("GRFPrior: xi must be a floating-point torch.Tensor [..., dim], got a numpy ndarray; "
                              "convert it with torch.as_tensor(..., dtype=torch.float64) (or float32).")
