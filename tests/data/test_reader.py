import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from neurops.data.reader import H5OperatorDataset, open_h5
from neurops.errors import DataError, SchemaError


def test_lazy_dataset_samples_and_channels(operator_file):
    ds = H5OperatorDataset(operator_file, "test@32")
    assert len(ds) == 8 and ds.spatial_shape == (32, 32) and ds.in_channels == 1 and ds.out_channels == 1
    s = ds[3]
    assert s["x"].shape == (1, 32, 32) and s["y"].dtype == torch.float32
    with h5py.File(operator_file) as f:
        np.testing.assert_array_equal(s["y"][0].numpy(), f["test@32/outputs/u"][3])
    assert list(ds._files) == [0]  # opened lazily, on first access


def test_dataloader_with_worker_processes(operator_file):
    ds = H5OperatorDataset(operator_file, "train")
    batches = list(DataLoader(ds, batch_size=8, num_workers=2))
    assert sum(len(b["x"]) for b in batches) == 24
    ref = torch.stack([ds[i]["x"] for i in range(24)])
    torch.testing.assert_close(torch.cat([b["x"] for b in batches]), ref)


def test_missing_file_and_not_hdf5(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        open_h5(tmp_path / "nope.h5")
    txt = tmp_path / "notes.h5"
    txt.write_text("not hdf5")
    with pytest.raises(DataError, match="not an HDF5 file"):
        open_h5(txt)


def test_unknown_schema_version(operator_file):
    with h5py.File(operator_file, "a") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(SchemaError, match="schema version 99"):
        H5OperatorDataset(operator_file, "train")


def test_missing_field_and_split(operator_file):
    with pytest.raises(DataError, match=r"split 'train' has inputs \['a'\] but you asked for inputs \['k'\]; "):
        H5OperatorDataset(operator_file, "train", input_fields=["k"])
    with pytest.raises(DataError, match="no split 'validation'"):
        H5OperatorDataset(operator_file, "validation")


def test_nan_in_data_is_named(operator_file):
    with h5py.File(operator_file, "a") as f:
        f["train/inputs/a"][5, 0, 0] = np.nan
    ds = H5OperatorDataset(operator_file, "train")
    with pytest.raises(DataError, match="sample 5: NaN or Inf"):
        ds[5]


def test_read_split_refuses_nan_naming_the_file_split_field_and_samples(operator_file):
    """read_split (and so to_xarray) returned NaN/Inf values as they were, although every reader is documented to
    name the sample that holds one."""
    from neurops.data import read_split, to_xarray

    with h5py.File(operator_file, "a") as f:
        f["val/outputs/u"][1, 0, 0] = np.nan
        f["val/outputs/u"][6, 2, 1:3] = np.inf
    expected = (f"{operator_file}: split 'val' holds NaN/Inf values (val/outputs/u: 3 NaN/Inf values in samples "
                f"[1, 6]); fix or drop those samples at their source; `neurops data check {operator_file}` lists "
                "every field with NaN/Inf.")
    for read in (read_split, to_xarray):
        with pytest.raises(DataError) as err:
            read(operator_file, "val")
        assert str(err.value) == expected
    with h5py.File(operator_file) as f:
        np.testing.assert_array_equal(read_split(operator_file, "train")["inputs"]["a"], f["train/inputs/a"][()])


def test_batched_fetch_equals_samples_and_names_the_bad_sample(operator_file, tmp_path):
    from neurops.data.reader import collate

    bad = tmp_path / "bad.h5"
    bad.write_bytes(operator_file.read_bytes())
    with h5py.File(bad, "a") as f:
        f["train/outputs/u"][23, 3, 3] = np.inf
    ds = H5OperatorDataset(operator_file, "train")
    order = [5, 0, 23, 7, 7]
    fast = next(iter(DataLoader(ds, batch_size=5, sampler=order, collate_fn=collate)))
    slow = torch.utils.data.default_collate([ds[i] for i in order])
    assert fast.keys() == slow.keys()
    for key in fast:
        torch.testing.assert_close(fast[key], slow[key], rtol=0, atol=0)
    default = next(iter(DataLoader(ds, batch_size=5, sampler=order)))  # any collate_fn sees sample dicts
    torch.testing.assert_close(default["y"], slow["y"], rtol=0, atol=0)
    with pytest.raises(DataError, match="sample 23: NaN or Inf in outputs"):
        next(iter(DataLoader(H5OperatorDataset(bad, "train"), batch_size=5, sampler=order, collate_fn=collate)))
