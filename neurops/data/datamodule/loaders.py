"""What the data modules share: checks of the loader options, the data-parallel ranks of a process, the
sampler of a validation or test split (:func:`evaluation_sampler`), and the train / val / test DataLoaders over
split datasets (:class:`SplitLoaders`)."""

from __future__ import annotations

import math
import os
from collections.abc import Sized
from typing import Any

import lightning as L
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, SequentialSampler

from neurops.data.reader import collate
from neurops.errors import DataError, NeuropsWarning


def _data_parallel_ranks(module: L.LightningDataModule) -> dict[str, int]:
    """``{"num_replicas", "rank"}`` of this process among the data-parallel processes (1, 0 without a trainer)."""
    kwargs = module.trainer.distributed_sampler_kwargs if module.trainer is not None else None
    return {"num_replicas": kwargs["num_replicas"], "rank": kwargs["rank"]} if kwargs else {"num_replicas": 1,
                                                                                              "rank": 0}


def evaluation_sampler(module: L.LightningDataModule, dataset: Sized, batch_size: int, what: str) -> Sampler:
    """The sampler of a validation or test split ``dataset`` (``what`` names it in the warning) in this process.

    One process: the split in order. Several (DDP, FSDP): every sample once, in uneven shards (process ``r`` takes
    samples ``r, r + P, ...``; Lightning's ``UnrepeatedDistributedSampler``). Lightning leaves a sampler that is a
    ``DistributedSampler`` alone; its own for evaluation pads the split to a multiple of P with repeated samples,
    which the metrics then count twice. The metrics are means weighted by the batch sizes, summed over the
    processes (:meth:`~neurops.tasks.base.Task.log_mean`): the value of one process.

    Uneven shards need every process to hold at least one sample, and, for strategies other than DDP, the same
    number of batches in every process (FSDP may gather parameters at every forward, a collective: its inner
    wrapped units do; the root unit of Lightning's default wrapping keeps them gathered after the first). Where
    that does not hold, the split is padded as Lightning pads it, with a warning naming the split and the fix
    (none where the padding repeats every sample as often: one validation series in 2 processes).
    """
    trainer = module.trainer
    ranks = _data_parallel_ranks(module)
    world, size = ranks["num_replicas"], len(dataset)
    if world == 1:
        return SequentialSampler(dataset)  # type: ignore[arg-type]
    shards = [len(range(rank, size, world)) for rank in range(world)]
    equal = len({math.ceil(n / batch_size) for n in shards}) == 1
    if min(shards) >= 1 and (equal or isinstance(trainer.strategy, DDPStrategy)):
        return UnrepeatedDistributedSampler(dataset, shuffle=False, **ranks)
    if size and (-size % world) % size:  # some samples are repeated, not all as often (all as often: exact)
        _warn_repeats(what, size, world, type(trainer.strategy).__name__, min(shards) == 0)
    return DistributedSampler(dataset, shuffle=False, **ranks)


def _warn_repeats(what: str, size: int, world: int, strategy: str, empty: bool) -> None:
    why, fix = (("a process would have none", f"evaluate on {size} device(s) or fewer (--trainer.devices {size})")
                if empty else
                ("the processes would run unequal numbers of batches", "use a --data.batch_size that gives every "
                 "process as many batches, or --trainer.strategy ddp, or evaluate on one device (--trainer.devices 1)"))
    rank_zero_warn(f"{what}: its {size} sample(s) cannot be dealt to {world} {strategy} processes without repeating "
                   f"some ({why}), so it is padded with {-size % world} repeated sample(s), which weigh more than the "
                   f"others in its metrics; {fix}.", category=NeuropsWarning)


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

    #: whether the run tests after fitting (``neurops fit`` sets it from ``--test_after_fit``): the scan at fit
    #: setup then covers the test splits too (:meth:`check_values`)
    test_after_fit: bool = True

    def check_values(self, stage: str) -> None:
        """At ``fit`` setup: refuse NaN/Inf in the validation and test splits the run will read, before its first
        step, with one :class:`DataError` naming the file, split, field, samples and fixes.

        Without it a bad validation sample stops the run at the first validation that reads it, a bad test sample
        after the whole training. The training split is not scanned here (every batch is checked as it is read,
        :class:`~neurops.data.reader.H5OperatorDataset`). Cost: at most one extra pass over val + test, streamed a
        block at a time (``neurops data check``'s scan, :meth:`~neurops.data.reader.H5SplitDataset.value_problems`),
        stopping at the first split with a bad value.

        Under DDP every process runs ``setup``: global rank zero alone scans (P processes would read the same
        splits P times), and broadcasts what it found, so that every process raises the same error before the
        first step (a process that went on would wait for the others forever). If the scan itself fails on rank
        zero (an unreadable block), rank zero raises that error and the others a DataError with its text.
        """
        if stage != "fit":
            return
        datasets = ([self.val_set] if self.val_set is not None else []) + (
            list(self.test_sets) if self.test_after_fit else [])
        trainer = getattr(self, "trainer", None)
        problem, failure = None, None
        if trainer is None or trainer.is_global_zero:
            try:
                problem = _first_value_problem(datasets, self.val_set)
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the other processes were told
                problem, failure = f"the scan of the validation and test splits for NaN/Inf failed: {exc}", exc
        if trainer is not None:
            problem = trainer.strategy.broadcast(problem, src=0)
        if failure is not None:
            raise failure
        if problem:
            raise DataError(problem)

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

    def _evaluation_loader(self, dataset: Dataset, role: str) -> DataLoader:
        what = f"the {role} split {getattr(dataset, 'split', '')!r}"
        return self._loader(dataset, sampler=evaluation_sampler(self, dataset, self.batch_size, what))  # type: ignore

    def val_dataloader(self) -> DataLoader | list:
        """Batches of the validation split, every sample once over the processes (:func:`evaluation_sampler`)."""
        return self._evaluation_loader(self.val_set, "validation") if self.val_set is not None else []

    def test_dataloader(self) -> list[DataLoader]:
        """Batches of each test split, every sample once over the processes (:func:`evaluation_sampler`)."""
        return [self._evaluation_loader(ds, "test") for ds in self.test_sets]

    def predict_dataloader(self) -> list[DataLoader]:
        return self.test_dataloader()


def _first_value_problem(datasets: list[Any], val_set: Any) -> str | None:
    """The error line of the first of ``datasets`` (split datasets) holding NaN/Inf in what it reads, or ``None``."""
    for ds in datasets:
        found = ds.value_problems()
        if not found:
            continue
        path = found[0][0]
        shown = [p for q, p in found if q == path]
        fields = "; ".join(shown[:3]) + (f"; and {len(shown) - 3} more" if len(shown) > 3 else "")
        role, leave_out = (("validation", "--data.val_split null") if ds is val_set else
                           ("test", f"--data.test_splits without {ds.split!r}, or --test_after_fit false"))
        return (f"{path}: the {role} split {ds.split!r} holds NaN/Inf values ({fields}), found before training; fix "
                f"or drop those samples at their source, or leave the split out ({leave_out}); `neurops data check "
                f"{path}` lists every field with NaN/Inf.")
    return None


__all__ = ["SplitLoaders", "check_loader_options", "evaluation_sampler"]
