import pytest
import torch

from neurops.errors import ModelError
from neurops.models import build, resolution_behaviour


def _models(reference=(17, 17), **kw):
    torch.manual_seed(0)
    grid = build("unet", width=4, channel_multipliers=[1, 2, 2], **kw)
    fs = build("fs_unet", width=4, channel_multipliers=[1, 2, 2], reference_resolution=list(reference), **kw)
    fs.load_state_dict(grid.state_dict())
    return grid.double(), fs.double()


def test_function_space_unet_equals_the_unet_on_the_reference_grid():
    grid, fs = _models()
    x = torch.randn(2, 1, 17, 17, dtype=torch.float64)
    torch.testing.assert_close(fs(x), grid(x))
    assert resolution_behaviour(grid) == "fixed_grid" and resolution_behaviour(fs) == "function_space"


def test_function_space_unet_converges_under_refinement():
    """A smooth periodic input on 16, 32, 64 points: the fs_unet's outputs on the common points
    converge at second order (the grid-unit U-Net's move more on the first refinement)."""
    grid, fs = _models(reference=(16, 16), norm=False, boundary="periodic", grid_embedding=False)
    fields = {}
    for n in (16, 32, 64):
        c = torch.arange(n, dtype=torch.float64) / n
        x, y = torch.meshgrid(c, c, indexing="ij")
        f = torch.sin(2 * torch.pi * x) * torch.cos(2 * torch.pi * y) + torch.cos(2 * torch.pi * x)
        fields[n] = f[None, None]
    with torch.no_grad():
        fs_out = {n: fs(f) for n, f in fields.items()}
        grid_out = {n: grid(f) for n, f in fields.items()}
    d_fs = [(fs_out[n] - fs_out[2 * n][..., ::2, ::2]).abs().max().item() for n in (16, 32)]
    d_grid = [(grid_out[n] - grid_out[2 * n][..., ::2, ::2]).abs().max().item() for n in (16, 32)]
    assert d_fs[1] < 0.3 * d_fs[0]
    assert d_grid[0] > 1.5 * d_fs[0]


@pytest.mark.parametrize("conv", ["grid", "interp", "disco"])
def test_shapes_gradients_and_odd_grids(conv):
    model = build("unet", conv=conv, width=4, channel_multipliers=[1, 2], reference_resolution=[16],
                  boundary="periodic", dim=1)
    for n in (16, 32, 21):
        assert model(torch.randn(2, 1, n)).shape == (2, 1, n)
    model(torch.randn(2, 1, 32)).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_bad_options_name_the_fix():
    with pytest.raises(ModelError, match="reference_resolution"):
        build("fs_unet")
    with pytest.raises(ModelError, match="unknown conv"):
        build("unet", conv="fourier")
    with pytest.raises(ModelError, match="expects input"):
        build("unet")(torch.randn(1, 2, 8, 8))


@pytest.mark.parametrize("spatial", [(33, 5), (33, 2), (33, 1), (4, 6)])
def test_thin_grids_run(spatial):
    """Every second point takes a 5-point dirichlet axis to 1 point at the coarsest of 4 levels; it is
    constant along that axis and copied onto the finer level. This once failed with "a dirichlet axis
    needs at least 2 points; cannot resample (5, 1) -> (9, 2)"."""
    torch.manual_seed(0)
    model = build("unet", in_channels=1, out_channels=1, width=4)
    up = []
    model.up_blocks[-1].register_forward_hook(lambda _m, inp, _o: up.append(inp[0]))
    x = torch.randn(2, 1, *spatial)
    y = model(x)
    assert y.shape == (2, 1, *spatial) and torch.isfinite(y).all()
    coarse = up[0][:, :model.middle.conv2.out_channels]  # the coarsest level, upsampled: the first channels
    for axis, n in enumerate(spatial):
        if -(-n // 8) == 1:  # one point at the coarsest level (3 halvings): constant along the axis
            assert (coarse - coarse.narrow(2 + axis, 0, 1)).abs().max() == 0
    y.square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
