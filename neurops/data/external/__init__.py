"""Readers of external data formats, converted into neurops HDF5 files.

``neurops data convert pdebench|the_well|fno-mat|arrays SRC --out FILE.h5`` calls
:func:`convert`. Once converted, every model trains on the file unchanged (the same readers,
normalizers and data modules as for generated data).

* :func:`convert_pdebench` -- PDEBench HDF5 (1D scalar files, 2D Darcy, CFD, per-seed group files);
* :func:`convert_the_well` -- The Well HDF5 (t0/t1/t2 fields, dimensions, boundary conditions);
* :func:`convert_fno_mat` -- the FNO ``.mat`` files (MATLAB v5 via scipy, v7.3 via h5py);
* :func:`convert_arrays` -- numpy / torch arrays (``.npy``, ``.npz``, ``.pt``) of input/output pairs.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from neurops.data.external.arrays import convert_arrays
from neurops.data.external.fno_mat import convert_fno_mat
from neurops.data.external.pdebench import convert_pdebench
from neurops.data.external.the_well import convert_the_well
from neurops.errors import ConfigError
from neurops.registry import Registry
from neurops.utils.io import check_output_path

#: converter per format (the subcommand of ``neurops data convert``)
CONVERTERS: Registry[Callable[..., Path]] = Registry("external format", ConfigError,
                                                    hint="Numpy or torch arrays you already have: 'arrays'.")
CONVERTERS.add("pdebench", convert_pdebench)
CONVERTERS.add("the_well", convert_the_well, aliases=("the-well", "thewell", "well"))
CONVERTERS.add("fno-mat", convert_fno_mat, aliases=("fno_mat", "fno", "mat"))
CONVERTERS.add("arrays", convert_arrays, aliases=("numpy", "npy", "npz", "torch", "pt"))


def convert(src: str | os.PathLike, fmt: str, out: str | os.PathLike, **options: Any) -> Path:
    """Convert an external data file into a neurops HDF5 file.

    Parameters
    ----------
    src : the external file (or, for The Well, a dataset directory).
    fmt : ``"pdebench"``, ``"the_well"``, ``"fno-mat"`` or ``"arrays"`` (``the-well``, ``fno_mat``,
        ``numpy``, ``torch`` also accepted).
    out : the neurops file to write (atomically: nothing is left at ``out`` on failure).
    **options : keyword options of the converter, e.g. ``n_test``, ``space_stride``, ``overwrite``
        (see :func:`convert_pdebench`, :func:`convert_the_well`, :func:`convert_fno_mat`).
        ``None`` values mean "the converter's default" and are dropped, so a command line can
        pass every option it knows.

    Returns
    -------
    out : the path of the neurops file.

    Examples
    --------
    >>> convert("2D_DarcyFlow_beta1.0_Train.hdf5", "pdebench", "darcy_beta1.h5", n_test=1000)  # doctest: +SKIP
    """
    key = CONVERTERS.canonical(str(fmt).lower())
    converter = CONVERTERS.get(key)
    options = {k: v for k, v in options.items() if v is not None}
    accepted = set(inspect.signature(converter).parameters) - {"src", "out"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ConfigError(f"format {key!r} has no option(s) {unknown}; valid: {sorted(accepted)}.")
    inputs = [src, *(options.get(k) for k in ("test_src", "outputs", "test_outputs"))]
    inputs += [q for pair in options.get("extra_test") or () for q in pair]
    check_output_path(out, overwrite=bool(options.get("overwrite")), inputs=inputs, hdf5=True)
    return converter(Path(src), Path(out), **options)


__all__ = ["CONVERTERS", "convert", "convert_arrays", "convert_fno_mat", "convert_pdebench", "convert_the_well"]
