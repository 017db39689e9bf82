"""What an inversion needs besides the observations, found from the data they were made from.

The data file of the problem (given, or the one the observations record as their source)
supplies the Darcy generator's configuration, hence the prior (:class:`~neurops.inverse.prior.GRFPrior`)
and the true solver (:class:`~neurops.inverse.forward.DarcyForward`), and its validation split
supplies pairs ``(a, u)`` for a surrogate's error statistics.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from neurops.data.reader import list_splits, read_meta, read_split
from neurops.errors import ConfigError, DataError, MissingFileError
from neurops.inverse.forward import DarcyForward
from neurops.inverse.observations import Observations, data_meta
from neurops.inverse.prior import GRFPrior

__all__ = ["check_problem", "data_file", "problem_generator", "problem_prior", "true_solver", "validation_pairs"]

#: the generator settings that make two records one problem, and the option that states each one instead (the
#: two values of a piecewise coefficient count only where both records describe a piecewise coefficient)
PROBLEM_SETTINGS = {"forcing": "--forcing F", "coefficient": "--prior", "a_low": "--prior", "a_high": "--prior"}


def data_file(obs: Observations, data: str | os.PathLike | None = None) -> Path | None:
    """The problem's data file: ``data`` if given, else the observations' source file if it can be found: its path
    relative to the observation file (``source["file_relative"]``, or a relative ``source["file"]`` of older
    files), then ``source["file"]`` as recorded (absolute, or relative to the current directory in older files).

    Raises
    ------
    DataError : ``data`` is not a labelled ``operator`` file (a trajectory file, say), which holds neither the
        problem's generator nor pairs ``(a, u)``.
    """
    if data is not None:
        kind = data_meta(data).kind
        if kind != "operator":
            came = f" ({obs.source['file']})" if obs.source.get("file") else ""
            raise DataError(f"--data {data} is a {kind!r} file, not the problem's Darcy data file (kind 'operator', "
                            f"pairs a -> u); pass the data file the observations come from{came}, or leave --data "
                            "out.")
        return Path(data)
    here = obs.path.absolute().parent if obs.path is not None else None
    candidates = [obs.source.get("file_relative"), obs.source.get("file")]
    paths = [here / c for c in candidates if c and here is not None] + [Path(c) for c in candidates[1:] if c]
    return next((p for p in paths if p.is_file()), None)


def problem_generator(obs: Observations, data: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """The data generator's configuration: from ``data`` (or the source file), else the one the observations carry."""
    path = data_file(obs, data)
    if path is not None:
        generator = read_meta(path).generator
        if generator:
            return dict(generator)
    return dict(obs.generator) if obs.generator else None


def check_problem(obs: Observations, other: Mapping[str, Any] | None, what: str, fix: str,
                  stated: Mapping[str, Any] | None = None, fixed: Collection[str] = (), *,
                  note_stated: bool = True) -> list[str]:
    """Check that ``other`` (the generator record of a data file, a DGNO's record) describes the observations'
    problem: the settings of :data:`PROBLEM_SETTINGS` both record must be equal (``a_low`` and ``a_high`` where
    both describe a piecewise coefficient), unless the user ``stated`` them (``{"forcing": 2.0}`` from
    ``--forcing``, ``{"coefficient": ..., "a_low": ..., "a_high": ...}`` from ``--prior``).

    Parameters
    ----------
    what : ``other`` in words (``"the data file d10.h5"``).
    fix : the other way out, after stating the problem (``"--data with the file the observations came from"``).
    fixed : settings of ``other`` that no statement changes (what a DGNO's decoder outputs): where one of them
        differs, ``fix`` is the only way out.
    note_stated : also note a stated setting that differs from the observations' own record where ``other``
        agrees with it or records none (False where an earlier check has noted it).

    Returns
    -------
    notes : one line per stated setting that replaces differing records.

    Raises
    ------
    ConfigError : a setting that differs and is not stated: one line naming both values and the fixes.
    """
    mine = {**{"forcing": obs.source.get("forcing")}, **(obs.generator or {})}
    record = dict(other or {})
    stated = {k: v for k, v in (stated or {}).items() if v is not None and k not in fixed}
    keys = list(PROBLEM_SETTINGS)
    if not mine.get("coefficient") == stated.get("coefficient", record.get("coefficient")) == "piecewise":
        keys = [k for k in keys if k not in ("a_low", "a_high")]  # a lognormal coefficient has no two values
    differ = {k: (mine[k], record[k]) for k in keys
              if mine.get(k) is not None and record.get(k) is not None and mine[k] != record[k]}
    name = f"the observations ({obs.path})" if obs.path is not None else "the observations"
    notes = [f"{name} were made with {k} {a!r}, {what} with {k} {b!r}; using {k} {stated[k]!r} as given."
             for k, (a, b) in differ.items() if k in stated]
    notes += [f"{name} were made with {k} {mine[k]!r}; using {k} {stated[k]!r} as given." for k in keys
              if note_stated and k in stated and k not in differ and mine.get(k) not in (None, stated[k])]
    left = {k: ab for k, ab in differ.items() if k not in stated}
    if left:
        ours = " and ".join(f"{k} {a!r}" for k, (a, _) in left.items())
        theirs = " and ".join(f"{k} {b!r}" for k, (_, b) in left.items())
        unchangeable = [k for k in left if k in fixed]
        if unchangeable:
            raise ConfigError(f"{name} were made with {ours}, {what} with {theirs}: they describe different "
                              f"problems, and no option changes its {' and '.join(unchangeable)}; pass {fix}.")
        prior = [k for k in left if PROBLEM_SETTINGS[k] == "--prior"]
        options = [PROBLEM_SETTINGS[k] for k in left if k not in prior]
        if prior:
            options.append("--prior '{" + ", ".join(f'"{k}": ...' for k in prior) + "}'")
        raise ConfigError(f"{name} were made with {ours}, {what} with {theirs}: they describe different problems. "
                          f"State the problem yourself ({' and '.join(options)}), or pass {fix}.")
    return notes


