"""What the data modules share (neurops/data/datamodule/loaders.py): the scan of the validation and test splits for
NaN/Inf at fit setup, before the first training step (with one process and under DDP)."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from neurops.data.datamodule import GenerativeDataModule, OperatorDataModule, RolloutDataModule
from neurops.data.reader import H5SplitDataset
from neurops.errors import DataError
from tests.conftest import write_decay_file, write_operator_file


def _poison(path: Path, field: str, *samples: int, value: float = np.nan) -> Path:
    with h5py.File(path, "a") as f:
        for i in samples:
            f[field][(i,) + (0,) * (f[field].ndim - 1)] = value
    return path


def _line(path: Path, role: str, split: str, found: str, leave_out: str) -> str:
    return (f"{path}: the {role} split {split!r} holds NaN/Inf values ({found}), found before training; fix or drop "
            f"those samples at their source, or leave the split out ({leave_out}); `neurops data check {path}` lists "
            "every field with NaN/Inf.")


@pytest.mark.parametrize("split, role, leave_out", [
    ("val", "validation", "--data.val_split null"),
    ("test", "test", "--data.test_splits without 'test', or --test_after_fit false"),
    ("test@32", "test", "--data.test_splits without 'test@32', or --test_after_fit false"),
])
def test_fit_setup_refuses_nan_in_a_split_the_run_will_read(operator_file, split, role, leave_out):
    """A NaN in the val or test split used to stop a run only when that split was first read: for a test split,
    after the whole training."""
    _poison(operator_file, f"{split}/outputs/u", 2, 5)
    _poison(operator_file, f"{split}/inputs/a", 7, value=np.inf)
    dm = OperatorDataModule(operator_file, batch_size=8)
    with pytest.raises(DataError) as err:
        dm.setup("fit")
    assert str(err.value) == _line(operator_file, role, split, f"{split}/inputs/a: 1 NaN/Inf values in sample 7; "
                                   f"{split}/outputs/u: 2 NaN/Inf values in samples [2, 5]", leave_out)
    for stage in ("validate", "test", "predict"):  # they read the split at once: no second pass
        dm.setup(stage)


def test_the_test_splits_are_scanned_only_when_the_run_tests_after_fitting(operator_file):
    _poison(operator_file, "test/outputs/u", 0)
    dm = OperatorDataModule(operator_file, batch_size=8)
    dm.test_after_fit = False  # `neurops fit --test_after_fit false`
    dm.setup("fit")
    _poison(operator_file, "val/outputs/u", 1)
    with pytest.raises(DataError, match=r"the validation split 'val' holds NaN/Inf values \(val/outputs/u: 1 NaN/Inf "
                                        r"values in sample 1\)"):
        dm.setup("fit")
    dm = OperatorDataModule(operator_file, batch_size=8, val_split=None, test_splits=["test@32"])
    dm.setup("fit")  # neither the split left out nor the one not named is read


def test_only_the_fields_the_model_reads_are_scanned(tmp_path):
    from neurops.data.metadata import DatasetMeta
    from neurops.data.writer import H5Writer

    path = tmp_path / "two.h5"
    x = np.linspace(0, 1, 8)
    with H5Writer(path, DatasetMeta(kind="operator", name="t", dims=("x",))) as w:
        for split in ("train", "val", "test"):
            w.add_split(split, coords={"x": x}, inputs={"a": np.ones((4, 8)), "b": np.ones((4, 8))},
                        outputs={"u": np.ones((4, 8))})
    _poison(path, "test/inputs/b", 3)
    OperatorDataModule(path, batch_size=2, input_fields=["a"]).setup("fit")
    with pytest.raises(DataError, match=r"\(test/inputs/b: 1 NaN/Inf values in sample 3\)"):
        OperatorDataModule(path, batch_size=2).setup("fit")


def test_the_scan_streams_blocks_never_a_whole_split(operator_file, monkeypatch):
    """Blocks of the scanning code of `neurops data check` (here two samples of 16x16 float32): no read of more."""
    import neurops.data.check as check

    monkeypatch.setattr(check, "_SCAN_BYTES", 2 * 16 * 16 * 4)
    _poison(operator_file, "test/outputs/u", 7)
    dm = OperatorDataModule(operator_file, batch_size=8, test_splits=["test"])
    rows: list[int] = []
    read = h5py.Dataset.__getitem__

    def recorded(self, key):
        out = read(self, key)
        if isinstance(key, slice) and self.ndim == 3:
            rows.append(len(out))
        return out

    monkeypatch.setattr(h5py.Dataset, "__getitem__", recorded)
    with pytest.raises(DataError, match=r"test/outputs/u: 1 NaN/Inf values in sample 7\)"):
        dm.setup("fit")
    assert rows and max(rows) == 2 and sum(rows) == 2 * 2 * 8  # val and test, inputs and outputs, 8 samples each


def test_a_data_set_of_several_files_names_the_file_and_its_sample(tmp_path):
    files = [write_operator_file(tmp_path / f"part{i}.h5", {"train": (8, 16), "val": (4, 16), "test": (4, 16)}, seed=i)
             for i in range(2)]
    _poison(files[1], "test/outputs/u", 1)
    dm = OperatorDataModule(files, batch_size=4)
    with pytest.raises(DataError) as err:
        dm.setup("fit")
    assert str(err.value) == _line(files[1], "test", "test", "test/outputs/u: 1 NaN/Inf values in sample 1",
                                   "--data.test_splits without 'test', or --test_after_fit false")


def test_rollout_and_generative_data_modules_scan_too(operator_file, tmp_path):
    traj = _poison(write_decay_file(tmp_path / "decay.h5"), "test/states/u", 3)
    with pytest.raises(DataError, match=r"decay.h5: the test split 'test' holds NaN/Inf values \(test/states/u: 1 "
                                        r"NaN/Inf values in sample 3\), found before training"):
        RolloutDataModule(traj, t_in=2, t_out=2, batch_size=4).setup("fit")
    labelled = _poison(write_operator_file(tmp_path / "eval.h5", {"train": (2, 16), "val": (4, 16)}), "val/outputs/u",
                       0)
    dm = GenerativeDataModule(operator_file, eval_path=labelled, batch_size=4)
    with pytest.raises(DataError) as err:
        dm.setup("fit")
    assert str(err.value) == _line(labelled, "validation", "val", "val/outputs/u: 1 NaN/Inf values in sample 0",
                                   "--data.val_split null")
    GenerativeDataModule(operator_file, batch_size=4).setup("fit")  # its own val split is clean


class _Strategy:
    """A two-process job seen from one process: ``broadcast`` hands every process what rank zero sent."""

    def __init__(self, from_rank_zero: object = None) -> None:
        self.sent: list[object] = []
        self.from_rank_zero = from_rank_zero

    def broadcast(self, obj: object, src: int = 0) -> object:
        assert src == 0
        self.sent.append(obj)
        return obj if self.from_rank_zero is None else self.from_rank_zero


def test_under_ddp_rank_zero_alone_scans_and_every_rank_raises_its_error(operator_file, monkeypatch):
    _poison(operator_file, "test/outputs/u", 4)
    dm = OperatorDataModule(operator_file, batch_size=8)
    dm.trainer = SimpleNamespace(is_global_zero=True, strategy=_Strategy())
    with pytest.raises(DataError) as on_zero:
        dm.setup("fit")
    assert dm.trainer.strategy.sent == [str(on_zero.value)]  # rank zero tells the others what it found

    def no_scan(self):
        raise AssertionError("only rank zero scans")

    monkeypatch.setattr(H5SplitDataset, "value_problems", no_scan)
    dm.trainer = SimpleNamespace(is_global_zero=False, strategy=_Strategy(from_rank_zero=str(on_zero.value)))
    with pytest.raises(DataError) as on_one:
        dm.setup("fit")
    assert str(on_one.value) == str(on_zero.value) and dm.trainer.strategy.sent == [None]
    dm.trainer = SimpleNamespace(is_global_zero=False, strategy=_Strategy())  # rank zero found nothing
    dm.setup("fit")


def test_under_ddp_a_failed_scan_on_rank_zero_stops_every_rank(operator_file, monkeypatch):
    def unreadable(self):
        raise OSError("Can't read data (inflate() failed)")

    monkeypatch.setattr(H5SplitDataset, "value_problems", unreadable)
    dm = OperatorDataModule(operator_file, batch_size=8)
    dm.trainer = SimpleNamespace(is_global_zero=True, strategy=_Strategy())
    with pytest.raises(OSError, match="inflate"):  # rank zero: its own error, after telling the others
        dm.setup("fit")
    (told,) = dm.trainer.strategy.sent
    assert told == "the scan of the validation and test splits for NaN/Inf failed: Can't read data (inflate() failed)"
    dm.trainer = SimpleNamespace(is_global_zero=False, strategy=_Strategy(from_rank_zero=told))
    with pytest.raises(DataError, match="scan of the validation and test splits for NaN/Inf failed"):
        dm.setup("fit")


def _dealt(dm, ranks: int, strategy: object, loader: str = "test_dataloader") -> list[list[int]]:
    """The samples of the first loader ``loader`` of ``dm`` in each of ``ranks`` processes, in order."""
    dealt = []
    for rank in range(ranks):
        dm.trainer = SimpleNamespace(distributed_sampler_kwargs={"num_replicas": ranks, "rank": rank},
                                     strategy=strategy)
        loaders = getattr(dm, loader)()
        dealt.append(list((loaders[0] if isinstance(loaders, list) else loaders).sampler))
    return dealt


@pytest.mark.parametrize("ranks", [2, 3])
def test_every_sample_of_an_evaluation_split_is_read_once_over_the_processes(tmp_path, ranks):
    """Lightning deals val/test splits with a DistributedSampler that repeats samples up to a multiple of the
    processes (7 samples in 2 processes: 8 read, one counted twice in the metrics); each is now read once."""
    from lightning.pytorch.strategies import DDPStrategy

    path = write_operator_file(tmp_path / "odd.h5", {"train": (4, 8), "val": (5, 8), "test": (7, 8)})
    dm = OperatorDataModule(path, batch_size=2)
    dm.setup("test")
    for loader, size in (("test_dataloader", 7), ("val_dataloader", 5)):
        dealt = _dealt(dm, ranks, DDPStrategy(), loader)
        assert sorted(i for shard in dealt for i in shard) == list(range(size)), (loader, dealt)
        assert [shard[0] for shard in dealt] == list(range(ranks))  # process r: samples r, r + P, ...


def test_an_evaluation_split_that_cannot_be_dealt_without_repeats_is_padded_with_a_warning(tmp_path):
    """FSDP may gather parameters at every forward: its processes must run as many batches, so a split that cannot
    give them that (7 samples in shards of 4 and 3: 2 batches each of batch size 2, but 4 and 3 of batch size 1) is
    padded as Lightning pads it, with a warning; so is a split with fewer samples than processes (a process with
    none would wait for the others' reduction forever)."""
    from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy

    from neurops.errors import NeuropsWarning

    path = write_operator_file(tmp_path / "odd.h5", {"train": (4, 8), "test": (7, 8), "few": (2, 8),
                                                        "one": (1, 8)})
    dm = OperatorDataModule(path, batch_size=2, val_split=None, test_splits=["test"])
    dm.setup("test")
    assert [len(s) for s in _dealt(dm, 2, FSDPStrategy())] == [4, 3]  # 2 batches each
    dm.batch_size = 1
    with pytest.warns(NeuropsWarning) as caught:
        assert _dealt(dm, 2, FSDPStrategy()) == [[0, 2, 4, 6], [1, 3, 5, 0]]
    assert str(caught[0].message) == (
        "the test split 'test': its 7 sample(s) cannot be dealt to 2 FSDPStrategy processes without repeating some "
        "(the processes would run unequal numbers of batches), so it is padded with 1 repeated sample(s), which weigh "
        "more than the others in its metrics; use a --data.batch_size that gives every process as many batches, or "
        "--trainer.strategy ddp, or evaluate on one device (--trainer.devices 1).")
    assert [len(s) for s in _dealt(dm, 2, DDPStrategy())] == [4, 3]  # DDP: unequal batch counts are fine
    dm = OperatorDataModule(path, batch_size=2, val_split=None, test_splits=["one"])
    dm.setup("test")
    with warnings.catch_warnings():  # 1 sample in 2 processes: read twice, weighs as in one process
        warnings.simplefilter("error")
        assert _dealt(dm, 2, DDPStrategy()) == [[0], [0]]
    dm = OperatorDataModule(path, batch_size=2, val_split=None, test_splits=["few"])
    dm.setup("test")
    with pytest.warns(NeuropsWarning) as caught:  # 2 samples in 3 processes: one of them is read twice
        assert _dealt(dm, 3, DDPStrategy()) == [[0], [1], [0]]
    assert str(caught[0].message) == (
        "the test split 'few': its 2 sample(s) cannot be dealt to 3 DDPStrategy processes without repeating some (a "
        "process would have none), so it is padded with 1 repeated sample(s), which weigh more than the others in its "
        "metrics; evaluate on 2 device(s) or fewer (--trainer.devices 2).")
