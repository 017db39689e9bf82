"""Predict with an operator or rollout checkpoint on neurops HDF5 files (``neurops predict``)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurops.checkpoints import KINDS_BY_NAME, load
from neurops.data.reader import H5OperatorDataset, list_splits, read_meta
from neurops.data.rollout import H5RolloutDataset, check_frame_dt
from neurops.data.shards import data_files
from neurops.data.writer import H5Writer
from neurops.errors import ConfigError, DataError, NeuropsWarning
from neurops.tasks.base import check_grid
from neurops.utils.io import check_output_path

#: the data kinds each checkpoint kind predicts, and what the fitting files hold (in the error for another kind)
DATA_KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "operator": (("operator", "input_only"), "'operator' and 'input_only' files (input fields -> output fields)"),
    "rollout": (("trajectory",), "'trajectory' files (states/<field> [N, T, *spatial]), rolling out the first "
                "frames of each trajectory"),
}


@torch.no_grad()
def predict_file(ckpt: str | os.PathLike, data: str | os.PathLike, out: str | os.PathLike,
                 splits: Sequence[str] | None = None, batch_size: int = 16, overwrite: bool = False,
                 steps: int | None = None) -> Path:
    """Predict every sample of ``data`` (selected splits) with ``ckpt``; write the predictions as a neurops file.

    An operator checkpoint predicts an ``operator`` (or ``input_only``) file and writes an ``operator``
    file: the data's inputs, and as outputs the predictions, named like the training data's output
    fields. A rollout checkpoint (:class:`~neurops.tasks.rollout.RolloutTask`) predicts a ``trajectory``
    file and writes a ``trajectory`` file: for each trajectory, its ``t_in`` input frames, cut as the
    task's validation and test windows are (the checkpoint's fields, ``start`` and ``time_stride``),
    followed by ``steps`` frames rolled out from them (:meth:`~neurops.tasks.rollout.RolloutTask.rollout`),
    and their times. Both keep the data's coordinates and root attributes. A split on a grid other
    than the training grid gets a :class:`~neurops.errors.NeuropsWarning` when the model's
    resolution behaviour is ``fixed_grid``. Every selected split is checked before the first one is
    predicted: a split that is missing, lacks the trained fields or channels, or lies on a grid the model
    cannot take (an FNO's Fourier modes on too coarse a grid, :func:`check_grid`), is one error naming it,
    raised before any prediction is computed and leaving no output file.

    Parameters
    ----------
    ckpt : checkpoint of an operator or rollout task written by ``neurops fit``.
    data : neurops HDF5 file (any resolution): an operator file for an operator checkpoint, a trajectory file
        for a rollout checkpoint.
    out : the predictions file to write: an ``operator`` file (inputs copied, outputs predicted), or for a
        rollout checkpoint a ``trajectory`` file (input frames copied, predicted frames after them).
    splits : splits to predict (default: all).
    batch_size : samples per forward pass (trajectories, for a rollout checkpoint).
    overwrite : replace ``out`` if it exists.
    steps : frames a rollout checkpoint predicts after the input frames (default: its trained t_out); a multiple
        of its step (frames per model call); more than t_out extrapolates autoregressively beyond the training.

    Returns
    -------
    out : the path written.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}; pass --batch-size 16 (or any positive size).")
    if steps is not None and (isinstance(steps, bool) or int(steps) != steps or steps < 1):
        raise ConfigError(f"steps must be a positive number of frames to predict, got {steps}; pass e.g. --steps 10 "
                          "(or leave it out: the trained t_out).")
    source = read_meta(data)  # a bad data file fails before the checkpoint is loaded
    check_output_path(out, overwrite=overwrite, inputs=[data, *data_files(data), ckpt], hdf5=True)
    splits = list(splits) if splits else list_splits(data)
    twice = sorted({s for s in splits if splits.count(s) > 1})
    if twice:
        raise ConfigError(f"--splits names {twice} more than once; name each split once.")
    kind, task = load(ckpt, tuple(DATA_KINDS), command="neurops predict")
    described = KINDS_BY_NAME[kind].described
    kinds, files = DATA_KINDS[kind]
    if source.kind not in kinds:
        fits = [KINDS_BY_NAME[k].described for k, (ks, _) in DATA_KINDS.items() if source.kind in ks]
        alternative = f", or predict {data} with {fits[0]}" if fits else ""
        raise DataError(f"{data} holds {source.kind!r} data, but {ckpt} is {described}, which predicts {files}: give "
                        f"it a file like the one it was trained on{alternative}.")
    if kind != "rollout" and steps is not None:
        raise ConfigError(f"--steps sets the frames a rollout checkpoint predicts, but {ckpt} is {described}, which "
                          "predicts one output per input; leave --steps out.")
    frames = _rollout_frames(task, steps) if kind == "rollout" else 0
    window = _rollout_window(task, ckpt) if kind == "rollout" else (0, 1)
    meta = replace(source, kind="trajectory" if kind == "rollout" else "operator", shard=None, neurops_version="",
                   name=f"{source.name}-predictions",
                   generator={"predicted_by": str(ckpt), "model": task.hparams.model, "source": str(data)})
    # every split is checked (its fields, channels, grid and frames) before the first one is predicted
    predictions = [_trajectory_split(task, data, split, frames, window) if kind == "rollout"
                   else _operator_split(task, data, split) for split in splits]
    with H5Writer(out, meta, overwrite=overwrite) as writer:
        for predict in predictions:
            predict(writer, batch_size)
    return Path(out)


