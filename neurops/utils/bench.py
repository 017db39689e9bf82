"""Benchmark bookkeeping: machine description, timing and result files.

Every benchmark writes one result through :func:`save_results`: ``<name>.json`` in one schema
(:data:`SCHEMA`: name, date, command, git commit and dirty flag, machine, versions, settings,
rows, details) and ``<name>.md`` (the table quoted in the docs). There is no default folder:
the caller names it (``python -m benchmarks run`` passes ``--results-dir``, by default the
``benchmarks/results`` folder of the checkout the benchmarks run from).

Every timing goes through :func:`clock` (and :func:`timed`, :func:`timeit`,
:func:`interleaved_times` built on it): it waits for CUDA to finish its queued work before it
reads the time, as the timer of :mod:`torch.utils.benchmark` does on a CUDA machine.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurops.utils.io import atomic_path, strict_json

SCHEMA = 2
"""Version of the result schema written by :func:`save_results`."""

_PEERS = ("scipy", "lightning", "neuralop", "pyamg", "triton")


def machine_info() -> dict[str, Any]:
    """Describe the machine a benchmark runs on (processor, cores, threads, GPU, load)."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        # 1-, 5- and 15-minute load averages: on a shared machine, how many others were running
        "load_average": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def versions() -> dict[str, str | None]:
    """Versions of Python, neurops, torch, numpy and the peers (``None``: not installed)."""
    import neurops

    found: dict[str, str | None] = {"python": sys.version.split()[0], "neurops": neurops.__version__,
                                    "torch": torch.__version__, "numpy": np.__version__}
    for mod in _PEERS:
        try:
            found[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - optional peers
            found[mod] = None
    return found


def git_state(path: str | Path | None = None) -> dict[str, Any]:
    """Commit of the git checkout holding ``path`` (default: the neurops package) and whether it is dirty.

    ``dirty`` is True when tracked files differ from the commit, benchmark results
    (``benchmarks/results``) not counted. Outside a git checkout (an installed wheel) both are ``None``.
    """
    import neurops

    where = Path(path) if path is not None else Path(neurops.__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True, check=True,
                              timeout=30).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ":/",
                      ":(top,exclude)benchmarks/results")
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(changed)}


def clock(device: torch.device | str | None = None) -> float:
    """Seconds of a monotonic wall clock (``time.perf_counter``), read after CUDA finished its queued work.

    ``device``: the device of the timed tensors; a CUDA device is synchronised, any other is not.
    Without one, the current CUDA device is synchronised whenever this process has initialised
    CUDA (what :mod:`torch.utils.benchmark`'s timer does on a CUDA machine; it decides when it is
    imported, this one at each call).
    """
    if device is not None:
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize(device)
    elif torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter()


def timed(fn: Callable[[], Any], device: torch.device | str | None = None) -> tuple[float, Any]:
    """Wall-clock seconds of one call ``fn()`` (queued work on ``device`` finished, see :func:`clock`) and
    what it returned."""
    t0 = clock(device)
    out = fn()
    return clock(device) - t0, out


def timeit(fn: Callable[[], Any], repeat: int = 5, warmup: int = 1, device: torch.device | str | None = None) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeat`` runs after ``warmup`` runs (see :func:`clock`)."""
    for _ in range(warmup):
        fn()
    return float(np.median([timed(fn, device)[0] for _ in range(repeat)]))


def interleaved_times(fns: dict[str, Callable[[], Any]], repeat: int,
                      device: torch.device | str | None = None) -> dict[str, list[float]]:
    """Wall-clock seconds of every ``fns[name]()`` over ``repeat`` rounds, one call of each per round.

    Interleaving spreads load from other processes over all candidates alike, so ratios of
    their medians hold on a shared machine. Warm up before calling. On a CUDA ``device`` each
    call starts with a cold L2 cache (a buffer larger than it is overwritten, untimed); every
    call ends when the device has finished its work.
    """
    flush = None
    if device is not None and torch.device(device).type == "cuda":
        l2 = getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 64 << 20)
        flush = torch.empty(2 * l2, dtype=torch.uint8, device=device)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            if flush is not None:
                flush.zero_()
            times[name].append(timed(fn, device)[0])
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


def _jsonable(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` with paths as strings, also inside lists and tuples (e.g. ``nargs`` options)."""
    def plain(v: Any) -> Any:
        return str(v) if isinstance(v, Path) else [plain(x) for x in v] if isinstance(v, list | tuple) else v

    return {k: plain(v) for k, v in settings.items()}


def save_results(name: str, settings: Mapping[str, Any], rows: list[dict[str, Any]], markdown: str,
                 results_dir: str | Path, details: Mapping[str, Any] | None = None) -> Path:
    """Write ``<results_dir>/<name>.json`` and ``<name>.md`` atomically, print where; return the JSON path.

    The JSON is strict (:func:`~neurops.utils.io.strict_json`): a number that is not finite (a diverged loss, a
    ratio over a zero time) is ``null``, which jq and JavaScript read, not ``Infinity``/``NaN``. The two files are
    one result: both are written in full to temporary files first, and only then renamed onto their names, so an
    error or a kill while either is written leaves both old files as they were; what remains is the moment between
    the two renames (the ``.md`` first). The ``.md`` is not derived from the ``.json`` instead: it holds the
    caller's own text (``markdown``: tables, notes) that the record does not.

    A run with ``settings["quick"]`` is saved as ``<name>_quick`` (unless ``name`` ends so already), so that a
    small run never replaces the full-size results of its benchmark.

    Parameters
    ----------
    name:
        Result name (file stem), e.g. ``"darcy_fno_quick"``.
    settings:
        What the run was asked to do (its parsed options): enough to repeat it.
    rows:
        The main table, one dict per row (the same rows as the Markdown table).
    markdown:
        The Markdown text quoted in the docs (tables and notes), below a header with the
        command, date, commit and machine.
    results_dir:
        Folder of the result files (created if missing).
    details:
        Further numbers of the run (raw timings, per-epoch curves, ratios), by name.
    """
    if settings.get("quick") and not name.endswith("_quick"):
        name = f"{name}_quick"  # a --quick run never replaces the full-size results the docs quote
    out_dir = Path(results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "schema": SCHEMA,
        "name": name,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "git": git_state(),
        "machine": machine_info(),
        "versions": versions(),
        "settings": _jsonable(settings),
        "rows": rows,
        "details": dict(details or {}),
    }
    json_path = out_dir / f"{name}.json"
    # both in full before either is renamed: the inner block's rename (the .md) runs first, then the .json's
    with atomic_path(json_path) as tmp_json, atomic_path(json_path.with_suffix(".md")) as tmp_md:
        tmp_json.write_text(strict_json(record, indent=2, default=float) + "\n")
        tmp_md.write_text(markdown_header(record) + markdown.rstrip() + "\n")
    print(f"results: {json_path} and {json_path.with_suffix('.md').name}", flush=True)  # --quick renames them
    return json_path


def markdown_header(record: Mapping[str, Any]) -> str:
    """The header of a result's Markdown file: name, command, date, commit and machine of ``record``."""
    git, machine = record["git"], record["machine"]
    commit = "unknown" if not git.get("commit") else git["commit"][:12] + (" (uncommitted changes)"
                                                                          if git.get("dirty") else "")
    return (f"# {record['name']}\n\nCommand: `{record['command']}`  \nDate: {record['date']}  \n"
            f"Commit: {commit}  \n"
            f"Machine: {machine['processor']}, {machine['cpu_count']} CPUs, torch {record['versions']['torch']}"
            + (f", GPU {machine['cuda']}" if machine.get("cuda") else "") + "\n\n")
