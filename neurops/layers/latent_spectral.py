"""Latent spectral block of LSM: patch-wise attention onto latent tokens, a learned
sin/cos basis on the tokens, and attention back to the grid (1D, 2D and 3D).

The block cuts a field ``[B, C, *spatial]`` into non-overlapping patches. In every
patch a few learned latent tokens attend to the patch's points (encoder), pass
through the neural spectral transition

.. math:: z \\mapsto z + \\sum_{k=0}^{K-1} a_k \\sin(k \\pi z / K) + b_k \\cos(k \\pi z / K),

applied per channel and elementwise, and the points then attend to the transformed
tokens (decoder). Grids that are not multiples of the patch size are zero-padded
and the padded points are masked out of the encoder attention, so they do not
change the tokens; the output is cropped back to the input grid.

References
----------
.. [1] H. Wu, T. Hu, H. Luo, J. Wang, M. Long, "Solving High-Dimensional PDEs with
   Latent Spectral Models", ICML 2023, arXiv:2301.12664.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from neurops.errors import ModelError

__all__ = ["LatentSpectralBlock", "crop", "pad_to_multiple", "patchify", "unpatchify"]


def pad_to_multiple(x: Float[Tensor, "batch channel *space"], multiple: Sequence[int],
                    minimum: Sequence[int] | None = None) -> tuple[Float[Tensor, "batch channel *padded"],
                                                                 tuple[int, ...]]:
    """Zero-pad the trailing (high-index) side of each spatial axis to a multiple (and a minimum size).

    Parameters
    ----------
    x : [B, C, *spatial]
    multiple : one positive int per spatial axis.
    minimum : optional; per axis, the fewest points after padding (a multiple of ``multiple``).

    Returns
    -------
    padded : [B, C, *padded_spatial]
    spatial : the original spatial shape (to crop back with ``crop``).
    """
    spatial = tuple(x.shape[2:])
    floor = minimum if minimum is not None else (0,) * len(spatial)
    pads = [max((-s) % m, f - s) for s, m, f in zip(spatial, multiple, floor)]
    if any(pads):
        # F.pad lists the last axis first: (left_last, right_last, left_prev, right_prev, ...)
        pad_arg: list[int] = []
        for p in reversed(pads):
            pad_arg += [0, p]
        x = F.pad(x, pad_arg)
    return x, spatial


def crop(x: Float[Tensor, "batch channel *padded"], spatial: Sequence[int]) -> Float[Tensor, "batch channel *space"]:
    """Crop ``x : [B, C, *padded]`` back to its leading ``spatial`` points per axis."""
    if tuple(x.shape[2:]) == tuple(spatial):
        return x
    index = (slice(None), slice(None), *(slice(0, s) for s in spatial))
    return x[index]


def patchify(x: Float[Tensor, "batch channel *space"],
             patch_size: Sequence[int]) -> Float[Tensor, "batch_patches patch channel"]:
    """Cut a field into non-overlapping patches, channels last.

    Parameters
    ----------
    x : [B, C, *spatial], each spatial size a multiple of its patch size.
    patch_size : [d] points per patch along each axis.

    Returns
    -------
    patches : [B * N, P, C] with N the number of patches (row-major over the patch
        grid) and P = prod(patch_size) the points per patch (row-major).
    """
    b, c, *spatial = x.shape
    d = len(spatial)
    counts = [s // p for s, p in zip(spatial, patch_size)]
    shape = [b, c]
    for n, p in zip(counts, patch_size):
        shape += [n, p]
    x = x.reshape(shape)
    # axes: 0=B, 1=C, then (n_i, p_i) pairs at 2+2i, 3+2i
    order = [0, *(2 + 2 * i for i in range(d)), *(3 + 2 * i for i in range(d)), 1]
    return x.permute(order).reshape(b * math.prod(counts), math.prod(patch_size), c)


def unpatchify(patches: Float[Tensor, "batch_patches patch channel"], batch: int, spatial: Sequence[int],
               patch_size: Sequence[int]) -> Float[Tensor, "batch channel *space"]:
    """Inverse of :func:`patchify`.

    Parameters
    ----------
    patches : [B * N, P, C]
    batch : B.
    spatial : the (multiple-of-patch) spatial shape to rebuild.
    patch_size : [d] points per patch along each axis.

    Returns
    -------
    x : [B, C, *spatial]
    """
    d = len(spatial)
    c = patches.shape[-1]
    counts = [s // p for s, p in zip(spatial, patch_size)]
    x = patches.reshape(batch, *counts, *patch_size, c)
    # axes: 0=B, 1..d = n_i, d+1..2d = p_i, 2d+1 = C  ->  B, C, n_1, p_1, n_2, p_2, ...
    order = [0, 2 * d + 1]
    for i in range(d):
        order += [1 + i, 1 + d + i]
    return x.permute(order).reshape(batch, c, *spatial)


class LatentSpectralBlock(nn.Module):
    """Patchified neural spectral block of LSM, for 1D, 2D or 3D fields.

    Maps ``[B, C, *spatial] -> [B, C, *spatial]`` with ``C = width``; the number of
    spatial axes is ``len(patch_size)``. Any spatial size works (see the module
    docstring for non-multiples of the patch size).

    Parameters
    ----------
    width : channels C; must be divisible by ``num_heads``.
    patch_size : points per patch along each spatial axis, e.g. ``(4, 4)``.
    num_tokens : latent tokens per patch (the paper uses 4).
    num_basis : K, the number of sin and of cos basis functions (the paper uses 12).
    num_heads : attention heads (the paper uses 8).

    Notes
    -----
    As in the paper's code, the attention softmax is not scaled by ``1/sqrt(d)``,
    the latent tokens are shared by all patches and added back after the encoder
    attention, and the decoder adds its attention output to the block input.

    References
    ----------
    .. [1] H. Wu, T. Hu, H. Luo, J. Wang, M. Long, "Solving High-Dimensional PDEs
       with Latent Spectral Models", ICML 2023, arXiv:2301.12664.
    """

    def __init__(
        self,
        width: int,
        patch_size: Sequence[int],
        *,
        num_tokens: int = 4,
        num_basis: int = 12,
        num_heads: int = 8,
    ) -> None:
        super().__init__()
        patch_size = tuple(int(p) for p in patch_size)
        if not 1 <= len(patch_size) <= 3 or min(patch_size) < 1:
            raise ModelError(
                f"patch_size={patch_size} is invalid: give 1 to 3 positive ints, one per spatial axis, "
                "e.g. (4, 4) for a 2D field."
            )
        if width % num_heads:
            raise ModelError(
                f"width={width} is not divisible by num_heads={num_heads}; choose a width that is a "
                f"multiple of {num_heads} or change num_heads."
            )
        if num_tokens < 1 or num_basis < 1:
            raise ModelError(f"num_tokens={num_tokens} and num_basis={num_basis} must both be >= 1.")
        self.width = width
        self.patch_size = patch_size
        self.num_tokens = num_tokens
        self.num_basis = num_basis
        self.num_heads = num_heads
        head_dim = width // num_heads
        self.latent = nn.Parameter(torch.rand(num_heads, num_tokens, head_dim) / width)
        self.key_value = nn.Linear(width, 2 * width)
        self.query = nn.Linear(width, width)
        self.basis_weight = nn.Parameter(torch.rand(width, 2 * num_basis) / width)

    @property
    def ndim(self) -> int:
        """Number of spatial axes the block acts on."""
        return len(self.patch_size)

    def extra_repr(self) -> str:
        return (
            f"width={self.width}, patch_size={self.patch_size}, num_tokens={self.num_tokens}, "
            f"num_basis={self.num_basis}, num_heads={self.num_heads}"
        )

    def spectral_transition(self, tokens: torch.Tensor) -> torch.Tensor:
        """Apply ``z + sum_k a_k sin(k pi z / K) + b_k cos(k pi z / K)`` per channel.

        Parameters
        ----------
        tokens : [..., C]

        Returns
        -------
        [..., C]
        """
        # frequencies k * pi / K, built in the tokens' dtype and device (no float32 rounding in float64)
        k = torch.arange(self.num_basis, device=tokens.device, dtype=tokens.dtype)
        frequencies = k * (math.pi / self.num_basis)
        angles = tokens.unsqueeze(-1) * frequencies
        basis = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)  # [..., C, 2K]
        return tokens + (basis * self.basis_weight.to(tokens.dtype)).sum(-1)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        # [M, L, C] -> [M, heads, L, C/heads]
        m, length, _ = x.shape
        return x.reshape(m, length, self.num_heads, -1).transpose(1, 2)

    def _merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        # [M, heads, L, C/heads] -> [M, L, C]
        m, _, length, _ = x.shape
        return x.transpose(1, 2).reshape(m, length, self.width)

    def _padding_mask(self, spatial: Sequence[int], batch: int, device: torch.device) -> torch.Tensor:
        # True where a patch point lies on the input grid; [B * N, 1, 1, P]
        ones = torch.ones(1, 1, *spatial, device=device)
        ones, _ = pad_to_multiple(ones, self.patch_size)
        valid = patchify(ones, self.patch_size)[..., 0] > 0.5  # [N, P]
        return valid.repeat(batch, 1)[:, None, None, :]

    def forward(self, x: Float[Tensor, "batch channel *space"]) -> Float[Tensor, "batch channel *space"]:
        """Apply the block.

        Parameters
        ----------
        x : [B, C, *spatial] with ``len(spatial) == len(patch_size)``.

        Returns
        -------
        [B, C, *spatial]
        """
        if x.dim() != self.ndim + 2 or x.shape[1] != self.width:
            raise ModelError(
                f"LatentSpectralBlock(width={self.width}, patch_size={self.patch_size}) expects "
                f"[B, {self.width}, *{self.ndim} spatial axes], got shape {tuple(x.shape)}."
            )
        batch = x.shape[0]
        x, spatial = pad_to_multiple(x, self.patch_size)
        padded = tuple(x.shape[2:])
        mask = None if padded == spatial else self._padding_mask(spatial, batch, x.device)

        points = patchify(x, self.patch_size)  # [M, P, C], M = B * N
        m = points.shape[0]
        key, value = self.key_value(points).chunk(2, dim=-1)
        latent = self.latent.to(points.dtype).unsqueeze(0).expand(m, -1, -1, -1)  # [M, h, T, C/h]
        # (1) encoder: latent tokens attend to the patch points
        tokens = F.scaled_dot_product_attention(
            latent, self._split_heads(key), self._split_heads(value), attn_mask=mask, scale=1.0
        )
        tokens = self._merge_heads(tokens + latent)  # [M, T, C]
        # (2) neural spectral transition on the tokens
        tokens = self._split_heads(self.spectral_transition(tokens))
        # (3) decoder: patch points attend to the tokens
        out = F.scaled_dot_product_attention(self._split_heads(self.query(points)), tokens, tokens, scale=1.0)
        points = points + self._merge_heads(out)
        return crop(unpatchify(points, batch, padded, self.patch_size), spatial)