#: the way out of a file whose fields are not the checkpoint's (predict reads the fields the model was trained on)
PREDICT_FIELDS = ("rename the fields in the file to the checkpoint's, or predict with a checkpoint trained on these "
                  "fields")

#: the prediction of one checked split: ``predict(writer, batch_size)`` writes it
SplitPrediction = Callable[[H5Writer, int], None]


def _operator_split(task: Any, data: str | os.PathLike, split: str) -> SplitPrediction:
    """The prediction of one split of an operator file, once the checkpoint can predict its inputs (their
    fields, channels and grid); one error naming the split otherwise."""
    fields = task.data_fields or {}
    ds = H5OperatorDataset(data, split, input_fields=fields.get("inputs"), output_fields=[],
                           fields_of="the checkpoint was trained on", fields_fix=PREDICT_FIELDS)
    if ds.in_channels != task.hparams.model_kwargs["in_channels"]:
        raise DataError(f"the checkpoint expects {task.hparams.model_kwargs['in_channels']} input "
                        f"channel(s) but {data} split {split!r} has {ds.in_channels}.")
    check_grid(task, ds.spatial_shape, f"split {split!r}", data)
    return partial(_predict_operator, task, ds, split)


def _predict_operator(task: Any, ds: H5OperatorDataset, split: str, writer: H5Writer, batch_size: int) -> None:
    """Write the predictions of one split of an operator file: inputs copied, outputs predicted."""
    out_names = (task.data_fields or {}).get("outputs") or [f"y{i}" for i in
                                                          range(task.hparams.model_kwargs["out_channels"])]
    writer.create_split(split, len(ds), coords=ds.coords, inputs={f: ds.spatial_shape for f in ds.input_fields},
                        outputs={f: ds.spatial_shape for f in out_names})
    for start in range(0, len(ds), batch_size):
        x = torch.stack([ds[i]["x"] for i in range(start, min(start + batch_size, len(ds)))])
        y = task(x).cpu().numpy()
        writer.write(split, start, inputs={f: x[:, i].numpy() for i, f in enumerate(ds.input_fields)},
                     outputs={f: y[:, i] for i, f in enumerate(out_names)})


def _rollout_frames(task: Any, steps: int | None) -> int:
    """The frames a rollout checkpoint predicts: ``steps``, or its trained ``t_out``, a multiple of its ``step``."""
    step, t_out = task.hparams.step, task.hparams.t_out
    if steps is None:
        return int(task.n_steps * step)
    if steps % step:
        below = max(step, steps - steps % step)
        raise ConfigError(f"steps={steps} is not a multiple of the checkpoint's step={step} (frames per model call); "
                          f"pass --steps {below} or {below + step} (trained: t_out={t_out}).")
    return int(steps)


def _rollout_window(task: Any, ckpt: str | os.PathLike) -> tuple[int, int]:
    """``(start, time_stride)`` of the evaluation windows a rollout checkpoint was trained with."""
    if task.window is None:
        warnings.warn(f"{ckpt} does not record where its training data's windows start (it was written before "
                      "checkpoints recorded it): the input frames are taken from frame 0, every stored frame (the "
                      "data module's defaults start=0, time_stride=1).", NeuropsWarning, stacklevel=3)
        return 0, 1
    return int(task.window["start"]), int(task.window["time_stride"])


