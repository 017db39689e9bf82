"""The data module of DCDM training: pools of right-hand sides built from Ritz vectors of diffusion matrices."""

from __future__ import annotations

import os
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from typing_extensions import override

from neurops.data.reader import read_split
from neurops.errors import ConfigError, DataError
from neurops.solvers.learned.dcdm import ritz_right_hand_sides, ritz_vectors
from neurops.solvers.linear.diffusion import DiffusionOperator
from neurops.utils.seeding import check_seed


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


def _check_streams(seed: int, n_matrices: int, run_seed: bool) -> int:
    """``seed`` if the streams derived from it (``seed + 7 k`` and ``seed + 7 k + 1`` for matrix ``k``,
    ``seed + 2`` for the draws) stay below 2**32; else one :class:`ConfigError` naming the largest usable seed.

    Torch's CPU generator reads only a seed's lowest 32 bits, so a derived seed of 2**32 or more would repeat
    the stream of seed 0, 1, ... (another matrix's Lanczos vectors, or another run's).
    """
    offset = max(7 * (n_matrices - 1) + 1, 2)
    if seed + offset < 2**32:
        return seed
    which = "the run's seed (PL_GLOBAL_SEED, from --seed_everything)" if run_seed else "seed"
    raise ConfigError(f"{which} {seed} is too large for {n_matrices} matri{'ces' if n_matrices > 1 else 'x'}: the "
                      f"Ritz vectors, pools and draws are seeded with seed + 0 .. seed + {offset}, which must stay "
                      f"below 2**32 (torch reads only a seed's lowest 32 bits, so they would repeat the streams of "
                      f"seed 0, 1, ...); give a seed between 0 and {2**32 - 1 - offset}, e.g. --data.seed 0.")


class DCDMDataModule(L.LightningDataModule):
    """Right-hand sides for training a DCDM network without labels (:class:`~neurops.tasks.dcdm.DCDMTask`).

    The training matrices are diffusion operators ``-div(a grad u)`` with ``u = 0`` on the
    boundary, one per coefficient field ``a`` (node grid). For each, ``num_ritz`` Lanczos steps
    give Ritz vectors, and the pool holds ``num_rhs`` random combinations of them with the low
    modes boosted, of unit norm [1]_. Each training step takes ``batch_size`` right-hand sides
    of one matrix, the matrices in turn.

    Parameters
    ----------
    coefficients
        ``[M, *nodes]`` coefficient fields, or a neurops HDF5 file whose input
        ``field`` of ``split`` holds them (its first ``n_matrices`` samples).
    field
        the input field holding the coefficients in a file.
    split
        the split holding them.
    n_matrices
        how many of its samples (the first ones).
    num_ritz
        Lanczos steps per matrix (the paper uses up to 10 000).
    num_rhs
        right-hand sides in the pool of each matrix.
    batch_size
        right-hand sides per step.
    steps_per_epoch
        optimizer steps per epoch.
    seed
        seeds the Lanczos start vectors, the pools and the draws, in ``[0, 2**32 - 1 - max(7 (M - 1) + 1, 2)]``
        for ``M`` matrices, so that the derived seeds (``seed + 7 k``, ``seed + 7 k + 1``, ``seed + 2``) stay below
        2**32 (default: the run's seed, ``PL_GLOBAL_SEED``, which ``seed_everything`` sets; else 0).

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
        run_seed = seed is None
        seed = int(os.environ.get("PL_GLOBAL_SEED", 0)) if seed is None else check_seed(
            seed, "seed", "--data.seed", bits=32, note=" (it seeds the Ritz vectors and draws; null: the run's seed)")
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
        self.seed = _check_streams(seed, self.operator.batch_size, run_seed)
        self.num_ritz, self.num_rhs, self.batch_size = num_ritz, num_rhs, batch_size
        self.steps_per_epoch = steps_per_epoch
        self.pools: list[torch.Tensor] = []
        self.ritz_count = 0
        self._batches: _RitzBatches | None = None
        self._batches_state: dict[str, Any] | None = None

    @property
    def dim(self) -> int:
        """Spatial dimension of the matrices' grids."""
        return len(self.operator.shape)

    @override
    def setup(self, stage: str) -> None:
        if self.pools:
            return
        for i in range(self.operator.batch_size):  # Lanczos and pools, seeded per matrix as in the paper's recipe
            single = self.operator.select(i)
            values, vectors = ritz_vectors(single, min(self.num_ritz, single.numel), seed=self.seed + 7 * i)
            self.ritz_count += values.numel()
            self.pools.append(ritz_right_hand_sides(values, vectors, self.num_rhs, seed=self.seed + 7 * i + 1))

    @override
    def train_dataloader(self) -> DataLoader:
        self.setup("fit")
        batches = _RitzBatches(len(self.pools), self.num_rhs, self.batch_size, self.steps_per_epoch, self.seed + 2)
        if self._batches_state is not None:  # resuming: continue the draws where the checkpoint left them
            batches.generator.set_state(self._batches_state["generator"])
            batches.step = self._batches_state["step"]
            self._batches_state = None
        self._batches = batches
        return DataLoader(_RitzPools(self.pools), batch_sampler=batches)

    @override
    def state_dict(self) -> dict[str, Any]:
        """The state of the right-hand-side draws (saved in checkpoints)."""
        return {} if self._batches is None else {"generator": self._batches.generator.get_state(),
                                                 "step": self._batches.step}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._batches_state = state_dict or None


__all__ = ["DCDMDataModule"]
