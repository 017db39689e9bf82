"""Convert The Well HDF5 files into neurops trajectory files.

The Well's schema (``docs/data_format.md`` of ``the_well``): root attributes
``dataset_name``, ``n_spatial_dims``, ``n_trajectories``, ``grid_type``, ``simulation_parameters``
(plus one attribute per parameter); groups

* ``dimensions/`` with attribute ``spatial_dims`` and datasets ``time`` and one per spatial axis;
* ``boundary_conditions/<name>/`` with attributes ``associated_dims``, ``associated_fields``,
  ``bc_type`` (periodic / wall / open) and datasets ``mask``, ``values``;
* ``scalars/`` (attribute ``field_names``);
* ``t0_fields/`` scalar fields [B, T, *spatial], ``t1_fields/`` vector fields [B, T, *spatial, D],
  ``t2_fields/`` tensor fields [B, T, *spatial, D, D]; each field has the attributes
  ``sample_varying`` (B axis present), ``time_varying`` (T axis present) and ``dim_varying``
  (which spatial axes are present).

Mapping onto neurops: kind ``trajectory``, one state per component, channels-first:
``t0`` field ``f`` -> ``states/f``; ``t1`` field ``v`` -> ``states/v_x``, ``states/v_y``...
(named by the spatial dims); ``t2`` field ``s`` -> ``states/s_xx``, ``s_xy``... (only ``i <= j``
when the field is ``symmetric``). Axes a field does not vary along are broadcast, so every
state is [N, T, *spatial]. Boundary types map periodic -> ``periodic``, wall -> ``dirichlet``,
open -> ``none`` (the raw conditions are kept in the ``parameters`` attribute); constant scalars
become parameters.

``src`` is one file (split by ``test_fraction``) or a dataset directory with
``{train,valid,test}/*.hdf5`` (optionally under ``data/``), which become ``train``/``val``/``test``.

References
----------
.. [1] R. Ohana et al., "The Well: a Large-Scale Collection of Diverse Physics Simulations for
   Machine Learning", NeurIPS 2024 Datasets and Benchmarks, arXiv:2412.00568.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from neurops.data.external._common import (
    Collection,
    FieldSource,
    Splits,
    Striding,
    add_test_resolutions,
    check_compatible,
    json_safe,
    open_upstream,
    split_collections,
    write_converted,
)
from neurops.data.metadata import DatasetMeta
from neurops.errors import ConfigError, DataError, MissingFileError

BC_MAP: dict[str, str] = {"periodic": "periodic", "wall": "dirichlet", "open": "none"}
SPLIT_DIRS: dict[str, str] = {"train": "train", "valid": "val", "test": "test"}
REQUIRED = ("dimensions", "t0_fields", "t1_fields")


def _strings(value: Any) -> list[str]:
    value = json_safe(value)
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _flag(attrs: h5py.AttributeManager, key: str, default: bool = True) -> bool:
    return bool(attrs[key]) if key in attrs else default


def _check_well(f: h5py.File, label: str) -> None:
    missing = [g for g in REQUIRED if g not in f]
    if missing or "spatial_dims" not in f["dimensions"].attrs:
        raise DataError(f"{label} is not a The Well file: missing {missing or ['dimensions@spatial_dims']}. "
                        "Expected groups dimensions/ (attribute spatial_dims, datasets time, x, ...), "
                        "t0_fields/, t1_fields/, t2_fields/, boundary_conditions/, scalars/.")


def _axis_values(f: h5py.File, key: str, label: str) -> np.ndarray:
    if key not in f["dimensions"]:
        raise DataError(f"{label}: dimensions/{key} is missing; The Well stores one dataset per spatial dim and time.")
    ds = f["dimensions"][key]
    values = np.asarray(ds[()], dtype=np.float64)
    if values.ndim == 2:  # sample-varying: one grid if every trajectory has the same
        if not np.allclose(values, values[:1]):
            raise DataError(f"{label}: dimensions/{key} differs between the file's trajectories; a neurops split "
                            "has one grid and one time axis: convert the trajectories of each grid into a file of "
                            "their own (e.g. copied with h5py).")
        values = values[0]
    return values.ravel()


def _components(name: str, order: int, dims: list[str], symmetric: bool) -> list[tuple[str, tuple[int, ...]]]:
    if order == 0:
        return [(name, ())]
    if order == 1:
        return [(f"{name}_{d}", (i,)) for i, d in enumerate(dims)]
    pairs = itertools.product(range(len(dims)), repeat=2)
    return [(f"{name}_{dims[i]}{dims[j]}", (i, j)) for i, j in pairs if not symmetric or i <= j]


def _field_sources(f: h5py.File, dims: list[str], n_traj: int, n_time: int, stride: Striding, label: str,
                   wanted: Sequence[str] | None) -> list[FieldSource]:
    spatial = tuple(len(_axis_values(f, d, label)) for d in dims)
    out_shape = (len(range(0, n_time, stride.time)), *(len(range(0, n, stride.space)) for n in spatial))
    sources, available = [], []
    for order in (0, 1, 2):
        group = f"t{order}_fields"
        if group not in f:
            continue
        for name in _strings(f[group].attrs.get("field_names", list(f[group].keys()))):
            if name not in f[group]:
                raise DataError(f"{label}: {group} lists field {name!r} in field_names but has no such dataset.")
            ds = f[group][name]
            attrs = ds.attrs
            has_b, has_t = _flag(attrs, "sample_varying"), _flag(attrs, "time_varying")
            dim_varying = [bool(v) for v in np.atleast_1d(attrs.get("dim_varying", [True] * len(dims)))]
            expected = ((n_traj,) if has_b else ()) + ((n_time,) if has_t else ()) + tuple(
                n for n, v in zip(spatial, dim_varying) if v) + (len(dims),) * order
            if ds.shape != expected:
                raise DataError(f"{label}: {group}/{name} has shape {ds.shape}, but its attributes "
                                f"(sample_varying={has_b}, time_varying={has_t}, dim_varying={dim_varying}) and "
                                f"the dimensions give {expected}.")
            symmetric = order == 2 and _flag(attrs, "symmetric", False)
            available.append(name)
            for comp_name, comp in _components(name, order, dims, symmetric):
                available += [comp_name] if comp_name != name else []
                if wanted is not None and comp_name not in wanted and name not in wanted:
                    continue
                sources.append(FieldSource("states", comp_name, out_shape,
                                           _reader(ds, comp, has_b, has_t, dim_varying, spatial, n_time, stride)))
    unknown = [w for w in wanted or () if w not in available]
    if unknown:
        raise DataError(f"{label} has no field or component {unknown} (option fields); it has {available}: name "
                        "fields or components, e.g. fields=['velocity'] (--fields velocity on the command line).")
    return sources


def _reader(ds: h5py.Dataset, comp: tuple[int, ...], has_b: bool, has_t: bool, dim_varying: list[bool],
            spatial: tuple[int, ...], n_time: int, stride: Striding):
    def read(lo: int, hi: int) -> np.ndarray:
        block = ds[lo:hi] if has_b else ds[()][None]
        if comp:
            components = (Ellipsis, *comp)
            block = block[components]
        if not has_t:
            block = block[:, None]
        # re-insert the spatial axes the field does not vary along, then broadcast everything
        index = [slice(None), slice(None)] + [slice(None) if v else None for v in dim_varying]
        block = block[tuple(index)]
        block = np.broadcast_to(block, (hi - lo if has_b else 1, n_time, *spatial))
        if not has_b:
            block = np.broadcast_to(block, (hi - lo, n_time, *spatial))
        return np.ascontiguousarray(stride.spatial(stride.frames(block, 1), len(spatial)))
    return read


def _boundary(f: h5py.File, dims: list[str]) -> tuple[dict[str, str], dict[str, Any]]:
    raw: dict[str, Any] = {}
    per_dim: dict[str, set[str]] = {d: set() for d in dims}
    for name, g in (f["boundary_conditions"].items() if "boundary_conditions" in f else []):
        bc_type = str(json_safe(g.attrs.get("bc_type", "none"))).lower()
        assoc = _strings(g.attrs.get("associated_dims", []))
        raw[name] = {"bc_type": bc_type, "associated_dims": assoc,
                     "associated_fields": _strings(g.attrs.get("associated_fields", []))}
        for d in assoc:
            if d in per_dim:
                per_dim[d].add(BC_MAP.get(bc_type, "none"))
    return {d: (types.pop() if len(types) == 1 else "none") for d, types in per_dim.items()}, raw


def _parameters(f: h5py.File) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key in _strings(f.attrs.get("simulation_parameters", [])):
        if key in f.attrs:
            params[key] = json_safe(f.attrs[key])
    if "scalars" in f:
        for key, ds in f["scalars"].items():
            if not _flag(ds.attrs, "time_varying", False) and not _flag(ds.attrs, "sample_varying", False):
                params.setdefault(key, json_safe(np.asarray(ds[()]).ravel()[0] if ds.size else None))
    for key in ("grid_type", "n_spatial_dims"):
        if key in f.attrs:
            params[key] = json_safe(f.attrs[key])
    return params


def _collection(f: h5py.File, label: str, stride: Striding, wanted: Sequence[str] | None) -> tuple[Collection, dict]:
    _check_well(f, label)
    dims = _strings(f["dimensions"].attrs["spatial_dims"])
    time = _axis_values(f, "time", label)
    coords = {d: _axis_values(f, d, label)[:: stride.space] for d in dims}
    n_traj = int(json_safe(f.attrs["n_trajectories"])) if "n_trajectories" in f.attrs else None
    if n_traj is None:
        shapes = [ds.shape[0] for g in ("t0_fields", "t1_fields", "t2_fields") if g in f for ds in f[g].values()
                  if _flag(ds.attrs, "sample_varying")]
        n_traj = shapes[0] if shapes else 1
    fields = _field_sources(f, dims, n_traj, len(time), stride, label, wanted)
    if not fields:
        raise DataError(f"{label}: no field to convert" + (f" among {list(wanted)}" if wanted else "")
                        + "; The Well stores them under t0_fields/, t1_fields/ and t2_fields/.")
    boundary, raw_bc = _boundary(f, dims)
    info = {"dims": dims, "boundary": boundary, "boundary_conditions": raw_bc, "parameters": _parameters(f),
            "name": str(json_safe(f.attrs.get("dataset_name", Path(label).stem)))}
    return Collection(n_traj, fields, coords, time[:: stride.time], label), info


def _split_files(src: Path) -> dict[str, list[Path]]:
    base = src / "data" if (src / "data").is_dir() else src
    found = {}
    for folder, split in SPLIT_DIRS.items():
        files = sorted(p for p in (base / folder).glob("*.h*5")) if (base / folder).is_dir() else []
        if files:
            found[split] = files
    if not found:
        raise DataError(f"{src} is a directory without The Well split folders; expected "
                        f"{base}/train/*.hdf5, {base}/valid/*.hdf5 and/or {base}/test/*.hdf5, or pass one file.")
    return found


def _collections(files: dict[str, list[Path]], opened: dict[str, h5py.File], stride: Striding,
                 fields: Sequence[str] | None, **sizes: Any) -> tuple[Splits, dict[str, Any]]:
    """The splits of The Well's files (a directory's train/valid/test files, or the ranges ``sizes`` of one
    file, key ``""``) and the metadata of the first file."""
    collections: Splits = {}
    info: dict[str, Any] | None = None
    per_file = []  # each file's split, samples in it and parameters
    for split, paths in files.items():
        for path in paths:
            coll, file_info = _collection(opened[str(path)], str(path), stride, fields)
            info = info or file_info
            if split:
                first = sum(len(r) for _, r in collections.get(split, []))
                per_file.append({"file": f"{path.parent.name}/{path.name}", "split": split,
                                 "samples": [first, first + coll.n], **file_info["parameters"]})
                collections.setdefault(split, []).append((coll, range(coll.n)))
            else:
                collections = split_collections(coll, **sizes)
    assert info is not None
    # parameters that differ between the files (The Well's sets hold one file per parameter value) are listed per
    # file, with the samples of each; the others stay what they are
    varying = {k for record in per_file for k in set(info["parameters"]) | set(record) - {"file", "split", "samples"}
               if any(other.get(k, None) != per_file[0].get(k, None) for other in per_file)}
    if varying:
        info["parameters"] = {k: v for k, v in info["parameters"].items() if k not in varying}
        info["parameters"]["per_file"] = [{k: v for k, v in r.items() if k in varying | {"file", "split", "samples"}}
                                          for r in per_file]
    # the files of a directory are one data set: its splits share grid and times (its fields: write_converted)
    check_compatible([coll for items in collections.values() for coll, _ in items], fields=False)
    return collections, info


def convert_the_well(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    fields: Sequence[str] | None = None,
    name: str | None = None,
    n_train: int | None = None,
    n_val: int = 0,
    n_test: int | None = None,
    test_fraction: float = 0.1,
    space_stride: int = 1,
    time_stride: int = 1,
    test_space_strides: Sequence[int] = (),
    compression: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Convert a The Well file or dataset directory into one neurops trajectory file.

    Parameters
    ----------
    src : a The Well ``.hdf5`` file, or a dataset directory with ``train/``, ``valid/``, ``test/``
        (optionally under ``data/``).
    out : the neurops file to write (atomically).
    fields : keep only these fields (The Well names such as ``velocity`` or component names such as
        ``velocity_x``); default all.
    name : dataset name (default: the ``dataset_name`` attribute).
    n_train : (``src`` one file) training samples, the first of the file (default: all before val and test).
    n_val : (``src`` one file) validation samples, right after train (0: no val split).
    n_test : (``src`` one file) test samples, the last of the file (default: ``test_fraction`` of them).
    test_fraction : the share of the file's samples that becomes test when ``n_test`` is not given
        (a directory ``src`` keeps its own train / valid / test).
    space_stride : keep every k-th grid point.
    time_stride : keep every k-th frame.
    test_space_strides : the test samples again at these strides of the source grid, stored as
        ``test@R``.
    compression : ``None``, ``"gzip"`` or ``"lzf"`` for the output.
    overwrite : replace an existing ``out``.
    progress : show a progress bar.

    Returns
    -------
    out : the neurops file, kind ``trajectory`` with ``states/<field>`` [N, T, *spatial].

    References
    ----------
    .. [1] R. Ohana et al., "The Well", NeurIPS 2024, arXiv:2412.00568.
    """
    src = Path(src)
    stride = Striding(space_stride, time_stride)
    if not src.exists():
        raise MissingFileError(f"The Well source {src} does not exist; pass a .hdf5 file or a dataset directory.")
    if src.is_dir() and (n_train is not None or n_test is not None or n_val):
        raise ConfigError("n_train/n_val/n_test apply to a single file; a dataset directory keeps its own "
                          "train/valid/test split.")
    files = _split_files(src) if src.is_dir() else {"": [src]}
    with ExitStack() as stack:
        opened = {str(path): stack.enter_context(open_upstream(path, "The Well")) for paths in files.values()
                  for path in paths}  # label -> open file, to read the test files again at other strides
        collections, info = _collections(files, opened, stride, fields, n_train=n_train, n_val=n_val,
                                         n_test=n_test, test_fraction=test_fraction)
        add_test_resolutions(collections, test_space_strides,
                             lambda coll, striding: _collection(opened[coll.label], coll.label, striding, fields)[0],
                             stride.time)
        parameters = dict(info["parameters"], boundary_conditions=info["boundary_conditions"])
        meta = DatasetMeta(kind="trajectory", name=name or info["name"], dims=info["dims"], boundary=info["boundary"],
                           parameters=parameters,
                           generator={"converter": "the_well", "source": src.name, "space_stride": stride.space,
                                      "time_stride": stride.time})
        return write_converted(out, meta, collections, compression=compression, overwrite=overwrite,
                               progress=progress)
