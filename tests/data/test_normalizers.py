import pytest
import torch

from neurops.data.normalizers import GaussianNormalizer
from neurops.errors import DataError


def test_fit_encode_decode_per_channel():
    torch.manual_seed(0)
    x = torch.randn(50, 2, 8, 8) * torch.tensor([3.0, 0.5]).view(1, 2, 1, 1) + torch.tensor([1.0, -2.0]).view(1, 2, 1, 1)
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
