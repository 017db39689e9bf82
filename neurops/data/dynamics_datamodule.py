"""LightningDataModule for dynamical-systems reconstruction: random windows from long series.

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

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from neurops.data.reader import list_splits, read_attrs, read_split
from neurops.errors import DataError


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


class DynamicsDataModule(L.LightningDataModule):
    """Random training windows and whole validation series from a neurops trajectory file.

    Parameters
    ----------
    path : HDF5 file of kind ``trajectory`` (``neurops data generate lorenz63`` or
        ``neurops data import-series``).
    seq_len : window length T~ (each window holds ``T~ + 1`` points: an initial one and
        T~ targets).
    batch_size : windows per batch.
    batches_per_epoch : batches per training epoch.
    field : the state field to read (default: the file's only field).
    train_split, val_split : split names; ``val_split=None`` skips validation
        (default ``"val"``, or ``"test"`` if the file has no ``val``).
    val_length : validation series are cut to their first ``val_length`` points.
    seed : seed of the window positions.
    num_workers : DataLoader workers (the data is held in memory; 0 is usually fastest).
    """

    def __init__(self, path: str | os.PathLike, seq_len: int = 200, batch_size: int = 16,
                 batches_per_epoch: int = 50, field: str | None = None, train_split: str = "train",
                 val_split: str | None = "val", val_length: int | None = 10_000, seed: int = 0,
                 num_workers: int = 0) -> None:
        super().__init__()
        self.path = Path(path)
        self.attrs: dict[str, Any] = read_attrs(self.path)
        if self.attrs["kind"] != "trajectory":
            raise DataError(f"{self.path} holds {self.attrs['kind']!r} data; dynamics reconstruction needs a "
                            "'trajectory' file (see `neurops data generate lorenz63` or `neurops data "
                            "import-series`).")
        splits = list_splits(self.path)
        if val_split == "val" and "val" not in splits:
            val_split = "test" if "test" in splits else None
        for s in (train_split, val_split):
            if s is not None and s not in splits:
                raise DataError(f"{self.path} has no split {s!r}; it has {splits}.")
        if seq_len < 1 or batch_size < 1 or batches_per_epoch < 1:
            raise DataError(f"seq_len, batch_size and batches_per_epoch must be >= 1; got {seq_len}, "
                            f"{batch_size}, {batches_per_epoch}.")
        self.seq_len, self.batch_size, self.batches_per_epoch = seq_len, batch_size, batches_per_epoch
        self.train_split, self.val_split, self.val_length = train_split, val_split, val_length
        self.seed, self.num_workers = seed, num_workers
        train = read_split(self.path, train_split)
        self.field = self._pick_field(train["states"], field)
        self.train_series = self._series(train["states"][self.field], train_split)
        if self.train_series.shape[1] < seq_len + 1:
            raise DataError(f"split {train_split!r} has series of {self.train_series.shape[1]} steps, shorter "
                            f"than a window of seq_len + 1 = {seq_len + 1}; lower seq_len.")
        time = train["time"]
        self.dt = float(time[1] - time[0]) if time is not None and len(time) > 1 else 1.0
        self.val_series = None
        if val_split is not None:
            val = self._series(read_split(self.path, val_split)["states"][self.field], val_split)
            self.val_series = val[:, :val_length] if val_length else val

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
        sampler = RandomWindowSampler(self.train_series.shape[0], self.train_series.shape[1], self.seq_len + 1,
                                      self.batch_size * self.batches_per_epoch, self.seed)
        return DataLoader(WindowDataset(self.train_series, self.seq_len + 1), batch_size=self.batch_size,
                          sampler=sampler, num_workers=self.num_workers)

    def val_dataloader(self) -> DataLoader | list:
        if self.val_series is None:
            return []
        series = torch.as_tensor(self.val_series)
        return DataLoader([{"x": s} for s in series], batch_size=1)


__all__ = ["DynamicsDataModule", "RandomWindowSampler", "WindowDataset"]
