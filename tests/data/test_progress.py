"""Tests for the data commands' progress (``neurops.data.progress``)."""

from __future__ import annotations

import io
import sys

import pytest
from tqdm.std import tqdm

from neurops.data.progress import LineProgress, progress_bar


def test_lines_at_most_every_interval_and_one_when_done():
    out = io.StringIO()
    bar = LineProgress(4, "darcy", "sample", stream=out, interval=0.0)
    with bar:
        bar.update(1)
        bar.update(3)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue()
    assert lines[0].startswith("darcy: 1/4 samples (25%, ") and lines[0].endswith(" s left)")
    assert lines[1].startswith("darcy: 4/4 samples (100%, ") and "left" not in lines[1]
    quiet = io.StringIO()
    with LineProgress(4, "darcy", stream=quiet, interval=3600.0) as bar:
        bar.update(2)
    assert quiet.getvalue() == ""  # stopped early, before the first interval: the error says the rest


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("tty", [True, False])
def test_a_bar_on_a_terminal_lines_elsewhere(tty, monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Stream(tty))
    bar = progress_bar(3, "darcy")
    assert isinstance(bar, tqdm) if tty else isinstance(bar, LineProgress)
    bar.close()
    off = progress_bar(3, "darcy", enabled=False)
    assert isinstance(off, tqdm) and off.disable
