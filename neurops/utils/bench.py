"""Benchmark bookkeeping: machine description, timing and result files.

Results go to ``benchmarks/results/<name>.json`` (numbers, machine, versions and the
command that produced them) and ``<name>.md`` (the table quoted in the docs).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurops.utils.io import atomic_path

RESULTS_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def machine_info() -> dict[str, Any]:
    """Describe the machine and software versions a benchmark ran on."""
    import neurops

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "neurops": neurops.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        # 1-, 5- and 15-minute load averages: on a shared machine, how many others were running
        "load_average": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }
    for mod in ("scipy", "lightning", "neuralop", "pyamg"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - optional peers
            info[mod] = None
    return info


def timeit(fn: Callable[[], Any], repeat: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def interleaved_times(fns: dict[str, Callable[[], Any]], repeat: int,
                      device: torch.device | str | None = None) -> dict[str, list[float]]:
    """Wall-clock seconds of every ``fns[name]()`` over ``repeat`` rounds, one call of each per round.

    Interleaving spreads load from other processes over all candidates alike, so ratios of
    their medians hold on a shared machine. Warm up before calling. On a CUDA ``device`` each
    call starts with a cold L2 cache (a buffer larger than it is overwritten, untimed) and ends
    when the device has finished its work.
    """
    cuda = device is not None and torch.device(device).type == "cuda"
    flush = None
    if cuda:
        l2 = getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 64 << 20)
        flush = torch.empty(2 * l2, dtype=torch.uint8, device=device)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            if flush is not None:
                flush.zero_()
                torch.cuda.synchronize(device)
            t0 = time.perf_counter()
            fn()
            if cuda:
                torch.cuda.synchronize(device)
            times[name].append(time.perf_counter() - t0)
    return times


def markdown_table(rows: list[dict[str, Any]], columns: list[str] | None = None, floatfmt: str = ".4g") -> str:
    """Render a list of dicts as a Markdown table."""
    if not rows:
        return ""
    columns = columns or list(rows[0])

    def fmt(v: Any) -> str:
        return format(v, floatfmt) if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def save_results(name: str, payload: dict[str, Any], markdown: str, results_dir: str | Path | None = None) -> Path:
    """Write ``<name>.json`` (payload + machine + command + date) and ``<name>.md``; return the JSON path."""
    out_dir = Path(results_dir) if results_dir else RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "name": name,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": machine_info(),
        **payload,
    }
    json_path = out_dir / f"{name}.json"
    with atomic_path(json_path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, default=float) + "\n")
    header = (
        f"# {name}\n\nCommand: `{record['command']}`  \nDate: {record['date']}  \n"
        f"Machine: {record['machine']['processor']}, {record['machine']['cpu_count']} CPUs, "
        f"torch {record['machine']['torch']}"
        + (f", GPU {record['machine']['cuda']}" if record["machine"]["cuda"] else "")
        + "\n\n"
    )
    with atomic_path(out_dir / f"{name}.md") as tmp:
        tmp.write_text(header + markdown.rstrip() + "\n")
    return json_path
