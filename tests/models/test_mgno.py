"""Tests for neurops.models.mgno (MgNO)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurops.errors import ModelError
from neurops.layers.resample import resample
from neurops.models import build, spec_of
from neurops.models.mgno import MGNO, PRESETS


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_rough_darcy_preset_matches_official_parameter_count():
    # official MgNO_DC, 4 layers, width 24, num_iteration [[1,0]]*5 + [[2,0]]: 572,661
    model = build("mgno", in_channels=1, out_channels=1, preset="darcy")
    assert abs(_n_params(model) - 572_661) <= 0.01 * 572_661
    assert _n_params(model) == 572_661
    assert model.levels == 6 and model.width == 24 and model.n_layers == 4


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_build_and_run(preset):
    model = MGNO.from_preset(preset, in_channels=2, out_channels=1)
    assert model.boundary == (PRESETS[preset]["boundary"],) * 2
    assert model(torch.randn(1, 2, 16, 16)).shape == (1, 1, 16, 16)


def test_explicit_arguments_override_preset():
    model = MGNO.from_preset("darcy", in_channels=1, out_channels=1, width=8, levels=3, boundary="periodic")
    assert model.width == 8 and model.levels == 3 and model.boundary == ("periodic", "periodic")
    assert model.n_layers == 4


@pytest.mark.parametrize(
    ("dim", "shape"), [(1, (40,)), (2, (24, 17)), (3, (8, 9, 6))]
)
def test_shapes_in_1d_2d_3d_and_gradients_to_every_parameter(dim, shape):
    torch.manual_seed(0)
    model = build(
        "mgno", in_channels=2, out_channels=3, width=4, n_layers=2,
        smoothing=[(1, 1), 1, 2], dim=dim,
    )
    x = torch.randn(2, 2, *shape)
    y = model(x)
    assert y.shape == (2, 3, *shape)
    y.square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("n", [29, 61, 85, 100])
def test_odd_and_non_power_of_two_grids(n):
    model = MGNO(1, 1, width=4, n_layers=1, levels=6)
    assert model(torch.randn(1, 1, n, n)).shape == (1, 1, n, n)


def test_resolution_agnostic_weights():
    model = MGNO(1, 1, width=4, n_layers=2, levels=4)
    for n in (16, 32, 45):
        out = model(torch.randn(1, 1, n, n))
        assert out.shape == (1, 1, n, n) and torch.isfinite(out).all()


def test_periodic_mgno_commutes_with_circular_shifts():
    """MgNO(roll(x)) == roll(MgNO(x)) for shifts that map every coarse grid onto itself."""
    torch.manual_seed(1)
    levels = 4  # shifts by multiples of 2**(levels - 1) = 8
    model = MGNO(1, 2, width=6, n_layers=2, levels=levels, boundary="periodic")
    x = torch.randn(2, 1, 32, 24)
    y = model(x)
    for shift in [(8, 0), (0, 16), (24, 8)]:
        torch.testing.assert_close(
            model(torch.roll(x, shift, dims=(2, 3))), torch.roll(y, shift, dims=(2, 3)),
            rtol=1e-4, atol=1e-5,
        )
    # a one-cell shift is not a symmetry of the strided coarse grids
    assert not torch.allclose(model(torch.roll(x, 1, dims=2)), torch.roll(y, 1, dims=2), atol=1e-3)


def test_dirichlet_mgno_does_not_wrap_around():
    """A field near one edge reaches the opposite edge only through a periodic boundary.

    With two levels and one layer the receptive field is a few cells, so the columns far
    from the support see exactly the zero-input response under Dirichlet padding, while
    the same weights with periodic padding carry the field across the boundary.
    """
    torch.manual_seed(2)
    n = 48
    x = torch.zeros(1, 1, n, n, dtype=torch.float64)
    x[..., 2:5] = torch.rand(1, 1, n, 3, dtype=torch.float64) + 0.5  # columns 2..4
    dirichlet = MGNO(1, 1, width=4, n_layers=1, levels=2, boundary="dirichlet").double()
    periodic = MGNO(1, 1, width=4, n_layers=1, levels=2, boundary="periodic").double()
    periodic.load_state_dict(dirichlet.state_dict())
    far = slice(n - 4, n)  # the last four columns
    zero = torch.zeros_like(x)
    torch.testing.assert_close(dirichlet(x)[..., far], dirichlet(zero)[..., far])
    assert (periodic(x)[..., far] - periodic(zero)[..., far]).abs().max() > 1e-3


def _fit_inverse_laplacian(shape: tuple[int, ...], model: MGNO, optimizer: str, steps: int) -> float:
    """Fit ``model`` to u = (-Delta_h)^(-1) f on white-noise f; return the test error."""
    lap_1d = [_second_difference(n) for n in shape]
    lap = lap_1d[0] if len(shape) == 1 else (
        np.kron(lap_1d[0], np.eye(shape[1])) + np.kron(np.eye(shape[0]), lap_1d[1])
    )
    green = torch.tensor(np.linalg.inv(lap), dtype=torch.float32)
    gen = torch.Generator().manual_seed(1)

    def sample(n_samples: int) -> tuple[torch.Tensor, torch.Tensor]:
        f = torch.randn(n_samples, 1, *shape, generator=gen)
        return f, (f.flatten(1) @ green.T).reshape(f.shape)

    f_train, u_train = sample(128)
    f_test, u_test = sample(64)
    if optimizer == "lbfgs":
        opt = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=steps, history_size=50,
                                line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = _rel_l2(model(f_train), u_train)
            loss.backward()
            return loss

        opt.step(closure)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=5e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=5e-3, total_steps=steps, pct_start=0.1)
        for _ in range(steps):
            f, u = sample(32)
            loss = _rel_l2(model(f), u)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    with torch.no_grad():
        return float(_rel_l2(model(f_test), u_test))


def _second_difference(n: int) -> np.ndarray:
    """Dirichlet second-difference matrix tridiag(-1, 2, -1) (-Delta with h = 1)."""
    return 2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)


def _rel_l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((pred - target).flatten(1).norm(dim=1) / target.flatten(1).norm(dim=1)).mean()


def test_one_layer_linear_mgno_learns_inverse_laplacian():
    """One V-cycle layer with identity activation fits (-Delta_h)^(-1) to < 1 % error (1D)."""
    torch.manual_seed(0)
    model = MGNO(1, 1, width=8, n_layers=1, smoothing=[1, 1, 1, 1, 2],
                 activation="identity", dim=1)
    assert _fit_inverse_laplacian((24,), model, "lbfgs", steps=150) < 1e-2


@pytest.mark.slow
def test_one_layer_linear_mgno_learns_inverse_laplacian_2d():
    """The same in 2D on a 16 x 16 grid (about a minute on one core)."""
    torch.manual_seed(0)
    model = MGNO(1, 1, width=16, n_layers=1, smoothing=[1, 1, 1, 1, 2],
                 activation="identity", dim=2)
    assert _fit_inverse_laplacian((16, 16), model, "adam", steps=1500) < 1e-2


def test_build_records_spec_and_rebuilds():
    model = build("mgno", in_channels=1, out_channels=2, preset="helmholtz", width=6)
    name, kwargs = spec_of(model)
    assert name == "mgno"
    clone = build(name, **kwargs)
    clone.load_state_dict(model.state_dict())
    x = torch.randn(1, 1, 12, 12)
    torch.testing.assert_close(clone(x), model(x))


def test_same_seed_same_weights():
    torch.manual_seed(7)
    a = MGNO(1, 1, width=4, levels=3)
    torch.manual_seed(7)
    b = MGNO(1, 1, width=4, levels=3)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_channels_last_and_channels_first_agree():
    torch.manual_seed(3)
    fast = MGNO(1, 1, width=6, levels=4)
    slow = MGNO(1, 1, width=6, levels=4, channels_last=False)
    slow.load_state_dict(fast.state_dict())
    x = torch.randn(2, 1, 20, 20)
    torch.testing.assert_close(fast(x), slow(x), rtol=1e-4, atol=1e-5)
    assert fast(x).is_contiguous()


def test_dim_inferred_from_boundary_and_dims():
    assert MGNO(1, 1, boundary=["periodic"], width=2, levels=2).ndim == 1
    model = MGNO(1, 1, boundary={"x": "periodic", "y": "dirichlet"}, dims=["x", "y"], width=2)
    assert model.boundary == ("periodic", "dirichlet")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"width": 0}, "width >= 1"),
        ({"in_channels": 0}, "in_channels >= 1"),
        ({"dim": 4}, "1, 2 or 3"),
        ({"dim": 2, "boundary": ["periodic"]}, "disagrees"),
        ({"boundary": "robin"}, "unknown boundary condition"),
        ({"levels": 3, "smoothing": [1, 2]}, "levels=3"),
        ({"smoothing": [0, 1]}, "pre-smoothing"),
        ({"activation": "swish"}, "unknown activation"),
    ],
)
def test_bad_configuration_raises_model_error(kwargs, match):
    with pytest.raises((ModelError, ValueError), match=match):
        MGNO(**{"in_channels": 1, "out_channels": 1, **kwargs})


def test_unknown_preset_raises_model_error():
    with pytest.raises(ModelError, match="unknown MgNO preset 'burgers'"):
        MGNO.from_preset("burgers", in_channels=1, out_channels=1)
    with pytest.raises(ModelError, match="unknown MgNO preset"):
        build("mgno", preset="burgers")


def test_preset_spec_rebuilds_the_same_model():
    """A checkpoint stores ``preset`` among the kwargs; building from that spec goes through from_preset."""
    torch.manual_seed(0)
    model = build("mgno", preset="helmholtz", width=6)
    assert spec_of(model) == ("mgno", {"preset": "helmholtz", "width": 6})
    torch.manual_seed(0)
    direct = MGNO.from_preset("helmholtz", width=6)
    assert model.boundary == direct.boundary == ("neumann", "neumann") and model.width == 6
    for a, b in zip(model.parameters(), direct.parameters()):
        assert torch.equal(a, b)


def test_wrong_input_shape_raises_model_error():
    model = MGNO(2, 1, width=2, levels=2)
    with pytest.raises(ModelError, match=r"expects input \[B, 2"):
        model(torch.randn(1, 1, 8, 8))
    with pytest.raises(ModelError, match="2 spatial dims"):
        model(torch.randn(1, 2, 8))


def test_reference_resolution_keeps_the_training_grid_prediction_on_finer_grids():
    """With reference_resolution the V-cycles run on the training grid: on the nodes a finer
    nested grid shares with it, the prediction is exactly the training-grid one."""
    torch.manual_seed(0)
    grid = MGNO(1, 1, width=4, n_layers=2, levels=3).double()
    ref = MGNO(1, 1, width=4, n_layers=2, levels=3, reference_resolution=[17, 17]).double()
    ref.load_state_dict(grid.state_dict())  # the same parameters
    x17 = torch.randn(2, 1, 17, 17, dtype=torch.float64)
    x33 = torch.randn(2, 1, 33, 33, dtype=torch.float64)
    x33[..., ::2, ::2] = x17
    torch.testing.assert_close(ref(x17), grid(x17))
    torch.testing.assert_close(ref(x33)[..., ::2, ::2], grid(x17))
    assert (grid(x33)[..., ::2, ::2] - grid(x17)).abs().max() > 1e-2  # grid units: another operator
    x9 = torch.randn(1, 1, 9, 9, dtype=torch.float64)  # coarser: the whole model runs on the 17-node grid
    torch.testing.assert_close(ref(x9), grid(resample(x9, (17, 17)))[..., ::2, ::2])
    assert grid.resolution_behaviour == "fixed_grid" and ref.resolution_behaviour == "function_space"
    assert sum(p.numel() for p in MGNO.from_preset("darcy", reference_resolution=[65, 65]).parameters()) == 572_661
    with pytest.raises(ModelError, match=r"built for 2 spatial axes but reference_resolution=\[17\]"):
        MGNO(1, 1, reference_resolution=[17])
    with pytest.raises(ModelError, match="one point count >= 2 per"):
        MGNO(1, 1, reference_resolution=[17, 1])
