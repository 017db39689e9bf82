"""Per-channel Gaussian normalizer, fitted on the training split only and saved with checkpoints.

The statistics are streamed: :class:`ChannelMoments` folds in one batch at a time, merges partial
results exactly and combines the partials of all processes of a distributed job, so a split of
any size is summarised at the memory of one batch, identically on every process.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.distributed as dist
from torch import nn

from neurops.errors import DataError


class ChannelMoments:
    """Count, mean and sum of squared deviations (M2) per channel of fields ``[B, C, *spatial]``.

    Batches are folded in one at a time (:meth:`update`); two partial results combine exactly
    (:meth:`merge`, the pairwise update of Chan, Golub and LeVeque [1]_), and :meth:`all_reduce`
    combines the partials of every process of a ``torch.distributed`` job, in rank order, so all
    processes end with the same numbers. Accumulation is in float64.

    Parameters
    ----------
    channels : number of channels C.

    References
    ----------
    .. [1] T. F. Chan, G. H. Golub, R. J. LeVeque, "Updating formulae and a pairwise algorithm for
       computing sample variances", Technical Report STAN-CS-79-773, Stanford University (1979).
    """

    def __init__(self, channels: int) -> None:
        self.count = 0
        self.mean = torch.zeros(channels, dtype=torch.float64)
        self.m2 = torch.zeros(channels, dtype=torch.float64)

    @property
    def channels(self) -> int:
        return self.mean.numel()

    @property
    def var(self) -> torch.Tensor:
        """Population variance ``[C]`` (M2 / count)."""
        if self.count == 0:
            raise DataError("cannot fit a normalizer on an empty dataset.")
        return self.m2 / self.count

    def update(self, x: torch.Tensor) -> ChannelMoments:
        """Fold in a batch ``x : [B, C, *spatial]`` (every point of every sample counts once)."""
        if x.dim() < 2 or x.shape[1] != self.channels:
            raise DataError(f"normalizer has {self.channels} channels, data has "
                            f"{x.shape[1] if x.dim() > 1 else 'no channel axis'}.")
        xc = x.detach().to(torch.float64).transpose(0, 1).reshape(self.channels, -1)
        n = xc.shape[1]
        if n:
            mean = xc.mean(1)
            self._combine(n, mean.cpu(), (xc - mean[:, None]).square().sum(1).cpu())
        return self

    def merge(self, other: ChannelMoments) -> ChannelMoments:
        """Fold in the moments of other data (the result equals one pass over both)."""
        if other.channels != self.channels:
            raise DataError(f"cannot merge moments of {other.channels} channels into {self.channels}.")
        if other.count:
            self._combine(other.count, other.mean, other.m2)
        return self

    def _combine(self, n: int, mean: torch.Tensor, m2: torch.Tensor) -> None:
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta.square() * (self.count * n / total)
        self.count = total

    def all_reduce(self) -> ChannelMoments:
        """Replace these moments by those of the data of all processes (no-op outside ``torch.distributed``).

        Every process gathers all partial moments and merges them in rank order, so the result
        is bit-identical on every process. Collective: every process must call it.
        """
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return self
        device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
        packed = torch.cat([torch.tensor([float(self.count)], dtype=torch.float64), self.mean, self.m2]).to(device)
        parts = [torch.empty_like(packed) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, packed)
        self.count, self.mean, self.m2 = 0, torch.zeros_like(self.mean), torch.zeros_like(self.m2)
        for part in parts:
            part = part.cpu()
            if part[0] > 0:
                self._combine(int(part[0]), part[1:1 + self.channels], part[1 + self.channels:])
        return self


class GaussianNormalizer(nn.Module):
    """``encode(x) = (x - mean) / (std + eps)`` per channel of ``x : [B, C, *spatial]``.

    The statistics are buffers, so they travel in the model/task ``state_dict`` (and thus
    in every checkpoint). Fit with :meth:`fit` (or :meth:`fit_moments`) on training data only.

    Parameters
    ----------
    channels : number of channels C.
    eps : added to the standard deviation (guards constant channels).
    """

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))
        self.register_buffer("fitted", torch.tensor(False))

    def fit(self, batches: Iterable[torch.Tensor]) -> GaussianNormalizer:
        """Fit mean and std from batches ``[B, C, *spatial]`` (one streaming pass, float64)."""
        moments = ChannelMoments(self.mean.numel())
        for x in batches:
            moments.update(x)
        return self.fit_moments(moments)

    def fit_moments(self, moments: ChannelMoments) -> GaussianNormalizer:
        """Take mean and (population) std from accumulated :class:`ChannelMoments`."""
        if moments.channels != self.mean.numel():
            raise DataError(f"normalizer has {self.mean.numel()} channels, data has {moments.channels}.")
        std = moments.var.sqrt()
        self.mean.copy_(moments.mean.to(self.mean.dtype))
        self.std.copy_(std.to(self.std.dtype))
        self.fitted.fill_(True)
        return self

    def _view(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[1] != t.numel():
            raise DataError(f"the normalizer has {t.numel()} channel(s) but the data has shape {tuple(x.shape)} "
                            f"(channels second); use data with the {t.numel()} field(s) it was fitted on.")
        return t.to(x.dtype).view(1, -1, *([1] * (x.dim() - 2)))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize ``x : [B, C, *spatial]``."""
        return (x - self._view(self.mean, x)) / (self._view(self.std, x) + self.eps)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`encode`."""
        return x * (self._view(self.std, x) + self.eps) + self._view(self.mean, x)

    def extra_repr(self) -> str:
        return f"channels={self.mean.numel()}, fitted={bool(self.fitted)}"
