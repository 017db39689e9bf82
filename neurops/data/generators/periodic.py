"""Shared driver of the periodic time-dependent PDE generators (Burgers, Navier-Stokes).

A generator supplies two things: how to draw one initial condition from a per-sample random
generator, and how to integrate a batch of them to the record times on the fine solver grid.
This module does the rest: split sizes, per-sample seeds (sample ``i`` gets the same numbers
whatever the batch size or thread count), batching with a progress bar, subsampling the fine
periodic grid to the stored resolutions, and writing through :class:`~neurops.data.writer.H5Writer`
either as a ``trajectory`` file (``states/<field>`` [N, T, *spatial]) or as an ``operator``
file (first frame -> last frame).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurops.data.generators.base import check_test_resolutions
from neurops.data.metadata import DatasetMeta
from neurops.data.progress import progress_bar
from neurops.data.shards import Shard
from neurops.data.writer import H5Writer
from neurops.errors import ConfigError
from neurops.utils.device import check_device
from neurops.utils.seeding import sample_seeds

InitialCondition = Callable[[np.random.Generator], np.ndarray]
BatchSolver = Callable[[torch.Tensor], torch.Tensor]

LAYOUTS: tuple[str, ...] = ("trajectory", "operator")
COMPRESSIONS: tuple[str, ...] = ("none", "gzip", "lzf")


def split_sizes(n_train: int, n_val: int, n_test: int) -> dict[str, int]:
    """Sample count per split, empty splits dropped; at least one training sample."""
    for name, n in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)):
        if int(n) < 0:
            raise ConfigError(f"{name} must be >= 0, got {n}.")
    if int(n_train) < 1:
        raise ConfigError(f"n_train must be >= 1, got {n_train}.")
    sizes = {"train": int(n_train), "val": int(n_val), "test": int(n_test)}
    return {k: v for k, v in sizes.items() if v > 0}


def nested_strides(solver_resolution: int, resolutions: Sequence[int]) -> dict[int, int]:
    """Subsampling stride from the fine periodic grid to each stored resolution.

    On the periodic grid ``x_j = j / N`` every ``s``-th node of the fine grid is the grid of
    ``N / s`` points, so a stored resolution must divide the solver resolution.
    """
    strides = {}
    for r in resolutions:
        if r < 2 or solver_resolution % r:
            divisors = [d for d in range(2, solver_resolution + 1) if solver_resolution % d == 0]
            raise ConfigError(
                f"resolution {r} does not divide the solver resolution {solver_resolution}; periodic grids "
                f"nest only by integer strides. Choose among {divisors} or change --solver-resolution."
            )
        strides[int(r)] = solver_resolution // int(r)
    return strides


def compression_arg(compression: str) -> str | None:
    """Map the CLI value (``none``/``gzip``/``lzf``) onto :class:`H5Writer`'s argument."""
    if compression not in COMPRESSIONS:
        raise ConfigError(f"compression {compression!r} is unknown; use one of {COMPRESSIONS}.")
    return None if compression == "none" else compression


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (restored afterwards)."""
    old = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _subsample(frames: np.ndarray, stride: int, ndim: int) -> np.ndarray:
    index = (Ellipsis, *([slice(None, None, stride)] * ndim))
    return np.ascontiguousarray(frames[index])


def _plan(splits: Mapping[str, int], resolution: int, extra: Sequence[int], shard: Shard,
          batch_size: int) -> tuple[list[tuple[str, int, range, int]], dict[str, int]]:
    """What this shard writes: every split, ``test@R`` included, as (stored split name, first global sample
    index of its split, the range of its samples in this shard, resolution); and every stored split's size."""
    ranges = shard.samples(splits, batch_size, across_splits=True, unit="batch(es)", fix=" or a smaller batch_size")
    plan: list[tuple[str, int, range, int]] = []
    sizes: dict[str, int] = {}
    start = 0
    for split, n in splits.items():
        for stored, res in [(split, resolution)] + ([(f"test@{r}", r) for r in extra] if split == "test" else []):
            sizes[stored] = n
            if split in ranges:
                plan.append((stored, start, ranges[split], res))
        start += n
    return plan, sizes


def _create_splits(writer: H5Writer, plan: list[tuple[str, int, range, int]], dims: Sequence[str], field: str,
                   time: np.ndarray, layout: str) -> None:
    for split, _, r, res in plan:
        coords = {d: np.arange(res, dtype=np.float64) / res for d in dims}
        spatial = (res,) * len(dims)
        if layout == "trajectory":
            writer.create_split(split, len(r), coords=coords, time=time, states={field: (len(time), *spatial)})
        else:
            writer.create_split(split, len(r), coords=coords, inputs={f"{field}0": spatial},
                                outputs={field: spatial}, attrs={"t_input": time[0], "t_output": time[-1]})


