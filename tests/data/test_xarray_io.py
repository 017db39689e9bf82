import numpy as np

from neurops.data.info import summarize
from neurops.data.reader import read_split
from neurops.data.xarray_io import to_xarray


def test_to_xarray_has_coords_attrs_and_values(operator_file):
    ds = to_xarray(operator_file, "test@32")
    assert ds["a"].dims == ("sample", "x", "y") and ds.sizes["x"] == 32
    np.testing.assert_allclose(ds["x"].values, np.linspace(0, 1, 32))
    np.testing.assert_array_equal(ds["u"].values, read_split(operator_file, "test@32")["outputs"]["u"])
    assert ds.attrs["kind"] == "operator" and ds.attrs["split"] == "test@32"
    assert to_xarray(operator_file).attrs["split"] == "train"


def test_info_mentions_splits_fields_and_ranges(operator_file):
    text = summarize(operator_file)
    for part in ("kind operator", "split 'test@32' (resolution 32x32)", "inputs/a: shape (24, 16, 16)", "range ["):
        assert part in text
