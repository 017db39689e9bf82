"""The one entry point of the benchmark scripts, and the options they all share.

Usage (repository root of a checkout; the scripts are not part of the installed package)::

    python -m benchmarks list                          # the benchmarks and their first doc line
    python -m benchmarks run NAME [--quick] [--results-dir DIR] [options of NAME]
    python -m benchmarks run NAME --help               # the options of one benchmark

``run`` calls ``benchmarks.<NAME>.main`` with the remaining arguments. Every benchmark writes
one result, ``<DIR>/<result name>.json`` and ``.md``, through
:func:`neurops.utils.bench.save_results` (one schema: settings, rows, machine, versions, git
commit and dirty flag). ``DIR`` defaults to :data:`RESULTS_DIR`, the ``benchmarks/results``
folder next to this file: in a checkout that is the folder the README and docs quote.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import re
import sys
from pathlib import Path
from typing import NoReturn

from neurops.cli import sigterm
from neurops.cli.argument_errors import closest_option
from neurops.errors import NeuropsError, RunStopped

RESULTS_DIR = Path(__file__).resolve().parent / "results"
"""Default folder of the result files: ``benchmarks/results`` of the checkout the scripts run from."""

HELPERS = frozenset({"__init__", "__main__", "runner", "common", "dsr_common", "lightning_runs"})
"""Modules of ``benchmarks/`` that hold shared code, not a benchmark."""


def results_dir(text: str) -> Path:
    """``--results-dir``, checked when the options are parsed, before any measurement: a folder (made if missing)
    that can be written, not a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file; give a folder for the result files (made if missing)")
    existing = next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text} cannot be made or written here ({existing} is not writable); "
                                         "give a folder you can write")
    return path


def positive_int(text: str) -> int:
    """An option that counts something (repeats, threads, samples, epochs, a batch): an integer >= 1, checked when the
    options are parsed (0 used to end the run later in a traceback: an empty ``min()``, torch's thread count)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; give a whole number >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer; give a whole number >= 1")
    return value


class BenchmarkParser(argparse.ArgumentParser):
    """argparse's parser, with the "did you mean" of the ``neurops`` commands after a misspelt option."""

    def error(self, message: str) -> NoReturn:
        unknown = re.match(r"unrecognized arguments: (--\S+)", message)
        super().error(message + (closest_option(unknown.group(1).split("=", 1)[0], self) if unknown else ""))


def benchmark_parser(description: str | None, quick: str | None) -> argparse.ArgumentParser:
    """A parser with the options the benchmarks share: ``--results-dir`` and (most) ``--quick``.

    Parameters
    ----------
    description:
        The benchmark's description (usually its module docstring).
    quick:
        What ``--quick`` shrinks, for the help text; ``None`` for a benchmark without a quick run.
    """
    parser = BenchmarkParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    if quick is not None:
        parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--results-dir", type=results_dir, default=RESULTS_DIR,
                        help="folder of the result files <name>.json and <name>.md (default: %(default)s)")
    return parser


def benchmark_names() -> list[str]:
    """Names of the benchmarks in this folder (``NAME`` of ``python -m benchmarks run NAME``)."""
    here = Path(__file__).resolve().parent
    return sorted(p.stem for p in here.glob("*.py") if p.stem not in HELPERS)


def _summary(name: str) -> str:
    """The first sentence of the benchmark's docstring, in one line (it may wrap in the source)."""
    source = (Path(__file__).resolve().parent / f"{name}.py").read_text()
    doc = source.split('"""', 2)[1] if source.lstrip().startswith('"""') else ""
    return " ".join(doc.strip().split("\n\n")[0].split())


#: the peers' packages that only the ``bench`` extra installs (pyproject.toml): a benchmark that needs one says so
OPTIONAL_PEERS = ("neuralop",)


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks list | run NAME [options]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0],
                                     usage="python -m benchmarks list | run NAME [options]")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the benchmarks and what each measures")
    run = sub.add_parser("run", help="run one benchmark", add_help=False,
                         usage="python -m benchmarks run NAME [options]   (`run NAME --help`: its options)")
    run.add_argument("name", help="benchmark name (see `list`)")
    run.add_argument("options", nargs=argparse.REMAINDER, help="the benchmark's options (--quick, --results-dir, ...)")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] not in (["list"], ["run"], ["-h"], ["--help"]):  # none, or not a command: name them, and the closest
        close = difflib.get_close_matches(argv[0], ["list", "run"], n=1) if argv else []
        what = f"no command {argv[0]!r}" + (f" (did you mean {close[0]!r}?)" if close else "") if argv else \
            "no command given"
        print(f"usage: {parser.usage}\npython -m benchmarks: error: {what}; use `list` (the benchmarks) or "
              "`run NAME [options]` (run one)", file=sys.stderr)
        return 2
    if argv[:1] == ["run"] and argv[1:2] in ([], ["-h"], ["--help"]):  # help of `run` itself (no benchmark named)
        print("usage: python -m benchmarks run NAME [options]\n\nRun one benchmark: `python -m benchmarks list` "
              "names them, `python -m benchmarks run NAME --help` shows the options of one.")
        return 0 if argv[1:2] else 2
    args = parser.parse_args(argv)
    names = benchmark_names()
    if args.command == "list":
        width = max(map(len, names))
        print("\n".join(f"{n:<{width}}  {_summary(n)}" for n in names))
        return 0
    if args.name not in names:
        close = difflib.get_close_matches(args.name, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        print(f"python -m benchmarks: error: no benchmark named {args.name!r}; {hint}"
              "`python -m benchmarks list` shows them.", file=sys.stderr)
        return 2
    module = importlib.import_module(f"benchmarks.{args.name}")
    argv_before = sys.argv
    sys.argv = [f"python -m benchmarks run {args.name}", *args.options]  # the command the result records
    try:
        with sigterm.reported(["run", args.name, *args.options]):  # Ctrl-C, SIGTERM: one line, also in a trainer
            status = module.main(args.options)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in OPTIONAL_PEERS:
            raise
        peer = (exc.name or "").split(".")[0]
        print(f"python -m benchmarks run {args.name}: error: it runs its peer from the package {peer!r}, which is "
              "not installed: install the bench extra first (make bench, or pip install -e '.[bench]' after torch)",
              file=sys.stderr)
        return 2
    except RunStopped as stop:  # not the traceback of wherever the measurement was, nor Lightning's status 1
        by = "interrupted" if stop.exit_status == sigterm.EXIT_SIGINT else "stopped by SIGTERM"
        print(f"python -m benchmarks run {args.name}: {by} (exit status {stop.exit_status}); result files are written "
              "whole or not at all, so the results folder holds no part of this run's unfinished result",
              file=sys.stderr)
        return stop.exit_status
    except NeuropsError as exc:  # an input the benchmark cannot use (a file that is no series, no checkpoint, ...)
        print(f"python -m benchmarks run {args.name}: error: {exc}", file=sys.stderr)
        return 2
    finally:
        sys.argv = argv_before
    return status if isinstance(status, int) else 0
