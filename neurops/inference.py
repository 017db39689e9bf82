"""Predict with an operator checkpoint on neurops HDF5 files."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch

from neurops.checkpoints import load
from neurops.data.reader import H5OperatorDataset, list_splits, read_meta
from neurops.data.shards import data_files
from neurops.data.writer import H5Writer
from neurops.errors import ConfigError, DataError, NeuropsWarning
from neurops.models.registry import RESOLUTION_BEHAVIOURS, resolution_behaviour
from neurops.utils.io import check_output_path


@torch.no_grad()
def predict_file(ckpt: str | os.PathLike, data: str | os.PathLike, out: str | os.PathLike,
                 splits: Sequence[str] | None = None, batch_size: int = 16, overwrite: bool = False) -> Path:
    """Predict every sample of ``data`` (selected splits) with ``ckpt``; write an ``operator`` file.

    The output file keeps the data's coordinates, inputs and root attributes; its outputs are
    the predictions, named like the training data's output fields. A split on a grid other
    than the training grid gets a :class:`~neurops.errors.NeuropsWarning` when the model's
    resolution behaviour is ``fixed_grid`` (see :func:`check_grid`).

    Parameters
    ----------
    ckpt : checkpoint of an operator task written by ``neurops fit`` (a rollout task's checkpoint is refused:
        its model maps ``t_in`` frames to the next ones, which this one-step operator file cannot hold).
    data : neurops HDF5 file with the input fields (any resolution).
    out : the predictions file to write (an ``operator`` file: inputs copied, outputs predicted).
    splits : splits to predict (default: all).
    batch_size : samples per forward pass.
    overwrite : replace ``out`` if it exists.

    Returns
    -------
    out : the path written.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}; pass --batch-size 16 (or any positive size).")
    source = read_meta(data)  # a bad data file fails before the checkpoint is loaded
    check_output_path(out, overwrite=overwrite, inputs=[data, *data_files(data), ckpt], hdf5=True)
    splits = list(splits) if splits else list_splits(data)
    twice = sorted({s for s in splits if splits.count(s) > 1})
    if twice:
        raise ConfigError(f"--splits names {twice} more than once; name each split once.")
    _, task = load(ckpt, "operator", command="neurops predict")
    fields = task.data_fields or {}
    out_names = fields.get("outputs") or [f"y{i}" for i in range(task.hparams.model_kwargs["out_channels"])]
    meta = replace(source, kind="operator", name=f"{source.name}-predictions", shard=None, neurops_version="",
                   generator={"predicted_by": str(ckpt), "model": task.hparams.model, "source": str(data)})
    with H5Writer(out, meta, overwrite=overwrite) as writer:
        for split in splits:
            ds = H5OperatorDataset(data, split, input_fields=fields.get("inputs"), output_fields=[],
                                   fields_of="the checkpoint was trained on")
            if ds.in_channels != task.hparams.model_kwargs["in_channels"]:
                raise DataError(f"the checkpoint expects {task.hparams.model_kwargs['in_channels']} input "
                                f"channel(s) but {data} split {split!r} has {ds.in_channels}.")
            check_grid(task, ds.spatial_shape, f"split {split!r}")
            writer.create_split(split, len(ds), coords=ds.coords,
                                inputs={f: ds.spatial_shape for f in ds.input_fields},
                                outputs={f: ds.spatial_shape for f in out_names})
            for start in range(0, len(ds), batch_size):
                x = torch.stack([ds[i]["x"] for i in range(start, min(start + batch_size, len(ds)))])
                y = task(x).cpu().numpy()
                writer.write(split, start, inputs={f: x[:, i].numpy() for i, f in enumerate(ds.input_fields)},
                             outputs={f: y[:, i] for i, f in enumerate(out_names)})
    return Path(out)


def check_grid(task, shape: Sequence[int], what: str = "the data") -> bool:
    """Warn (:class:`~neurops.errors.NeuropsWarning`) if a ``fixed_grid`` model meets another grid.

    Parameters
    ----------
    task : a loaded operator task (its ``train_resolution`` comes from the checkpoint).
    shape : points per axis of the grid to predict on.
    what : names the data in the message.

    Returns
    -------
    True if a warning was given.
    """
    trained = task.train_resolution
    if not trained or tuple(shape) == tuple(trained) or resolution_behaviour(task.net) != "fixed_grid":
        return False
    grid = "x".join(map(str, shape))
    warnings.warn(f"{what} is on a {grid} grid but the {task.hparams.model!r} model was trained on "
                  f"{'x'.join(map(str, trained))} and is fixed_grid ({RESOLUTION_BEHAVIOURS['fixed_grid']}): expect "
                  "large errors. Predict on the training grid, or retrain with reference_resolution set (MgNO, LSM) "
                  "or a function-space model (see docs/resolution.md).", NeuropsWarning, stacklevel=2)
    return True
