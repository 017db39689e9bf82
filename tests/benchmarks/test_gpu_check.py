"""benchmarks/gpu_check.py on the CPU: each part at tiny sizes (Triton kernels in the interpreter),
and (slow) the whole ``--cpu-dry-run`` as a user runs it."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("triton")
if os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("the CPU dry run runs the kernels in Triton's interpreter: TRITON_INTERPRET=1 (pytest sets it when "
                "cuda is not a test device)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
gpu_check = importlib.import_module("benchmarks.gpu_check")
CPU = torch.device("cpu")


def test_tests_part_runs_the_device_tests_in_a_subprocess():
    res = gpu_check.run_tests(CPU, gpu_check.DRY_RUN)
    assert res["returncode"] == 0 and res["passed"] >= 1 and res["failures"] == res["errors"] == 0, res


def test_spectral_part_times_and_checks_every_contender():
    sizes = dataclasses.replace(gpu_check.DRY_RUN, spectral_repeat=1)
    res = gpu_check.run_spectral(CPU, sizes)
    assert [r["dtype"] for r in res["rows"]] == ["float32", "bfloat16"]
    for row in res["rows"]:
        for name in ("triton", "fft", "reference", "dft", "triton fwd"):
            assert row[f"{name} ms"] > 0
        assert row["triton fwd GB/s"] > 0 and row["speedup vs fft"] > 0
    assert res["targets"]["triton accurate (all rows)"]


def test_solvers_part_solves_with_every_contender_to_the_tolerance():
    sizes = dataclasses.replace(gpu_check.DRY_RUN, mg_batch=2)
    res = gpu_check.run_solvers(CPU, sizes)
    single, batched = res["rows"]
    assert "mg-pcg cpu triton (interpreter) s" in single and single["mg-pcg cpu its"] == single[
        "mg-pcg cpu triton (interpreter) its"]
    assert batched["problem"] == "2 x 16^2 batched" and res["all residuals <= rtol"]


def test_fits_part_trains_in_bf16_mixed():
    res = gpu_check.run_fits(CPU, gpu_check.DRY_RUN, models=["fno", "dgno", "gtf_shplrnn"])
    assert not res["errors"], res["errors"]
    assert [r["model"] for r in res["rows"]] == ["fno", "dgno", "gtf_shplrnn"]
    assert all(r["finite losses"] and r["parameters on device"] and r["steps"] == 3 for r in res["rows"])


def test_probe_checks_every_launch_config_alone_in_child_processes():
    """The spectral part's fallback: each DFT launch config alone against torch.fft, then the autotuned conv."""
    probes = gpu_check.run_probe(dry_run=True)["probes"]
    assert len(probes) == 2 * (6 + 1), list(probes)
    tolerance = {"float32": 1e-6, "bfloat16": 2e-2}
    for name, res in probes.items():
        assert res["rel err"] < tolerance[name.split()[-1]], (name, res)


@pytest.mark.slow
def test_cpu_dry_run_writes_one_result_with_every_part(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "run", "gpu_check", "--cpu-dry-run", "--results-dir",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "gpu_check_cpu_dry_run.json").read_text())["details"]
    assert (tmp_path / "gpu_check_cpu_dry_run.md").exists()
    for part in gpu_check.PARTS:
        assert "error" not in results[part], results[part]
    assert results["tests"]["failures"] == 0 and not results["fits"]["errors"]
    assert {r["model"] for r in results["fits"]["rows"]} == {"fno", "mgno", "lsm", "dgno", "gtf_shplrnn"}
