"""``neurops data merge``: assemble the files of one data set (e.g. shards) into one file.

By default the merged file is an HDF5 *virtual* data set: its fields hold no samples but map
onto the fields of the source files, named by paths RELATIVE to the merged file. The sources
must therefore lie in the merged file's folder (or below it), the folder can be moved or copied
as a whole, and ``neurops data check`` / every reader verify that each source exists inside
that folder. ``copy=True`` writes a self-contained file instead.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from neurops.data.files import open_hdf5
from neurops.data.progress import progress_bar
from neurops.data.reader import open_h5
from neurops.data.schema import write_attrs
from neurops.data.shards import DataPath, FileSummary, data_files
from neurops.data.writer import require_space
from neurops.errors import ConfigError
from neurops.utils.io import atomic_path, check_output_path

_COPY_BYTES = 64 * 2**20  # a copy moves at most this many bytes at a time


def merge_files(sources: DataPath, out: str | os.PathLike, *, copy: bool = False, overwrite: bool = False,
                progress: bool = True) -> Path:
    """Assemble the files of one data set into one neurops file.

    Parameters
    ----------
    sources : a folder or a list of files holding one data set
        (:func:`~neurops.data.shards.data_files`: shards in index order).
    out : the merged file, written atomically.
    copy : copy the samples into ``out`` (self-contained; memory bounded by 64 MB blocks).
        Default: a virtual data set referring to the sources by relative paths, which needs
        every source inside ``out``'s folder or below it.
    overwrite : replace an existing ``out``.
    progress : show a progress bar while copying.

    Returns
    -------
    out : the path written. Its splits are the concatenation of each file's splits; its root
        attributes are the first file's, without ``shard``, and ``generator.merged_from``
        lists the sources.
    """
    files = data_files(sources)
    out = check_output_path(out, overwrite=overwrite,
                            inputs=[*([sources] if isinstance(sources, (str, os.PathLike)) else []), *files], hdf5=True)
    home = out.absolute().parent.resolve()
    _check_sources(files, out, home, copy)
    summaries = [FileSummary.read(q) for q in files]
    relative = [os.path.relpath(q.resolve(), home) for q in files]
    if copy:  # the copy keeps the sources' chunks and compression: about the sum of their sizes
        require_space(out, sum(q.stat().st_size for q in files), f"the copy of {len(files)} files",
                      "merge without --copy (a virtual data set copies no sample)")
    with atomic_path(out, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as f:
        with open_hdf5(files[0]) as src:
            for key, value in src.attrs.items():
                if key != "shard":
                    f.attrs[key] = value
        generator = dict(summaries[0].attrs.get("generator") or {})
        generator["merged_from"] = relative
        write_attrs(f, {"generator": generator})
        copies = sum(len(s.splits[sp]["fields"]) for s in summaries for sp in s.splits)
        bar = progress_bar(copies, "merge --copy", "field", progress and copy)
        for split in dict.fromkeys(sp for s in summaries for sp in s.splits):
            parts = [(q, rel, s.splits[split]["n"]) for q, rel, s in zip(files, relative, summaries)
                     if split in s.splits]
            _merge_split(f, split, next(s.splits[split] for s in summaries if split in s.splits), parts, copy, bar)
        bar.close()
    return out


def _check_sources(files: list[Path], out: Path, home: Path, copy: bool) -> None:
    """Each source is a valid neurops file; for a virtual merge, inside the folder of ``out`` (``home``)."""
    for q in files:
        with open_h5(q):  # each source is a valid neurops file on its own
            pass
        if not copy and not q.resolve().is_relative_to(home):
            raise ConfigError(f"{q} is not inside the folder of {out} ({home}); a virtual merge names its sources by "
                              "relative paths inside that folder: write the merged file next to (or above) the "
                              "sources, or pass --copy for a self-contained file.")


def _merge_split(f: h5py.File, split: str, info: dict[str, Any], parts: list[tuple[Path, str, int]], copy: bool,
                 bar: Any) -> None:
    """Write ``split`` of the merged file: the attributes, coordinates and times of its first source
    (``info``) and each field as the concatenation of the sources' ``parts`` (file, relative path, samples),
    copied or virtual."""
    g = f.create_group(split)
    for key, value in info["attrs"].items():
        g.attrs[key] = value
    for d, c in info["coords"].items():
        g.create_dataset(f"coords/{d}", data=c)
    if info["time"] is not None:
        g.create_dataset("time", data=info["time"])
    n_total = sum(n for _, _, n in parts)
    for (group, name), shape in info["fields"].items():
        key = f"{split}/{group}/{name}"
        if copy:
            _copy_field(g, f"{group}/{name}", key, parts, (n_total, *shape), bar)
            continue
        layout = h5py.VirtualLayout(shape=(n_total, *shape), dtype=np.float32)
        pos = 0
        for _, rel, n in parts:
            layout[pos:pos + n] = h5py.VirtualSource(rel, key, shape=(n, *shape))
            pos += n
        g.create_virtual_dataset(f"{group}/{name}", layout, fillvalue=np.nan)


def _copy_field(g: h5py.Group, name: str, key: str, parts: list[tuple[Path, str, int]], shape: tuple[int, ...],
                bar: Any) -> None:
    """Copy field ``key`` of every part into ``g[name]`` (one sample per chunk), a block at a time."""
    ds = None
    block = max(1, _COPY_BYTES // (4 * max(1, math.prod(shape[1:]))))
    pos = 0
    for q, _, n in parts:
        with open_hdf5(q) as src:
            data = src[key]
            if ds is None:
                ds = g.create_dataset(name, shape=shape, dtype=np.float32, chunks=(1, *shape[1:]),
                                      compression=data.compression, compression_opts=data.compression_opts)
            for lo in range(0, n, block):
                hi = min(n, lo + block)
                ds[pos + lo:pos + hi] = data[lo:hi]
            bar.update(1)
        pos += n
