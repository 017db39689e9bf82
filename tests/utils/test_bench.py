"""Benchmark bookkeeping: the result schema, the git state it records, and the synchronising timers."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from neurops.utils.bench import SCHEMA, git_state, interleaved_times, markdown_table, save_results, timed, timeit


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


def test_save_results_writes_one_schema_and_the_markdown_header(tmp_path):
    rows = [{"model": "a", "ms": 1.5}, {"model": "b", "ms": 3.0}]
    path = save_results("demo", {"quick": True, "out": tmp_path}, rows, markdown_table(rows), tmp_path / "res",
                        details={"raw": [1.0, 2.0]})
    record = json.loads(path.read_text())
    assert path == tmp_path / "res" / "demo.json"
    assert set(record) == {"schema", "name", "date", "command", "git", "machine", "versions", "settings", "rows",
                           "details"}
    assert record["schema"] == SCHEMA == 2 and record["name"] == "demo"
    assert record["settings"] == {"quick": True, "out": str(tmp_path)}  # paths stored as text
    assert record["rows"] == rows and record["details"] == {"raw": [1.0, 2.0]}
    assert record["versions"]["torch"] and record["versions"]["numpy"] and record["machine"]["cpu_count"] >= 1
    assert set(record["git"]) == {"commit", "dirty"}
    md = (tmp_path / "res" / "demo.md").read_text()
    commit = record["git"]["commit"]
    assert md.startswith("# demo\n") and (commit[:12] if commit else "Commit: unknown") in md
    assert md.rstrip().endswith("| b | 3 |")
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == ["demo.json", "demo.md"]  # no temporaries


def test_timers_measure_each_call_and_interleave():
    seconds, out = timed(lambda: time.sleep(0.02) or "done")
    assert out == "done" and 0.02 <= seconds < 1.0
    assert 0.01 <= timeit(lambda: time.sleep(0.01), repeat=3, warmup=0) < 1.0
    calls = []
    times = interleaved_times({"a": lambda: calls.append("a"), "b": lambda: calls.append("b") or time.sleep(0.01)},
                              repeat=3)
    assert calls == ["a", "b"] * 3  # one call of each per round
    assert len(times["a"]) == len(times["b"]) == 3 and min(times["b"]) >= 0.01 > max(times["a"])
