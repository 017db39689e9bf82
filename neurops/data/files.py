"""Opening data files, and what a data file may point to.

Every neurops HDF5 file is opened through :func:`open_hdf5`, which turns each way a path can
be unusable (missing, a directory, not HDF5, truncated or damaged, the temporary file of an
interrupted write) into one :class:`~neurops.errors.DataError`.

A file may hold only its own bytes, or bytes of files in its own folder: :func:`link_problems`
names external links, external storage, and virtual data sets whose sources are absolute,
lie outside the folder of the file, or are missing (HDF5 would silently fill those with the
fill value). ``neurops data check`` reports them and every reader refuses such a file, so no
command copies the bytes of an outside file into its output.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from neurops.errors import DataError
from neurops.utils.io import temporary_owner


def open_hdf5(path: str | os.PathLike, source: str | None = None) -> h5py.File:
    """Open an HDF5 file read-only, with one clear :class:`DataError` for each way it can be unusable.

    Parameters
    ----------
    path : the file.
    source : the external format the file should be in (``"PDEBench"``, ...), named in the
        errors; ``None`` for a neurops data file.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file {path} does not exist; check the path or generate it with "
                        "`neurops data generate ...`.")
    if path.is_dir():
        raise DataError(f"{path} is a directory, not an HDF5 file; " + (
            f"pass one {source} file." if source else "pass one of its files (a folder of shards is one data set for "
            "`neurops data check DIR` and `neurops data merge DIR --out FILE`)."))
    owner = temporary_owner(path)
    if owner is not None:
        raise DataError(f"{path} is the temporary file of an interrupted write of {owner[0]!r} (process {owner[2]} "
                        f"on {owner[1]}); it is incomplete: delete it and rerun the command that writes "
                        f"{owner[0]!r}.")
    if not h5py.is_hdf5(path):
        fix = (f"{source} data is stored as HDF5 (.h5/.hdf5)" if source
               else "neurops reads HDF5; convert other formats with `neurops data convert`")
        raise DataError(f"{path} is not an HDF5 file; {fix} (numpy/torch arrays: `neurops data convert arrays "
                        "FILE`).")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise DataError(f"{path} cannot be opened as HDF5 (truncated or damaged: {err}); regenerate or "
                        "re-download it.") from err


def link_problems(f: h5py.File, _seen: set[Path] | None = None) -> list[str]:
    """Links and storage of ``f`` that reach outside its folder (empty when it is self-contained).

    Checks every object: external links, datasets with external storage, and the sources of
    virtual datasets (which must be relative paths to existing files inside the folder of
    ``f``, themselves checked the same way).
    """
    home = Path(f.filename).absolute().parent
    seen = set() if _seen is None else _seen
    seen.add(Path(f.filename).resolve())
    problems: list[str] = []
    groups = [f]
    while groups:
        g = groups.pop()
        for name in g:
            where = f"{g.name.rstrip('/')}/{name}".lstrip("/")
            link = g.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                problems.append(f"{where}: external link to {link.filename}:{link.path}; neurops files hold their "
                                "own data (copy it in)")
                continue
            if isinstance(link, h5py.SoftLink) and g.get(name) is None:
                problems.append(f"{where}: dangling soft link to {link.path}")
                continue
            obj = g[name]
            if isinstance(obj, h5py.Group):
                if not isinstance(link, h5py.SoftLink):
                    groups.append(obj)
            elif obj.external:
                problems.append(f"{where}: external storage in {[e[0] for e in obj.external]}; neurops files hold "
                                "their own data")
            elif obj.is_virtual:
                problems += _virtual_problems(obj, where, home, seen)
    return problems


def _virtual_problems(ds: h5py.Dataset, where: str, home: Path, seen: set[Path]) -> list[str]:
    if os.environ.get("HDF5_VDS_PREFIX"):
        return [f"{where}: virtual dataset, but HDF5_VDS_PREFIX is set and would redirect its sources; unset it"]
    problems = []
    for source in {s.file_name for s in ds.virtual_sources()}:
        if source == ".":
            continue
        if os.path.isabs(source):
            problems.append(f"{where}: virtual source {source} is an absolute path; sources must be relative "
                            "paths inside the data set's folder")
            continue
        resolved = (home / source).resolve()
        if not resolved.is_relative_to(home.resolve()):
            problems.append(f"{where}: virtual source {source} lies outside the data set's folder {home}")
        elif not resolved.is_file():
            problems.append(f"{where}: virtual source {source} is missing (its samples would read as fill values)")
        elif resolved not in seen:
            try:
                with open_hdf5(resolved) as src:
                    problems += [f"{where} -> {source}: {p}" for p in link_problems(src, seen)]
            except DataError as err:
                problems.append(f"{where}: virtual source {source}: {err}")
    return problems
