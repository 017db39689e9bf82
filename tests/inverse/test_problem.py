import json

import h5py
import pytest

from neurops.errors import DataError
from neurops.inverse import read_observations
from neurops.inverse.problem import problem_prior, true_solver
from tests.conftest import write_observation_file

#: the record `neurops data convert fno-mat` writes in place of a generator's configuration
CONVERTED = {"converter": "fno-mat", "layout": "darcy", "source": "pc.mat", "matlab_version": "5"}


@pytest.fixture
def converted(tmp_path):
    path = write_observation_file(tmp_path / "obs.h5", n=9)
    with h5py.File(path, "a") as f:
        f.attrs["generator"] = json.dumps(CONVERTED)
    return read_observations(path)


def test_the_users_prior_and_forcing_describe_converted_data(converted):
    prior = problem_prior(converted, overrides={"coefficient": "piecewise", "resolution": 9, "tau": 4})
    assert (prior.coefficient, prior.resolution, prior.tau) == ("piecewise", 9, 4)
    assert true_solver(converted, forcing=2.0).forcing == 2.0
    assert true_solver(converted) is None  # unknown: `invert pde` asks for --forcing


def test_converted_data_without_a_prior_name_the_converter(converted):
    with pytest.raises(DataError) as err:
        problem_prior(converted, overrides={"tau": 4})
    assert str(err.value) == ("the data's generator is 'the converter fno-mat', not 'darcy': its prior is unknown; "
                              "describe the prior yourself (--prior '{\"coefficient\": \"lognormal\", \"resolution\": "
                              "33, ...}').")
