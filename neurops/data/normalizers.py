"""Per-channel Gaussian normalizer, fitted on the training split only and saved with checkpoints."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from neurops.errors import DataError


class GaussianNormalizer(nn.Module):
    """``encode(x) = (x - mean) / (std + eps)`` per channel of ``x : [B, C, *spatial]``.

    The statistics are buffers, so they travel in the model/task ``state_dict`` (and thus
    in every checkpoint). Fit with :meth:`fit` on training data only.

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
        """Fit mean and std from batches ``[B, C, *spatial]`` (float64 accumulation, one pass)."""
        count, total, total_sq = 0, None, None
        for x in batches:
            if x.shape[1] != self.mean.numel():
                raise DataError(f"normalizer has {self.mean.numel()} channels, data has {x.shape[1]}.")
            xc = x.detach().to(torch.float64).transpose(0, 1).reshape(x.shape[1], -1)
            s, sq = xc.sum(1), (xc * xc).sum(1)
            total = s if total is None else total + s
            total_sq = sq if total_sq is None else total_sq + sq
            count += xc.shape[1]
        if count == 0:
            raise DataError("cannot fit a normalizer on an empty dataset.")
        mean = total / count
        var = (total_sq / count - mean**2).clamp_min(0.0)
        self.mean.copy_(mean.to(self.mean.dtype))
        self.std.copy_(var.sqrt().to(self.std.dtype))
        self.fitted.fill_(True)
        return self

    def _view(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return t.to(x.dtype).view(1, -1, *([1] * (x.dim() - 2)))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize ``x : [B, C, *spatial]``."""
        return (x - self._view(self.mean, x)) / (self._view(self.std, x) + self.eps)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`encode`."""
        return x * (self._view(self.std, x) + self.eps) + self._view(self.mean, x)

    def extra_repr(self) -> str:
        return f"channels={self.mean.numel()}, fitted={bool(self.fitted)}"
