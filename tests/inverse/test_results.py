import h5py
import numpy as np
import pytest

from neurops.errors import SchemaError
from neurops.inverse import read_posterior
from tests.conftest import write_observation_file


def test_a_file_of_another_kind_names_its_kind(tmp_path):
    """It used to read '... is not a posterior file (kind 'posterior')', as if the file's own kind were 'posterior'."""
    data = tmp_path / "data.h5"
    with h5py.File(data, "w") as f:
        f.attrs["kind"] = "operator"
    hand_made = write_observation_file(tmp_path / "obs.h5")
    for path, found in ((data, "its kind is 'operator'"), (hand_made, "it has no kind")):
        with pytest.raises(SchemaError) as err:
            read_posterior(path)
        assert str(err.value) == (f"{path} is not a posterior file ({found}, not 'posterior'); write one with "
                                  "`neurops invert pde|surrogate --out POSTERIOR.h5`.")


def _refuse(name: str) -> None:
    raise ValueError(f"non-standard JSON constant {name}")


def _result():
    import math

    import numpy as np

    from neurops.inverse.inversion import PosteriorResult

    x = np.linspace(0, 1, 5)
    summary = {f"{f}_{s}": np.full(5, 1.0) for f in ("a", "u") for s in ("mean", "std", "lower", "median", "upper",
                                                                          "map")}
    samples = {"a": np.ones((2, 5)), "u": np.ones((2, 5)), "chain": np.zeros(2, np.int32),
               "step": np.arange(2, dtype=np.int32), "latent": np.ones((2, 3))}
    return PosteriorResult(coords={"x": x}, summary=summary, samples=samples, noise_std=0.1,
                           observations={"points": np.array([[0.5]]), "values": np.array([1.0]),
                                         "predicted": np.array([0.9])},
                           diagnostics={"rhat_max": math.nan, "ess_min": math.inf, "acceptance": 0.3, "step": None},
                           predictive={"chi2_per_obs": -math.inf, "band": [1.0, math.inf], "passed": False},
                           metrics={"rel_l2_a": 0.5}, method={"sampler": "gpcn", "model_error": None, "name": "inf"},
                           info={"seconds": {"total": math.nan}}, warnings=["R-hat is nan"])


def test_non_finite_numbers_are_strict_json_in_the_file_and_read_back_as_written(tmp_path):
    """Posterior files held Infinity/NaN in their JSON attributes, which jq, JavaScript and other languages' HDF5
    readers refuse; now every JSON attribute is strict (null), and read_posterior still gives back inf and nan."""
    import json

    from neurops.inverse import write_posterior

    result = _result()
    out = write_posterior(result, tmp_path / "post.h5")
    with h5py.File(out) as f:
        texts = {k: v for k, v in f.attrs.items() if isinstance(v, str) and k not in ("kind", "name",
                                                                                       "neurops_version")}
        assert {"dims", "diagnostics", "predictive", "info", "json_nonfinite"} <= set(texts)
        parsed = {k: json.loads(v, parse_constant=_refuse) for k, v in texts.items()}
    assert parsed["diagnostics"] == {"rhat_max": None, "ess_min": None, "acceptance": 0.3, "step": None}
    assert parsed["json_nonfinite"] == {"diagnostics": [[["rhat_max"], "nan"], [["ess_min"], "inf"]],
                                        "predictive": [[["chi2_per_obs"], "-inf"], [["band", 1], "inf"]],
                                        "info": [[["seconds", "total"], "nan"]]}
    back = read_posterior(out)
    for key in ("diagnostics", "predictive", "metrics", "method", "info", "warnings"):  # NaN == NaN only as text
        assert json.dumps(getattr(back, key)) == json.dumps(getattr(result, key)), key
    assert back.diagnostics["step"] is None and back.method["name"] == "inf"


