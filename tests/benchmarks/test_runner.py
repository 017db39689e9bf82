"""``python -m benchmarks``: one runner over every script, one result schema, a tiny benchmark end to end."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shlex
import signal
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


@pytest.mark.parametrize("argv, status", [(["run", "--help"], 0), (["run", "-h"], 0), (["run"], 2)])
def test_run_without_a_benchmark_shows_how_to_name_one(argv, status, capsys):
    """``run --help`` used to fail with "the following arguments are required: name, options"."""
    assert runner.main(argv) == status
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m benchmarks run NAME [options]\n") and "run NAME --help" in out


def test_a_results_dir_that_is_a_file_is_refused_before_any_measurement(tmp_path, capsys):
    """It used to fail in save_results, after the whole benchmark had run, with a FileExistsError traceback."""
    mine = tmp_path / "afile"
    mine.write_text("mine")
    with pytest.raises(SystemExit) as exit_info:
        runner.main(["run", "darcy_datagen", "--quick", "--results-dir", str(mine)])
    assert exit_info.value.code == 2 and mine.read_text() == "mine"
    err = capsys.readouterr().err.splitlines()[-1]
    assert err == (f"python -m benchmarks run darcy_datagen: error: argument --results-dir: {mine} is a file; give a "
                   "folder for the result files (made if missing)")


def test_spectral_conv_times_the_triton_path_on_gpus_only():
    """On CPU tensors the triton path runs only in Triton's interpreter: the benchmark crashed on it without
    TRITON_INTERPRET=1 (and took seconds a call with it)."""
    import torch

    from benchmarks.spectral_conv import timed_paths
    from neurops.kernels.spectral import PATHS

    assert timed_paths(torch.zeros(1)) == [p for p in PATHS if p != "triton"] and "fft" in timed_paths(torch.zeros(1))


def test_spectral_conv_refuses_grids_too_small_for_its_modes_before_any_timing(tmp_path, capsys):
    """--grids 16 used to end in a ModelError traceback from the first case."""
    with pytest.raises(SystemExit) as exit_info:
        runner.main(["run", "spectral_conv", "--grids", "16", "--results-dir", str(tmp_path / "res")])
    assert exit_info.value.code == 2 and not (tmp_path / "res").exists()
    assert capsys.readouterr().err.splitlines()[-1] == (
        "python -m benchmarks run spectral_conv: error: --grids [16]: every grid needs at least 32 points per side "
        "for the 16 Fourier modes per axis measured; use e.g. --grids 32 64.")


@pytest.mark.parametrize("name", runner.benchmark_names())
def test_every_benchmark_takes_the_shared_options(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        runner.main(["run", name, "--help"])
    assert exit_info.value.code == 0
    assert "--results-dir" in capsys.readouterr().out


def test_tiny_benchmark_writes_one_result(tmp_path):
    argv = ["--quick", "--repeat", "1", "--members", "2", "--only-ensembles", "--results-dir", str(tmp_path)]
    assert runner.main(["run", "dsr_training_speed", *argv]) == 0
    record = json.loads((tmp_path / "dsr_training_speed_quick.json").read_text())
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
    md = (tmp_path / "dsr_training_speed_quick.md").read_text()
    assert md.startswith("# dsr_training_speed_quick\n") and "| setting | one model ms |" in md


def test_module_entry_point_runs_from_a_checkout_without_path_edits():
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "list"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == runner.benchmark_names()[0]


def test_list_shows_a_summary_that_wraps_in_the_source_whole(capsys):
    """dsr_ecg's first sentence spans two source lines: `list` cut it at "... and the STF AL-RNN on the"."""
    assert runner.main(["list"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("dsr_ecg "))
    assert line.split(None, 1)[1] == ("ECG: GTF-shPLRNN (M = 5, L = 250, affine observation; fixed alpha = 0.3 and "
                                      "aGTF) and the STF AL-RNN on the delay-embedded ECG.")


def _documented_runs() -> list[tuple[str, list[str]]]:
    """``(page, options)`` of every ``python -m benchmarks run`` command in a shell block of the docs and README."""
    runs = []
    for page in sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]):
        shell, fence = [], None
        for line in page.read_text().splitlines():
            if line.startswith("```"):
                fence = None if fence is not None else line[3:].strip()
            elif fence in ("", "bash", "sh"):
                shell.append(line)
        for line in re.sub(r"\\\n\s*", " ", "\n".join(shell)).splitlines():
            words = shlex.split(line, comments=True) if "benchmarks run" in line else []
            for i in (i for i in range(len(words)) if words[i:i + 3] == ["-m", "benchmarks", "run"]):
                rest = words[i + 3:]
                end = next((j for j, word in enumerate(rest) if word in ("|", "&&", ";", "2>&1")), len(rest))
                runs.append((str(page.relative_to(ROOT)), rest[:end]))
    return runs


