"""Tests of DynamicsDataModule (neurops/data/datamodule.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neurops.data.datamodule import DynamicsDataModule
from neurops.data.windows import RandomWindowSampler
from neurops.data.series_import import import_series
from neurops.errors import DataError


@pytest.fixture
def series_file(tmp_path: Path) -> Path:
    x = np.arange(300, dtype=np.float64)[:, None] * np.array([1.0, -1.0])
    np.save(tmp_path / "s.npy", x)
    return import_series(tmp_path / "s.npy", dt=0.5, out=tmp_path / "s.h5", test_fraction=0.2)


def test_windows_are_contiguous_random_and_seeded(series_file: Path) -> None:
    dm = DynamicsDataModule(series_file, seq_len=20, batch_size=4, batches_per_epoch=3, seed=5)
    batches = [b["x"] for b in dm.train_dataloader()]
    assert len(batches) == 3 and batches[0].shape == (4, 21, 2)
    for window in torch.cat(batches):
        assert torch.equal(window[:, 0], window[0, 0] + torch.arange(21.0))  # consecutive samples
    again = DynamicsDataModule(series_file, seq_len=20, batch_size=4, batches_per_epoch=3, seed=5)
    assert torch.equal(next(iter(again.train_dataloader()))["x"], batches[0])
    assert dm.obs_dim == 2 and dm.dt == 0.5
    # no "val" split: validation falls back to "test", whole series [1, T, N]
    assert dm.val_split == "test" and next(iter(dm.val_dataloader()))["x"].shape == (1, 60, 2)


def test_sampler_covers_all_starts() -> None:
    sampler = RandomWindowSampler(n_series=2, n_steps=10, length=4, n_windows=2000, seed=0)
    pairs = set(sampler)
    assert pairs == {(s, t) for s in range(2) for t in range(7)}


def test_errors(series_file: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="shorter"):
        DynamicsDataModule(series_file, seq_len=500)
    with pytest.raises(DataError, match="no split"):
        DynamicsDataModule(series_file, val_split="valid")
    with pytest.raises(DataError, match="no state field"):
        DynamicsDataModule(series_file, field="u")
    with pytest.raises(DataError, match="does not exist"):
        DynamicsDataModule(tmp_path / "missing.h5")
