"""Tests of DynamicsDataModule (neurops/data/datamodule/dynamics.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DistributedSampler

from neurops.data.datamodule import DynamicsDataModule
from neurops.data.series_import import import_series
from neurops.data.windows import OnEveryProcess, ProcessShare, RandomWindowSampler
from neurops.errors import ConfigError, DataError


@pytest.fixture
def series_file(tmp_path: Path) -> Path:
    x = np.arange(300, dtype=np.float64)[:, None] * np.array([1.0, -1.0])
    np.save(tmp_path / "s.npy", x)
    return import_series(tmp_path / "s.npy", dt=0.5, out=tmp_path / "s.h5", val_fraction=0.1, test_fraction=0.2)


def test_windows_are_contiguous_random_and_seeded(series_file: Path) -> None:
    dm = DynamicsDataModule(series_file, seq_len=20, batch_size=4, batches_per_epoch=3, seed=5)
    batches = [b["x"] for b in dm.train_dataloader()]
    assert len(batches) == 3 and batches[0].shape == (4, 21, 2)
    for window in torch.cat(batches):
        assert torch.equal(window[:, 0], window[0, 0] + torch.arange(21.0))  # consecutive samples
    again = DynamicsDataModule(series_file, seq_len=20, batch_size=4, batches_per_epoch=3, seed=5)
    assert torch.equal(next(iter(again.train_dataloader()))["x"], batches[0])
    assert dm.obs_dim == 2 and dm.dt == 0.5
    # validation: the whole "val" block [1, T, N], the points after the train block
    val = next(iter(dm.val_dataloader()))["x"]
    assert dm.val_split == "val" and val.shape == (1, 30, 2) and val[0, 0, 0] == 210.0


def test_a_file_without_val_never_validates_on_test(tmp_path: Path) -> None:
    x = np.arange(300, dtype=np.float64)[:, None] * np.array([1.0, -1.0])
    np.save(tmp_path / "s.npy", x)
    no_val = import_series(tmp_path / "s.npy", dt=0.5, out=tmp_path / "nv.h5", val_fraction=0.0, test_fraction=0.2)
    with pytest.raises(DataError, match="no validation split 'val'.*val_from_train"):
        DynamicsDataModule(no_val, seq_len=20)
    with pytest.raises(DataError, match="is a test split"):
        DynamicsDataModule(no_val, seq_len=20, val_split="test")
    # explicit: the last 10 % of the training block validates, the rest trains; test stays untouched
    dm = DynamicsDataModule(no_val, seq_len=20, val_from_train=0.1)
    assert dm.train_series.shape == (1, 216, 2) and dm.val_series.shape == (1, 24, 2)
    assert dm.val_series[0, 0, 0] == 216.0 and dm.val_series[0, -1, 0] == 239.0  # test starts at 240
    for batch in dm.train_dataloader():  # no training window reaches into the validation block
        assert batch["x"][..., 0].max() < 216.0
    assert DynamicsDataModule(no_val, seq_len=20, val_split=None).val_series is None
    with pytest.raises(DataError, match=r"val_from_train .* \(0, 1\)"):
        DynamicsDataModule(no_val, seq_len=20, val_from_train=1.5)


def test_sampler_covers_all_starts() -> None:
    sampler = RandomWindowSampler(n_series=2, n_steps=10, length=4, n_windows=2000, seed=0)
    pairs = set(sampler)
    assert pairs == {(s, t) for s in range(2) for t in range(7)}


def test_errors(series_file: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="shorter"):
        DynamicsDataModule(series_file, seq_len=500)
    with pytest.raises(DataError, match="no validation split 'valid'"):
        DynamicsDataModule(series_file, val_split="valid")
    with pytest.raises(DataError, match="no split 'training'"):
        DynamicsDataModule(series_file, train_split="training")
    with pytest.raises(DataError, match="no state field"):
        DynamicsDataModule(series_file, field="u")
    with pytest.raises(DataError, match="does not exist"):
        DynamicsDataModule(tmp_path / "missing.h5")
    for bad in (0, 1, -5):  # 0 used to mean "uncut", 1 left a one-point validation series
        with pytest.raises(DataError, match=f"val_length={bad}: .* use val_length >= 2"):
            DynamicsDataModule(series_file, val_length=bad)
    assert DynamicsDataModule(series_file, val_length=2).val_series.shape[1] == 2


def test_the_window_seed_is_checked_and_a_numpy_seed_is_the_int(series_file: Path) -> None:
    # torch's generator reads a seed's lowest 32 bits only: 2**32 + 3 would silently draw seed 3's windows
    for bad in (-1, 2**32 + 3):
        with pytest.raises(ConfigError) as err:
            DynamicsDataModule(series_file, seed=bad)
        assert str(err.value) == (f"seed must be an integer between 0 and 2**32 - 1 (4294967295), got {bad}; give e.g. "
                                  "--data.seed 0 (it draws the training windows; null: the run's seed).")
    numpy_seed, int_seed = (DynamicsDataModule(series_file, seq_len=10, batch_size=4, batches_per_epoch=2, seed=s)
                            for s in (np.int64(3), 3))
    assert type(numpy_seed.seed) is int and numpy_seed.seed == 3
    assert [b["x"].tolist() for b in numpy_seed.train_dataloader()] == \
        [b["x"].tolist() for b in int_seed.train_dataloader()]


def test_a_process_share_of_an_ensemble_holds_its_members_windows_and_every_validation_series(
        series_file: Path) -> None:
    def loaders(shard: range | None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        dm = DynamicsDataModule(series_file, seq_len=20, batch_size=4, batches_per_epoch=3)
        dm.member_seeds, dm.member_shard = [7, 8, 9], shard
        train, val = dm.train_dataloader(), dm.val_dataloader()
        if shard is not None:  # Lightning splits a plain sampler over DDP processes, never a DistributedSampler
            assert isinstance(train.sampler, DistributedSampler) and isinstance(val.sampler, DistributedSampler)
        return [b["x"] for b in train], [b["x"] for b in val]

    (whole, val_whole), (share, val_share) = loaders(None), loaders(range(1, 3))
    assert len(share) == 3 and share[0].shape == (2 * 4, 21, 2)
    for mine, every in zip(share, whole):  # members 1 and 2 of every batch, drawn with their own seeds
        assert torch.equal(mine, every[4:12])
    assert len(val_share) == len(val_whole) == 1 and torch.equal(val_share[0], val_whole[0])


def test_one_model_under_ddp_validates_every_series_once_over_the_processes(series_file: Path) -> None:
    """Three validation series in two processes: 2 + 1 (Lightning's DistributedSampler read 2 + 2, one series
    weighing twice in val/d_stsp)."""
    from types import SimpleNamespace

    from lightning.pytorch.strategies import DDPStrategy

    dm = DynamicsDataModule(series_file, seq_len=20, batch_size=4, batches_per_epoch=3)
    dm.val_series = np.stack([dm.val_series[0] + k for k in range(3)])
    dealt = []
    for rank in range(2):
        dm.trainer = SimpleNamespace(distributed_sampler_kwargs={"num_replicas": 2, "rank": rank},
                                     strategy=DDPStrategy())
        loader = dm.val_dataloader()
        assert isinstance(loader.sampler, DistributedSampler)  # Lightning leaves it as it is
        dealt.append([float(batch["x"][0, 0, 0] - dm.val_series[0][0, 0]) for batch in loader])
    assert dealt == [[0.0, 2.0], [1.0]]


def test_on_every_process_yields_the_whole_sampler() -> None:
    windows = RandomWindowSampler(2, 50, 10, 7, seed=3)
    every = OnEveryProcess(windows)
    windows.generator.manual_seed(3)
    first = list(every)
    windows.generator.manual_seed(3)
    assert len(every) == 7 and first == list(windows)


def test_nan_in_the_val_series_is_refused_at_construction_naming_the_field(series_file: Path) -> None:
    """The series are read whole when the data module is built, so a NaN is found before any step; the error names
    the split, the field and the trajectories, as the operator data modules' scan at fit setup does."""
    import h5py

    with h5py.File(series_file, "a") as f:
        (field,) = f["val/states"]
        f[f"val/states/{field}"][0, 4, 0] = np.nan
    with pytest.raises(DataError) as err:
        DynamicsDataModule(series_file, seq_len=20)
    assert str(err.value) == (f"{series_file}: split 'val' holds NaN/Inf values (val/states/{field}: 1 NaN/Inf values "
                              "in sample 0); fix or drop those trajectories at their source; `neurops data check "
                              f"{series_file}` lists every field with NaN/Inf.")
    DynamicsDataModule(series_file, seq_len=20, val_split=None)  # a run that does not validate does not read it