def _trajectory_split(task: Any, data: str | os.PathLike, split: str, frames: int,
                      window: tuple[int, int]) -> SplitPrediction:
    """The rollout of one split of a trajectory file by ``frames`` frames, once the checkpoint can roll out its
    input frames (their fields, channels and grid, and the stored frames' times); one error naming the split
    otherwise. The input frames are those of the validation windows of
    :class:`~neurops.data.datamodule.RolloutDataModule` (``window``: their ``start`` and ``time_stride``), cut by
    :class:`~neurops.data.rollout.H5RolloutDataset` without their targets."""
    hp, (start, stride) = task.hparams, window
    ds = H5RolloutDataset(data, split, hp.t_in, 0, fields=(task.data_fields or {}).get("inputs"), start=start,
                          time_stride=stride, fields_of="the checkpoint was trained on", fields_fix=PREDICT_FIELDS)
    if ds.in_channels != hp.model_kwargs["in_channels"]:
        raise DataError(f"the checkpoint expects {hp.model_kwargs['in_channels']} input channel(s) (t_in={hp.t_in} "
                        f"frames of {hp.model_kwargs['in_channels'] // hp.t_in} field(s)) but {data} split {split!r} "
                        f"gives {ds.in_channels} ({ds.n_fields} field(s) {ds.fields}).")
    check_grid(task, ds.spatial_shape, f"split {split!r}", data)
    check_frame_dt(ds, (task.window or {}).get("dt"), "the frame spacing of its training data, which the checkpoint "
                   "records", "predict data stored at that spacing (e.g. generated with the training data's record_dt)")
    time = _frame_times(ds.time, start, stride, hp.t_in + frames, f"{data} split {split!r}")
    return partial(_predict_trajectories, task, ds, time, split, frames=frames)


def _predict_trajectories(task: Any, ds: H5RolloutDataset, time: np.ndarray, split: str, writer: H5Writer,
                          batch_size: int, frames: int) -> None:
    """Write one split of a trajectory file rolled out: the input frames of each trajectory, then ``frames``
    predicted ones, at ``time``."""
    hp = task.hparams
    n_frames = hp.t_in + frames
    writer.create_split(split, len(ds), coords=ds.coords, time=time,
                        states={f: (n_frames, *ds.spatial_shape) for f in ds.fields})
    for lo in range(0, len(ds), batch_size):
        x = torch.stack([ds[i]["x"] for i in range(lo, min(lo + batch_size, len(ds)))])
        pred = task.rollout(x.to(task.device), frames // hp.step).cpu()
        states = torch.cat([x, pred], dim=1).reshape(len(x), n_frames, ds.n_fields, *ds.spatial_shape).numpy()
        writer.write(split, lo, states={f: states[:, :, i] for i, f in enumerate(ds.fields)})


def _frame_times(time: np.ndarray, start: int, time_stride: int, n: int, where: str = "the data") -> np.ndarray:
    """Times of the ``n`` frames ``start, start + time_stride, ...`` of a trajectory stored at times ``time``.

    Frames past the stored ones continue at the spacing of the last two of those frames the data holds (or,
    where it holds one, ``time_stride`` times the spacing of its last two stored frames).

    Parameters
    ----------
    time : [T], the stored frames' times.
    start, time_stride : the first frame and the stride (in stored frames).
    n : frames wanted.
    where : names the data in the error for a single stored frame.

    Returns
    -------
    [n] float64 times.
    """
    time = np.asarray(time, dtype=np.float64)
    index = start + time_stride * np.arange(n)
    known = time[index[index < len(time)]]
    if len(known) == n:
        return known
    if len(known) >= 2:
        spacing = known[-1] - known[-2]
    elif len(time) >= 2:
        spacing = (time[-1] - time[-2]) * time_stride
    else:
        raise DataError(f"{where} stores one frame, so the times of the frames after it are unknown; store at least "
                        "two frames (their times give the time step).")
    return np.concatenate([known, known[-1] + spacing * np.arange(1, n - len(known) + 1)])
