"""Data loading: the neurops DataModule against a plain h5py loop, and peak memory against file size.

1. Throughput. One epoch over the training split of one file (``--res`` x ``--res`` fields ``a``
   -> ``u``, batches of ``--batch-size``, shuffled), read by

   * ``h5py loop``: the least a loader must do: open the file once, read the samples one by
     one in a random order, stack each batch into tensors;
   * ``DataModule``: ``OperatorDataModule(path).train_dataloader()`` (0 workers, as the loop),
     on the one file, on the same samples split into 4 shard files (a folder, see
     ``neurops data generate --shard``), and on a virtual merge of those shards
     (``neurops data merge``); and with 2 worker processes on the one file.

   The variants run interleaved (one epoch of each per round, ``--rounds`` rounds) so load from
   other processes affects all alike; the table gives samples/s (median and best over rounds) and
   the ratio to the h5py loop: the median over rounds of the ratio within a round, and the ratio
   of the best epochs. Files are in the page cache after the first round, for all alike.

2. Peak memory. For two file sizes (``--sizes-gb``, default 0.25 and 2 GB) with the same batch,
   fresh processes report their peak resident memory (``VmHWM``; ``ru_maxrss`` where there is no ``/proc``) after
   * ``read``: one pass of the DataModule over the whole training split, and
   * ``fit``: ``neurops fit`` of a small FNO (``OperatorTask``) on the file: the normalizers
     fitted on the whole training split, then ``--fit-steps`` training steps.
   Memory bounded by the batch means the same peak for both sizes.

The fields are random numbers (the content does not change reading costs), written with
``H5Writer`` (float32, one sample per chunk, no compression) under ``--work`` and deleted after.

    python -m benchmarks run data_loading             # 0.25 GB vs 2 GB (several minutes)
    python -m benchmarks run data_loading --quick     # 32 MB vs 128 MB
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

import h5py
import numpy as np
import torch

from benchmarks.runner import benchmark_parser, positive_int
from neurops.data.datamodule import OperatorDataModule
from neurops.data.merge import merge_files
from neurops.data.metadata import DatasetMeta
from neurops.data.shards import Shard
from neurops.data.writer import H5Writer
from neurops.utils.bench import interleaved_times, markdown_table, save_results, timed

_WRITE_BLOCK = 64  # samples drawn together (and the unit of sharding)


def write_random_file(path: Path, n: int, res: int, seed: int = 0, shard: Shard | None = None) -> Path:
    """An ``operator`` file of ``n`` training samples ``a, u : [res, res]`` (4 test samples), or one shard of it."""
    x = np.linspace(0.0, 1.0, res)
    ranges = (shard or Shard(0, 1)).samples({"train": n, "test": 4}, _WRITE_BLOCK)
    record = shard.record(ranges, {"train": n, "test": 4}) if shard else None
    with H5Writer(path, DatasetMeta(kind="operator", name="random", dims=("x", "y"), seed=seed, shard=record,
                                    generator={"name": "benchmarks/data_loading.py", "n": n, "res": res})) as w:
        for split, r in ranges.items():
            w.create_split(split, len(r), coords={"x": x, "y": x}, inputs={"a": (res, res)}, outputs={"u": (res, res)})
            for lo in range(r.start, r.stop, _WRITE_BLOCK):
                hi = min(r.stop, lo + _WRITE_BLOCK)
                block = np.random.default_rng([seed, lo]).standard_normal((2, hi - lo, res, res), dtype=np.float32)
                w.write(split, lo - r.start, inputs={"a": block[0]}, outputs={"u": block[1]})
    return path


def h5py_epoch(path: Path, batch_size: int, seed: int) -> int:
    """One shuffled epoch read sample by sample with h5py; returns the samples read."""
    count = 0
    with h5py.File(path, "r") as f:
        a, u = f["train/inputs/a"], f["train/outputs/u"]
        order = np.random.default_rng(seed).permutation(a.shape[0])
        for lo in range(0, len(order), batch_size):
            idx = order[lo:lo + batch_size]
            batch = {"x": torch.from_numpy(np.stack([a[i] for i in idx])[:, None]),
                     "y": torch.from_numpy(np.stack([u[i] for i in idx])[:, None])}
            count += len(batch["x"])
    return count


def datamodule_epoch(dm: OperatorDataModule) -> int:
    """One epoch of the DataModule's training loader; returns the samples read."""
    return sum(len(batch["x"]) for batch in dm.train_dataloader())


def throughput(work: Path, n: int, res: int, batch_size: int, rounds: int) -> list[dict]:
    one = write_random_file(work / "one.h5", n, res)
    shards = work / "shards"
    for i in range(4):
        write_random_file(shards / f"part-{i}.h5", n, res, shard=Shard(i, 4))
    merged = merge_files(shards, work / "merged.h5", progress=False)
    modules = {
        "DataModule, 1 file": OperatorDataModule(one, batch_size=batch_size, val_split=None),
        "DataModule, 4 shard files (folder)": OperatorDataModule(shards, batch_size=batch_size, val_split=None),
        "DataModule, virtual merge of the shards": OperatorDataModule(merged, batch_size=batch_size, val_split=None),
        "DataModule, 1 file, 2 workers": OperatorDataModule(one, batch_size=batch_size, val_split=None,
                                                            num_workers=2),
    }
    epoch_seed = iter(range(10**6))
    fns = {"h5py loop, 1 file": lambda: h5py_epoch(one, batch_size, next(epoch_seed))}
    fns.update({name: (lambda dm=dm: datamodule_epoch(dm)) for name, dm in modules.items()})
    for fn in fns.values():  # warm-up: page cache, worker start
        assert fn() == n, "an epoch did not read every sample"
    times = interleaved_times(fns, rounds)
    base = times["h5py loop, 1 file"]
    rows = []
    for name, ts in times.items():
        rows.append({"reader": name, "samples/s (median)": n / statistics.median(ts), "samples/s (best)": n / min(ts),
                     "vs h5py loop (median of rounds)": statistics.median(b / t for b, t in zip(base, ts)),
                     "vs h5py loop (best)": min(base) / min(ts)})
    return rows