def test_each_process_takes_its_block_of_every_global_batch_of_windows() -> None:
    """Under DDP one model's windows are dealt per global batch (ProcessShare): two processes with batch size 2
    together see, step by step, the windows one process sees with batch size 4; Lightning leaves the sampler as is."""
    draws = list(RandomWindowSampler(3, 50, 11, n_windows=12, seed=7))
    shares = [list(ProcessShare(RandomWindowSampler(3, 50, 11, n_windows=12, seed=7), 2, 2, w)) for w in (0, 1)]
    assert isinstance(ProcessShare(draws, 2, 2, 0), DistributedSampler) and len(ProcessShare(draws, 2, 2, 1)) == 6
    for k in range(3):  # global batch k of 4 windows: process 0's 2, then process 1's
        assert draws[4 * k: 4 * k + 4] == shares[0][2 * k: 2 * k + 2] + shares[1][2 * k: 2 * k + 2]


@pytest.mark.parametrize(("kwargs", "points", "fix"), [
    ({"val_from_train": 0.2}, 42, "Hold out a larger fraction of the training series (--data.val_from_train)."),
    ({"val_length": 10}, 10, "Validate on more of the series: raise --data.val_length (the split has 30)."),
    ({}, 30, "Validate on a longer block: import the series again with a larger --val-fraction (neurops data "
             "import-series), or generate longer series.")])
def test_validation_series_too_short_for_d_h_get_one_warning_with_their_fix(series_file: Path, kwargs: dict,
                                                                           points: int, fix: str) -> None:
    import warnings

    from neurops.errors import NeuropsWarning
    from neurops.metrics.spectra import MAX_SMOOTHING_FRACTION, shortest_unblurred

    dm = DynamicsDataModule(series_file, seq_len=10, **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for smoothing in (0.1, 20.0):  # 0.1: a smoothing evaluate's notes accept for these series, no warning
            dm.check_val_spectrum(smoothing, shortest_unblurred(smoothing), MAX_SMOOTHING_FRACTION)
    assert [(w.category, str(w.message)) for w in caught] == [(NeuropsWarning, (
        f"the validation series have {points} points: val/d_h smooths their power spectra over 20 frequency bins, "
        f"more than 2 % of their {points // 2 + 1}, which blurs every spectrum into its overall shape, so val/d_h "
        "separates models little (near 0 for any model when the series is far too short); D_H needs at least 1998 "
        f"points at smoothing 20. {fix}"))]