def _darcy(generator: dict[str, Any] | None) -> bool:
    """Whether a ``generator`` record is the Darcy generator's (a converter's record, e.g. ``fno-mat``'s, is not)."""
    return generator is not None and generator.get("name") == "darcy"


def problem_prior(obs: Observations, data: str | os.PathLike | None = None,
                  overrides: dict[str, Any] | None = None) -> GRFPrior:
    """The prior of ``a``: the Darcy generator's GRF prior with ``overrides``, or ``overrides`` alone (when the
    data were not made by the Darcy generator, e.g. converted from another format).

    Raises
    ------
    ConfigError : neither a Darcy generator record nor a complete prior description.
    """
    generator = problem_generator(obs, data)
    if _darcy(generator) or (generator is not None and not (overrides and "resolution" in overrides)):
        return GRFPrior.from_generator(generator, **(overrides or {}))  # another generator: its error names --prior
    if overrides and "resolution" in overrides:
        return GRFPrior.from_dict(overrides)
    raise ConfigError("the prior of a is unknown: the observations do not say which data generator made them. Pass "
                      "--data FILE (the Darcy data file they come from) or --prior '{\"coefficient\": \"lognormal\", "
                      "\"resolution\": 33, \"alpha\": 2, \"tau\": 3}'.")


def true_solver(obs: Observations, data: str | os.PathLike | None = None, forcing: float | None = None,
                rtol: float = 1e-8) -> DarcyForward | None:
    """The Darcy solve of the problem (``forcing`` overrides the generator's), or None when unknown (neither a
    Darcy generator record nor ``forcing``)."""
    generator = problem_generator(obs, data)
    if _darcy(generator):
        return DarcyForward.from_generator(generator, rtol=rtol, **({} if forcing is None else {"forcing": forcing}))
    return None if forcing is None else DarcyForward(forcing=forcing, rtol=rtol)


def validation_pairs(obs: Observations, data: str | os.PathLike | None = None, split: str = "val",
                     input_field: str = "a", output_field: str = "u") -> tuple[np.ndarray, np.ndarray] | None:
    """Validation pairs ``a, u : [N, *spatial]`` on the observations' grid, or None when there are none.

    Raises
    ------
    MissingFileError : no ``data`` and the data file the observations record cannot be found.
    """
    path = data_file(obs, data)
    recorded = obs.source.get("file")
    if path is None and recorded:
        of = obs.path if obs.path is not None else "the observations"
        raise MissingFileError(f"the data file {recorded} recorded as the source of {of} cannot be found (neither "
                               "relative to the observation file nor from the current directory), so the surrogate's "
                               "error statistics are unknown; pass --data FILE (the data file the observations come "
                               "from) or --model-error off.")
    if path is None or read_meta(path).kind != "operator" or split not in list_splits(path):
        return None
    pairs = read_split(path, split)
    if input_field not in pairs["inputs"] or output_field not in pairs["outputs"]:
        return None
    a, u = pairs["inputs"][input_field], pairs["outputs"][output_field]
    if a.shape[1:] != obs.grid_shape:
        raise DataError(f"the validation split of {path} is on a {a.shape[1:]} grid, the observations on "
                        f"{obs.grid_shape}, so the surrogate's error at the observation points cannot be estimated "
                        "from it; pass --data with a file whose val split is on the observations' grid, or "
                        "--model-error off.")
    if a.shape[0] < 2:
        return None
    return a, u
