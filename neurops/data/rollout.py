"""Lazy (T_in -> T_out) windows of trajectory files, for autoregressive rollout training.

A window of a trajectory ``states/<field> : [N, T, *spatial]`` starting at frame
``t0`` gives the input frames ``t0 .. t0+T_in-1`` and the target frames
``t0+T_in .. t0+T_in+T_out-1`` (every ``time_stride``-th stored frame). Frames are
stacked **time-major** into channels: channel ``t * F + f`` is field ``f`` of frame
``t`` (``F`` fields), so dropping the oldest ``k`` frames of an input is
``x[:, k * F:]`` and appending predicted frames is a concatenation.

Protocols of the papers, on the FNO Navier-Stokes files (20 stored frames):

* FNO / LSM: ``t_in=10, t_out=10`` with one window per trajectory (``window_stride=None``);
* MgNO: ``t_in=1, t_out=10``.

``window_stride=k`` instead takes every window that fits, starting at frames
``start, start + k, ...`` (more training samples from long trajectories).

References
----------
.. [1] Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
   Equations", ICLR 2021, arXiv:2010.08895 (the 10 -> 10 Navier-Stokes protocol).
.. [2] H. Wu et al., "Solving High-Dimensional PDEs with Latent Spectral Models",
   ICML 2023, arXiv:2301.12664.
"""

from __future__ import annotations

from collections.abc import Sequence

import h5py
import numpy as np
import torch

from neurops.data.reader import SELECT_FIELDS, H5SplitDataset, check_fields
from neurops.data.shards import DataPath
from neurops.errors import ConfigError, DataError

__all__ = ["H5RolloutDataset", "check_frame_dt", "window_starts"]


def window_starts(n_frames: int, t_in: int, t_out: int, *, start: int = 0, window_stride: int | None = None,
                  time_stride: int = 1) -> list[int]:
    """First stored frame of every (t_in + t_out)-frame window that fits in ``n_frames``.

    Parameters
    ----------
    n_frames : stored frames T of each trajectory.
    t_in, t_out : input and target frames per window (after subsampling by ``time_stride``); ``t_out=0``
        cuts the input frames alone (what prediction reads).
    start : first stored frame of the first window.
    window_stride : stored frames between window starts; ``None`` gives one window.
    time_stride : use every ``time_stride``-th stored frame.
    """
    for name, value, least in (("t_in", t_in, 1), ("t_out", t_out, 0), ("time_stride", time_stride, 1)):
        if value < least:
            raise ConfigError(f"{name} must be >= {least}, got {value}.")
    if start < 0:
        raise ConfigError(f"start must be >= 0, got {start}.")
    if window_stride is not None and window_stride < 1:
        raise ConfigError(f"window_stride must be >= 1 or None (one window per trajectory), got {window_stride}.")
    span = (t_in + t_out - 1) * time_stride + 1  # stored frames a window covers
    if start + span > n_frames:
        window = f"a window of t_in={t_in} + t_out={t_out} frames" if t_out else \
            f"an input window of t_in={t_in} frames"
        fix = ("lower t_in/t_out/time_stride/start or generate longer trajectories" if t_out else
               "use longer trajectories (a checkpoint predicts from the input window it was trained with: its "
               "t_in, start and time_stride)")
        raise DataError(f"{window} (time_stride={time_stride}) starting at frame {start} needs {start + span} "
                        f"stored frames, but the trajectories have {n_frames}; {fix}.")
    if window_stride is None:
        return [start]
    return list(range(start, n_frames - span + 1, window_stride))


