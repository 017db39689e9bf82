import json

import h5py
import numpy as np
import pytest

from neurops.errors import ConfigError, DataError
from neurops.inverse import Observations, read_observations
from neurops.inverse.problem import check_problem, data_file, problem_prior, true_solver, validation_pairs
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


def _piecewise(a_low, a_high, coefficient="piecewise"):
    """Observations in memory of a piecewise Darcy problem (forcing 1) with the two values ``a_low``, ``a_high``."""
    x = np.linspace(0, 1, 5)
    return Observations(np.array([[0.25, 0.5]]), np.array([0.1]), 0.01, {"x": x, "y": x}, source={"forcing": 1.0},
                        generator={"name": "darcy", "forcing": 1.0, "coefficient": coefficient, "a_low": a_low,
                                   "a_high": a_high})


def test_a_piecewise_problem_of_other_values_is_refused_unless_they_are_stated():
    """Observations of a in {3, 12} inverted with data of a in {1, 50} were given the data's prior, a posterior
    over {1, 50}, without a word: only the forcing and the coefficient kind were compared."""
    obs, record = _piecewise(3.0, 12.0), _piecewise(1.0, 50.0).generator
    with pytest.raises(ConfigError) as err:
        check_problem(obs, record, "the data file d.h5", "--data with the file they came from")
    assert str(err.value) == ("the observations were made with a_low 3.0 and a_high 12.0, the data file d.h5 with "
                              "a_low 1.0 and a_high 50.0: they describe different problems. State the problem "
                              "yourself (--prior '{\"a_low\": ..., \"a_high\": ...}'), or pass --data with the file "
                              "they came from.")
    with pytest.raises(ConfigError, match=r"with a_high 12.0, .* \(--prior '\{\"a_high\": \.\.\.\}'\)"):
        check_problem(obs, record, "the data file d.h5", "--data ...", {"a_low": 3.0})
    assert check_problem(obs, record, "the data file d.h5", "--data ...", {"a_low": 3.0, "a_high": 12.0}) == [
        "the observations were made with a_low 3.0, the data file d.h5 with a_low 1.0; using a_low 3.0 as given.",
        "the observations were made with a_high 12.0, the data file d.h5 with a_high 50.0; using a_high 12.0 as "
        "given."]
    assert check_problem(obs, _piecewise(3.0, 12.0).generator, "the data file d.h5", "--data ...") == []


def test_a_stated_setting_that_differs_from_the_observations_own_record_gets_a_note():
    """--forcing 2 for observations made with forcing 1, with a data file of forcing 1 (or none found), was used
    without a word: only a data file that differed from the observations got the note."""
    obs = _piecewise(3.0, 12.0)
    for record in (_piecewise(3.0, 12.0).generator, None):
        assert check_problem(obs, record, "the data file d.h5", "--data ...", {"forcing": 2.0, "a_low": 3.0}) == [
            "the observations were made with forcing 1.0; using forcing 2.0 as given."]
        assert check_problem(obs, record, "d.h5", "--data ...", {"forcing": 2.0}, note_stated=False) == []
    assert check_problem(obs, _piecewise(3.0, 12.0).generator, "d.h5", "--data ...", {"forcing": 1.0}) == []


def test_the_two_values_count_only_where_both_problems_are_piecewise():
    """A lognormal record's a_low, a_high (the generator's unused defaults) mean nothing: only the kind differs."""
    obs, lognormal = _piecewise(3.0, 12.0), _piecewise(1.0, 50.0, "lognormal").generator
    with pytest.raises(ConfigError) as err:
        check_problem(obs, lognormal, "the data file d.h5", "--data ...")
    assert str(err.value).startswith("the observations were made with coefficient 'piecewise', the data file d.h5 "
                                     "with coefficient 'lognormal': they describe different problems. State the "
                                     "problem yourself (--prior '{\"coefficient\": ...}')")
    assert check_problem(obs, lognormal, "d.h5", "--data ...", {"coefficient": "lognormal"}) == [
        "the observations were made with coefficient 'piecewise', d.h5 with coefficient 'lognormal'; using "
        "coefficient 'lognormal' as given."]
    with pytest.raises(ConfigError, match="made with a_low 3.0 and a_high 12.0, d.h5 with a_low 1.0 and a_high 50"):
        check_problem(obs, lognormal, "d.h5", "--data ...", {"coefficient": "piecewise"})  # the data's values, then
    assert check_problem(_piecewise(3.0, 12.0, "lognormal"), lognormal, "d.h5", "--data ...") == []


def test_values_no_statement_changes_name_only_the_other_way_out():
    """A DGNO's two-phase decoder outputs its own two values whatever --prior says."""
    obs, decoder = _piecewise(3.0, 12.0), {"coefficient": "piecewise", "a_low": 5.0, "a_high": 10.0}
    for stated in ({}, {"a_low": 3.0, "a_high": 12.0}):
        with pytest.raises(ConfigError) as err:
            check_problem(obs, {"forcing": 10.0, **decoder}, "the DGNO checkpoint m.ckpt",
                          "--ckpt with a DGNO trained on their problem", stated, fixed=decoder)
        assert str(err.value) == ("the observations were made with forcing 1.0 and a_low 3.0 and a_high 12.0, the "
                                  "DGNO checkpoint m.ckpt with forcing 10.0 and a_low 5.0 and a_high 10.0: they "
                                  "describe different problems, and no option changes its a_low and a_high; pass "
                                  "--ckpt with a DGNO trained on their problem.")
