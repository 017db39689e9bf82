import numpy as np
import pytest
import torch

from neurops.data.normalizers import ChannelMoments, GaussianNormalizer
from neurops.errors import DataError


def test_fit_encode_decode_per_channel():
    torch.manual_seed(0)
    scale, shift = torch.tensor([3.0, 0.5]).view(1, 2, 1, 1), torch.tensor([1.0, -2.0]).view(1, 2, 1, 1)
    x = torch.randn(50, 2, 8, 8) * scale + shift
    norm = GaussianNormalizer(2).fit(x.split(7))  # batches of different sizes give the exact statistics
    torch.testing.assert_close(norm.mean, x.transpose(0, 1).reshape(2, -1).mean(1))
    torch.testing.assert_close(norm.std, x.transpose(0, 1).reshape(2, -1).std(1, unbiased=False), rtol=1e-5, atol=1e-6)
    z = norm.encode(x)
    assert z.mean().abs() < 1e-5 and (z.std() - 1).abs() < 1e-2
    torch.testing.assert_close(norm.decode(z), x, rtol=1e-5, atol=1e-5)
    state = norm.state_dict()
    other = GaussianNormalizer(2)
    other.load_state_dict(state)
    assert bool(other.fitted) and torch.equal(other.mean, norm.mean)


def test_channel_mismatch_and_empty():
    with pytest.raises(DataError, match="2 channels, data has 3"):
        GaussianNormalizer(2).fit([torch.zeros(1, 3, 4)])
    with pytest.raises(DataError, match="empty"):
        GaussianNormalizer(2).fit([])
    norm = GaussianNormalizer(2)
    for code in (norm.encode, norm.decode):  # never broadcast one channel into two
        with pytest.raises(DataError) as err:
            code(torch.zeros(4, 1, 3, 3))
        assert str(err.value) == ("the normalizer has 2 channel(s) but the data has shape (4, 1, 3, 3) (channels "
                                  "second); use data with the 2 field(s) it was fitted on.")


def _two_pass(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and population variance of ``x : [B, C, ...]`` by numpy's two passes."""
    flat = np.moveaxis(x, 1, 0).reshape(x.shape[1], -1).astype(np.float64)
    return flat.mean(1), flat.var(1)


def _offset_fields(seed: int = 0) -> np.ndarray:
    # a large mean and a small spread: one-pass sums of squares lose every digit of the variance here
    rng = np.random.default_rng(seed)
    return (1e4 + rng.standard_normal((37, 3, 5, 6)) * np.array([1e-2, 1.0, 3.0])[None, :, None, None]).astype(
        np.float32)


def test_streamed_moments_equal_two_pass_numpy():
    x = _offset_fields()
    moments = ChannelMoments(3)
    for batch in np.array_split(x, [1, 2, 10, 25]):  # uneven batches
        moments.update(torch.from_numpy(batch))
    mean, var = _two_pass(x)
    assert moments.count == 37 * 30
    np.testing.assert_allclose(moments.mean.numpy(), mean, rtol=1e-14)
    np.testing.assert_allclose(moments.var.numpy(), var, rtol=1e-9)
    norm = GaussianNormalizer(3).fit_moments(moments)
    np.testing.assert_allclose(norm.std.numpy(), np.sqrt(var), rtol=1e-6)


def test_merged_partial_moments_equal_one_pass():
    x = torch.from_numpy(_offset_fields(1))
    parts = [ChannelMoments(3).update(p) for p in (x[:4], x[4:5], x[5:])]
    merged = ChannelMoments(3)
    for p in [*parts, ChannelMoments(3)]:  # an empty partial (a process without samples) changes nothing
        merged.merge(p)
    whole = ChannelMoments(3).update(x)
    assert merged.count == whole.count
    torch.testing.assert_close(merged.mean, whole.mean, rtol=1e-14, atol=0)
    torch.testing.assert_close(merged.m2, whole.m2, rtol=1e-10, atol=0)
    with pytest.raises(DataError, match="cannot merge moments of 2 channels into 3"):
        merged.merge(ChannelMoments(2))
    with pytest.raises(DataError, match="empty"):
        ChannelMoments(3).var  # noqa: B018


_REDUCE_WORKER = """
import sys, numpy as np, torch, torch.distributed as dist
from neurops.data.normalizers import ChannelMoments
dist.init_process_group("gloo")
rank = dist.get_rank()
x = torch.from_numpy(np.load(sys.argv[1]))
part = x[:5] if rank == 0 else x[5:]  # unequal shares
moments = ChannelMoments(x.shape[1]).update(part).all_reduce()
torch.save({"count": moments.count, "mean": moments.mean, "m2": moments.m2}, f"{sys.argv[2]}/rank{rank}.pt")
dist.barrier()
dist.destroy_process_group()
"""


@pytest.mark.processes  # ~5-10 s: two processes import torch.distributed; CI runs it in `make test-processes`
def test_all_reduce_across_two_processes(tmp_path, two_processes):
    x = _offset_fields(2)
    np.save(tmp_path / "x.npy", x)
    two_processes(_REDUCE_WORKER, str(tmp_path / "x.npy"), str(tmp_path))
    results = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    for key in ("mean", "m2"):
        assert torch.equal(results[0][key], results[1][key])  # bit-identical on every process
    mean, var = _two_pass(x)
    assert results[0]["count"] == x.size // 3
    np.testing.assert_allclose(results[0]["mean"].numpy(), mean, rtol=1e-14)
    np.testing.assert_allclose((results[0]["m2"] / results[0]["count"]).numpy(), var, rtol=1e-9)