class H5RolloutDataset(H5SplitDataset):
    """(T_in -> T_out) windows of one split of a ``trajectory`` file, read lazily.

    ``__getitem__`` returns ``{"x": float32 [T_in * F, *spatial], "y": float32
    [T_out * F, *spatial]}`` with frames stacked time-major (channel ``t * F + f``).

    Parameters
    ----------
    path : neurops HDF5 file of kind ``trajectory``; or a folder or list of such files
        holding one data set (:func:`~neurops.data.shards.data_files`).
    split : split name.
    t_in, t_out : input and target frames per sample (``t_out=0``: the input frames alone, ``"y"`` empty).
    fields : state fields to use, in channel order (default: all, sorted).
    start, window_stride, time_stride : window placement, see :func:`window_starts`.
    max_trajectories : use only the first trajectories of the split (default: all).
    fields_of : whose ``fields`` they are, in the error for a missing one (``"the model trains on"``).
    fields_fix : the way out that error names (default :data:`~neurops.data.reader.SELECT_FIELDS`).
    """

    def __init__(
        self,
        path: DataPath,
        split: str,
        t_in: int,
        t_out: int,
        *,
        fields: Sequence[str] | None = None,
        start: int = 0,
        window_stride: int | None = None,
        time_stride: int = 1,
        max_trajectories: int | None = None,
        fields_of: str = "you asked for",
        fields_fix: str = SELECT_FIELDS,
    ) -> None:
        if max_trajectories is not None and max_trajectories < 1:
            raise ConfigError(f"max_trajectories must be >= 1 (None: all of them), got {max_trajectories}; 0 would "
                              "leave nothing to train on.")
        self.t_in, self.t_out, self.time_stride = int(t_in), int(t_out), int(time_stride)
        self._wanted, self._fields_of, self._fields_fix = fields, fields_of, fields_fix
        super().__init__(path, split)
        self.n_trajectories = self.n_items if max_trajectories is None else min(self.n_items, int(max_trajectories))
        try:
            self.starts = window_starts(self.n_frames, self.t_in, self.t_out, start=start,
                                        window_stride=window_stride, time_stride=self.time_stride)
        except DataError as exc:  # name the data it does not fit
            raise DataError(f"{self.path} split {split!r}: {exc}") from None

    def _describe(self, g: h5py.Group) -> None:
        if self.meta.kind != "trajectory":
            raise DataError(
                f"{g.file.filename} holds {self.meta.kind!r} data; rollout windows need a 'trajectory' file with "
                "states/<field> [N, T, *spatial] (e.g. `neurops data generate navier_stokes`)."
            )
        present = sorted(g["states"].keys())
        self.fields = check_fields(f"{g.file.filename} split {self.split!r}", "states", present, self._wanted,
                                   self._fields_of, fix=self._fields_fix)
        if not self.fields:
            raise DataError(f"{g.file.filename} split {self.split!r} has no state fields; name at least one of "
                            f"{present}.")
        shape = g["states"][self.fields[0]].shape
        self.n_frames = shape[1]
        self.spatial_shape = tuple(shape[2:])
        self.time = g["time"][()]
        self.coords = {k: g["coords"][k][()] for k in g["coords"]}
        self._paths = tuple(f"{self.split}/states/{name}" for name in self.fields)

    def _count(self, g: h5py.Group) -> int:
        return g["states"][self.fields[0]].shape[0]

    def _fields_read(self) -> list[str]:
        return list(self._paths)

    @property
    def n_fields(self) -> int:
        """F, state fields per frame."""
        return len(self.fields)

    @property
    def input_fields(self) -> list[str]:
        """State fields of the input frames (the same as the target frames')."""
        return list(self.fields)

    @property
    def output_fields(self) -> list[str]:
        """State fields of the target frames."""
        return list(self.fields)

    @property
    def in_channels(self) -> int:
        """Channels of ``x``: T_in * F."""
        return self.t_in * self.n_fields

    @property
    def out_channels(self) -> int:
        """Channels of ``y``: T_out * F."""
        return self.t_out * self.n_fields

    @property
    def frame_dt(self) -> float | None:
        """Time between the frames of a window (``time_stride`` stored frames), the time step a rollout model takes;
        ``None`` when the stored frames are not evenly spaced."""
        spacing = np.diff(np.asarray(self.time, dtype=np.float64))
        if not len(spacing) or not np.allclose(spacing, spacing[0], rtol=1e-6, atol=0):
            return None
        return float(spacing[0]) * self.time_stride

    def __len__(self) -> int:
        return self.n_trajectories * len(self.starts)

    def window(self, index: int) -> tuple[int, int]:
        """``(trajectory, first stored frame)`` of sample ``index``."""
        return index // len(self.starts), self.starts[index % len(self.starts)]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"sample {index} out of range for {n} windows")
        traj, t0 = self.window(index % n)
        stop = t0 + (self.t_in + self.t_out - 1) * self.time_stride + 1
        k, local = self._locate(traj)
        # [T_in + T_out, F, *spatial] -> time-major channels
        frames = np.stack([ds[local, t0:stop:self.time_stride] for ds in self._datasets(k, self._paths)], axis=1)
        frames = frames.reshape(-1, *self.spatial_shape)
        if not np.isfinite(frames).all():
            raise DataError(f"{self.paths[k]} split {self.split!r} trajectory {local}: NaN or Inf in frames "
                            f"{t0}..{stop - 1}; run `neurops data check {self.paths[k]}`.")
        cut = self.t_in * self.n_fields
        return {"x": torch.from_numpy(frames[:cut].copy()), "y": torch.from_numpy(frames[cut:].copy())}


def check_frame_dt(ds: H5RolloutDataset, dt: float | None, whence: str, fix: str) -> None:
    """Refuse the windows of ``ds`` when their frames are not ``dt`` apart, the time step the rollout model takes
    (``whence`` says where that comes from, ``fix`` what to do); ``None`` (unknown, or uneven frames) passes."""
    if dt is None or ds.frame_dt is None or np.isclose(ds.frame_dt, dt, rtol=1e-6, atol=0):
        return
    raise DataError(f"{ds.path} split {ds.split!r} holds frames {ds.frame_dt:g} time units apart (time_stride "
                    f"{ds.time_stride}), but the rollout model steps {dt:g} ({whence}), so its frames would stand for "
                    f"the wrong times; {fix}.")
