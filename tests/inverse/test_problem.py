import json

import h5py
import pytest

from neurops.errors import DataError
from neurops.inverse import read_observations
from neurops.inverse.problem import data_file, problem_prior, true_solver, validation_pairs
from tests.conftest import write_decay_file, write_observation_file

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


def test_a_data_file_of_another_kind_is_refused_not_ignored(tmp_path, lorenz63_file):
    """A trajectory file as --data used to be ignored (the observations' own record was used, and a surrogate's
    model-error term silently left out) or to end in 'needs the problem's forcing: pass --data FILE'."""
    obs = read_observations(write_observation_file(tmp_path / "obs.h5", n=9))
    decay = write_decay_file(tmp_path / "decay.h5")
    for path in (decay, lorenz63_file):
        for find in (data_file, problem_prior, true_solver, validation_pairs):
            with pytest.raises(DataError) as err:
                find(obs, path)
            assert str(err.value) == (f"--data {path} is a 'trajectory' file, not the problem's Darcy data file "
                                      "(kind 'operator', pairs a -> u); pass the data file the observations come "
                                      "from, or leave --data out.")


def test_validation_pairs_on_another_grid_name_both_ways_out(tmp_path):
    """Observations of a test@R split with a val split on the training grid used to be told only 'use data at the
    observations' resolution', not that --model-error off is the other way."""
    from neurops.data.generators.darcy import DarcyConfig, generate_darcy
    from neurops.inverse import observations_from_file

    data = generate_darcy(DarcyConfig(n_train=2, n_val=2, n_test=1, resolution=5, test_resolutions=[9], seed=0),
                          tmp_path / "d.h5", workers=1, progress=False)
    obs = observations_from_file(data, "test@9", 0, n_obs=4)
    with pytest.raises(DataError) as err:
        validation_pairs(obs)
    assert str(err.value) == (f"the validation split of {data.absolute()} is on a (5, 5) grid, the observations on "
                              "(9, 9), so the surrogate's error at the observation points cannot be estimated from "
                              "it; pass --data with a file whose val split is on the observations' grid, or "
                              "--model-error off.")
