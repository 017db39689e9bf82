"""SIGTERM ends every ``neurops`` command with exit status 143 and one line: ``fit`` saying how to resume, the
others how to run them again (``data`` and ``predict`` leave no partial ``--out`` file: their writers remove their
temporary files as on any error, and the worker processes they forked end quietly).

A scheduler preempts a job (and ``timeout``, ``kill`` and SLURM at its time limit stop one) with SIGTERM, and
queues it again when it exits with a failure. Lightning answers SIGTERM with ``SIGTERMException``, a
``SystemExit`` without a code, so the command used to end with status 0, as if the training had finished.
Now it ends with ``128 + SIGTERM = 143`` (the shell's status for a process SIGTERM ended, which schedulers
understand) and one line ``neurops: error: neurops fit was stopped by SIGTERM ...`` naming the run's last
checkpoint and the command that resumes it (``--ckpt_path last``):

* from the start of the command until a trainer runs (importing torch, parsing, building the task, the
  data's setup) and between its runs, :func:`reported`'s handler raises :class:`Terminated` where the
  command is;
* while a trainer runs, Lightning's loops stop it at the end of a batch or an epoch (its checkpoints are
  those of the last finished epoch), through :class:`neurops.cli.signal_connector.SignalConnector`, which
  also makes the processes of a DDP run stop together;
* whatever ended the command after a SIGTERM reached the process (Lightning's ``SIGTERMException``, the
  error of a data-loader worker or of a peer process the signal ended first) is reported as this one line.

Ctrl-C (SIGINT) ends a command the same way, with exit status ``128 + SIGINT = 130`` and the same one line ("was
stopped by Ctrl-C (SIGINT)"), not a ``KeyboardInterrupt`` traceback: :func:`reported` notes the signal and lets
Python raise ``KeyboardInterrupt`` where the command is (Lightning's trainer catches it, shuts its run down and exits
with status 1, which the line replaces).

This module imports neither torch nor Lightning: the command installs its handler before importing them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shlex
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType, SimpleNamespace
from typing import Any

from neurops.errors import RunStopped

__all__ = ["EXIT_SIGINT", "EXIT_SIGTERM", "Terminated", "default_action", "forward", "received", "reported", "stopped"]

#: commands whose ``--out`` is one file written atomically (a SIGTERM leaves none of it)
SINGLE_FILE_COMMANDS = ("data", "predict")

#: exit status of a command SIGTERM stopped: 128 + the signal, as a shell reports a process the signal ended
EXIT_SIGTERM = 128 + int(signal.SIGTERM)
#: ... and of one Ctrl-C (SIGINT) stopped
EXIT_SIGINT = 128 + int(signal.SIGINT)

#: this process's state: whether a SIGTERM reached it or a peer process of its run (never reset while the command
#: runs), whether a trainer's signal connector handles SIGTERM now (Lightning's loops stop the run), the trainer of
#: the command, whether the process is one that Lightning's launcher started (DDP on one node), the command's words
#: while it runs (None outside one) and the wake-up pipe of :func:`default_action` while it is open
_state = SimpleNamespace(received=False, trainer_handles=False, trainer=None, launched=False, argv=None,
                         wakeup_fd=None, interrupted=False)

#: the process id of the ``neurops`` command, in the environment of the processes it starts: Lightning's launcher
#: starts the DDP processes of ``--trainer.devices N`` as its children, with ``LOCAL_RANK`` 1, 2, ...
LAUNCHER_PID = "NEUROPS_LAUNCHER_PID"
#: seconds the command that launched DDP processes waits for them to end after a SIGTERM
WAIT_FOR_LAUNCHED = 30.0


class Terminated(BaseException):
    """Raised where the command is when SIGTERM arrives outside a trainer's run (a ``BaseException``, as
    ``KeyboardInterrupt``: no ``except Exception`` on the way takes it for an error of its own)."""


def received() -> bool:
    """Whether this process received SIGTERM while the command ran."""
    return bool(_state.received)


def _raise_once(signum: int, frame: FrameType | None) -> None:
    """The command's SIGTERM handler: outside a running trainer, stop where the command is; inside one, Lightning's
    loops stop it. Once a trainer exists, only the first SIGTERM raises (a second must not interrupt the clean-up
    of the first); before (every command that runs no trainer: ``data``, ``predict``, ...) every one does, since
    Python drops an exception raised inside a weakref or ``__del__`` callback (h5py's), and the command would go
    on. :func:`reported` ignores further SIGTERMs while it ends the command."""
    first = not _state.received
    _state.received = True
    if (first or _state.trainer is None) and not _state.trainer_handles:
        forward(_state.trainer, signum)
        raise Terminated()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """The command's SIGINT handler: Python's own (``KeyboardInterrupt`` where the command is), noting the signal
    for :func:`reported`'s line (Lightning's trainer turns the ``KeyboardInterrupt`` into ``SystemExit(1)``). As
    for SIGTERM (:func:`_raise_once`), once a trainer exists only the first Ctrl-C raises."""
    first = not _state.interrupted
    _state.interrupted = True
    if first or _state.trainer is None:
        signal.default_int_handler(signum, frame)


def _redeliver_dropped(previous: Any) -> Any:
    """A ``sys.unraisablehook`` that sends the signal again when Python dropped the exception its handler raised:
    raised inside a ``__del__`` or weakref callback (h5py's, while a data command writes), it is printed as
    "Exception ignored ... KeyboardInterrupt" and the command went on to its end (status 0). The signal is sent
    again 50 ms later, outside the finalizer, while the command still runs; other unraisable errors go to
    ``previous``."""
    def hook(unraisable: Any) -> None:
        exc = unraisable.exc_type
        if _state.argv is None or exc is None or not issubclass(exc, (KeyboardInterrupt, Terminated)):
            previous(unraisable)
            return
        signum = signal.SIGINT if issubclass(exc, KeyboardInterrupt) else signal.SIGTERM
        threading.Timer(0.05, _send_while_running, (signum,)).start()

    return hook


def _send_while_running(signum: int) -> None:
    if _state.argv is not None:  # not after the command has ended
        os.kill(os.getpid(), signum)


def _default_action_in_forked_child() -> None:
    """A process forked while a command runs (a worker of a data generator's pool or of a data loader) ends at once
    on SIGTERM, whichever handler the command (or Lightning's connector, in a trainer's run) had installed: its pool
    ends it with SIGTERM, and a Python handler runs only between bytecodes, so a SIGTERM that arrived just before
    the worker blocked in a lock was never handled and the command waited for the worker forever (``neurops
    quickstart`` hung after its progress bar, about once in 50 runs); a data loader's worker with Lightning's
    handler only recorded it. The wake-up pipe of :func:`default_action`, if open, stays the command's."""
    if _state.argv is None:  # no command runs: a user's own handlers are theirs
        return
    with contextlib.suppress(ValueError):  # (signal handlers can only be set in the main thread)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if _state.wakeup_fd is not None:  # a signal of the child must not wake the command's watcher thread
            signal.set_wakeup_fd(-1)


os.register_at_fork(after_in_child=_default_action_in_forked_child)


def forward(trainer: Any, signum: int) -> None:
    """Send the signal to the DDP processes Lightning's launcher started (a scheduler may signal this one only)."""
    launcher = getattr(getattr(trainer, "strategy", None), "launcher", None)
    if launcher is not None and callable(getattr(launcher, "kill", None)):
        launcher.kill(signum)


@contextlib.contextmanager
def default_action() -> Iterator[None]:
    """SIGTERM ends the process at once inside, with status 143: for the rendezvous of DDP processes, where the main
    thread waits in C++ for the others to connect and no Python handler runs until they do (one that SIGTERM stopped
    before it connected never does). The command (not a process its launcher started, whose launcher reports the run)
    prints its line first: Python's C-level handler writes the signal to a pipe (``signal.set_wakeup_fd``,
    async-signal-safe), and a thread waiting on the pipe (the rendezvous waits with the GIL released) forwards the
    signal to the launched processes, writes the line prepared on entry (``os.write``) and ends the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _state.launched or _state.argv is None:
        previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)
        return
    line = f"neurops: error: {stopped(_state.argv)}\n".encode()
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)  # the thread acts; this handler never must
    previous_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    _state.wakeup_fd = write_end
    watcher = threading.Thread(target=_end_on_sigterm, args=(read_end, line), daemon=True, name="neurops-sigterm")
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous_fd)
        _state.wakeup_fd = None
        signal.signal(signal.SIGTERM, previous)
        os.close(write_end)  # the thread reads the end of the pipe and returns
        watcher.join()
        os.close(read_end)


def _end_on_sigterm(read_end: int, line: bytes) -> None:
    """:func:`default_action`'s thread: at the first SIGTERM, forward it, write ``line`` and end with status 143."""
    while data := os.read(read_end, 64):
        if int(signal.SIGTERM) in data:
            _state.received = True
            with contextlib.suppress(Exception):
                forward(_state.trainer, signal.SIGTERM)
            os.write(2, line)
            os._exit(EXIT_SIGTERM)


@contextlib.contextmanager
def reported(argv: Sequence[str]) -> Iterator[None]:
    """Run the command ``argv`` (``["fit", "--config", ...]``) with the SIGTERM handler of this module; whatever
    ends it after a SIGTERM reached the process becomes :func:`stopped`'s one-line error."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers belong to the main thread
        yield
        return
    _state.received, _state.trainer_handles, _state.trainer, _state.argv = False, False, None, list(argv)
    _state.interrupted = False
    _state.launched = os.environ.get(LAUNCHER_PID) == str(os.getppid()) and os.environ.get("LOCAL_RANK", "0") != "0"
    launcher_pid, os.environ[LAUNCHER_PID] = os.environ.get(LAUNCHER_PID), str(os.getpid())
    previous = signal.signal(signal.SIGTERM, _raise_once)
    previous_int = signal.getsignal(signal.SIGINT)
    if previous_int is signal.default_int_handler:  # Python's (a caller's own handler stays theirs)
        signal.signal(signal.SIGINT, _interrupt)
    previous_hook, sys.unraisablehook = sys.unraisablehook, _redeliver_dropped(sys.unraisablehook)
    try:
        yield
    except BaseException:
        if not (_state.received or _state.interrupted):
            raise
        for signum in (signal.SIGTERM, signal.SIGINT):  # the command ends now: a further signal must not interrupt it
            signal.signal(signum, signal.SIG_IGN)
        _wait_for_launched(_state.trainer)
        raise stopped(argv) from None
    finally:
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGTERM, previous)
        if previous_int is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous_int)
        _state.trainer = _state.argv = None
        if launcher_pid is None:
            os.environ.pop(LAUNCHER_PID, None)
        else:
            os.environ[LAUNCHER_PID] = launcher_pid


def _wait_for_launched(trainer: Any) -> None:
    """Let the DDP processes this one launched end (they stop with it) before its line ends the command."""
    launcher = getattr(getattr(trainer, "strategy", None), "launcher", None)
    for process in getattr(launcher, "procs", None) or ():
        with contextlib.suppress(Exception):
            process.wait(timeout=WAIT_FOR_LAUNCHED)


def _last_checkpoint(trainer: Any) -> Path | None:
    """The newest ``last`` checkpoint of the run: the one this attempt wrote, else the run folder's."""
    if trainer is None:
        return None
    written = [Path(cb.last_model_path) for cb in trainer.checkpoint_callbacks
               if getattr(cb, "last_model_path", None) and Path(cb.last_model_path).is_file()]
    folder = _run_folder_last(trainer)
    return written[0] if written else folder if folder.is_file() else None


def _run_folder_last(trainer: Any) -> Path:
    """``last.ckpt`` of the trainer's run folder, which ``--ckpt_path last`` resumes."""
    from neurops.tasks.callbacks import run_checkpoint_dir  # Lightning is imported: a trainer exists

    return run_checkpoint_dir(trainer.default_root_dir) / "last.ckpt"


def _without_ckpt_path(argv: Sequence[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--ckpt_path":
            skip = True
        elif not arg.startswith("--ckpt_path="):
            out.append(arg)
    return out


def _option_value(argv: Sequence[str], option: str) -> str | None:
    """The value of ``option`` (``--out X`` or ``--out=X``) in ``argv``, the last one given; None without one."""
    value = None
    for arg, following in zip(argv, [*argv[1:], None], strict=True):
        if arg == option and following is not None:
            value = following
        elif arg.startswith(option + "="):
            value = arg[len(option) + 1:]
    return value


def stopped(argv: Sequence[str]) -> RunStopped:
    """The one-line error of the command ``argv`` that SIGTERM (or Ctrl-C: status 130, "by Ctrl-C (SIGINT)")
    stopped, with the run's last checkpoint and the command that resumes it. Its exit status is 143, but 0 in the
    processes Lightning's launcher started under DDP once they have built their trainer: their launcher (rank zero)
    reports the run, and Lightning's observer of those processes SIGKILLs it as soon as one of them ends with a
    failure. One stopped before it built its trainer keeps 143: its launcher waits for it in the rendezvous, and
    only that SIGKILL ends the wait."""
    trainer = _state.trainer
    by, exit_status = ("Ctrl-C (SIGINT)", EXIT_SIGINT) if _state.interrupted and not _state.received else \
        ("SIGTERM", EXIT_SIGTERM)
    status = 0 if _state.launched and trainer is not None else exit_status
    sub = argv[0] if argv else "fit"
    if sub != "fit":
        words = " ".join(itertools.takewhile(lambda word: re.fullmatch(r"[a-z][a-z0-9_-]*", word), argv))
        out = _option_value(argv, "--out") if sub in SINGLE_FILE_COMMANDS else None
        kept = f"; nothing was written to {out} (no partial file is left)" if out is not None else ""
        return RunStopped(f"neurops {words} was stopped by {by} before it finished (exit status {exit_status})"
                          f"{kept}; run it again: {shlex.join(['neurops', *argv])}", status)
    last = _last_checkpoint(trainer)
    in_folder = last is not None and last.resolve() == _run_folder_last(trainer).resolve()
    resume = shlex.join(["neurops", *_without_ckpt_path(argv), "--ckpt_path",
                         str(last) if last is not None and not in_folder else "last"])
    state = (f"its last checkpoint is {last}" if last is not None else
             "it wrote no checkpoint yet (--ckpt_path last then starts the run anew)")
    return RunStopped(f"neurops fit was stopped by {by} (exit status {exit_status}); {state}; resume it with: "
                      f"{resume}", status)
