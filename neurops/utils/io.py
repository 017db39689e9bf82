"""Atomic file writes: nothing a crash interrupts leaves a half-written file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is deleted and ``path`` is left untouched.

    Parameters
    ----------
    path : target file.
    overwrite : if False and ``path`` exists, raise ``FileExistsError`` before writing.
    """
    target = Path(path)
    if not overwrite and target.exists():
        raise FileExistsError(
            f"{target} already exists; pass overwrite=True (or --overwrite) to replace it, "
            "or choose another output path."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
