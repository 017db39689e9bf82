import pytest

from neurops.data.datamodule import OperatorDataModule
from neurops.errors import DataError


def test_test_loaders_per_resolution(operator_file):
    dm = OperatorDataModule(operator_file, batch_size=4)
    assert dm.test_splits == ["test", "test@32"] and dm.test_tags == ["16", "32"]
    loaders = dm.test_dataloader()
    assert [next(iter(ld))["x"].shape[-1] for ld in loaders] == [16, 32]
    assert len(dm.train_dataloader()) == 6 and dm.in_channels == dm.out_channels == 1


def test_rejects_missing_split_and_wrong_kind(operator_file, tmp_path):
    with pytest.raises(DataError, match="no split 'valid'"):
        OperatorDataModule(operator_file, val_split="valid")
    import numpy as np

    from neurops.data.writer import H5Writer

    path = tmp_path / "u.h5"
    with H5Writer(path, kind="input_only", name="u", dims=("x",)) as w:
        w.add_split("train", coords={"x": np.arange(4)}, inputs={"a": np.ones((2, 4))})
    with pytest.raises(DataError, match="needs an 'operator' file"):
        OperatorDataModule(path)