def test_a_posterior_file_written_before_strict_json_still_reads(tmp_path):
    """Files of older neurops hold Infinity/NaN in their attributes and no json_nonfinite: read as before."""
    import json
    import math

    from neurops.inverse import write_posterior

    out = write_posterior(_result(), tmp_path / "post.h5")
    with h5py.File(out, "a") as f:
        del f.attrs["json_nonfinite"]
        f.attrs["diagnostics"] = json.dumps({"rhat_max": math.nan, "ess_min": math.inf, "step": None})
    back = read_posterior(out)
    assert math.isnan(back.diagnostics["rhat_max"]) and back.diagnostics["ess_min"] == math.inf
    assert back.diagnostics["step"] is None and back.predictive["chi2_per_obs"] is None  # its record is gone


def test_a_json_nonfinite_attribute_that_does_not_match_is_one_clear_error(tmp_path):
    from neurops.inverse import write_posterior

    out = write_posterior(_result(), tmp_path / "post.h5")
    with h5py.File(out, "a") as f:
        f.attrs["json_nonfinite"] = '{"diagnostics": [[["acceptance"], "inf"]]}'
    with pytest.raises(SchemaError) as err:
        read_posterior(out)
    assert str(err.value) == (f"{out}: attribute 'json_nonfinite' does not match attribute 'diagnostics' "
                              "([['acceptance'], 'inf'] names 0.3, not the null written in place of a non-finite "
                              "number); rewrite the file with neurops, or delete the attribute (its non-finite "
                              "numbers are then read as None).")


@pytest.mark.parametrize("edit, problem", [
    (lambda f: f.__delitem__("summary/a_mean"), "missing dataset summary/a_mean"),
    (lambda f: f.__delitem__("observations/predicted"), "missing dataset observations/predicted"),
    (lambda f: f.__delitem__("observations"), "missing group 'observations' (the observed points and values and "
                                              "their fit)"),
    (lambda f: [f.__delitem__(f"samples/{k}") for k in ("u", "latent")], "missing datasets samples/u, samples/latent"),
    (lambda f: f.attrs.__delitem__("level"), "missing root attribute 'level' (of the intervals, between 0 and 1)"),
    (lambda f: f.attrs.__delitem__("metrics"), "missing root attribute 'metrics'"),
    (lambda f: f.__delitem__("summary/u_std") or f.create_dataset("summary/u_std", data=np.ones(3)),
     "summary/u_std has shape (3,), expected (5,)"),
    (lambda f: f.__delitem__("samples/chain") or f.create_dataset("samples/chain", data=np.ones(2)),
     "samples/chain must be [K] integers, got float64 (2,)"),
    (lambda f: f.__delitem__("samples/latent") or f.create_dataset("samples/latent", data=np.ones(2)),
     "samples/latent must be numeric [K, n], got float64 (2,)"),
    (lambda f: f.__delitem__("observations/predicted") or f.create_dataset("observations/predicted",
                                                                           data=np.ones(4)),
     "observations/predicted must be [1] numbers, got float64 (4,)"),
])
def test_a_posterior_file_missing_what_the_writer_writes_is_refused_by_check_and_every_reader(tmp_path, edit,
                                                                                               problem):
    """A posterior file without summary/a_mean (deleted with h5py) was 'valid' for `neurops data check`, was read
    by read_posterior and to_xarray, and plot_posterior raised KeyError: 'a_mean'. Now check lists the problem
    and every reader refuses the file with it and the fix."""
    from neurops.data.check import check_file
    from neurops.data.xarray_io import to_xarray
    from neurops.inverse import write_posterior

    out = write_posterior(_result(), tmp_path / "post.h5")
    assert check_file(out) == []
    with h5py.File(out, "a") as f:
        edit(f)
    assert check_file(out) == [problem]
    message = (f"{out} is not a valid posterior file: {problem}; write it again with `neurops invert pde|surrogate "
               "--out FILE`.")
    for read in (read_posterior, to_xarray):
        with pytest.raises(SchemaError) as err:
            read(out)
        assert str(err.value) == message


def test_a_file_written_without_its_draws_is_valid(tmp_path):
    """A result read with samples=False holds no draws; written back, it is a valid file of summaries."""
    from neurops.data.check import check_file
    from neurops.inverse import write_posterior

    out = write_posterior(read_posterior(write_posterior(_result(), tmp_path / "post.h5"), samples=False),
                          tmp_path / "summaries.h5")
    assert check_file(out) == [] and read_posterior(out).samples == {}
