"""LightningDataModules over neurops HDF5 files: operator pairs, rollouts, generative (DGNO) and dynamics data,
and the right-hand sides of DCDM training."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, Subset

from neurops.data.metadata import DatasetMeta
from neurops.data.reader import H5OperatorDataset, collate, list_splits, read_attrs, read_split
from neurops.data.rollout import H5RolloutDataset
from neurops.data.schema import is_test_split, resolution_tag
from neurops.data.shards import data_path
from neurops.data.windows import MemberWindowSampler, RandomWindowSampler, WindowDataset
from neurops.errors import DataError
from neurops.layers.resample import cells, coarse_size
from neurops.solvers.learned.dcdm import ritz_right_hand_sides, ritz_vectors
from neurops.solvers.linear.diffusion import DiffusionOperator


def _data_parallel_ranks(module: L.LightningDataModule) -> dict[str, int]:
    """``{"num_replicas", "rank"}`` of this process among the data-parallel processes (1, 0 without a trainer)."""
    kwargs = module.trainer.distributed_sampler_kwargs if module.trainer is not None else None
    return {"num_replicas": kwargs["num_replicas"], "rank": kwargs["rank"]} if kwargs else {"num_replicas": 1,
                                                                                              "rank": 0}


def check_loader_options(batch_size: int, num_workers: int) -> None:
    """Raise one :class:`DataError` for a batch size below 1 or a negative worker count."""
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise DataError(f"batch_size must be a whole number >= 1, got {batch_size} (--data.batch_size).")
    if num_workers < 0:
        raise DataError(f"num_workers must be >= 0 (0 loads in the main process), got {num_workers}.")


class SplitLoaders:
    """DataLoaders over ``train_set``, ``val_set`` (or None) and ``test_sets``.

    Shared by the data modules; each loader process opens the HDF5 file itself.
    """

    batch_size: int
    num_workers: int
    train_set: Dataset
    val_set: Dataset | None
    test_sets: list[Dataset]
    _resume_epoch: int | None = None

    def _loader(self, dataset: Dataset, shuffle: bool = False, sampler: Sampler | None = None) -> DataLoader:
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle, sampler=sampler,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
                          pin_memory=torch.cuda.is_available(), collate_fn=collate)

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches of this process's share of the training split.

        The order depends on the seed (``seed_everything``) and the epoch only: P processes with
        batch size B see, step by step, the same samples as one process with batch size P * B.
        """
        ranks = _data_parallel_ranks(self)
        sampler: DistributedSampler = DistributedSampler(
            self.train_set, shuffle=True, seed=int(os.environ.get("PL_GLOBAL_SEED", 0)), **ranks)
        if self._resume_epoch is not None:
            # a resumed run creates (and, with worker processes, fills) its first iterator before Lightning sets
            # the epoch: it must already be the epoch the run resumes with
            sampler.set_epoch(self._resume_epoch)
            self._resume_epoch = None
        return self._loader(self.train_set, sampler=sampler)

    def state_dict(self) -> dict[str, Any]:
        """The epoch a run resumed from this checkpoint starts with (its training order depends on it)."""
        trainer = self.trainer
        return {} if trainer is None else {"epoch": trainer.fit_loop.epoch_progress.current.processed}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._resume_epoch = state_dict.get("epoch")

    def val_dataloader(self) -> DataLoader | list:
        return self._loader(self.val_set, shuffle=False) if self.val_set is not None else []

    def test_dataloader(self) -> list[DataLoader]:
        return [self._loader(ds, shuffle=False) for ds in self.test_sets]

    def predict_dataloader(self) -> list[DataLoader]:
        return self.test_dataloader()


