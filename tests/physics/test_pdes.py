import numpy as np
import pytest

from neurops.errors import DataError
from neurops.models.dgno import DGNO
from neurops.physics import DarcyProblem, WeakFormSampler


def test_residuals_refuse_latent_codes_that_are_not_a_tensor():
    """DarcyProblem.residuals given NumPy codes raised torch's TypeError ('to() received an invalid combination of
    arguments')."""
    model = DGNO(resolution=(9, 9), latent_dim=4, width=8, depth=2, encoder_hidden=(8,))
    tf = WeakFormSampler(2, n_particles=3, n_quad_per_axis=5)()
    with pytest.raises(DataError) as err:
        DarcyProblem().residuals(model, np.zeros((2, 4), np.float32), tf)
    assert str(err.value) == ("DarcyProblem.residuals: beta must be a floating-point torch.Tensor [B, m], got a "
                              "numpy ndarray; convert it with torch.as_tensor(..., dtype=torch.float64) (or float32).")
