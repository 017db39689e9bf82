import h5py
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
