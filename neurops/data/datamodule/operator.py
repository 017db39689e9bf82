"""Data modules of supervised operator learning: input -> output pairs (:class:`OperatorDataModule`) and
rolled-out windows of trajectories (:class:`RolloutDataModule`)."""

from __future__ import annotations

import os
from typing import Any

import lightning as L
import torch
from torch.utils.data import Subset
from typing_extensions import override

from neurops.data.datamodule.loaders import SplitLoaders, _data_parallel_ranks, check_loader_options
from neurops.data.reader import H5OperatorDataset, list_splits, read_meta
from neurops.data.rollout import H5RolloutDataset, check_frame_dt
from neurops.data.schema import is_test_split, resolution_tag
from neurops.data.shards import data_path
from neurops.errors import ConfigError, DataError
from neurops.layers.resample import cells, coarse_size


class OperatorDataModule(SplitLoaders, L.LightningDataModule):
    """Train / val / test loaders over a neurops ``operator`` file.

    Every split named ``test`` or ``test@...`` becomes one test dataloader; its metrics are
    named by the split's resolution (``test/rel_l2@64``), see :attr:`test_tags`.

    Parameters
    ----------
    path
        HDF5 file (kind ``operator``), or a folder or list of files holding one data set
        (e.g. the shards of ``neurops data generate --shard I/N``), read as one.
    batch_size
        training batch size (evaluation uses the same).
    num_workers
        DataLoader worker processes (each opens the file itself).
    input_fields
        input fields to stack as channels (default: all of the training split's). Every other split must
        hold the training split's fields (one error at construction names a split that does not).
    output_fields
        output fields to stack as channels (default: all of the training split's), checked likewise.
    train_split
        the split trained on.
    val_split
        the validation split; ``None`` skips validation. A file without it can be tested and
        predicted on; ``fit`` and ``validate`` then stop with one error naming ``--data.val_split null``.
    test_splits
        test split names (default: every ``test*`` split, training resolution first).
    train_strides
        multi-resolution training: each training batch keeps every ``s``-th grid
        point of its samples, with ``s`` drawn per step from this list (e.g. ``[1, 2]`` trains
        on 65- and 33-node grids from a 65-node file; ``[2]`` on the 33-node grid alone). Every
        stride must map the training grid onto a coarser grid of the same domain (``s``
        divides ``n - 1`` nodes, or ``n`` periodic points). The draw depends on the seed
        (``PL_GLOBAL_SEED``) and the optimizer step only, so all processes of a distributed
        run train on the same grid at every step. Applied by the Trainer
        (:meth:`on_before_batch_transfer`); default: the file's grid only.
    """

    #: the file kind this data module reads, and what it is for (in the error for another kind)
    kind = "operator"
    kind_hint = "supervised operator training needs an 'operator' file with inputs and outputs"

    def __init__(
        self,
        path: list[str] | str | os.PathLike,
        batch_size: int = 16,
        num_workers: int = 0,
        input_fields: list[str] | None = None,
        output_fields: list[str] | None = None,
        train_split: str = "train",
        val_split: str | None = "val",
        test_splits: list[str] | None = None,
        train_strides: list[int] | None = None,
    ) -> None:
        super().__init__()
        check_loader_options(batch_size, num_workers)
        self.path = data_path(path)
        self.batch_size, self.num_workers = batch_size, num_workers
        self.input_fields, self.output_fields = input_fields, output_fields
        #: the file's metadata (dims, boundary conditions, parameters, ...)
        self.meta = read_meta(self.path)
        if self.meta.kind != self.kind:
            raise DataError(f"{self.path} holds {self.meta.kind!r} data; {self.kind_hint}.")
        splits = list_splits(self.path)
        if train_split not in splits:
            raise DataError(f"{self.path} has no split {train_split!r}; it has {splits}.")
        #: the validation split the file lacks (fit and validate refuse it in :meth:`setup`)
        self.missing_val_split = val_split if val_split is not None and val_split not in splits else None
        if self.missing_val_split:
            val_split = None
        self.train_split, self.val_split = train_split, val_split
        self.test_splits = test_splits if test_splits is not None else sorted(
            (s for s in splits if is_test_split(s)), key=lambda s: (s != "test", s))
        self.train_set = self._dataset(train_split, train=True)
        self.val_set = self._dataset(val_split) if val_split else None
        self.test_sets = [self._dataset(s) for s in self.test_splits]
        self.train_strides = self._check_strides(train_strides)

    @override
    def setup(self, stage: str) -> None:
        if self.missing_val_split and stage in ("fit", "validate"):
            raise DataError(f"{self.path} has no validation split {self.missing_val_split!r} (it has "
                            f"{list_splits(self.path)}); train without validation with --data.val_split "
                            "null, or write a 'val' split (neurops data generate --n-val N).")
        self.check_values(stage)

    def _check_strides(self, strides: list[int] | None) -> list[int] | None:
        if strides is None:
            return None
        strides = [int(s) for s in strides]
        grid = list(zip(self.train_set.spatial_shape, self.meta.boundary_modes()))
        bad = [s for s in strides if any(coarse_size(n, m, s) < 0 for n, m in grid)]
        if not strides or bad:
            valid = [s for s in range(1, max(n for n, _ in grid)) if all(coarse_size(n, m, s) > 0 for n, m in grid)]
            raise DataError(f"train_strides {strides} do not fit the training grid {self.train_set.spatial_shape}: a "
                            f"stride must divide its {[cells(n, m) for n, m in grid]} cells so that the coarse grid "
                            f"keeps both ends; valid strides: {valid}.")
        return sorted(set(strides))

    @property
    def train_resolution(self) -> tuple[int, ...]:
        """Points per axis of the finest grid the model trains on."""
        step = min(self.train_strides) if self.train_strides else 1
        return tuple(coarse_size(n, m, step) for n, m in zip(self.train_set.spatial_shape,
                                                              self.meta.boundary_modes()))

    def train_stride(self, step: int) -> int:
        """The grid stride of training step ``step`` (1 without ``train_strides``)."""
        if not self.train_strides:
            return 1
        seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
        generator = torch.Generator().manual_seed(seed * 1_000_003 + int(step))
        return self.train_strides[int(torch.randint(len(self.train_strides), (1,), generator=generator))]

    @override
    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Multi-resolution training: keep every ``train_stride(step)``-th grid point of a training batch."""
        trainer = self.trainer
        if not self.train_strides or trainer is None or not trainer.training:
            return batch
        stride = self.train_stride(trainer.global_step)
        if stride == 1:
            return batch
        every = (slice(None), slice(None), *[slice(None, None, stride)] * len(self.train_set.spatial_shape))
        return {key: value[every] for key, value in batch.items()}

    def _dataset(self, split: str, train: bool = False) -> H5OperatorDataset:
        if train:
            return H5OperatorDataset(self.path, split, self.input_fields, self.output_fields)
        # every other split must hold the fields the model trains on (those of the training split by default)
        return H5OperatorDataset(self.path, split, self.train_set.input_fields, self.train_set.output_fields,
                                 fields_of="the model trains on")

    @property
    def in_channels(self) -> int:
        return self.train_set.in_channels

    @property
    def out_channels(self) -> int:
        return self.train_set.out_channels

    @property
    def test_tags(self) -> list[str]:
        """Metric suffix of each test loader: its resolution (``64``), unique per loader."""
        tags = [resolution_tag(ds.spatial_shape) for ds in self.test_sets]
        return [t if tags.count(t) == 1 else f"{t}_{s}" for t, s in zip(tags, self.test_splits)]

    def train_batches(self, max_batches: int | None = None, rank: int | None = None,
                      num_replicas: int | None = None):
        """Unshuffled batches of one process's share of the training split (used to fit normalizers).

        The first ``max_batches * batch_size`` samples (all by default) are cut into
        ``num_replicas`` contiguous blocks; process ``rank`` reads block ``rank``, so the
        processes of a distributed job read every sample once between them. ``rank`` and
        ``num_replicas`` default to this process's place in the trainer's job (0 of 1 without one).
        """
        if rank is None or num_replicas is None:
            ranks = _data_parallel_ranks(self)
            rank, num_replicas = ranks["rank"], ranks["num_replicas"]
        n = len(self.train_set) if max_batches is None else min(len(self.train_set), max_batches * self.batch_size)
        lo, hi = rank * n // num_replicas, (rank + 1) * n // num_replicas
        yield from self._loader(Subset(self.train_set, range(lo, hi)))



class RolloutDataModule(OperatorDataModule):
    """Train / val / test loaders of (T_in -> T_out) windows over a ``trajectory`` file.

    Same loaders, test-split discovery and metric tags (``test/rel_l2@64``) as
    :class:`~neurops.data.datamodule.OperatorDataModule`; samples come from
    :class:`H5RolloutDataset`. ``in_channels``/``out_channels`` are the channels of
    ``x``/``y`` (``t_in * F`` and ``t_out * F``); :attr:`n_fields` is F.

    Parameters
    ----------
    path
        HDF5 file (kind ``trajectory``), or a folder or list of files holding one data set.
    t_in
        input frames per sample (FNO/LSM: 10; MgNO: 1).
    t_out
        target frames per sample (FNO/LSM/MgNO: 10).
    batch_size
        samples per training batch (evaluation uses the same).
    num_workers
        DataLoader worker processes.
    fields
        state fields (default: all).
    train_split
        the split trained on.
    val_split
        the validation split, as in ``OperatorDataModule``.
    test_splits
        the test splits, as in ``OperatorDataModule``.
    start
        first stored frame of the first window (evaluation uses one window per trajectory, starting here).
    window_stride
        stored frames between the starts of training windows (see :func:`window_starts`).
    time_stride
        use every ``time_stride``-th stored frame.
    max_train_trajectories
        use only the first trajectories of the training split.
    """

    kind = "trajectory"
    kind_hint = "rollout training needs a 'trajectory' file (states/<field> [N, T, *spatial])"

    def __init__(
        self,
        path: list[str] | str | os.PathLike,
        t_in: int = 10,
        t_out: int = 10,
        batch_size: int = 16,
        num_workers: int = 0,
        fields: list[str] | None = None,
        train_split: str = "train",
        val_split: str | None = "val",
        test_splits: list[str] | None = None,
        start: int = 0,
        window_stride: int | None = None,
        time_stride: int = 1,
        max_train_trajectories: int | None = None,
    ) -> None:
        if t_out < 1:  # the windows allow t_out=0 (input frames alone, for prediction); training needs targets
            raise ConfigError(f"t_out must be >= 1, got {t_out}: the windows need target frames to train on.")
        self.t_in, self.t_out, self.fields = t_in, t_out, fields
        #: where the validation and test windows sit, ``{"start", "time_stride"}`` (a RolloutTask records it in its
        #: checkpoints, so that ``neurops predict`` cuts the same input frames)
        self.window = dict(start=start, time_stride=time_stride)
        self._train_window = dict(window_stride=window_stride, max_trajectories=max_train_trajectories)
        super().__init__(path, batch_size=batch_size, num_workers=num_workers, train_split=train_split,
                         val_split=val_split, test_splits=test_splits)

    def _dataset(self, split: str, train: bool = False) -> H5RolloutDataset:
        if train:
            return H5RolloutDataset(self.path, split, self.t_in, self.t_out, fields=self.fields, **self.window,
                                    **self._train_window)
        ds = H5RolloutDataset(self.path, split, self.t_in, self.t_out, fields=self.train_set.fields,
                              fields_of="the model trains on", **self.window)
        check_frame_dt(ds, self.train_set.frame_dt, f"the spacing of the training split {self.train_set.split!r}",
                       "store every split at one spacing (or convert them into separate files)")
        return ds

    @property
    def n_fields(self) -> int:
        """F, state fields per frame."""
        return self.train_set.n_fields


__all__ = ["OperatorDataModule", "RolloutDataModule"]
