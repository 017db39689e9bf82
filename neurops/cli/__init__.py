"""The ``neurops`` command.

``neurops fit|validate|test --config FILE`` run through LightningCLI (config files shipped
in ``neurops/configs`` can be named by short name, e.g. ``--config darcy_fno``); every other
subcommand is an argparse subcommand contributed by a module listed in :data:`COMMANDS`,
each exposing ``register(subparsers)``. Only the module of the command that runs is
imported (``neurops --help`` imports neither torch nor Lightning).

A mistake on the command line is one line ``neurops: error: ...`` with exit status 2, never
a usage dump or a traceback: argparse errors and unknown options (with the closest valid
option) become :class:`~neurops.errors.ConfigError`, and every
:class:`~neurops.errors.NeuropsError` is printed the same way.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys
import warnings
from collections.abc import Sequence

from neurops.errors import ConfigError, NeuropsError, NeuropsWarning

LIGHTNING_COMMANDS = ("fit", "validate", "test")

#: argparse subcommands: name -> (module with ``register(subparsers)``, one-line help)
COMMANDS = {
    "predict": ("neurops.cli.predict", "predict with a trained operator checkpoint into an HDF5 file"),
    "data": ("neurops.cli.data", "generate, check, inspect, merge, import and convert HDF5 data files"),
    "quickstart": ("neurops.cli.quickstart", "generate Darcy data, train, evaluate at two resolutions (minutes, CPU)"),
    "dsr": ("neurops.cli.dsr", "dynamical-systems reconstruction (fit / evaluate / analyze)"),
    "invert": ("neurops.cli.invert", "infer a coefficient field from sparse noisy observations with a DGNO checkpoint"),
}


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one :class:`ConfigError` line, not usage text."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{self.prog}: {message}; see `{self.prog} --help`.")

    def parse_known_args(self, args=None, namespace=None):  # noqa: ANN001, ANN201 - argparse's signature
        namespace, extras = super().parse_known_args(args, namespace)
        if extras and not hasattr(namespace, "_parser"):
            namespace._parser = self  # the innermost (sub)parser left with arguments it does not know
        return namespace, extras


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argparse parser of every non-Lightning subcommand.

    Only ``command``'s module is imported and registered in full; the others appear by name and
    help line (enough for ``neurops --help``).
    """
    from neurops import __version__

    parser = Parser(
        prog="neurops",
        description="Neural operators and dynamical-systems reconstruction. Training: "
        "`neurops fit|validate|test --config FILE_OR_NAME` (LightningCLI; see `neurops fit --help`).",
    )
    parser.add_argument("--version", action="version", version=f"neurops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in LIGHTNING_COMMANDS:
        sub.add_parser(cmd, help=f"LightningCLI {cmd} (see `neurops {cmd} --help`)", add_help=False)
    for name, (module, help_line) in COMMANDS.items():
        if name == command:
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(name, help=help_line, add_help=False)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (its first word that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def _unrecognized(parser: argparse.ArgumentParser, extras: list[str]) -> ConfigError:
    """One error for arguments no parser took, suggesting the closest option of ``parser``."""
    options = [s for action in parser._actions for s in action.option_strings if s.startswith("--")]
    flags = [e.split("=", 1)[0] for e in extras if e.startswith("-")]
    if flags:
        close = difflib.get_close_matches(flags[0], options, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        return ConfigError(f"{parser.prog}: unrecognized option {flags[0]}{hint} See `{parser.prog} --help`.")
    return ConfigError(f"{parser.prog}: unrecognized argument(s) {' '.join(extras)}; see `{parser.prog} --help`.")


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
        if argv[:2] == ["dsr", "fit"]:  # a short alias of `neurops fit`
            argv = argv[1:]
        if argv and argv[0] in LIGHTNING_COMMANDS:
            from neurops.cli.lightning import run_lightning

            return run_lightning(argv)
        parser = build_parser(_command_of(argv))
        args, extras = parser.parse_known_args(argv)
        if extras:
            raise _unrecognized(getattr(args, "_parser", parser), extras)
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
