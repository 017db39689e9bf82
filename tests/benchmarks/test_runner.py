"""``python -m benchmarks``: one runner over every script, one result schema, a tiny benchmark end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import runner
from neurops.utils.bench import git_state

ROOT = Path(__file__).resolve().parents[2]


def test_list_names_every_benchmark_script_and_no_helper(capsys):
    assert runner.main(["list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    scripts = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py"))
    assert listed == [s for s in scripts if s not in runner.HELPERS]
    assert "darcy_fno" in listed and "common" not in listed and "runner" not in listed


def test_unknown_benchmark_is_one_error_line_with_a_suggestion(capsys):
    assert runner.main(["run", "darcy_fn"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no benchmark named 'darcy_fn'" in err and "did you mean 'darcy_fno'" in err


@pytest.mark.parametrize("name", runner.benchmark_names())
def test_every_benchmark_takes_the_shared_options(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        runner.main(["run", name, "--help"])
    assert exit_info.value.code == 0
    assert "--results-dir" in capsys.readouterr().out


def test_tiny_benchmark_writes_one_result(tmp_path):
    argv = ["--quick", "--repeat", "1", "--members", "2", "--only-ensembles", "--results-dir", str(tmp_path)]
    assert runner.main(["run", "dsr_training_speed", *argv]) == 0
    record = json.loads((tmp_path / "dsr_training_speed.json").read_text())
    assert record["schema"] == 2 and record["command"] == "python -m benchmarks run dsr_training_speed " + " ".join(
        argv)
    assert record["settings"]["quick"] is True and record["settings"]["repeat"] == 1
    assert record["git"] == git_state(ROOT)
    rows = record["rows"]
    assert [r["setting"] for r in rows] == ["Lorenz-63, GTF shPLRNN (M 3, L 100)",
                                            "ECG, GTF shPLRNN (M 5, L 250, affine)"]
    for row in rows:  # the derived columns are what the timings say
        one, fused, auto = row["one model ms"], row["R=2 fused ms"], row["R=2 autograd ms"]
        assert min(one, fused, auto) > 0
        assert row["ensemble / one"] == pytest.approx(min(fused, auto) / one)
        assert row["seeds per unit time"] == pytest.approx(2 * one / min(fused, auto))
    raw = record["details"]["ensembles"][rows[0]["setting"]]["median_s"]
    assert 1e3 * raw["one model"] == pytest.approx(rows[0]["one model ms"])
    md = (tmp_path / "dsr_training_speed.md").read_text()
    assert md.startswith("# dsr_training_speed\n") and "| setting | one model ms |" in md


def test_module_entry_point_runs_from_a_checkout_without_path_edits():
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "list"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == runner.benchmark_names()[0]
