"""Benchmark bookkeeping: the result schema, the git state it records, and the synchronising timers."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import torch

from neurops.utils.bench import (
    SCHEMA,
    clock,
    git_state,
    interleaved_times,
    markdown_table,
    save_results,
    timed,
    timeit,
)


def _git(repo, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo), *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "benchmarks" / "results").mkdir(parents=True)
    (root / "code.py").write_text("x = 1\n")
    (root / "benchmarks" / "results" / "r.json").write_text("{}\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "first")
    return root


def test_git_state_is_the_commit_and_whether_tracked_code_changed(repo, tmp_path):
    head = _git(repo, "rev-parse", "HEAD")
    assert git_state(repo) == {"commit": head, "dirty": False}
    (repo / "benchmarks" / "results" / "r.json").write_text('{"new": 1}\n')  # results do not count
    (repo / "untracked.py").write_text("")  # nor untracked files
    assert git_state(repo / "benchmarks") == {"commit": head, "dirty": False}
    (repo / "code.py").write_text("x = 2\n")
    assert git_state(repo) == {"commit": head, "dirty": True}
    outside = tmp_path / "not_a_checkout"
    outside.mkdir()
    assert git_state(outside) == {"commit": None, "dirty": None}


def test_save_results_writes_one_schema_and_the_markdown_header(tmp_path, capsys):
    rows = [{"model": "a", "ms": 1.5}, {"model": "b", "ms": 3.0}]
    path = save_results("demo", {"quick": True, "out": tmp_path, "ckpt": [tmp_path / "a.ckpt", tmp_path / "b.ckpt"]},
                        rows, markdown_table(rows), tmp_path / "res", details={"raw": [1.0, 2.0]})
    record = json.loads(path.read_text())
    assert path == tmp_path / "res" / "demo_quick.json"  # a --quick run never replaces the full-size results
    assert set(record) == {"schema", "name", "date", "command", "git", "machine", "versions", "settings", "rows",
                           "details"}
    assert record["schema"] == SCHEMA == 2 and record["name"] == "demo_quick"
    # paths stored as text, also inside a list option
    assert record["settings"] == {"quick": True, "out": str(tmp_path),
                                  "ckpt": [str(tmp_path / "a.ckpt"), str(tmp_path / "b.ckpt")]}
    assert record["rows"] == rows and record["details"] == {"raw": [1.0, 2.0]}
    assert record["versions"]["torch"] and record["versions"]["numpy"] and record["machine"]["cpu_count"] >= 1
    assert set(record["git"]) == {"commit", "dirty"}
    md = (tmp_path / "res" / "demo_quick.md").read_text()
    commit = record["git"]["commit"]
    assert md.startswith("# demo_quick\n") and (commit[:12] if commit else "Commit: unknown") in md
    assert md.rstrip().endswith("| b | 3 |")
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == ["demo_quick.json", "demo_quick.md"]  # no tmp
    # the run says where its result went (a --quick run's name differs from the one asked for)
    assert capsys.readouterr().out == f"results: {tmp_path / 'res' / 'demo_quick.json'} and demo_quick.md\n"


def test_timers_measure_each_call_and_interleave():
    seconds, out = timed(lambda: time.sleep(0.02) or "done")
    assert out == "done" and 0.02 <= seconds < 1.0
    assert 0.01 <= timeit(lambda: time.sleep(0.01), repeat=3, warmup=0) < 1.0
    calls = []
    times = interleaved_times({"a": lambda: calls.append("a"), "b": lambda: calls.append("b") or time.sleep(0.01)},
                              repeat=3)
    assert calls == ["a", "b"] * 3  # one call of each per round
    assert len(times["a"]) == len(times["b"]) == 3 and min(times["b"]) >= 0.01 > max(times["a"])


def _fake_cuda(monkeypatch, initialised: bool = True) -> list:
    """CUDA as a CPU-only test sees it: available, (not) initialised, its synchronisations recorded in
    order with the clock's readings."""
    events: list = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: initialised)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: events.append(("sync", device)))
    ticks = iter(range(100))
    monkeypatch.setattr(time, "perf_counter", lambda: events.append("clock") or float(next(ticks)))
    return events


def test_the_clock_waits_for_cuda_before_it_reads_the_time(monkeypatch):
    events = _fake_cuda(monkeypatch)
    assert clock() == 0.0 and events == [("sync", None), "clock"]  # CUDA initialised: the current device
    events.clear()
    clock("cuda:1")
    assert events == [("sync", "cuda:1"), "clock"]  # the device of the timed tensors
    events.clear()
    clock(torch.device("cpu"))
    assert events == ["clock"]  # CPU tensors: nothing to wait for
    events.clear()
    seconds, out = timed(lambda: events.append("work") or 7, device="cuda:0")
    assert out == 7 and seconds == 1.0
    assert events == [("sync", "cuda:0"), "clock", "work", ("sync", "cuda:0"), "clock"]
    events.clear()
    times = interleaved_times({"a": lambda: events.append("a"), "b": lambda: events.append("b")}, repeat=1)
    sync = ("sync", None)
    assert events == [sync, "clock", "a", sync, "clock", sync, "clock", "b", sync, "clock"]
    assert times == {"a": [1.0], "b": [1.0]}


def test_the_clock_leaves_cuda_alone_when_this_process_never_used_it(monkeypatch):
    events = _fake_cuda(monkeypatch, initialised=False)
    clock()
    assert events == ["clock"]


def test_every_benchmark_times_through_the_one_clock():
    """No stray ``time.perf_counter()`` / ``time.time()`` pairs in benchmarks/: they would read the time
    before a GPU finished its work."""
    root = Path(__file__).resolve().parents[2] / "benchmarks"
    stray = [f"{p.name}:{i}" for p in sorted(root.glob("*.py")) for i, line in enumerate(p.read_text().splitlines(), 1)
             if re.search(r"\btime\.(perf_counter|time|monotonic)\(|default_timer|from time import", line)]
    assert stray == []


def test_save_results_writes_strict_json_and_replaces_the_pair_together(tmp_path, monkeypatch, capsys):
    """The .json held Infinity/NaN (refused by jq and JavaScript), and it was renamed onto its name before the .md was
    written: an error in between left a new .json beside the old .md. Now null, and both files are replaced or
    neither."""
    import neurops.utils.bench as bench

    def refuse(name: str) -> None:
        raise ValueError(f"non-standard JSON constant {name}")

    res = tmp_path / "res"
    path = save_results("demo", {}, [{"ratio": float("inf"), "loss": float("nan")}], "old table", res)
    assert json.loads(path.read_text(), parse_constant=refuse)["rows"] == [{"ratio": None, "loss": None}]
    before = {p.name: p.read_text() for p in res.iterdir()}

    def broken(record):
        raise RuntimeError("disk full")

    monkeypatch.setattr(bench, "markdown_header", broken)  # fails after the new .json is written in full
    with pytest.raises(RuntimeError, match="disk full"):
        save_results("demo", {}, [{"ratio": 2.0}], "new table", res)
    assert {p.name: p.read_text() for p in res.iterdir()} == before  # both old files, no temporary file
