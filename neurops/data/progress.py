"""Progress of the data commands (``neurops data generate|convert|merge``): a bar on a terminal, lines in a log.

On a terminal (and in a notebook) :func:`progress_bar` is tqdm's live bar. When stderr is not a terminal (a log
file, a pipe, a batch job) a redrawn bar fills the file with carriage-return fragments, so it is replaced, as
``neurops fit`` replaces Lightning's bar (:mod:`neurops.cli.progress`), by plain lines: one at most every
``interval`` seconds, e.g. ``darcy: 160/1000 samples (16%, 31.2 s, about 164 s left)``, and one when the work is
done, ``darcy: 1000/1000 samples (100%, 195.0 s)``. A run that stops early says nothing more (its error does).
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any, TextIO

from tqdm.auto import tqdm
from tqdm.autonotebook import tqdm as front_end  # tqdm.std's bar outside a notebook
from tqdm.std import tqdm as std_tqdm

#: seconds between two progress lines in a log
LINE_INTERVAL = 30.0


class LineProgress:
    """Progress as plain lines on ``stream`` (default: ``sys.stderr`` when printing); tqdm's ``update``,
    ``close`` and ``with``."""

    def __init__(self, total: int, desc: str, unit: str = "sample", stream: TextIO | None = None,
                 interval: float = LINE_INTERVAL) -> None:
        self.total, self.desc, self.unit, self.stream, self.interval = int(total), desc, unit, stream, interval
        self.n = 0
        self._start = self._last = time.perf_counter()
        self._closed = False

    def update(self, n: int = 1) -> None:
        """Count ``n`` more; a line if ``interval`` seconds passed since the last one (and the work is not done:
        :meth:`close` says that)."""
        self.n += n
        now = time.perf_counter()
        if self.n < self.total and now - self._last >= self.interval:
            self._last = now
            left = (now - self._start) * (self.total - self.n) / max(self.n, 1)
            self._say(f", about {left:.0f} s left" if self.n else "")

    def close(self) -> None:
        """The line of a finished run (none for one that stopped early)."""
        if not self._closed:
            self._closed = True
            if self.total and self.n >= self.total:
                self._say("")

    def _say(self, more: str) -> None:
        pct = 100 * self.n // max(self.total, 1)
        took = time.perf_counter() - self._start
        print(f"{self.desc}: {self.n}/{self.total} {self.unit}s ({pct}%, {took:.1f} s{more})",
              file=self.stream or sys.stderr, flush=True)

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def progress_bar(total: int, desc: str, unit: str = "sample", enabled: bool = True) -> Any:
    """tqdm's bar for ``total`` ``unit``\\ s on a terminal or in a notebook, :class:`LineProgress` when stderr is
    not a terminal; a disabled tqdm bar (which prints nothing) if not ``enabled``. Either has ``update(n)``,
    ``close()`` and ``with``."""
    stream = sys.stderr
    if enabled and front_end is std_tqdm and not (hasattr(stream, "isatty") and stream.isatty()):
        return LineProgress(total, desc, unit)
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled)


__all__ = ["LINE_INTERVAL", "LineProgress", "progress_bar"]