@pytest.mark.parametrize("page, argv", _documented_runs())
def test_every_benchmark_command_the_docs_show_parses(page, argv, monkeypatch):
    """docs/models/mgno.md showed `darcy_mgno ... --device cuda`, which the benchmark refuses ("unrecognized
    arguments: --device cuda": its option is --accelerator gpu)."""

    class Parsed(Exception):
        pass

    parse_args = argparse.ArgumentParser.parse_args

    def parse_and_stop(self, args=None, namespace=None):
        parsed = parse_args(self, args, namespace)
        if self.prog.startswith("python -m benchmarks run"):  # the options are valid: stop before the benchmark runs
            raise Parsed
        return parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_and_stop)
    monkeypatch.setenv("OUT", "/tmp")
    with pytest.raises((Parsed, SystemExit)) as stopped:
        runner.main(["run", *[os.path.expandvars(word) for word in argv]])
    assert stopped.type is Parsed or (stopped.value.code == 0 and "--help" in argv)


def test_ctrl_c_is_one_line_and_status_130(tmp_path, ctrl_c_reaches_python):
    """Ctrl-C during a benchmark printed a 30-line KeyboardInterrupt traceback from inside the timed kernels."""
    pytest.importorskip("neuralop", reason="spectral_conv times neuraloperator's layer: the bench extra")
    job = subprocess.Popen([sys.executable, "-m", "benchmarks", "run", "spectral_conv", "--quick", "--results-dir",
                            str(tmp_path / "results")], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert job.stdout.readline().startswith("C=32 64^2 m=12: ")  # measuring
    job.send_signal(signal.SIGINT)
    _, err = job.communicate(timeout=120)
    assert job.returncode == 130 and err.splitlines() == [
        "python -m benchmarks run spectral_conv: interrupted (exit status 130); result files are written whole or not "
        "at all, so the results folder holds no part of this run's unfinished result"], err[-2000:]
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("name, option", [("solvers_darcy", "--repeat"), ("solvers_darcy", "--threads"),
                                          ("spectral_conv", "--batch"), ("data_loading", "--rounds"),
                                          ("darcy_datagen", "--repeat"), ("darcy_fno", "--epochs"),
                                          ("dsr_training_speed", "--threads"), ("dsr_training_speed", "--repeat"),
                                          ("mgno_speed", "--threads"), ("darcy_datagen_solvers", "--repeat"),
                                          ("dcdm", "--threads"), ("inverse_surrogates", "--threads")])
def test_a_count_of_zero_is_refused_when_the_options_are_parsed(name, option, tmp_path, capsys):
    """--repeat 0 ended in "ValueError: min() arg is an empty sequence" (solvers_darcy) or "IndexError" (darcy_datagen),
    --threads 0 in torch's RuntimeError, --batch 0 in an MKL FFT error, --rounds 0 in a StatisticsError: tracebacks
    after the setup (or the whole measurement) had run. dsr_training_speed --repeat 0 ran the default 8 rounds (and
    --threads 0 of it, mgno_speed, dcdm, inverse_surrogates and --repeat 0 of darcy_datagen_solvers still ended in
    those tracebacks): every option that counts is a positive integer."""
    with pytest.raises(SystemExit) as exit_info:
        runner.main(["run", name, option, "0", "--results-dir", str(tmp_path / "res")])
    assert exit_info.value.code == 2 and not (tmp_path / "res").exists()
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"python -m benchmarks run {name}: error: argument {option}: 0 is not a positive integer; give a whole number "
        ">= 1")


