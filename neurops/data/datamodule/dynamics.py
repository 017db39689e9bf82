"""The data module of dynamical-systems reconstruction: random training windows of trajectories and whole
validation series."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader, Sampler, SequentialSampler
from typing_extensions import override

from neurops.data.datamodule.loaders import _data_parallel_ranks, evaluation_sampler
from neurops.data.reader import list_splits, read_meta, read_split
from neurops.data.schema import is_test_split
from neurops.data.windows import MemberWindowSampler, OnEveryProcess, ProcessShare, RandomWindowSampler, WindowDataset
from neurops.errors import DataError, NeuropsWarning
from neurops.utils.seeding import check_seed


class DynamicsDataModule(L.LightningDataModule):
    """Random training windows and whole validation series from a neurops trajectory file.

    Checkpoints are chosen on the validation series, so a ``test`` split never validates:
    a file without ``val`` is refused unless ``val_from_train`` carves a validation block
    from the end of every training trajectory.

    Parameters
    ----------
    path
        HDF5 file of kind ``trajectory`` (``neurops data generate lorenz63`` or
        ``neurops data import-series``).
    seq_len
        window length T~ (each window holds ``T~ + 1`` points: an initial one and
        T~ targets).
    batch_size
        windows per batch (of one process: under DDP, P processes with batch size B train, step by step, on the
        windows one process with batch size P * B trains on, :class:`~neurops.data.windows.ProcessShare`).
    batches_per_epoch
        batches (optimizer steps) per training epoch, in any number of processes.
    field
        the state field to read (default: the file's only field).
    train_split
        the split trained on.
    val_split
        the split that selects checkpoints; ``None`` skips validation. A test split (``test``,
        ``test@...``) is refused.
    val_from_train
        validate on the last ``val_from_train`` fraction of every training
        trajectory (contiguous in time) and train on the rest, for files without a ``val``
        split; ``None`` (default) uses ``val_split``.
    val_length
        validation series are cut to their first ``val_length`` points (>= 2; None: uncut).
    seed
        seed of the window positions, in ``[0, 2**32)`` (default: the run's seed, ``PL_GLOBAL_SEED``, which
        ``seed_everything`` sets; else 0).
    num_workers
        DataLoader workers (the data is held in memory; 0 is usually fastest).

    Attributes
    ----------
    member_seeds : set by an ensemble :class:`~neurops.tasks.dynamics.DynamicsTask` (its ``seeds``):
        every batch then holds ``R * batch_size`` windows, member ``r``'s ``batch_size`` windows
        drawn with seed ``member_seeds[r]`` (:class:`~neurops.data.windows.MemberWindowSampler`),
        so member ``r`` trains on the windows of a single run with that seed.
    member_shard : set with ``member_seeds`` when the ensemble's members are spread over DDP processes
        (:mod:`neurops.tasks.member_shards`): this process's batches hold only these members' windows, and
        every process validates on every validation series.
    """

    def __init__(self, path: str | os.PathLike, seq_len: int = 200, batch_size: int = 16,
                 batches_per_epoch: int = 50, field: str | None = None, train_split: str = "train",
                 val_split: str | None = "val", val_from_train: float | None = None,
                 val_length: int | None = 10_000, seed: int | None = None, num_workers: int = 0) -> None:
        super().__init__()
        # the window draws' seed, checked as --seed_everything is (torch's generator reads its lowest 32 bits only)
        self.seed = int(os.environ.get("PL_GLOBAL_SEED", 0)) if seed is None else check_seed(
            seed, "seed", "--data.seed", bits=32, note=" (it draws the training windows; null: the run's seed)")
        self.path = Path(path)
        #: the file's metadata (dims, parameters, the generator's settings, ...)
        self.meta = read_meta(self.path)
        if self.meta.kind != "trajectory":
            raise DataError(f"{self.path} holds {self.meta.kind!r} data; dynamics reconstruction needs a "
                            "'trajectory' file (see `neurops data generate lorenz63` or `neurops data "
                            "import-series`).")
        val_split = self._validation_split(val_split, val_from_train)
        if train_split not in list_splits(self.path):
            raise DataError(f"{self.path} has no split {train_split!r}; it has {list_splits(self.path)}.")
        if seq_len < 1 or batch_size < 1 or batches_per_epoch < 1:
            raise DataError(f"seq_len, batch_size and batches_per_epoch must be >= 1; got {seq_len}, "
                            f"{batch_size}, {batches_per_epoch}.")
        if val_length is not None and val_length < 2:
            raise DataError(f"val_length={val_length}: validation compares a series of that many points; use "
                            "val_length >= 2 (None: the whole validation series).")
        self.seq_len, self.batch_size, self.batches_per_epoch = seq_len, batch_size, batches_per_epoch
        self.train_split, self.val_split, self.val_length = train_split, val_split, val_length
        self.val_from_train = val_from_train
        self.num_workers = num_workers
        self.member_seeds: list[int] | None = None
        self.member_shard: range | None = None
        self._samplers: list[RandomWindowSampler] = []
        self._windows_state: list[torch.Tensor] | None = None
        train = read_split(self.path, train_split)
        self.field = self._pick_field(train["states"], field)
        self.train_series = self._series(train["states"][self.field])
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
            self.val_series = self._series(read_split(self.path, val_split)["states"][self.field])
        #: the points of each validation series before ``val_length`` cuts it
        self.val_points_read = None if self.val_series is None else self.val_series.shape[1]
        if self.val_series is not None and val_length is not None:  # >= 2, checked above
            self.val_series = self.val_series[:, :val_length]
        if self.train_series.shape[1] < seq_len + 1:
            raise DataError(f"split {train_split!r} has series of {self.train_series.shape[1]} steps"
                            f"{' after holding out val_from_train' if val_from_train else ''}, shorter than a "
                            f"window of seq_len + 1 = {seq_len + 1}; lower seq_len (`--data.seq_len "
                            f"{self.train_series.shape[1] - 1}` or less on the command line) or import a "
                            "longer series.")

    def _validation_split(self, val_split: str | None, val_from_train: float | None) -> str | None:
        """The split that validates (``None``: none, or a block carved from train); one error for a test split,
        a missing one or a fraction outside (0, 1)."""
        splits = list_splits(self.path)
        if val_from_train is not None:
            if not 0.0 < val_from_train < 1.0:
                raise DataError(f"val_from_train is the fraction of the training series held out for validation "
                                f"and must lie in (0, 1), got {val_from_train}.")
            return None
        if val_split is not None and is_test_split(val_split):
            raise DataError(f"val_split={val_split!r} is a test split: checkpoints chosen on it would be judged on "
                            "the data they were chosen by. Validate on a 'val' split (`neurops data import-series "
                            "--val-fraction`) or carve one from train with val_from_train=FRACTION "
                            "(--data.val_from_train 0.1).")
        if val_split is not None and val_split not in splits:
            raise DataError(f"{self.path} has no validation split {val_split!r} (it has {splits}); checkpoints are "
                            "never chosen on a test split. Re-import with `neurops data import-series "
                            "--val-fraction 0.1`, or carve a validation block from the end of the training series "
                            "with val_from_train=0.1 (--data.val_from_train 0.1), or skip validation with "
                            "val_split=None.")
        return val_split

    def check_val_spectrum(self, smoothing: float, shortest: int, fraction: float) -> None:
        """One :class:`~neurops.errors.NeuropsWarning` if the validation series are too short for ``val/d_h`` with
        spectra smoothed over ``smoothing`` frequency bins: shorter than ``shortest`` points, where the smoothing
        exceeds ``fraction`` of their frequency bins (the rule of ``neurops dsr evaluate``'s notes,
        :func:`neurops.metrics.spectra.smoothing_blurs`, which the task passes in: the data layer is below it)."""
        if self.val_series is None or (t := self.val_series.shape[1]) >= shortest:
            return
        if self.val_from_train is not None:
            fix = "hold out a larger fraction of the training series (--data.val_from_train)"
        elif self.val_length is not None and self.val_length < self.val_points_read:
            fix = f"validate on more of the series: raise --data.val_length (the split has {self.val_points_read})"
        else:
            fix = ("validate on a longer block: import the series again with a larger --val-fraction (neurops data "
                   "import-series), or generate longer series")
        frac = 100 * fraction
        rank_zero_warn(f"the validation series have {t} points: val/d_h smooths their power spectra over "
                       f"{smoothing:g} frequency bins, more than {frac:g} % of their {t // 2 + 1}, which blurs every "
                       "spectrum into its overall shape, so val/d_h separates models little (near 0 for any model "
                       f"when the series is far too short); D_H needs at least {shortest} points "
                       f"at smoothing {smoothing:g}. {fix[0].upper()}{fix[1:]}.", category=NeuropsWarning)

    def _pick_field(self, states: dict[str, np.ndarray], field: str | None) -> str:
        if field is None:
            if len(states) != 1:
                raise DataError(f"{self.path} has state fields {sorted(states)}; choose one with field=NAME.")
            return next(iter(states))
        if field not in states:
            raise DataError(f"{self.path} has no state field {field!r}; it has {sorted(states)}.")
        return field

    @staticmethod
    def _series(arr: np.ndarray) -> np.ndarray:
        """Trajectories as ``[S, T, N]`` (spatial fields are flattened into N); ``read_split`` has refused NaN/Inf."""
        arr = np.asarray(arr, dtype=np.float32)
        return arr.reshape(arr.shape[0], arr.shape[1], -1)

    @property
    def obs_dim(self) -> int:
        """Number of observed variables N."""
        return int(self.train_series.shape[-1])

    @override
    def train_dataloader(self) -> DataLoader:
        seeds = self.member_seeds or [self.seed]
        ranks = _data_parallel_ranks(self)  # one model under DDP: every process draws the global batches' windows
        world = ranks["num_replicas"] if self.member_shard is None else 1
        self._samplers = [RandomWindowSampler(self.train_series.shape[0], self.train_series.shape[1],
                                              self.seq_len + 1, world * self.batch_size * self.batches_per_epoch, seed)
                          for seed in seeds]
        if self._windows_state is not None:  # resuming: continue the window draws where the checkpoint left them
            if len(self._windows_state) != len(seeds):
                raise DataError(f"the checkpoint holds the window draws of {len(self._windows_state)} member(s), "
                                f"this run has {len(seeds)}; resume with the run's own settings.")
            for sampler, state in zip(self._samplers, self._windows_state):
                sampler.generator.set_state(state)
            self._windows_state = None
        windows: Sampler = (self._samplers[0] if self.member_seeds is None
                            else MemberWindowSampler(self._samplers, self.batch_size, self.member_shard))
        members = len(seeds) if self.member_shard is None else len(self.member_shard)
        return DataLoader(WindowDataset(self.train_series, self.seq_len + 1), batch_size=self.batch_size * members,
                          sampler=(self._unsplit(windows) if world == 1
                                   else ProcessShare(windows, self.batch_size, **ranks)),
                          num_workers=self.num_workers)

    def _unsplit(self, sampler: Sampler) -> Sampler:
        """``sampler`` as it is, or whole on every process when the members are spread over the processes (else
        Lightning splits it)."""
        return sampler if self.member_shard is None else OnEveryProcess(sampler)

    @override
    def state_dict(self) -> dict[str, Any]:
        """The state of the window draws (saved in checkpoints, so a resumed run draws the same windows)."""
        return {"windows": [s.generator.get_state() for s in self._samplers]} if self._samplers else {}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = state_dict.get("windows")
        self._windows_state = [state] if isinstance(state, torch.Tensor) else state

    @override
    def val_dataloader(self) -> DataLoader | list:
        if self.val_series is None:
            return []
        series = [{"x": s} for s in torch.as_tensor(self.val_series)]
        # every series once over the processes (an ensemble spread over them: every series in every process)
        sampler = (OnEveryProcess(SequentialSampler(series)) if self.member_shard is not None
                   else evaluation_sampler(self, series, 1, f"the validation split {self.val_split!r}"))
        return DataLoader(series, batch_size=1, sampler=sampler)


__all__ = ["DynamicsDataModule"]
