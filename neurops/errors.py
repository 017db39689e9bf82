"""Exceptions raised by neurops.

Every error a user can trigger with bad input is one of these, with a message that names
the problem and the fix; each also derives from the built-in exception it refines
(``ValueError``, ``FileNotFoundError``, ...), so code catching those keeps working. The
``neurops`` command prints any of them as one line ``neurops: error: ...`` and exits with
status 2 (``docs/troubleshooting.md`` lists them), or the error's own ``exit_status``
(:class:`RunStopped`: 143).
"""

from __future__ import annotations


class NeuropsError(Exception):
    """Base class of all neurops errors."""

    #: the exit status of the ``neurops`` command that stops with this error
    exit_status: int = 2


class DataError(NeuropsError, ValueError):
    """A data file or array is unusable (missing field, NaN/Inf, wrong shape...)."""


class SchemaError(DataError):
    """An HDF5 file does not follow the neurops schema (or an unknown version of it)."""


class ConfigError(NeuropsError, ValueError):
    """A configuration value or key is invalid."""


class ModelError(NeuropsError, ValueError):
    """A model cannot be built or does not fit the data (unknown name, channel mismatch...)."""


class SolverError(NeuropsError, RuntimeError):
    """A numerical solver failed (no convergence, operator not SPD...)."""


class MissingFileError(NeuropsError, FileNotFoundError):
    """A file the command reads does not exist."""


class OutputExistsError(NeuropsError, FileExistsError):
    """An output file exists and replacing it was not asked for (``--overwrite``)."""


class NeuropsWarning(UserWarning):
    """A result that may be wrong in a way the user should know about (the CLI prints it as
    ``neurops: warning: ...``)."""


class CheckpointError(NeuropsError, ValueError):
    """A checkpoint is missing, unreadable, not written by neurops, or given to the wrong command."""


class RunStopped(NeuropsError):
    """A command stopped from outside before it finished (SIGTERM: a scheduler's preemption or time limit).

    Its ``exit_status`` is 143 (128 + SIGTERM, the shell's convention), so that a batch system sees a job that
    did not finish; the message names the run's last checkpoint and the command that resumes it.
    """

    def __init__(self, message: str, exit_status: int = 143) -> None:
        super().__init__(message)
        self.exit_status = exit_status
