"""Tests of the LSM latent spectral block (neurops/layers/latent_spectral.py)."""

from __future__ import annotations

import math

import pytest
import torch

from neurops.layers.latent_spectral import LatentSpectralBlock, pad_to_multiple, patchify, unpatchify


def _block(width: int = 16, patch=(4, 4), **kw) -> LatentSpectralBlock:
    torch.manual_seed(0)
    return LatentSpectralBlock(width, patch, num_heads=4, **kw)


@pytest.mark.parametrize(
    "shape, patch",
    [((2, 3, 12), (4,)), ((2, 3, 8, 12), (4, 3)), ((1, 2, 4, 6, 2), (2, 3, 1))],
)
def test_patchify_roundtrip_and_patch_content(shape, patch):
    x = torch.randn(shape)
    patches = patchify(x, patch)
    n = math.prod(s // p for s, p in zip(shape[2:], patch))
    assert patches.shape == (shape[0] * n, math.prod(patch), shape[1])
    assert torch.equal(unpatchify(patches, shape[0], shape[2:], patch), x)
    # the first patch of the first sample is the leading corner block, row-major
    corner = x[(0, slice(None), *(slice(0, p) for p in patch))]
    assert torch.equal(patches[0], corner.reshape(shape[1], -1).T)


def test_pad_to_multiple_pads_high_side_with_zeros():
    x = torch.ones(1, 1, 5, 7)
    padded, spatial = pad_to_multiple(x, (4, 4))
    assert spatial == (5, 7) and padded.shape == (1, 1, 8, 8)
    assert padded[..., :5, :7].eq(1).all() and padded.sum() == 35
    padded, _ = pad_to_multiple(x, (4, 4), minimum=(16, 4))  # at least 16 points on the first axis
    assert padded.shape == (1, 1, 16, 8) and padded.sum() == 35


@pytest.mark.parametrize(
    "shape, patch", [((2, 16, 12), (4,)), ((2, 16, 8, 12), (4, 4)), ((2, 16, 4, 6, 4), (2, 3, 2))]
)
def test_block_shapes_and_gradients_1d_2d_3d(shape, patch):
    block = _block(16, patch)
    x = torch.randn(shape, requires_grad=True)
    y = block(x)
    assert y.shape == x.shape
    y.square().mean().backward()
    for name, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0


def _naive_block(block: LatentSpectralBlock, patch: torch.Tensor) -> torch.Tensor:
    """Straightforward float64 evaluation of the block on ONE patch ``[P, C]``."""
    h, c = block.num_heads, block.width
    dh = c // h
    kv = patch @ block.key_value.weight.T + block.key_value.bias
    k, v = kv[:, :c], kv[:, c:]
    latent = block.latent  # [h, T, dh]
    tokens = []
    for head in range(h):
        sl = slice(head * dh, (head + 1) * dh)
        attn = torch.softmax(latent[head] @ k[:, sl].T, dim=-1)  # unscaled, [T, P]
        tokens.append(attn @ v[:, sl] + latent[head])
    z = torch.cat(tokens, dim=-1)  # [T, C]
    kk = block.num_basis
    out = z.clone()
    for j in range(kk):
        out = out + block.basis_weight[:, j] * torch.sin(j * math.pi * z / kk)
        out = out + block.basis_weight[:, kk + j] * torch.cos(j * math.pi * z / kk)
    q = patch @ block.query.weight.T + block.query.bias
    res = []
    for head in range(h):
        sl = slice(head * dh, (head + 1) * dh)
        attn = torch.softmax(q[:, sl] @ out[:, sl].T, dim=-1)
        res.append(attn @ out[:, sl])
    return patch + torch.cat(res, dim=-1)


def test_block_matches_naive_reference_on_each_patch():
    block = _block(16, (3, 2), num_tokens=3, num_basis=5).double()
    x = torch.randn(2, 16, 6, 4, dtype=torch.float64)
    y = block(x)
    for b in range(2):
        for i in range(2):
            for j in range(2):
                sl = (b, slice(None), slice(3 * i, 3 * i + 3), slice(2 * j, 2 * j + 2))
                patch = x[sl].reshape(16, -1).T
                expected = _naive_block(block, patch).T.reshape(16, 3, 2)
                torch.testing.assert_close(y[sl], expected, rtol=1e-10, atol=1e-10)


def test_non_multiple_grid_masks_padding():
    """On a 7-point grid with patch 4, the last patch (3 points) behaves like a 3-point patch."""
    block4 = _block(16, (4,)).double()
    block3 = LatentSpectralBlock(16, (3,), num_heads=4).double()
    block3.load_state_dict(block4.state_dict())  # parameters do not depend on the patch size
    x = torch.randn(2, 16, 7, dtype=torch.float64)
    y = block4(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y[..., 4:], block3(x[..., 4:]), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(y[..., :4], block4(x[..., :4]), rtol=1e-10, atol=1e-10)


def test_patches_are_independent():
    block = _block(16, (4, 4)).eval()
    x = torch.randn(1, 16, 8, 8)
    x2 = x.clone()
    x2[..., :4, :4] += 1.0
    diff = (block(x2) - block(x)).abs().sum(1)[0]
    assert diff[:4, :4].min() > 0
    assert diff[4:, :].max() == 0 and diff[:, 4:].max() == 0


def test_runs_in_float64_and_state_dict_holds_only_parameters():
    block = _block(8, (2,)).to(torch.float64)
    assert set(block.state_dict()) == {name for name, _ in block.named_parameters()}
    assert block(torch.randn(1, 8, 5, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(width=10, patch_size=(4,), num_heads=4), "divisible by num_heads"),
        (dict(width=16, patch_size=(4, 4, 4, 4)), "patch_size"),
        (dict(width=16, patch_size=(0, 4)), "patch_size"),
        (dict(width=16, patch_size=(4,), num_tokens=0), "num_tokens"),
    ],
)
def test_invalid_construction_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LatentSpectralBlock(**kwargs)


def test_wrong_input_shape_raises():
    block = _block(16, (4, 4))
    with pytest.raises(ValueError, match="expects"):
        block(torch.randn(1, 8, 8, 8))
    with pytest.raises(ValueError, match="expects"):
        block(torch.randn(1, 16, 8))
