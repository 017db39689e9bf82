"""The network of the deep conjugate direction method: ``DCDMNet``, registered as ``"dcdm"``.

It proposes search directions for :func:`neurops.solvers.learned.dcdm.dcdm_solve`: given a residual
``r``, it approximates ``A^{-1} r`` up to a scalar. It is trained without labels by
:class:`neurops.tasks.dcdm.DCDMTask` (``neurops fit --config dcdm_darcy``). Bias-free with ReLU
activations, hence positively homogeneous; fully convolutional, so a network trained on one grid
runs on any other.

References
----------
.. [1] A. Kaneda, O. Akar, J. Chen, V. A. T. Kala, D. Hyde, J. Teran, "A deep conjugate
   direction method for iteratively solving linear systems", ICML 2023, PMLR 202:15720-15736.
"""

from __future__ import annotations

import torch
from torch import nn

from neurops.errors import ModelError
from neurops.models.registry import register

__all__ = ["DCDMNet"]

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_POOL = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}


class _Residual(nn.Module):
    def __init__(self, dim: int, width: int) -> None:
        super().__init__()
        self.conv = _CONV[dim](width, width, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.relu(self.conv(x))


@register("dcdm")
class DCDMNet(nn.Module):
    """The DCDM network: ``[B, 1, *shape] -> [B, 1, *shape]``, approximately ``A^{-1} r`` up to scale.

    A linear 3^d convolution lifts to ``width`` channels; residual ReLU convolutions at full
    resolution; one 2x average-pooling level with more residual convolutions; upsampling with
    a skip connection; residual convolutions; a 1x1 convolution to one channel. No biases.

    Parameters
    ----------
    dim : spatial dimension (1, 2 or 3).
    width : channels (16 in the paper).
    fine_blocks : residual convolutions before and after the coarse level.
    coarse_blocks : residual convolutions on the coarse level (6 at 64^3, 10 at 128^3 in the paper).
    condition_channels : 0 for the paper's network (input: the residual only). A positive number
        adds that many input channels describing the operator
        (:func:`neurops.solvers.learned.dcdm.stencil_features`: its
        off-diagonal stencil weights divided by the diagonal, ``2d`` channels for a diffusion
        operator). A CNN is translation-equivariant, so without them it cannot represent
        ``A^{-1}`` of a spatially varying coefficient (Darcy); with them it can, and it can be
        applied to coefficients it was not trained on (an extension of the paper).

    References
    ----------
    .. [1] A. Kaneda et al., "A deep conjugate direction method for iteratively solving linear
       systems", ICML 2023.
    """

    #: its 3^d kernels act in grid units: it runs on any grid, but another grid gives another map
    resolution_behaviour = "fixed_grid"

    def __init__(self, dim: int = 2, width: int = 16, fine_blocks: int = 2, coarse_blocks: int = 6,
                 condition_channels: int = 0) -> None:
        super().__init__()
        if dim not in _CONV:
            raise ModelError(f"DCDMNet supports dim 1, 2 or 3, got {dim}.")
        if width < 1 or fine_blocks < 0 or coarse_blocks < 0 or condition_channels < 0:
            raise ModelError(f"width={width}, fine_blocks={fine_blocks}, coarse_blocks={coarse_blocks}, "
                             f"condition_channels={condition_channels}: use width >= 1 and non-negative counts.")
        self.dim = dim
        self.condition_channels = condition_channels
        self.lift = _CONV[dim](1 + condition_channels, width, 3, padding=1, bias=False)
        self.pre = nn.Sequential(*[_Residual(dim, width) for _ in range(fine_blocks)])
        self.pool = _POOL[dim](2, ceil_mode=True)
        self.coarse = nn.Sequential(*[_Residual(dim, width) for _ in range(coarse_blocks)])
        self.post = nn.Sequential(*[_Residual(dim, width) for _ in range(fine_blocks)])
        self.out = _CONV[dim](width, 1, 1, bias=False)

    def forward(self, r: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """``r : [B, 1, *shape]`` (and ``condition : [B or 1, condition_channels, *shape]``) -> ``[B, 1, *shape]``."""
        if r.ndim != self.dim + 2 or r.shape[1] != 1:
            raise ModelError(f"DCDMNet({self.dim}-D) takes [B, 1, *shape] residuals, got {tuple(r.shape)}.")
        if self.condition_channels:
            if condition is None or condition.shape[1] != self.condition_channels or condition.shape[2:] != r.shape[2:]:
                got = None if condition is None else tuple(condition.shape)
                raise ModelError(f"this DCDMNet needs a condition [B, {self.condition_channels}, *shape] matching the "
                                 f"residual {tuple(r.shape)}, got {got}; pass "
                                 "neurops.solvers.learned.dcdm.stencil_features(op).")
            r = torch.cat([r, condition.to(r.dtype).expand(r.shape[0], -1, *r.shape[2:])], dim=1)
        h = self.pre(self.lift(r))
        c = self.coarse(self.pool(h))
        up = nn.functional.interpolate(c, size=h.shape[2:], mode="nearest")
        return self.out(self.post(h + up))
