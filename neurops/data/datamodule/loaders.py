"""What the data modules share: checks of the loader options, the data-parallel ranks of a process, and
the train / val / test DataLoaders over split datasets (:class:`SplitLoaders`)."""

from __future__ import annotations

import os
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from neurops.data.reader import collate
from neurops.errors import DataError


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


__all__ = ["SplitLoaders", "check_loader_options"]
