"""``benchmarks/data_loading.py`` end to end at a tiny size: the peak-memory part runs the shipped darcy_fno config."""

from __future__ import annotations

import json
import resource

import pytest

from benchmarks import runner


@pytest.mark.processes  # ~20 s: two fresh processes, one a neurops fit
def test_the_memory_part_measures_a_read_and_a_fit_of_the_shipped_config(tmp_path):
    """Its `fit` run turned checkpointing off while the shipped config keeps last.ckpt: every run ended in
    "RuntimeError: fit on ... failed: ... enable_checkpointing=False but found `ModelCheckpoint`", after the whole
    throughput part, and wrote no result. The peaks were ru_maxrss, which a process inherits from the one that
    starts it: both were the benchmark process's own size whenever that was larger."""
    ballast = bytearray(1024 * 2**20)  # this process, 1 GB larger than the measured ones: their peaks are their own
    ballast[::4096] = b"\1" * len(ballast[::4096])
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    argv = ["--parts", "memory", "--sizes-gb", "0.001", "--res", "16", "--batch-size", "4", "--fit-steps", "2",
            "--work", str(tmp_path), "--results-dir", str(tmp_path / "results")]
    assert runner.main(["run", "data_loading", *argv]) == 0
    (row,) = json.loads((tmp_path / "results" / "data_loading.json").read_text())["details"]["memory"]
    assert row["samples"] == 0.001 * 2**30 // (2 * 16 * 16 * 4)
    assert own - 500 > row["fit: peak RSS (MB)"] > row["read: peak RSS (MB)"] > 0  # it was `own` or more for both
    del ballast
    assert list(tmp_path.iterdir()) == [tmp_path / "results"]  # the data files are gone