def test_a_peer_that_is_not_installed_is_one_line_naming_the_extra(monkeypatch, capsys):
    """Without the bench extra, `run spectral_conv` (and every benchmark timing neuraloperator) ended in a
    ModuleNotFoundError traceback from inside the measurement."""
    import types

    def main(options):
        raise ModuleNotFoundError("No module named 'neuralop'", name="neuralop")

    real = importlib.import_module
    monkeypatch.setattr(importlib, "import_module",
                        lambda name: types.SimpleNamespace(main=main) if name == "benchmarks.spectral_conv"
                        else real(name))
    assert runner.main(["run", "spectral_conv", "--quick"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "python -m benchmarks run spectral_conv: error: it runs its peer from the package 'neuralop', which is not "
        "installed: install the bench extra first (make bench, or pip install -e '.[bench]' after torch)"]

    def broken(options):
        raise ModuleNotFoundError("No module named 'neurops.missing'", name="neurops.missing")

    monkeypatch.setattr(importlib, "import_module",
                        lambda name: types.SimpleNamespace(main=broken) if name == "benchmarks.spectral_conv"
                        else real(name))
    with pytest.raises(ModuleNotFoundError):  # a bug of ours stays a traceback
        runner.main(["run", "spectral_conv", "--quick"])


FAKE_TRAINING_BENCHMARK = """
import os, sys, types
import lightning as L
import torch
from benchmarks import runner
from neurops.utils.bench import save_results

class Stop(L.Callback):
    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == 2:
            os.kill(os.getpid(), {signum})

class Model(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
    def training_step(self, batch, index):
        return self.layer(batch[0]).pow(2).mean()
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

def main(options):
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(64, 2)), batch_size=4)
    L.Trainer(max_epochs=20, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, callbacks=[Stop()]).fit(Model(), data)
    save_results("trained", {{}}, [], "", options[1])
    return 0

sys.modules["benchmarks.trained"] = types.SimpleNamespace(main=main)
runner.benchmark_names = lambda: ["trained"]
sys.exit(runner.main(["run", "trained", "--results-dir", {results!r}]))
"""


@pytest.mark.parametrize("signum, by", [(signal.SIGINT, "interrupted"), (signal.SIGTERM, "stopped by SIGTERM")])
def test_ctrl_c_or_sigterm_while_a_benchmark_trains_is_one_line_and_its_status(signum, by, tmp_path):
    """Ctrl-C while a benchmark's Lightning trainer ran ended with Lightning's status 1 (its trainer takes the
    KeyboardInterrupt: the runner's line never came); SIGTERM (a scheduler, `timeout`) ended the runner where it was,
    with no line. Now both are the runner's line, with status 130 / 143, and no result file."""
    results = tmp_path / "results"
    source = FAKE_TRAINING_BENCHMARK.format(signum=int(signum), results=str(results))
    job = subprocess.run([sys.executable, "-c", source], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)},
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert job.returncode == 128 + signum, job.stderr[-2000:]
    assert "Traceback" not in job.stderr and job.stderr.splitlines()[-1] == (
        f"python -m benchmarks run trained: {by} (exit status {128 + signum}); result files are written whole or not "
        "at all, so the results folder holds no part of this run's unfinished result")
    assert not results.exists()


@pytest.mark.parametrize("argv, what", [([], "no command given"), (["lst"], "no command 'lst' (did you mean 'list'?)"),
                                        (["--foo"], "no command '--foo'")])
def test_no_command_or_a_wrong_one_names_the_commands(argv, what, capsys):
    """`python -m benchmarks` alone and `--foo` said "the following arguments are required: command", `lst`
    "invalid choice" without the close match `list` (as `run NAME` suggests one)."""
    assert runner.main(argv) == 2
    assert capsys.readouterr().err.splitlines() == [
        "usage: python -m benchmarks list | run NAME [options]",
        f"python -m benchmarks: error: {what}; use `list` (the benchmarks) or `run NAME [options]` (run one)"]


@pytest.mark.parametrize("name, argv, hint", [
    ("darcy_fno", ["--quik"], "--quik; did you mean --quick?"),
    ("solvers_darcy", ["--repaet", "2"], "--repaet 2; did you mean --repeat?"),
    ("dsr_lorenz63", ["--overwirte"], "--overwirte; did you mean --overwrite?"),
    ("spectral_conv", ["--zzz"], "--zzz"),
])
def test_a_misspelt_option_names_the_closest_one(name, argv, hint, tmp_path, capsys):
    """`run darcy_fno --quik` said only "unrecognized arguments: --quik" (the neurops commands say "did you mean")."""
    with pytest.raises(SystemExit) as exit_info:
        runner.main(["run", name, *argv, "--results-dir", str(tmp_path / "res")])
    assert exit_info.value.code == 2 and not (tmp_path / "res").exists()
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"python -m benchmarks run {name}: error: unrecognized arguments: {hint}")
