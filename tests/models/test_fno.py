import pytest
import torch

from neurops.errors import ModelError
from neurops.metrics.field import relative_lp
from neurops.models import build
from tests.conftest import smooth_operator_pair


@pytest.mark.parametrize("modes,shape", [((6,), (24,)), ((4, 4), (16, 12)), ((3, 3, 3), (8, 8, 8))])
def test_shapes_1d_2d_3d(modes, shape):
    model = build("fno", in_channels=2, out_channels=3, modes=modes, width=8, n_layers=2, padding=0.25)
    assert model(torch.randn(2, 2, *shape)).shape == (2, 3, *shape)


def test_every_parameter_gets_a_gradient():
    model = build("fno", modes=(4, 4), width=8, n_layers=3)
    model(torch.randn(2, 1, 16, 16)).pow(2).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_trained_at_32_evaluated_at_64():
    torch.manual_seed(0)
    _, a32, u32 = smooth_operator_pair(32, 32, seed=0)
    _, a64, u64 = smooth_operator_pair(16, 64, seed=1)
    x, y = torch.from_numpy(a32)[:, None], torch.from_numpy(u32)[:, None]
    model = build("fno", modes=(6, 6), width=16, n_layers=2, projection_channels=32)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(100):
        opt.zero_grad()
        loss = relative_lp(model(x), y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        err32 = relative_lp(model(x[:16]), y[:16]).item()
        err64 = relative_lp(model(torch.from_numpy(a64)[:, None]), torch.from_numpy(u64)[:, None]).item()
    assert err32 < 0.08, err32
    assert err64 < 2.0 * err32 + 0.02, (err32, err64)


def test_bad_input_shape_is_named():
    model = build("fno", in_channels=2, modes=(4, 4), width=4)
    with pytest.raises(ModelError, match=r"expects input \[B, 2, 2 spatial dims\]"):
        model(torch.randn(1, 1, 8, 8))


@pytest.mark.parametrize("padding, fitting", [
    (0.0, [(8, 8), (9, 8), (8, 9), (12, 12)]),
    (0.25, [(8, 8), (9, 8), (7, 7), (8, 9), (6, 6), (12, 12)]),  # padded: 7 -> 9, 6 -> 8 points
])
def test_check_grid_agrees_with_the_forward_pass(padding, fitting):
    model = build("fno", modes=(4, 5), width=4, n_layers=1, padding=padding)
    grids = [(8, 8), (9, 8), (7, 7), (8, 9), (6, 6), (10, 3), (12, 12)]
    for grid in grids:
        try:
            model.check_grid(grid)
            fits = True
        except ModelError as exc:
            fits = False
            padded = [n + round(padding * n) for n in grid]
            assert f"at most {[padded[0] // 2, padded[1] // 2 + 1]} Fourier modes per axis" in str(exc)
        try:
            model(torch.randn(1, 1, *grid))
            runs = True
        except ModelError:
            runs = False
        assert fits == runs == (grid in fitting), grid
    with pytest.raises(ModelError, match="modes for 2 spatial dims"):
        model.check_grid((16,))