def generate_periodic(
    out: Path,
    *,
    name: str,
    dims: Sequence[str],
    field: str,
    initial_condition: InitialCondition,
    solve: BatchSolver,
    time: np.ndarray,
    splits: Mapping[str, int],
    resolution: int,
    solver_resolution: int,
    test_resolutions: Sequence[int] = (),
    layout: str = "trajectory",
    seed: int = 0,
    batch_size: int = 32,
    device: str = "cpu",
    parameters: Mapping[str, Any] | None = None,
    generator: Mapping[str, Any] | None = None,
    compression: str = "none",
    overwrite: bool = False,
    workers: int = 2,
    progress: bool = True,
    shard: Shard | None = None,
) -> Path:
    """Draw initial conditions, integrate them in batches and write one neurops file.

    Parameters
    ----------
    out : the HDF5 file to write (atomically).
    name : dataset name (root attribute).
    dims : spatial axis names, e.g. ``("x", "y")``; every axis is periodic on ``[0, 1)``.
    field : name of the state field (``u``, ``w``).
    initial_condition : ``rng -> [*fine]`` one initial condition on the solver grid.
    solve : ``[B, *fine] -> [B, T, *fine]`` the state at the record times ``time``.
    time : [T] record times.
    splits : sample count per split (``train``/``val``/``test``), in this order of seeds.
    resolution : stored points per axis; ``test_resolutions`` add ``test@R`` splits holding
        the same test samples at other resolutions.
    solver_resolution : points per axis of the solver grid (each stored resolution divides it).
    layout : ``"trajectory"`` (``states/<field>`` [N, T, *spatial]) or ``"operator"``
        (``inputs/<field>0`` = first frame, ``outputs/<field>`` = last frame).
    seed : the root seed; sample ``i`` draws from ``SeedSequence(seed).spawn(n)[i]``.
    batch_size : samples integrated together.
    device : torch device of the solver (``cpu``, ``cuda``).
    workers : torch intra-op threads used by the solver.
    progress : show the progress (a bar on a terminal, lines in a log).
    shard : write only this shard of the run: the same samples, in the same batches of
        ``batch_size`` (batches run over split boundaries).

    Returns
    -------
    out : the path written.
    """
    _check_settings(layout, batch_size, time)
    extra = check_test_resolutions(resolution, test_resolutions, splits.get("test", 0))
    strides = nested_strides(solver_resolution, [resolution, *extra])
    device_t = check_device(device)
    shard = shard or Shard(0, 1)
    plan, sizes = _plan(splits, resolution, extra, shard, batch_size)
    seeds = sample_seeds(seed, sum(splits.values()))
    lo_all = min(first + r.start for _, first, r, _ in plan)
    hi_all = max(first + r.stop for _, first, r, _ in plan)
    time = np.asarray(time, dtype=np.float64)
    record = shard.record({stored: r for stored, _, r, _ in plan}, sizes) if shard.count > 1 else None

    with H5Writer(out, DatasetMeta(kind="operator" if layout == "operator" else "trajectory", name=name, dims=dims,
                                   boundary={d: "periodic" for d in dims}, parameters=parameters, generator=generator,
                                   seed=seed, shard=record),
                  compression=compression_arg(compression), overwrite=overwrite) as writer:
        _create_splits(writer, plan, dims, field, time, layout)
        bar = progress_bar(hi_all - lo_all, name, "sample", progress)
        with torch_threads(workers), torch.no_grad():
            for lo in range(lo_all, hi_all, batch_size):
                hi = min(hi_all, lo + batch_size)
                ics = np.stack([initial_condition(np.random.default_rng(s)) for s in seeds[lo:hi]])
                frames = solve(torch.as_tensor(ics, dtype=torch.float64, device=device_t)).cpu().numpy()
                _write_frames(writer, plan, lo, frames, strides, field, layout)
                bar.update(hi - lo)
        bar.close()
    return Path(out)


def _check_settings(layout: str, batch_size: int, time: np.ndarray) -> None:
    """One ``ConfigError`` for an unknown layout, a batch size below 1, or an operator layout of one frame."""
    if layout not in LAYOUTS:
        raise ConfigError(f"layout {layout!r} is unknown; use one of {LAYOUTS}.")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}.")
    if layout == "operator" and len(time) < 2:
        raise ConfigError("the operator layout maps the first frame to the last; record at least two times.")


def _write_frames(writer: H5Writer, plan: list[tuple[str, int, range, int]], lo: int, frames: np.ndarray,
                  strides: dict[int, int], field: str, layout: str) -> None:
    """Write the solved batch ``frames`` [b, T, *fine] of global samples ``lo, lo + 1, ...`` into every split of
    ``plan`` that holds some of them, each at its resolution."""
    hi = lo + len(frames)
    ndim = frames.ndim - 2
    for split, first, r, res in plan:
        a, b = max(lo, first + r.start), min(hi, first + r.stop)
        if a >= b:
            continue
        # computed in float64, stored as float32 (the schema's type) on purpose: cast here, so the writer says nothing
        part = _subsample(frames[a - lo:b - lo], strides[res], ndim).astype(np.float32)
        at = a - first - r.start
        if layout == "trajectory":
            writer.write(split, at, states={field: part})
        else:
            writer.write(split, at, inputs={f"{field}0": part[:, 0]}, outputs={field: part[:, -1]})
