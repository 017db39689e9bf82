"""Tests for the machinery shared by the converters (``neurops.data.external._common``)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from neurops.cli import main
from neurops.data.external import convert
from neurops.data.reader import read_split
from neurops.errors import NeuropsWarning


def test_rounding_to_float32_is_said_with_the_largest_change(tmp_path, capsys):
    """float64 (and integers beyond 2**24) were rounded to float32 without a word; now a NeuropsWarning names each
    field whose values changed, its source dtype and the largest change; exact conversions say nothing."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 8, 8))
    u = (2**24 + np.arange(6 * 64).reshape(6, 8, 8)).astype(np.int64)  # odd values above 2**24 are not float32
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "u.npy", u)
    change = float(np.abs(a - a.astype(np.float32)).max())
    expected = (f"{tmp_path / 'o.h5'}: the values given for inputs/a (float64: largest change {change:.3g}, "
                f"{change / np.abs(a).max():.3g} of its largest magnitude), outputs/u (int64: largest change 1, "
                f"{1 / u.max():.3g} of its largest magnitude) were rounded to float32, the type neurops stores "
                "fields in.")
    with pytest.warns(NeuropsWarning) as record:
        convert(tmp_path / "a.npy", "arrays", tmp_path / "o.h5", outputs=tmp_path / "u.npy", progress=False)
    assert [str(w.message) for w in record] == [expected]
    data = read_split(tmp_path / "o.h5", "train")
    np.testing.assert_array_equal(data["inputs"]["a"], a[:5].astype(np.float32))
    np.testing.assert_array_equal(data["outputs"]["u"], u[:5].astype(np.float32))

    np.save(tmp_path / "a16.npy", a.astype(np.float16))  # float16 and small integers convert exactly
    np.save(tmp_path / "u8.npy", (a * 10).astype(np.int8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        convert(tmp_path / "a16.npy", "arrays", tmp_path / "e.h5", outputs=tmp_path / "u8.npy", progress=False)
    assert main(["data", "convert", "arrays", str(tmp_path / "a.npy"), "--outputs", str(tmp_path / "a16.npy"),
                 "--out", str(tmp_path / "c.h5"), "--no-progress"]) == 0
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"neurops: warning: {tmp_path / 'c.h5'}: the values given for inputs/a (float64: ")
    assert "a16" not in err


def test_pairs_of_other_shapes_say_what_differs(tmp_path):
    """Arrays of other shapes got one generic line whatever the mistake: now other sample counts, samples on
    another axis ([S, S, N]) and a trailing channel axis of either array are each named."""
    from neurops.data.external import convert_arrays
    from neurops.errors import DataError

    a = np.zeros((20, 16, 16))
    for name, arr in {"a": a, "u19": a[:19], "aT": a.transpose(1, 2, 0), "uch": a[..., None]}.items():
        np.save(tmp_path / f"{name}.npy", arr)
    expected = {
        "u19": "a.npy + u19.npy: `a.npy` (20, 16, 16) and `u19.npy` (19, 16, 16) must share one shape [N, *spatial] "
               "with 1 to 3 spatial axes: `a.npy` holds 20 samples and `u19.npy` 19; inputs and outputs pair sample by "
               "sample, so give arrays of the same samples.",
        "aT": "a.npy + aT.npy: `a.npy` (20, 16, 16) and `aT.npy` (16, 16, 20) must share one shape [N, *spatial] with "
              "1 to 3 spatial axes; they hold the same axes in another order: put the sample axis first in both (e.g. "
              "numpy.moveaxis(x, -1, 0) for an array stored [*spatial, N]).",
        "uch": "a.npy + uch.npy: `uch.npy` has shape (20, 16, 16, 1), with an axis of size 1 that is not a grid axis; "
               "drop it (e.g. numpy.squeeze) so the arrays are [N, *spatial].",
    }
    for name, message in expected.items():
        with pytest.raises(DataError) as err:
            convert_arrays(tmp_path / "a.npy", tmp_path / "o.h5", outputs=tmp_path / f"{name}.npy", progress=False)
        assert str(err.value) == str(tmp_path) + "/" + message.replace(" + ", f" + {tmp_path}/", 1)
    assert not (tmp_path / "o.h5").exists()


@pytest.mark.parametrize("key, values, problem", [
    ("t-coordinate", np.linspace(2, 0, 6), "the values read into train/time must be finite and strictly increasing "
     "(2 at index 0, then 1.6); store one time per frame, the frames in time order"),
    ("t-coordinate", np.array([0, 0.4, np.nan, 1.2, 1.6, 2]), "the values read into train/time must be finite and "
     "strictly increasing (value nan at index 2); store one time per frame, the frames in time order"),
    ("x-coordinate", np.linspace(1, 0, 8), "the values read into train/coords/x must be finite and strictly "
     "increasing (1 at index 0, then 0.857143); store the grid's node positions in increasing order"),
])
def test_a_source_grid_or_time_out_of_order_is_named_by_its_file(tmp_path, key, values, problem):
    """A source whose times ran backwards (or held NaN) was converted into a file every reader took; one whose grid
    ran backwards stopped with `train: coords/x must be ...`, naming neither the source nor what to change in it.
    Both now stop before anything is written, naming the source file and the split the values were going to."""
    import h5py

    from neurops.errors import DataError

    src = tmp_path / "1D_Advection_Sols_beta0.1.hdf5"
    with h5py.File(src, "w") as f:
        f["tensor"] = np.ones((4, 5, 8), np.float32)
        f["x-coordinate"] = np.linspace(0, 1, 8)
        f["t-coordinate"] = np.linspace(0, 2, 6)  # PDEBench's T + 1 entries
        del f[key]
        f[key] = values
    with pytest.raises(DataError) as err:
        convert(src, "pdebench", tmp_path / "o.h5", progress=False)
    assert str(err.value) == f"{src}: {problem} in the source; nothing was written."
    assert sorted(p.name for p in tmp_path.iterdir()) == [src.name]
