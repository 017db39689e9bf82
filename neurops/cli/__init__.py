"""The ``neurops`` command.

``neurops fit|validate|test --config FILE`` run through LightningCLI (config files shipped
in ``neurops/configs`` can be named by short name, e.g. ``--config darcy_fno``); every other
command is built by :mod:`neurops.cli.builder` from the signatures of the functions it calls,
and contributed by a module listed in :data:`COMMANDS` that defines ``COMMAND`` (a
:class:`~neurops.cli.builder.Command` or :class:`~neurops.cli.builder.Group`). Only the module
of the command that runs is imported (``neurops --help`` imports neither torch nor Lightning).

A mistake on the command line is one line ``neurops: error: ...`` with exit status 2, never
a usage dump or a traceback: unknown options (with the closest valid option), values of the
wrong type and missing arguments become :class:`~neurops.errors.ConfigError`, and every
:class:`~neurops.errors.NeuropsError` is printed the same way (a run stopped by SIGTERM,
:class:`~neurops.errors.RunStopped`: one line too, with exit status 143).
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

from neurops.cli.builder import Command, Group, run
from neurops.errors import ConfigError, NeuropsError, NeuropsWarning

LIGHTNING_COMMANDS = ("fit", "validate", "test")

#: commands built by neurops.cli.builder: name -> (module defining ``COMMAND``, one-line help)
COMMANDS = {
    "predict": ("neurops.cli.predict", "predict with a trained operator or rollout checkpoint into an HDF5 file"),
    "data": ("neurops.cli.data", "generate, check, summarize (info), merge, import and convert HDF5 data files"),
    "quickstart": ("neurops.cli.quickstart", "generate Darcy data, train, evaluate at two resolutions (minutes, CPU)"),
    "dsr": ("neurops.cli.dsr", "dynamical-systems reconstruction (fit / evaluate / analyze)"),
    "invert": ("neurops.cli.invert", "infer a coefficient field from sparse noisy observations (through the PDE, "
               "a trained operator or a DGNO)"),
}


def command(name: str) -> Command | Group:
    """The ``COMMAND`` (:class:`~neurops.cli.builder.Command` or ``Group``) of the module of ``name``, imported now."""
    return importlib.import_module(COMMANDS[name][0]).COMMAND


def usage() -> str:
    """``neurops --help``: the commands and their one-line help, without importing any of them."""
    from neurops import __version__

    lines = [f"usage: neurops COMMAND ...   (neurops {__version__})", "",
             "Neural operators and dynamical-systems reconstruction.", "", "commands:"]
    lines += [f"  {cmd:<12}LightningCLI {cmd} (see `neurops {cmd} --help`)" for cmd in LIGHTNING_COMMANDS]
    lines += [f"  {name:<12}{help_line}" for name, (_, help_line) in COMMANDS.items()]
    lines += ["", "Training: `neurops fit|validate|test --config FILE_OR_NAME` (LightningCLI); "
              "see `neurops COMMAND --help` for the options of a command."]
    return "\n".join(lines)


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
        try:
            status = _run(argv)
            sys.stdout.flush()  # a closed pipe shows here when the output was buffered
        except BrokenPipeError:
            return _closed_stdout()
        return status


#: exit status when the reader of stdout went away (128 + SIGPIPE, as for a shell tool killed by it)
EXIT_BROKEN_PIPE = 141


def _closed_stdout() -> int:
    """Exit quietly when stdout's reader has gone (``neurops data info FILE | head``).

    Points stdout at ``/dev/null`` so that the interpreter's final flush of the unwritten
    rest does not print a second ``BrokenPipeError``.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


def _run(argv: list[str]) -> int:
    try:
        if argv[:2] == ["dsr", "fit"]:  # a short alias of `neurops fit`
            argv = argv[1:]
        if not argv or argv[0] in ("-h", "--help"):
            print(usage())
            return 0 if argv else 2
        if argv[0] == "--version":
            from neurops import __version__

            print(f"neurops {__version__}")
            return 0
        name = argv[0]
        if name not in (*LIGHTNING_COMMANDS, *COMMANDS):
            close = difflib.get_close_matches(name, [*LIGHTNING_COMMANDS, *COMMANDS], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"neurops: invalid choice: {name!r}{hint} Choose from "
                              f"{', '.join([*LIGHTNING_COMMANDS, *COMMANDS])}; see `neurops --help`.")
        from neurops.cli import sigterm

        with sigterm.reported(argv):  # SIGTERM: exit status 143 and one line, from the start on, for every command
            if name in LIGHTNING_COMMANDS:
                from neurops.cli.lightning import run_lightning

                return run_lightning(argv)
            return run(command(name), argv[1:], prog=f"neurops {name}")
    except (NeuropsError, FileExistsError, FileNotFoundError) as exc:
        _close_progress_bars()
        if _global_rank() == 0:  # under DDP every process meets the same mistake: one line, from rank zero
            print(f"neurops: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_status", 2)


def note(message: str) -> None:
    """Print ``neurops: note: <message>`` to stderr: something the user may want to know that does not stop the
    command (a setting that replaces another, a grid the model runs on). Under DDP once, from rank zero, like the
    ``neurops: error:`` line. Every ``neurops: note:`` line of the commands goes through here."""
    if _global_rank() == 0:
        print(f"neurops: note: {message}", file=sys.stderr)


def _global_rank() -> int:
    """This process's rank in a multi-process (DDP) run, as Lightning set it; 0 outside one. Before Lightning is
    imported (a DDP process stopped by SIGTERM while it starts), from the environment variables Lightning reads."""
    rank_zero = sys.modules.get("lightning.fabric.utilities.rank_zero")
    if rank_zero is None:
        given = (os.environ.get(key) for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"))
        return int(next((rank for rank in given if rank is not None), 0) or 0)
    return int(getattr(getattr(rank_zero, "rank_zero_only", None), "rank", 0) or 0)


def _close_progress_bars() -> None:
    """Close the progress bars a failed command left open, so that its error line starts a line of its own."""
    tqdm_std = sys.modules.get("tqdm.std")
    if tqdm_std is not None:
        for bar in list(getattr(tqdm_std.tqdm, "_instances", ())):
            bar.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
