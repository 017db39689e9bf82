"""Atomic file writes: nothing a crash interrupts leaves a half-written file.

A write goes to a hidden temporary file next to its target, named
``.<target name>.<host>.<pid>.<token>.tmp``, which is renamed onto the target on success. A
process killed mid-write (SIGKILL) cannot delete its temporary file; the next atomic write to
the same target removes it once the process that wrote it is gone (same host, dead pid).

:func:`strict_json` writes JSON that strict parsers read: a non-finite number as ``null``; where the reader must get
the number back (the JSON attributes of neurops' HDF5 files), ``strict_json(value, nonfinite=[])`` also lists where
each ``null`` stood for which number, and :func:`restore_nonfinite` puts them back.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from neurops.errors import ConfigError, OutputExistsError

_TEMP_RE = re.compile(r"^\.(?P<target>.+)\.(?P<host>[A-Za-z0-9_-]+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")


def _host() -> str:
    """This machine's name as one token of a temporary file's name (no dots)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "host"


def temporary_owner(path: str | os.PathLike) -> tuple[str, str, int] | None:
    """``(target name, host, pid)`` if ``path`` is a temporary file of :func:`atomic_path`, else None."""
    m = _TEMP_RE.match(Path(path).name)
    return (m["target"], m["host"], int(m["pid"])) if m else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Delete temporary files of ``target`` left by killed writers on this host; return them."""
    target = Path(target)
    removed: list[Path] = []
    if not target.parent.is_dir():
        return removed
    host = _host()
    for candidate in target.parent.glob(f".{glob_escape(target.name)}.*.tmp"):
        owner = temporary_owner(candidate)
        if owner and owner[0] == target.name and owner[1] == host and not _alive(owner[2]):
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob wildcards escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


#: file name endings of HDF5 files (the outputs neurops writes as HDF5 must have one)
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5")
#: the files of a folder read as one data set (:func:`neurops.data.shards.list_files`; hidden ones skipped)
DATA_FOLDER_SUFFIXES = (".h5", ".hdf5")


def check_hdf5_name(path: str | os.PathLike) -> Path:
    """``path``, refused unless its name ends like an HDF5 file's (:data:`HDF5_SUFFIXES`): neurops writes HDF5, and a
    file named ``pred.txt`` or ``pred`` would hide what it holds."""
    target = Path(path)
    if target.suffix.lower() not in HDF5_SUFFIXES:
        named = f"ends in {target.suffix!r}" if target.suffix else "has no suffix"
        raise ConfigError(f"output {target} {named}, but this command writes an HDF5 file; name it "
                          f"{target.with_suffix('.h5').name} (HDF5 names end in {', '.join(HDF5_SUFFIXES)}).")
    return target


def check_output_path(path: str | os.PathLike, *, overwrite: bool,
                      inputs: Iterable[str | os.PathLike | None] = (), hdf5: bool = False) -> Path:
    """The output file ``path``, refused before any work if it is a directory, exists without
    ``overwrite``, is one of the files the command reads (``inputs``; ``None`` entries are
    skipped: an output never replaces an input, even with ``overwrite``), would be one of the data files of an
    input folder (a folder read as one data set: its :data:`DATA_FOLDER_SUFFIXES` files), or, for an ``hdf5``
    output, is not named like one (:func:`check_hdf5_name`)."""
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"output {target} is a directory; give a file name (e.g. {target / 'data.h5'}).")
    _check_folder_writable(target)
    sources = [Path(source) for source in inputs if source is not None]
    for source in sources:
        if _same_file(target, source):
            raise ConfigError(f"output {target} is also an input of this command ({source}); writing it would "
                              "replace the data it reads: choose another output path.")
    for folder in sources:
        if folder.is_dir() and target.suffix in DATA_FOLDER_SUFFIXES and not target.name.startswith(".") \
                and _same_file(target.absolute().parent, folder):
            raise ConfigError(f"output {target} is inside the input folder {folder}, which this command reads as one "
                              "data set (its *.h5 / *.hdf5 files): the output would join that data set; write it "
                              f"outside the folder (e.g. {folder.absolute().parent / target.name}).")
    if not overwrite and target.exists():
        raise OutputExistsError(
            f"{target} already exists; pass overwrite=True (or --overwrite) to replace it, "
            "or choose another output path."
        )
    return check_hdf5_name(target) if hdf5 else target


def _check_folder_writable(target: Path) -> None:
    """Refuse, before any work, an output whose folder cannot be made or written: its nearest existing ancestor is a
    file (``--out obs.h5/post.h5``) or a folder this user may not write (the write would fail after the work)."""
    folder = next((p for p in target.absolute().parents if p.exists()), None)
    if folder is None:
        return
    if not folder.is_dir():
        raise ConfigError(f"output {target} cannot be written: {folder} is a file, not a folder; choose another "
                          "output path.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"output {target} cannot be written: this user may not write in the folder {folder}; choose "
                          "another output path.")


def check_output_folder(path: str | os.PathLike, writes: str) -> Path:
    """The output folder ``path`` (created later, if missing), refused before any work if it is a file; ``writes``
    says what the command puts there (e.g. ``"analyze writes a folder of figures and analysis.json"``)."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise ConfigError(f"--out {target} is a file; {writes}: give a folder path (it is created if missing).")
    return target


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file (also through links or different spellings)."""
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.absolute().resolve() == b.absolute().resolve()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = True, hdf5: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is deleted and ``path`` is left untouched; temporary
    files of earlier, killed writes to ``path`` are removed first.

    Parameters
    ----------
    path : target file.
    overwrite : if False and ``path`` exists, raise ``FileExistsError`` before writing.
    hdf5 : ``path`` is an HDF5 file: refuse a name that is not one's (:func:`check_hdf5_name`).
    """
    target = check_output_path(path, overwrite=overwrite, hdf5=hdf5)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = target.parent / f".{target.name}.{_host()}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    tmp.touch(exist_ok=False)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def strict_json(value: Any, nonfinite: list[list[Any]] | None = None, **kwargs: Any) -> str:
    """``json.dumps(value, **kwargs)`` as strict JSON: a non-finite number (inf, NaN, also inside dicts, lists
    and tuples) is written as ``null``, not as the ``Infinity``/``NaN`` that strict parsers (jq, JavaScript)
    reject; numpy scalars and arrays are written as numbers and lists.

    ``nonfinite``: a list that receives ``[path, "inf" | "-inf" | "nan"]`` for every number written as ``null``,
    ``path`` the keys (as strings, as JSON writes them) and list indices from the top of ``value`` to it. Kept next to
    the text (as strict JSON too), it lets :func:`restore_nonfinite` give back exactly what was written: a ``null``
    that was ``None`` stays ``None``."""
    return json.dumps(_finite_or_none(value, nonfinite, []), allow_nan=False, **kwargs)