class OperatorDataModule(SplitLoaders, L.LightningDataModule):
    """Train / val / test loaders over a neurops ``operator`` file.

    Every split named ``test`` or ``test@...`` becomes one test dataloader; its metrics are
    named by the split's resolution (``test/rel_l2@64``), see :attr:`test_tags`.

    Parameters
    ----------
    path : HDF5 file (kind ``operator``), or a folder or list of files holding one data set
        (e.g. the shards of ``neurops data generate --shard I/N``), read as one.
    batch_size : training batch size (evaluation uses the same).
    num_workers : DataLoader worker processes (each opens the file itself).
    input_fields, output_fields : fields to stack as channels (default: all).
    train_split, val_split : split names; ``val_split=None`` skips validation. A file without
        ``val_split`` can be tested and predicted on; ``fit`` and ``validate`` then stop with one
        error naming ``--data.val_split null``.
    test_splits : test split names (default: every ``test*`` split, training resolution first).
    train_strides : multi-resolution training: each training batch keeps every ``s``-th grid
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
        attrs = read_attrs(self.path)
        if attrs["kind"] != self.kind:
            raise DataError(f"{self.path} holds {attrs['kind']!r} data; {self.kind_hint}.")
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
        self.attrs = attrs
        #: the file's metadata (dims, boundary conditions, parameters, ...)
        self.meta = DatasetMeta.from_attrs(attrs)
        self.train_set = self._dataset(train_split, train=True)
        self.val_set = self._dataset(val_split) if val_split else None
        self.test_sets = [self._dataset(s) for s in self.test_splits]
        self.train_strides = self._check_strides(train_strides)

    def setup(self, stage: str) -> None:
        if self.missing_val_split and stage in ("fit", "validate"):
            raise DataError(f"{self.path} has no validation split {self.missing_val_split!r} (it has "
                            f"{list_splits(self.path)}); train without validation with --data.val_split "
                            "null, or write a 'val' split (neurops data generate --n-val N).")

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
        return H5OperatorDataset(self.path, split, self.input_fields, self.output_fields)

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
    path : HDF5 file (kind ``trajectory``), or a folder or list of files holding one data set.
    t_in, t_out : input and target frames per sample (FNO/LSM: 10, 10; MgNO: 1, 10).
    batch_size, num_workers : loader settings.
    fields : state fields (default: all).
    train_split, val_split, test_splits : split names, as in ``OperatorDataModule``.
    start, window_stride, time_stride : window placement (see :func:`window_starts`);
        ``window_stride`` applies to the training split only, evaluation uses one
        window per trajectory starting at ``start``.
    max_train_trajectories : use only the first trajectories of the training split.
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
        self.t_in, self.t_out, self.fields = t_in, t_out, fields
        self._window = dict(start=start, time_stride=time_stride)
        self._train_window = dict(window_stride=window_stride, max_trajectories=max_train_trajectories)
        super().__init__(path, batch_size=batch_size, num_workers=num_workers, train_split=train_split,
                         val_split=val_split, test_splits=test_splits)

    def _dataset(self, split: str, train: bool = False) -> H5RolloutDataset:
        extra = self._train_window if train else {}
        return H5RolloutDataset(self.path, split, self.t_in, self.t_out, fields=self.fields, **self._window, **extra)

    @property
    def n_fields(self) -> int:
        """F, state fields per frame."""
        return self.train_set.n_fields


class GenerativeDataModule(SplitLoaders, L.LightningDataModule):
    """Unlabelled training coefficients and labelled evaluation pairs, from one or two files.

    Parameters
    ----------
    train_path : file whose ``train_split`` provides the coefficient field (kind
        ``input_only`` or ``operator``; outputs, if any, are passed on as labels ``y``).
    eval_path : ``operator`` file with labelled ``val_split`` / ``test*`` splits
        (default: ``train_path``).
    batch_size : batch size of all loaders.
    num_workers : DataLoader worker processes.
    input_field, output_field : names of the coefficient and solution fields.
    train_split, val_split : split names (``val_split=None`` skips validation).
    test_splits : test split names of ``eval_path`` (default: every ``test*`` split).
    """

    def __init__(self, train_path: str | os.PathLike, eval_path: str | os.PathLike | None = None,
                 batch_size: int = 25, num_workers: int = 0, input_field: str = "a", output_field: str = "u",
                 train_split: str = "train", val_split: str | None = "val",
                 test_splits: list[str] | None = None) -> None:
        super().__init__()
        check_loader_options(batch_size, num_workers)
        self.train_path = Path(train_path)
        self.eval_path = Path(eval_path) if eval_path is not None else self.train_path
        self.batch_size, self.num_workers = batch_size, num_workers
        train_kind = read_attrs(self.train_path)["kind"]
        outputs = [output_field] if train_kind == "operator" else None
        self.train_set = H5OperatorDataset(self.train_path, train_split, [input_field], outputs)
        eval_splits = list_splits(self.eval_path)
        wanted = [s for s in [val_split, *(test_splits or [])] if s is not None]
        missing = [s for s in wanted if s not in eval_splits]
        if missing:
            raise DataError(f"{self.eval_path} has no split(s) {missing}; it has {eval_splits}. Pass "
                            "eval_path= a labelled file (neurops data generate darcy ...) or fix the split names.")
        if read_attrs(self.eval_path)["kind"] != "operator" and (val_split or test_splits):
            raise DataError(f"{self.eval_path} has no labels (kind {read_attrs(self.eval_path)['kind']!r}); "
                            "validation and tests need an 'operator' file: pass eval_path=.")
        self.val_set = (H5OperatorDataset(self.eval_path, val_split, [input_field], [output_field])
                        if val_split else None)
        names = test_splits if test_splits is not None else sorted(
            (s for s in eval_splits if is_test_split(s)), key=lambda s: (s != "test", s))
        self.test_splits = names
        self.test_sets = [H5OperatorDataset(self.eval_path, s, [input_field], [output_field]) for s in names]

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return tuple(self.train_set.spatial_shape)

    @property
    def test_tags(self) -> list[str]:
        """Metric suffix of each test loader: its resolution, unique per loader."""
        tags = [resolution_tag(ds.spatial_shape) for ds in self.test_sets]
        return [t if tags.count(t) == 1 else f"{t}_{s}" for t, s in zip(tags, self.test_splits)]


class DynamicsDataModule(L.LightningDataModule):
    """Random training windows and whole validation series from a neurops trajectory file.

    Checkpoints are chosen on the validation series, so a ``test`` split never validates:
    a file without ``val`` is refused unless ``val_from_train`` carves a validation block
    from the end of every training trajectory.

    Parameters
    ----------
    path : HDF5 file of kind ``trajectory`` (``neurops data generate lorenz63`` or
        ``neurops data import-series``).
    seq_len : window length T~ (each window holds ``T~ + 1`` points: an initial one and
        T~ targets).
    batch_size : windows per batch.
    batches_per_epoch : batches per training epoch.
    field : the state field to read (default: the file's only field).
    train_split, val_split : split names; ``val_split=None`` skips validation. A test
        split (``test``, ``test@...``) is refused as ``val_split``.
    val_from_train : validate on the last ``val_from_train`` fraction of every training
        trajectory (contiguous in time) and train on the rest, for files without a ``val``
        split; ``None`` (default) uses ``val_split``.
    val_length : validation series are cut to their first ``val_length`` points.
    seed : seed of the window positions (default: the run's seed, ``PL_GLOBAL_SEED``, which
        ``seed_everything`` sets; else 0).
    num_workers : DataLoader workers (the data is held in memory; 0 is usually fastest).

    Attributes
    ----------
    member_seeds : set by an ensemble :class:`~neurops.tasks.dynamics.DynamicsTask` (its ``seeds``):
        every batch then holds ``R * batch_size`` windows, member ``r``'s ``batch_size`` windows
        drawn with seed ``member_seeds[r]`` (:class:`~neurops.data.windows.MemberWindowSampler`),
        so member ``r`` trains on the windows of a single run with that seed.
    """

    def __init__(self, path: str | os.PathLike, seq_len: int = 200, batch_size: int = 16,
                 batches_per_epoch: int = 50, field: str | None = None, train_split: str = "train",
                 val_split: str | None = "val", val_from_train: float | None = None,
                 val_length: int | None = 10_000, seed: int | None = None, num_workers: int = 0) -> None:
        super().__init__()
        self.path = Path(path)
        self.attrs: dict[str, Any] = read_attrs(self.path)
        if self.attrs["kind"] != "trajectory":
            raise DataError(f"{self.path} holds {self.attrs['kind']!r} data; dynamics reconstruction needs a "
                            "'trajectory' file (see `neurops data generate lorenz63` or `neurops data "
                            "import-series`).")
        splits = list_splits(self.path)
        if val_from_train is not None:
            if not 0.0 < val_from_train < 1.0:
                raise DataError(f"val_from_train is the fraction of the training series held out for validation "
                                f"and must lie in (0, 1), got {val_from_train}.")
            val_split = None
        elif val_split is not None and is_test_split(val_split):
            raise DataError(f"val_split={val_split!r} is a test split: checkpoints chosen on it would be judged on "
                            "the data they were chosen by. Validate on a 'val' split (`neurops data import-series "
                            "--val-fraction`) or carve one from train with val_from_train=FRACTION "
                            "(--data.val_from_train 0.1).")
        elif val_split is not None and val_split not in splits:
            raise DataError(f"{self.path} has no validation split {val_split!r} (it has {splits}); checkpoints are "
                            "never chosen on a test split. Re-import with `neurops data import-series "
                            "--val-fraction 0.1`, or carve a validation block from the end of the training series "
                            "with val_from_train=0.1 (--data.val_from_train 0.1), or skip validation with "
                            "val_split=None.")
        if train_split not in splits:
            raise DataError(f"{self.path} has no split {train_split!r}; it has {splits}.")
        if seq_len < 1 or batch_size < 1 or batches_per_epoch < 1:
            raise DataError(f"seq_len, batch_size and batches_per_epoch must be >= 1; got {seq_len}, "
                            f"{batch_size}, {batches_per_epoch}.")
        self.seq_len, self.batch_size, self.batches_per_epoch = seq_len, batch_size, batches_per_epoch
        self.train_split, self.val_split, self.val_length = train_split, val_split, val_length
        self.val_from_train = val_from_train
        self.seed = int(os.environ.get("PL_GLOBAL_SEED", 0)) if seed is None else seed  # the run's seed
        self.num_workers = num_workers
        self.member_seeds: list[int] | None = None
        self._samplers: list[RandomWindowSampler] = []
        self._windows_state: list[torch.Tensor] | None = None
        train = read_split(self.path, train_split)
        self.field = self._pick_field(train["states"], field)
        self.train_series = self._series(train["states"][self.field], train_split)
        time = train["time"]
        self.dt = float(time[1] - time[0]) if time is not None and len(time) > 1 else 1.0
        self.val_series = None
        if val_from_train is not None:
            n_val = int(round(val_from_train * self.train_series.shape[1]))
            if n_val < 2:
                raise DataError(f"val_from_train={val_from_train} of {self.train_series.shape[1]} training steps "
                                "leaves fewer than 2 validation points; use a larger fraction.")
            self.train_series, self.val_series = (self.train_series[:, :-n_val],
                                                  self.train_series[:, -n_val:])
        elif val_split is not None:
            self.val_series = self._series(read_split(self.path, val_split)["states"][self.field], val_split)
        if self.val_series is not None and val_length:
            self.val_series = self.val_series[:, :val_length]
        if self.train_series.shape[1] < seq_len + 1:
            raise DataError(f"split {train_split!r} has series of {self.train_series.shape[1]} steps"
                            f"{' after holding out val_from_train' if val_from_train else ''}, shorter than a "
                            f"window of seq_len + 1 = {seq_len + 1}; lower seq_len.")

    def _pick_field(self, states: dict[str, np.ndarray], field: str | None) -> str:
        if field is None:
            if len(states) != 1:
                raise DataError(f"{self.path} has state fields {sorted(states)}; choose one with field=NAME.")
            return next(iter(states))
        if field not in states:
            raise DataError(f"{self.path} has no state field {field!r}; it has {sorted(states)}.")
        return field

    def _series(self, arr: np.ndarray, split: str) -> np.ndarray:
        """Trajectories as ``[S, T, N]`` (spatial fields are flattened into N)."""
        arr = np.asarray(arr, dtype=np.float32)
        arr = arr.reshape(arr.shape[0], arr.shape[1], -1)
        if not np.isfinite(arr).all():
            raise DataError(f"{self.path} split {split!r} has NaN or Inf values; run `neurops data check "
                            f"{self.path}`.")
        return arr

    @property
    def obs_dim(self) -> int:
        """Number of observed variables N."""
        return int(self.train_series.shape[-1])

    def train_dataloader(self) -> DataLoader:
        seeds = self.member_seeds or [self.seed]
        self._samplers = [RandomWindowSampler(self.train_series.shape[0], self.train_series.shape[1],
                                              self.seq_len + 1, self.batch_size * self.batches_per_epoch, seed)
                          for seed in seeds]
        if self._windows_state is not None:  # resuming: continue the window draws where the checkpoint left them
            if len(self._windows_state) != len(seeds):
                raise DataError(f"the checkpoint holds the window draws of {len(self._windows_state)} member(s), "
                                f"this run has {len(seeds)}; resume with the run's own settings.")
            for sampler, state in zip(self._samplers, self._windows_state):
                sampler.generator.set_state(state)
            self._windows_state = None
        windows: RandomWindowSampler | MemberWindowSampler = (
            self._samplers[0] if self.member_seeds is None else MemberWindowSampler(self._samplers, self.batch_size))
        return DataLoader(WindowDataset(self.train_series, self.seq_len + 1),
                          batch_size=self.batch_size * len(seeds), sampler=windows, num_workers=self.num_workers)

    def state_dict(self) -> dict[str, Any]:
        """The state of the window draws (saved in checkpoints, so a resumed run draws the same windows)."""
        return {"windows": [s.generator.get_state() for s in self._samplers]} if self._samplers else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = state_dict.get("windows")
        self._windows_state = [state] if isinstance(state, torch.Tensor) else state

    def val_dataloader(self) -> DataLoader | list:
        if self.val_series is None:
            return []
        series = torch.as_tensor(self.val_series)
        return DataLoader([{"x": s} for s in series], batch_size=1)


class _RitzBatches(Sampler):
    """Batches ``[(k, i), ...]`` of a DCDM step: ``batch_size`` right-hand sides, drawn with replacement
    from the pool of matrix ``k``, the matrices in turn (``k = step mod M``)."""

    def __init__(self, n_matrices: int, pool_size: int, batch_size: int, steps: int, seed: int) -> None:
        self.n_matrices, self.pool_size, self.batch_size, self.steps = n_matrices, pool_size, batch_size, steps
        self.generator = torch.Generator().manual_seed(seed)
        self.step = 0  # steps drawn so far, over all epochs

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for _ in range(self.steps):
            k = self.step % self.n_matrices
            self.step += 1
            draws = torch.randint(0, self.pool_size, (self.batch_size,), generator=self.generator, device="cpu")
            yield [(k, i) for i in draws.tolist()]


class _RitzPools(Dataset):
    """``{"b": [*shape], "matrix": k}`` for index ``(k, i)``: right-hand side ``i`` of matrix ``k``'s pool."""

    def __init__(self, pools: list[torch.Tensor]) -> None:
        self.pools = pools

    def __len__(self) -> int:
        return sum(len(p) for p in self.pools)

    def __getitem__(self, index: tuple[int, int]) -> dict[str, Any]:
        k, i = index
        return {"b": self.pools[k][i], "matrix": k}


class DCDMDataModule(L.LightningDataModule):
    """Right-hand sides for training a DCDM network without labels (:class:`~neurops.tasks.dcdm.DCDMTask`).

    The training matrices are diffusion operators ``-div(a grad u)`` with ``u = 0`` on the
    boundary, one per coefficient field ``a`` (node grid). For each, ``num_ritz`` Lanczos steps
    give Ritz vectors, and the pool holds ``num_rhs`` random combinations of them with the low
    modes boosted, of unit norm [1]_. Each training step takes ``batch_size`` right-hand sides
    of one matrix, the matrices in turn.

    Parameters
    ----------
    coefficients : ``[M, *nodes]`` coefficient fields, or a neurops HDF5 file whose input
        ``field`` of ``split`` holds them (its first ``n_matrices`` samples).
    field, split, n_matrices : where the coefficients are in a file.
    num_ritz : Lanczos steps per matrix (the paper uses up to 10 000).
    num_rhs : right-hand sides in the pool of each matrix.
    batch_size : right-hand sides per step.
    steps_per_epoch : optimizer steps per epoch.
    seed : seeds the Lanczos start vectors, the pools and the draws (default: the run's seed,
        ``PL_GLOBAL_SEED``, which ``seed_everything`` sets; else 0).

    References
    ----------
    .. [1] A. Kaneda et al., "A deep conjugate direction method for iteratively solving linear
       systems", ICML 2023, section 3.3.
    """

    def __init__(self, coefficients: str | os.PathLike | torch.Tensor, field: str = "a", split: str = "train",
                 n_matrices: int = 1, num_ritz: int = 200, num_rhs: int = 2000, batch_size: int = 10,
                 steps_per_epoch: int = 100, seed: int | None = None) -> None:
        super().__init__()
        if min(n_matrices, num_ritz, num_rhs, batch_size, steps_per_epoch) < 1:
            raise DataError(f"n_matrices, num_ritz, num_rhs, batch_size and steps_per_epoch must be >= 1; got "
                            f"{n_matrices}, {num_ritz}, {num_rhs}, {batch_size}, {steps_per_epoch}.")
        if isinstance(coefficients, torch.Tensor):
            a = coefficients
        else:
            inputs = read_split(coefficients, split)["inputs"]
            if field not in inputs:
                raise DataError(f"{coefficients} split {split!r} has no input field {field!r}; it has "
                                f"{sorted(inputs)}.")
            a = torch.as_tensor(np.asarray(inputs[field][:n_matrices], dtype=np.float64))
        if a.ndim < 2 or not torch.isfinite(a).all() or bool((a <= 0).any()):
            raise DataError(f"the coefficients must be positive finite fields [M, *nodes]; got shape {tuple(a.shape)}.")
        self.operator = DiffusionOperator.from_coefficient(a.to(torch.float64))
        self.num_ritz, self.num_rhs, self.batch_size = num_ritz, num_rhs, batch_size
        self.steps_per_epoch = steps_per_epoch
        self.seed = int(os.environ.get("PL_GLOBAL_SEED", 0)) if seed is None else seed
        self.pools: list[torch.Tensor] = []
        self.ritz_count = 0
        self._batches: _RitzBatches | None = None
        self._batches_state: dict[str, Any] | None = None

    @property
    def dim(self) -> int:
        """Spatial dimension of the matrices' grids."""
        return len(self.operator.shape)

    def setup(self, stage: str) -> None:
        if self.pools:
            return
        for i in range(self.operator.batch_size):  # Lanczos and pools, seeded per matrix as in the paper's recipe
            single = self.operator.select(i)
            values, vectors = ritz_vectors(single, min(self.num_ritz, single.numel), seed=self.seed + 7 * i)
            self.ritz_count += values.numel()
            self.pools.append(ritz_right_hand_sides(values, vectors, self.num_rhs, seed=self.seed + 7 * i + 1))

    def train_dataloader(self) -> DataLoader:
        self.setup("fit")
        batches = _RitzBatches(len(self.pools), self.num_rhs, self.batch_size, self.steps_per_epoch, self.seed + 2)
        if self._batches_state is not None:  # resuming: continue the draws where the checkpoint left them
            batches.generator.set_state(self._batches_state["generator"])
            batches.step = self._batches_state["step"]
            self._batches_state = None
        self._batches = batches
        return DataLoader(_RitzPools(self.pools), batch_sampler=batches)

    def state_dict(self) -> dict[str, Any]:
        """The state of the right-hand-side draws (saved in checkpoints)."""
        return {} if self._batches is None else {"generator": self._batches.generator.get_state(),
                                                 "step": self._batches.step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._batches_state = state_dict or None
