"""Training throughput of ``neurops fit`` in 1 and N data-parallel (DDP) processes, in one run.

Every configuration is one ``neurops fit --config darcy_fno`` run (the command users run, as a
subprocess) on the same generated Darcy file, with the FNO paper's Darcy model (12 modes,
width 32, 4 layers) and the same per-process batch; the runs of all configurations are
interleaved round by round, so the load of a shared machine falls on all of them alike and the
ratios hold. Throughput is training samples per second over the epochs after the first (which
pays for start-up), measured by rank zero's epoch timer (``lightning_runs.EpochTimer``);
validation is off. The per-process batch is fixed (weak scaling): P processes train with a
global batch of P times it, so one epoch has 1/P as many optimizer steps.

Default configurations on a CPU machine with C cores: 1 process x 1 thread, 1 process x C
threads (all cores, one process), and P DDP processes x C/P threads for each P in
``--processes`` above 1 (gloo). On GPUs, one process per GPU::

    python -m benchmarks run scaling --accelerator gpu --processes 1,2,4,8 --threads 4 --batch-size 20

Usage::

    python -m benchmarks run scaling --quick     # 33^2, a few minutes on 2 CPU cores
    python -m benchmarks run scaling             # 65^2, 400 samples, 3 rounds
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import darcy_file
from benchmarks.runner import benchmark_parser, positive_int
from neurops.utils.bench import markdown_table, save_results

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = benchmark_parser(__doc__, quick="33^2 grid, 200 samples, 2 rounds")
    p.add_argument("--resolution", type=positive_int, default=None, help="grid points per axis (65; quick 33)")
    p.add_argument("--n-train", type=positive_int, default=None, help="training samples (400; quick 200)")
    p.add_argument("--epochs", type=positive_int, default=4, help="epochs per run; the first is not timed")
    p.add_argument("--rounds", type=positive_int, default=None, help="runs of every configuration (3; quick 2)")
    p.add_argument("--batch-size", type=positive_int, default=20, help="per-process batch")
    p.add_argument("--processes", default="1,2", help="comma-separated process counts")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="threads per process (default: cores / processes)")
    p.add_argument("--accelerator", default="cpu")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers per process")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default=None, help="results name (default scaling[_quick])")
    args = p.parse_args(argv)
    args.resolution = args.resolution or (33 if args.quick else 65)
    args.n_train = args.n_train or (200 if args.quick else 400)
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.processes = [int(n) for n in args.processes.split(",")]
    return args


def configurations(args: argparse.Namespace) -> list[dict[str, int]]:
    """(processes, threads per process) to compare; on CPU also one process on all cores."""
    cores = os.cpu_count() or 1
    configs = []
    for n in args.processes:
        threads = args.threads or max(1, cores // n)
        configs.append({"processes": n, "threads": threads})
        if n == 1 and args.threads is None and args.accelerator == "cpu" and threads != 1:
            configs.insert(-1, {"processes": 1, "threads": 1})
    return configs


def fit_command(args: argparse.Namespace, data: Path, config: dict[str, int], timer_out: Path,
                root: Path) -> list[str]:
    """The ``neurops fit`` command line of one configuration."""
    callbacks = [{"class_path": "benchmarks.lightning_runs.EpochTimer", "init_args": {"out": str(timer_out)}}]
    cmd = [sys.executable, "-m", "neurops", "fit", "--config", "darcy_fno", "--seed_everything", str(args.seed),
           "--data.path", str(data), "--data.batch_size", str(args.batch_size),
           "--data.num_workers", str(args.workers), "--trainer.max_epochs", str(args.epochs),
           "--trainer.accelerator", args.accelerator, "--trainer.devices", str(config["processes"]),
           "--trainer.logger", "false", "--trainer.enable_checkpointing", "false",
           "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
           "--trainer.limit_val_batches", "0", "--trainer.num_sanity_val_steps", "0",
           "--trainer.default_root_dir", str(root), "--trainer.callbacks", json.dumps(callbacks)]
    if config["processes"] > 1:
        cmd += ["--trainer.strategy", "ddp"]
    return cmd


def run_once(args: argparse.Namespace, data: Path, config: dict[str, int], work: Path) -> dict[str, Any]:
    """One fit; returns rank zero's epoch times and the samples per epoch (all processes)."""
    tag = f"p{config['processes']}_t{config['threads']}"
    timer_out = work / f"{tag}.json"
    timer_out.unlink(missing_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(config["threads"]), "MKL_NUM_THREADS": str(config["threads"])}
    done = subprocess.run(fit_command(args, data, config, timer_out, work / tag), cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"neurops fit failed for {tag}:\n{done.stderr[-4000:]}")
    record = json.loads(timer_out.read_text())
    n = config["processes"]
    per_process = -(-args.n_train // n)  # the sampler pads every process's share to the same size
    record["samples_per_epoch"] = per_process * n
    record["load_average_1min"] = os.getloadavg()[0]  # other processes on a shared machine, at the run's end
    return record


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = darcy_file(args.n_train, 8, args.resolution, seed=args.seed)
    configs = configurations(args)
    runs: dict[str, list[dict[str, Any]]] = {f"p{c['processes']}_t{c['threads']}": [] for c in configs}
    with tempfile.TemporaryDirectory(prefix="neurops_scaling_") as tmp:
        for r in range(args.rounds):
            order = configs[r % len(configs):] + configs[:r % len(configs)]  # rotate who runs first
            for config in order:
                tag = f"p{config['processes']}_t{config['threads']}"
                record = run_once(args, data, config, Path(tmp))
                runs[tag].append(record)
                timed = record["epoch_seconds"][1:] or record["epoch_seconds"]
                print(f"round {r + 1}/{args.rounds} {tag}: {record['samples_per_epoch'] / statistics.median(timed):.1f}"
                      f" samples/s (epochs {[round(t, 2) for t in record['epoch_seconds']]})", flush=True)
    rows = []
    for config in configs:
        tag = f"p{config['processes']}_t{config['threads']}"
        rates = [rec["samples_per_epoch"] / t for rec in runs[tag] for t in (rec["epoch_seconds"][1:]
                                                                              or rec["epoch_seconds"])]
        rows.append({"processes": config["processes"], "threads/process": config["threads"],
                     "global batch": config["processes"] * args.batch_size,
                     "samples/s (median)": statistics.median(rates), "min": min(rates), "max": max(rates)})
    base = rows[0]["samples/s (median)"]
    single_all = next((r for r in rows if r["processes"] == 1 and r is not rows[0]), rows[0])["samples/s (median)"]
    for row in rows:
        row["vs 1 process x 1 thread"] = row["samples/s (median)"] / base
        row["vs 1 process (all threads)"] = row["samples/s (median)"] / single_all
    table = markdown_table(rows, floatfmt=".3g")
    gpu_cmd = ("python -m benchmarks run scaling --accelerator gpu --processes 1,2,4,8 --threads 4; one training run "
               "on N GPUs: neurops fit --config darcy_fno --trainer.accelerator gpu --trainer.devices N "
               "--trainer.strategy ddp")
    notes = (f"`neurops fit --config darcy_fno` (FNO, 12 modes, width 32, 4 layers) on piecewise Darcy at "
             f"{args.resolution}^2, {args.n_train} training samples, batch {args.batch_size} per process, "
             f"{args.epochs} epochs per run (the first not timed), {args.rounds} interleaved rounds, "
             f"accelerator {args.accelerator}; samples/s over the timed epochs of all rounds. Weak scaling: the global "
             f"batch grows with the processes.")
    loads = [rec["load_average_1min"] for recs in runs.values() for rec in recs]
    notes += (f" The machine has {os.cpu_count()} cores and is shared: its 1-minute load average at the end of the "
              f"runs was {min(loads):.1f}-{max(loads):.1f} (a load above the core count slows multi-threaded and "
              f"multi-process runs most).\n\nN GPUs: `{gpu_cmd}`.")
    print("\n" + table + "\n\n" + notes)
    save_results(args.name or ("scaling_quick" if args.quick else "scaling"), {**vars(args), "data": data}, rows,
                 notes + "\n\n" + table, args.results_dir, details={"runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
