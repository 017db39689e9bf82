"""The ``neurops`` command.

``neurops fit|validate|test --config FILE`` run through LightningCLI (config files shipped
in ``neurops/configs`` can be named by short name, e.g. ``--config darcy_fno``); every other
subcommand is an argparse subcommand contributed by a module listed in :data:`MODULES`,
each exposing ``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from neurops.errors import NeuropsError, NeuropsWarning

LIGHTNING_COMMANDS = ("fit", "validate", "test")

#: modules contributing argparse subcommands (one line each)
MODULES = [
    "neurops.cli.predict",
    "neurops.cli.data",
    "neurops.cli.quickstart",
    "neurops.cli.dsr",
    "neurops.cli.invert",
]


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every non-Lightning subcommand."""
    from neurops import __version__

    parser = argparse.ArgumentParser(
        prog="neurops",
        description="Neural operators and dynamical-systems reconstruction. Training: "
        "`neurops fit|validate|test --config FILE_OR_NAME` (LightningCLI; see `neurops fit --help`).",
    )
    parser.add_argument("--version", action="version", version=f"neurops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in LIGHTNING_COMMANDS:
        sub.add_parser(cmd, help=f"LightningCLI {cmd} (see `neurops {cmd} --help`)", add_help=False)
    for name in MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``neurops`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    with warnings.catch_warnings():
        show = warnings.showwarning

        def show_warning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
            if issubclass(category, NeuropsWarning):
                print(f"neurops: warning: {message}", file=sys.stderr)
            else:
                show(message, category, filename, lineno, file, line)

        warnings.showwarning = show_warning
        return _run(argv)


def _run(argv: list[str]) -> int:
    try:
        if argv and argv[0] in LIGHTNING_COMMANDS:
            from neurops.cli.lightning import run_lightning

            return run_lightning(argv)
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0 if not argv else 2
        return int(args.func(args) or 0)
    except NeuropsError as exc:
        print(f"neurops: error: {exc}", file=sys.stderr)
        return 2
    except (FileExistsError, FileNotFoundError) as exc:
        print(f"neurops: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
