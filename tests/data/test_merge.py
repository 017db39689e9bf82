"""``neurops data merge``: a virtual data set over shards (relative paths), or a copy."""

from __future__ import annotations

import json
import math
import shutil

import h5py
import numpy as np
import pytest

from neurops.data.check import check_file
from neurops.data.generators import get_generator
from neurops.data.merge import merge_files
from neurops.data.reader import H5OperatorDataset, read_attrs, read_split
from neurops.data.schema import write_attrs
from neurops.data.shards import Shard
from neurops.errors import ConfigError, DataError

DARCY = dict(n_train=12, n_val=2, n_test=8, resolution=33, seed=5)


@pytest.fixture
def run(tmp_path):
    spec = get_generator("darcy")
    config = spec.make_config(**DARCY)
    data = tmp_path / "data"
    full = spec.generate(config, tmp_path / "full.h5", workers=1, progress=False)
    for i in range(2):
        spec.generate(config, data / "shards" / f"part-{i}.h5", workers=1, progress=False, shard=Shard(i, 2))
    return full, data


def _same_samples(a, b):
    for split in ("train", "val", "test"):
        x, y = read_split(a, split), read_split(b, split)
        for group in ("inputs", "outputs"):
            for name in x[group]:
                np.testing.assert_array_equal(x[group][name], y[group][name])


def test_virtual_merge_uses_relative_paths_and_moves_with_its_folder(run, tmp_path):
    full, data = run
    merged = merge_files(data / "shards", data / "darcy.h5", progress=False)
    assert check_file(merged) == []
    attrs = read_attrs(merged)
    assert "shard" not in attrs and attrs["generator"]["merged_from"] == ["shards/part-0.h5", "shards/part-1.h5"]
    assert merged.stat().st_size < 0.2 * full.stat().st_size  # no samples copied
    _same_samples(full, merged)
    moved = shutil.move(data, tmp_path / "elsewhere")
    _same_samples(full, moved / "darcy.h5")
    (moved / "shards" / "part-1.h5").unlink()
    assert any("virtual source shards/part-1.h5 is missing" in p for p in check_file(moved / "darcy.h5"))
    with pytest.raises(DataError, match="is missing"):
        H5OperatorDataset(moved / "darcy.h5", "train")


def test_copy_is_self_contained_and_virtual_merge_outside_the_folder_is_refused(run, tmp_path):
    full, data = run
    with pytest.raises(ConfigError, match="pass --copy"):
        merge_files(data / "shards", tmp_path / "outside" / "darcy.h5")
    assert not (tmp_path / "outside" / "darcy.h5").exists()
    copy = merge_files(data / "shards", tmp_path / "outside" / "darcy.h5", copy=True, progress=False)
    shutil.rmtree(data)
    assert check_file(copy) == []
    _same_samples(full, copy)
    with pytest.raises(FileExistsError):
        merge_files(full, copy, copy=True)


def test_output_among_the_inputs_is_refused(run):
    _, data = run
    with pytest.raises(ConfigError, match="is also an input"):
        merge_files(data / "shards", data / "shards" / "part-0.h5", overwrite=True)


def test_a_merged_file_inside_the_shards_folder_is_refused_and_the_folder_still_reads(run, tmp_path):
    full, data = run
    with pytest.raises(ConfigError, match=r"output .*shards/merged.h5 is inside the input folder .*shards, which this "
                                          r"command reads as one data set .* \(e.g. .*data/merged.h5\)\.$"):
        merge_files(data / "shards", data / "shards" / "merged.h5")
    assert sorted(p.name for p in (data / "shards").iterdir()) == ["part-0.h5", "part-1.h5"]
    assert check_file(data / "shards") == []
    merged = merge_files(data / "shards", data / "merged.h5")  # the documented place: beside the folder
    assert check_file(merged) == [] and check_file(data / "shards") == []
    _same_samples(full, merged)


def test_a_copy_that_cannot_fit_on_the_disk_is_refused_before_copying(run, tmp_path, monkeypatch):
    """`data merge --copy` copied until the disk was full; now the sources' size is compared with the free space of
    the output's folder first (a virtual merge copies no sample and is not checked)."""
    full, data = run
    sources = sorted((data / "shards").iterdir())
    need = sum(q.stat().st_size for q in sources)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - need + 1,
                                                                                     need - 1))
    out = tmp_path / "copy.h5"
    with pytest.raises(DataError) as err:
        merge_files(data / "shards", out, copy=True, progress=False)
    from neurops.utils.io import format_size

    assert str(err.value) == (f"{out} needs {format_size(need)} more: the copy of 2 files, but {tmp_path} has "
                              f"{format_size(need - 1)} free; nothing was saved: write to a disk with more space, or "
                              "merge without --copy (a virtual data set copies no sample).")
    assert not out.exists() and not list(tmp_path.glob(".copy.h5*"))
    merge_files(data / "shards", data / "virtual.h5", progress=False)
    _same_samples(full, data / "virtual.h5")


def test_a_generator_option_that_is_infinite_stays_strict_json_and_infinite_in_the_merged_file(run, tmp_path):
    _, data = run
    for part in sorted((data / "shards").iterdir()):
        with h5py.File(part, "a") as f:
            write_attrs(f, {"generator": {**read_attrs(part)["generator"], "max_time": math.inf}})
    out = merge_files(data / "shards", tmp_path / "merged.h5")
    with h5py.File(out) as f:
        generator = json.loads(f.attrs["generator"], parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
        assert generator["max_time"] is None and generator["merged_from"]
    assert read_attrs(out)["generator"]["max_time"] == math.inf
    assert check_file(out) == []
