"""Data sets of several files: shards of a generation run, folders, lists; read as one data set."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from neurops.data.check import check_file
from neurops.data.datamodule import OperatorDataModule, RolloutDataModule
from neurops.data.generators import get_generator
from neurops.data.reader import H5OperatorDataset, read_split
from neurops.data.shards import Shard, data_files
from neurops.errors import ConfigError, DataError
from tests.conftest import write_operator_file

DARCY = dict(n_train=20, n_val=3, n_test=9, resolution=9, test_resolutions=(17,), seed=3)
SPLITS = ("train", "val", "test", "test@17")


def _darcy(out, shard=None, **changes):
    spec = get_generator("darcy")
    return spec.generate(spec.make_config(**{**DARCY, **changes}), out, workers=1, progress=False, shard=shard)


@pytest.fixture(scope="module")
def darcy_run(tmp_path_factory):
    """The unsharded run and its 3 shards, named so that name order is NOT shard order."""
    root = tmp_path_factory.mktemp("darcy")
    full = _darcy(root / "full.h5")
    (root / "shards").mkdir()
    for index, name in zip(range(3), ("c", "b", "a")):
        _darcy(root / "shards" / f"{name}.h5", Shard(index, 3))
    return full, root / "shards"


def test_shard_parts():
    assert [Shard(i, 3).units(10) for i in range(3)] == [range(0, 3), range(3, 6), range(6, 10)]
    assert Shard(1, 2).samples({"train": 20, "test": 5}, 8) == {"train": range(16, 20), "test": range(0, 5)}
    parts = [Shard(i, 3).samples({"train": 10, "val": 3, "test": 5}, 4, across_splits=True) for i in range(3)]
    assert parts == [{"train": range(0, 4)}, {"train": range(4, 10), "val": range(0, 2)},
                     {"val": range(2, 3), "test": range(0, 5)}]
    with pytest.raises(ConfigError, match="0 <= I < N"):
        Shard.parse("3/3")
    with pytest.raises(ConfigError, match="not of the form I/N"):
        Shard.parse("first")


def test_shards_hold_the_samples_of_the_unsharded_run(darcy_run):
    full, shards = darcy_run
    files = data_files(shards)
    assert [f.name for f in files] == ["c.h5", "b.h5", "a.h5"]  # by shard index
    assert check_file(shards) == []
    with h5py.File(files[1]) as f:
        assert f.attrs["shard"] and "train" in f and "test" not in f
    for split in SPLITS:
        whole, parts = read_split(full, split), read_split(shards, split)
        for group in ("inputs", "outputs"):
            for name, values in whole[group].items():
                np.testing.assert_array_equal(parts[group][name], values)
    ds = H5OperatorDataset(shards, "train")
    assert len(ds) == 20 and len(ds._parts) == 2
    torch.testing.assert_close(ds[17]["y"], H5OperatorDataset(full, "train")[17]["y"], rtol=0, atol=0)


def test_incomplete_or_mixed_shards_are_refused(darcy_run, tmp_path):
    full, shards = darcy_run
    files = data_files(shards)
    with pytest.raises(DataError, match=r"shard\(s\) \[1\] of 3 are missing"):
        data_files([files[0], files[2]])
    again = tmp_path / "again.h5"
    again.write_bytes(files[0].read_bytes())
    with pytest.raises(DataError, match=r"shard\(s\) \[0\] appear more than once"):
        data_files([files[0], again, files[1], files[2]])
    with pytest.raises(DataError, match="mixed with other files"):
        data_files([*files, full])
    other = _darcy(tmp_path / "other.h5", Shard(1, 3), seed=4)
    with pytest.raises(DataError, match="different runs"):
        data_files([files[0], other, files[2]])
    problems = check_file([files[0], files[2]])
    assert any("missing" in p for p in problems)


def test_a_list_of_files_must_hold_one_data_set(tmp_path):
    a = write_operator_file(tmp_path / "a.h5", {"train": (6, 8), "test": (2, 8)}, seed=0)
    b = write_operator_file(tmp_path / "b.h5", {"train": (4, 8)}, seed=1)
    ds = H5OperatorDataset([a, b], "train")
    assert len(ds) == 10 and len(H5OperatorDataset([a, b], "test")) == 2
    torch.testing.assert_close(ds[7], H5OperatorDataset(b, "train")[1])
    with pytest.raises(DataError) as err:  # it said "a.h5 and a.h5 hold the same samples"
        data_files([a, a])
    assert str(err.value) == f"{a} is listed twice: a data set lists each of its files once."
    (tmp_path / "sub").mkdir()
    with pytest.raises(DataError) as err:
        data_files([a, tmp_path / "sub" / ".." / "a.h5"])
    assert str(err.value) == (f"{tmp_path}/sub/../a.h5 is listed twice (as {a}): a data set lists each of its files "
                              "once.")
    copy = tmp_path / "copy.h5"
    copy.write_bytes(a.read_bytes())
    with pytest.raises(DataError, match="same samples"):
        data_files([a, copy])
    c = write_operator_file(tmp_path / "c.h5", {"train": (4, 12)}, seed=2)
    with pytest.raises(DataError, match=r"split 'train': c.h5 has fields \['inputs/a\[12, 12\]'"):
        H5OperatorDataset([a, c], "train")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="holds no data file"):
        data_files(empty)


def test_generated_files_of_one_data_set_share_the_problem(darcy_run, tmp_path):
    """Runs with other seeds or sizes add samples of one problem; a run with another GRF or forcing is another
    problem (merged, the data set's parameters used to describe only the first file)."""
    full, _ = darcy_run
    more = _darcy(tmp_path / "more.h5", seed=4, n_train=5)
    assert data_files([full, more]) == [full, more]
    for change, shown in (({"alpha": 3.0}, "alpha 2.0 vs 3.0"), ({"forcing": 2.0}, "forcing 1.0 vs 2.0")):
        other = _darcy(tmp_path / f"other_{next(iter(change))}.h5", seed=5, **change)
        with pytest.raises(DataError, match=rf"full.h5 and other_\w+.h5 were generated for different problems "
                                            rf"\({shown}\)"):
            data_files([full, other])
        assert any("different problems" in p for p in check_file([full, other]))


def test_data_module_reads_a_folder_as_one_data_set_sharded_across_ranks_and_workers(darcy_run):
    full, shards = darcy_run
    dm = OperatorDataModule(shards, batch_size=4)
    assert dm.test_splits == ["test", "test@17"] and dm.test_tags == ["9", "17"]
    ref = torch.stack([H5OperatorDataset(full, "train")[i]["x"] for i in range(20)])
    seen = torch.cat([b["x"] for b in dm._loader(dm.train_set, shuffle=False)])
    torch.testing.assert_close(seen, ref, rtol=0, atol=0)
    per_rank = [[int(i) for i in DistributedSampler(dm.train_set, num_replicas=2, rank=r, shuffle=True, seed=0)]
                for r in range(2)]
    assert sorted(per_rank[0] + per_rank[1]) == list(range(20))
    batches = list(DataLoader(dm.train_set, batch_size=3, num_workers=2,
                              sampler=DistributedSampler(dm.train_set, num_replicas=2, rank=1, shuffle=False)))
    torch.testing.assert_close(torch.cat([b["x"] for b in batches]), ref[1::2], rtol=0, atol=0)


def test_burgers_shards_follow_the_batches_across_splits(tmp_path):
    spec = get_generator("burgers")
    config = spec.make_config(n_train=5, n_val=2, n_test=3, resolution=32, solver_resolution=64, n_frames=4,
                              t_final=0.1, test_resolutions=(16,), batch_size=4)
    full = spec.generate(config, tmp_path / "full.h5", progress=False)
    (tmp_path / "shards").mkdir()
    for i in range(2):
        spec.generate(config, tmp_path / "shards" / f"s{i}.h5", progress=False, shard=Shard(i, 2))
    dm_full = RolloutDataModule(full, t_in=1, t_out=1, batch_size=2)
    dm = RolloutDataModule(tmp_path / "shards", t_in=1, t_out=1, batch_size=2)
    for a, b in [(dm_full.train_set, dm.train_set), (dm_full.val_set, dm.val_set),
                 *zip(dm_full.test_sets, dm.test_sets)]:
        assert len(a) == len(b)
        for i in range(len(a)):
            torch.testing.assert_close(a[i], b[i], rtol=0, atol=0)


def test_a_malformed_shard_record_is_a_problem_of_the_file(darcy_run, tmp_path):
    _, shards = darcy_run
    bad = tmp_path / "bad.h5"
    bad.write_bytes(data_files(shards)[0].read_bytes())
    with h5py.File(bad, "a") as f:
        f.attrs["shard"] = '{"index": 0}'
    assert any("is not a shard record" in p for p in check_file(bad))
    with pytest.raises(DataError, match="is not a shard record"):
        H5OperatorDataset(bad, "train")


def test_a_list_of_files_on_the_command_line_reaches_the_data_module_as_a_list():
    import os

    from jsonargparse import ArgumentParser

    parser = ArgumentParser()
    parser.add_class_arguments(OperatorDataModule, "data")
    args = parser.parse_args(["--data.path", "[a.h5, b.h5]"])
    assert args.data.path == ["a.h5", "b.h5"]
    assert parser.parse_args(["--data.path", os.path.join("data", "x.h5")]).data.path == os.path.join("data", "x.h5")


def test_more_shards_than_blocks_is_refused_by_every_shard_before_anything_is_written(tmp_path):
    # darcy solves blocks of 8 within each split: train 4, val 3, test 9 -> 1 + 1 + 2 = 4 blocks for 5 shards
    for i in range(5):
        with pytest.raises(ConfigError) as err:
            _darcy(tmp_path / "sh" / f"p{i}.h5", Shard(i, 5), n_train=4)
        assert str(err.value) == (f"shard {i}/5: the run has 4 block(s) of 8 samples (computed together) but 5 shards, "
                                  "so some shards would hold no samples and the shards could never be merged; use at "
                                  "most 4 shards.")
    assert not (tmp_path / "sh").exists()
    spec = get_generator("burgers")  # batches across splits: 5 + 2 + 3 samples in 3 batches of 4
    config = spec.make_config(n_train=5, n_val=2, n_test=3, resolution=32, solver_resolution=64, n_frames=4,
                              t_final=0.1, batch_size=4)
    for i in range(4):
        with pytest.raises(ConfigError, match=rf"^shard {i}/4: the run has 3 batch\(es\) of 4 samples .* use at most "
                                              r"3 shards or a smaller batch_size\.$"):
            spec.generate(config, tmp_path / "b" / f"s{i}.h5", progress=False, shard=Shard(i, 4))
    assert not (tmp_path / "b").exists()
    assert [len(Shard(i, 4).samples({"train": 20, "test": 9}, 8)) > 0 for i in range(4)] == [True] * 4