def restore_nonfinite(value: Any, nonfinite: Iterable[Any]) -> Any:
    """``value`` (read from the text of :func:`strict_json`) with the numbers its ``nonfinite`` list records put back
    in place of their ``null``; a ``ValueError`` if an entry does not name a ``null`` of ``value``."""
    for entry in nonfinite:
        try:
            path, text = entry
            number = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}[text]
            parent, key = None, None
            node = value
            for step in path:
                parent, key, node = node, step, node[step]
        except (TypeError, ValueError, KeyError, IndexError):
            raise ValueError(f"{entry!r} does not name a non-finite number of the JSON value") from None
        if node is not None:
            raise ValueError(f"{entry!r} names {node!r}, not the null written in place of a non-finite number")
        if parent is None:
            value = number
        else:
            parent[key] = number
    return value


def _json_key(key: Any) -> str:
    """A dict key as JSON writes it (``1`` -> ``"1"``, ``True`` -> ``"true"``, ``None`` -> ``"null"``)."""
    return key if isinstance(key, str) else next(iter(json.loads(json.dumps({key: 0}))))


def _finite_or_none(value: Any, nonfinite: list[list[Any]] | None = None, path: list[Any] | None = None) -> Any:
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy arrays and scalars
        value = value.tolist()
    here = path if path is not None else []
    if isinstance(value, dict):
        return {k: _finite_or_none(v, nonfinite, [*here, _json_key(k)]) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v, nonfinite, [*here, i]) for i, v in enumerate(value)]
    if isinstance(value, float) or (hasattr(value, "__float__") and not isinstance(value, (int, str, bytes))):
        number = float(value)
        if math.isfinite(number):
            return number
        if nonfinite is not None:
            nonfinite.append([here, "nan" if math.isnan(number) else ("inf" if number > 0 else "-inf")])
        return None
    return value


def format_size(n_bytes: float) -> str:
    """``n_bytes`` in the binary unit that keeps the number below 1000 (3 digits, never ``1e+03``): ``"3.2 GiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n_bytes < 1000 or unit == "TiB":
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1024
    raise AssertionError("unreachable")
