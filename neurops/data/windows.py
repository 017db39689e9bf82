"""Random windows from long series for dynamical-systems reconstruction (dataset + sampler).

Used by :class:`neurops.data.datamodule.DynamicsDataModule`.

Training batches are windows ``[B, T~ + 1, N]`` cut at uniformly random positions (with
replacement) from the trajectories of the train split, a fresh set every epoch; validation
yields whole series ``[1, T, N]`` of the validation split, on which a task runs the model
freely and compares the statistics (D_stsp, D_H).

References
----------
.. [1] Hess, F. et al. (2023). Generalized teacher forcing for learning chaotic dynamics.
   ICML 2023 (windows of T~ = 200 sampled uniformly, 50 batches of 16 per epoch).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler


class WindowDataset(Dataset):
    """Windows ``{"x": float32 [length, N]}`` of in-memory series ``[S, T, N]``, indexed by ``(s, start)``."""

    def __init__(self, series: np.ndarray, length: int) -> None:
        self.series = torch.as_tensor(np.asarray(series, dtype=np.float32))
        self.length = length

    def __len__(self) -> int:
        return self.series.shape[0] * (self.series.shape[1] - self.length + 1)

    def __getitem__(self, index: tuple[int, int]) -> dict[str, torch.Tensor]:
        s, start = index
        return {"x": self.series[s, start: start + self.length]}


class RandomWindowSampler(Sampler):
    """Draws ``n_windows`` ``(series, start)`` pairs uniformly with replacement, anew each epoch.

    The draws come from one generator seeded with ``seed``: the same seed gives the same
    sequence of epochs.
    """

    def __init__(self, n_series: int, n_steps: int, length: int, n_windows: int, seed: int = 0) -> None:
        self.n_series, self.n_starts, self.n_windows = n_series, n_steps - length + 1, n_windows
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.n_windows

    def __iter__(self) -> Iterator[tuple[int, int]]:
        s = torch.randint(self.n_series, (self.n_windows,), generator=self.generator)
        t = torch.randint(self.n_starts, (self.n_windows,), generator=self.generator)
        return iter(zip(s.tolist(), t.tolist()))


class MemberWindowSampler(Sampler):
    """The windows of R ensemble members, each drawn by its own :class:`RandomWindowSampler`.

    Batch ``k`` (of ``R * batch_size`` windows) holds member 0's windows ``k B .. (k+1) B - 1``,
    then member 1's, ...: reshaped to ``[R, B, T~ + 1, N]``, member ``r`` sees exactly the
    batches a single run with its sampler's seed sees.

    Parameters
    ----------
    samplers : one sampler per member (the same ``n_windows`` each).
    batch_size : windows per member and batch (B).
    members : yield only these members' windows (a process's share when an ensemble's members are spread over
        DDP processes, :mod:`neurops.tasks.member_shards`); every sampler still draws, so all processes hold
        the same generator states. ``None``: all members.
    """

    def __init__(self, samplers: list[RandomWindowSampler], batch_size: int, members: range | None = None) -> None:
        if len({len(s) for s in samplers}) != 1:
            raise ValueError("member samplers must draw the same number of windows.")
        self.samplers, self.batch_size = samplers, batch_size
        self.members = range(len(samplers)) if members is None else members

    def __len__(self) -> int:
        return len(self.members) * len(self.samplers[0])

    def __iter__(self) -> Iterator[tuple[int, int]]:
        draws = [list(s) for s in self.samplers]
        for lo in range(0, len(draws[0]), self.batch_size):
            for r in self.members:
                yield from draws[r][lo: lo + self.batch_size]


class OnEveryProcess(DistributedSampler):
    """All of ``sampler`` on every process: Lightning splits a plain sampler over DDP processes but leaves a
    :class:`~torch.utils.data.DistributedSampler` alone. For data each process must see whole (the windows of
    its own ensemble members, every validation series)."""

    def __init__(self, sampler: Sampler) -> None:  # no super().__init__: nothing is split
        self.sampler, self.epoch = sampler, 0
        # what a DistributedSampler reports, read as "one replica of everything"
        self.num_replicas, self.rank, self.shuffle, self.drop_last = 1, 0, False, False

    def __len__(self) -> int:
        return len(self.sampler)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator:
        return iter(self.sampler)


class ProcessShare(DistributedSampler):
    """Process ``rank``'s share of every global batch of ``sampler``'s draws: global batch ``k`` is the
    ``num_replicas * batch_size`` draws from ``k num_replicas batch_size`` on, of which process ``w`` takes block
    ``w`` of ``batch_size``. P processes with batch size B thus see, step by step, the windows one process sees
    with batch size P * B, and DDP's average of their gradients is that batch's. Lightning leaves a
    :class:`~torch.utils.data.DistributedSampler` alone (its own would shuffle the draws over the processes)."""

    def __init__(self, sampler: Sampler, batch_size: int, num_replicas: int, rank: int) -> None:
        self.sampler, self.batch_size, self.epoch = sampler, batch_size, 0  # no super().__init__: no dataset
        self.num_replicas, self.rank, self.shuffle, self.drop_last = num_replicas, rank, False, False

    def __len__(self) -> int:
        return len(self.sampler) // self.num_replicas  # type: ignore[arg-type]

    def __iter__(self) -> Iterator:
        draws, step = list(self.sampler), self.num_replicas * self.batch_size
        for lo in range(0, len(draws), step):
            yield from draws[lo + self.rank * self.batch_size: lo + (self.rank + 1) * self.batch_size]


__all__ = ["MemberWindowSampler", "OnEveryProcess", "ProcessShare", "RandomWindowSampler", "WindowDataset"]