CHILD = """
import json, resource, sys
from pathlib import Path
mode, path, batch_size, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if mode == "read":
    from neurops.data.datamodule import OperatorDataModule
    dm = OperatorDataModule(path, batch_size=batch_size, val_split=None)
    n = sum(len(b["x"]) for b in dm.train_dataloader())
else:
    from neurops.cli import main
    rc = main(["fit", "--config", "darcy_fno", "--data.path", path, "--data.batch_size", str(batch_size),
               "--data.num_workers", "0", "--data.val_split", "null", "--model.model_kwargs.width", "8",
               "--model.model_kwargs.modes", "[4, 4]", "--model.model_kwargs.n_layers", "2",
               "--trainer.max_epochs", "1", "--trainer.limit_train_batches", str(steps),
               "--trainer.accelerator", "cpu", "--trainer.logger", "false", "--trainer.callbacks", "[]",
               "--trainer.enable_checkpointing", "false", "--trainer.enable_progress_bar", "false",
               "--trainer.default_root_dir", sys.argv[5]])
    assert rc == 0, rc
# VmHWM: this program's own peak; ru_maxrss starts at the RSS of the process that started it (Linux keeps it across
# exec), so it reported the benchmark process's size whenever that was larger
status = Path("/proc/self/status")
peak = [int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("VmHWM:")] \
    if status.exists() else []
print(json.dumps({"peak_rss_mb": (peak[0] if peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024}))
"""


def peak_rss(mode: str, path: Path, batch_size: int, steps: int, work: Path) -> float:
    """Peak resident memory (MB) of a fresh process that reads (``read``) or fits on (``fit``) ``path``."""
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(path), str(batch_size), str(steps), str(work)],
                         capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parents[1])
    if out.returncode != 0:
        raise RuntimeError(f"{mode} on {path} failed:\n{out.stderr[-3000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mb"])


def memory(work: Path, sizes_gb: list[float], res: int, batch_size: int, steps: int) -> list[dict]:
    rows = []
    per_sample = 2 * res * res * 4
    for gb in sizes_gb:
        n = int(gb * 2**30 // per_sample)
        path = write_random_file(work / f"size_{gb}.h5", n, res, seed=1)
        size_gb = path.stat().st_size / 2**30
        row = {"file (GB)": size_gb, "samples": n}
        for mode in ("read", "fit"):
            row[f"{mode}: seconds"], row[f"{mode}: peak RSS (MB)"] = timed(
                partial(peak_rss, mode, path, batch_size, steps, work))
        rows.append(row)
        path.unlink()
    return rows


def main(argv: list[str] | None = None) -> int:
    p = benchmark_parser(__doc__, quick="small files (32 MB / 128 MB; 2048 samples for speed)")
    p.add_argument("--res", type=positive_int, default=64, help="grid points per axis of each field")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--n", type=positive_int, default=None,
                   help="samples of the throughput file (default 8192; quick 2048)")
    p.add_argument("--rounds", type=positive_int, default=5)
    p.add_argument("--sizes-gb", type=float, nargs="+", default=None, help="file sizes of the memory part")
    p.add_argument("--fit-steps", type=positive_int, default=20, help="training steps of the `fit` memory runs")
    p.add_argument("--work", type=Path, default=None, help="folder for the files (default: a temporary one)")
    p.add_argument("--parts", nargs="+", choices=["throughput", "memory"], default=["throughput", "memory"],
                   help="which parts to run")
    p.add_argument("--name", default=None, help="results name (default data_loading[_quick])")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    n = args.n or (2048 if args.quick else 8192)
    sizes = args.sizes_gb or ([1 / 32, 1 / 8] if args.quick else [0.25, 2.0])
    work = Path(tempfile.mkdtemp(prefix="neurops_data_loading_", dir=args.work))
    speed: list[dict] = []
    mem: list[dict] = []
    try:
        if "throughput" in args.parts:
            speed = throughput(work, n, args.res, args.batch_size, args.rounds)
            print(markdown_table(speed))
        if "memory" in args.parts:
            mem = memory(work, sizes, args.res, args.batch_size, args.fit_steps)
            print(markdown_table(mem))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    name = args.name or ("data_loading_quick" if args.quick else "data_loading")
    settings = {**vars(args), "n_throughput": n, "sizes_gb": sizes, "torch_threads": 1}
    md = ""
    if speed:
        md += (f"Throughput: one shuffled epoch of {n} samples of two {args.res}x{args.res} float32 fields, batch "
               f"{args.batch_size}, {args.rounds} interleaved rounds (files in the page cache).\n\n"
               + markdown_table(speed) + "\n\n")
    if mem:
        md += (f"Peak resident memory of fresh processes, batch {args.batch_size}: `read` = one DataModule pass "
               f"over the training split; `fit` = `neurops fit` of a small FNO (normalizers fitted on the whole "
               f"split, then {args.fit_steps} steps).\n\n" + markdown_table(mem))
    save_results(name, settings, speed, md, args.results_dir, details={"memory": mem})
    return 0


if __name__ == "__main__":
    sys.exit(main())
