"""Tests of the Latent Spectral Model (neurops/models/lsm.py)."""

from __future__ import annotations

import pytest
import torch

from neurops.errors import ModelError
from neurops.layers.resample import resample
from neurops.models import build, spec_of
from neurops.models.lsm import LSM, PRESETS


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _small(in_channels=3, out_channels=2, patch_size=(4, 4), **kw) -> LSM:
    torch.manual_seed(0)
    kw.setdefault("width", 8)
    kw.setdefault("num_scales", 3)
    return LSM(in_channels, out_channels, patch_size=patch_size, num_heads=4, head_width=16, **kw)


@pytest.mark.parametrize(
    "patch, spatial",
    [((4,), (32,)), ((4, 4), (16, 16)), ((2, 2, 2), (8, 8, 8))],
)
def test_shapes_and_gradients_reach_every_parameter(patch, spatial):
    model = _small(patch_size=patch)
    x = torch.randn(2, 3, *spatial)
    y = model(x)
    assert y.shape == (2, 2, *spatial)
    y.square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("patch, spatial", [((4,), (37,)), ((4, 4), (29, 20)), ((2, 3, 2), (9, 10, 7))])
def test_grids_that_are_not_multiples_of_the_patch_size(patch, spatial):
    model = _small(patch_size=patch).eval()
    y = model(torch.randn(2, 3, *spatial))
    assert y.shape == (2, 2, *spatial) and torch.isfinite(y).all()


def test_resolution_change_after_training_steps():
    """Fit a few steps on 16x16, then predict on 24x24 and 33x33: shapes, finite values,
    and a smooth target learned on the coarse grid stays closer than the untrained model."""
    torch.manual_seed(0)
    model = _small(1, 1, norm="instance")

    def data(n):
        g = torch.linspace(0, 1, n)
        xx, yy = torch.meshgrid(g, g, indexing="ij")
        a = torch.stack([torch.sin(torch.pi * (k + 1) * xx) * torch.cos(torch.pi * yy) for k in range(4)])[:, None]
        return a, 2.0 * a

    a16, u16 = data(16)
    a24, u24 = data(24)
    model.eval()
    with torch.no_grad():
        before = (model(a24) - u24).norm() / u24.norm()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(60):
        opt.zero_grad()
        loss = (model(a16) - u16).square().mean()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        after = (model(a24) - u24).norm() / u24.norm()
        y33 = model(data(33)[0])
    assert y33.shape == (4, 1, 33, 33) and torch.isfinite(y33).all()
    assert after < 0.5 * before


def test_batch_independence_in_eval_mode():
    model = _small().eval()
    x = torch.randn(3, 3, 16, 16)
    torch.testing.assert_close(model(x)[1:2], model(x[1:2]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("preset, in_ch, expected", [("darcy", 1, 19_187_457), ("navier_stokes", 10, 19_188_033)])
def test_preset_parameter_counts_match_the_paper(preset, in_ch, expected):
    model = build("lsm", preset=preset)
    n = _n_params(model)
    assert n == expected
    assert abs(n - 19.19e6) / 19.19e6 < 0.005  # research notes: 19.19M for both
    assert model.in_channels == in_ch and model.patch_size == PRESETS[preset]["patch_size"]
    assert spec_of(model) == ("lsm", {"preset": preset})


def test_3d_plasticity_configuration_parameter_count():
    # the paper's 3D plasticity model: width 32, patch (7, 2, 2), 4 output channels: 13.46M
    model = LSM(1, 4, width=32, patch_size=(7, 2, 2))
    assert abs(_n_params(model) - 13.46e6) / 13.46e6 < 0.005


def test_explicit_kwargs_override_preset_and_same_seed_same_weights():
    torch.manual_seed(1)
    a = LSM.from_preset("navier_stokes", width=8, num_scales=2, in_channels=3)
    torch.manual_seed(1)
    b = LSM.from_preset("navier_stokes", width=8, num_scales=2, in_channels=3)
    assert a.width == 8 and a.in_channels == 3 and a.patch_size == (4, 4)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_int_patch_size_with_ndim_and_single_scale():
    model = LSM(2, 1, width=8, num_scales=1, patch_size=3, ndim=1, num_heads=2, head_width=8)
    assert model.patch_size == (3,)
    assert model(torch.randn(2, 2, 10)).shape == (2, 1, 10)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(patch_size=(4, 4), ndim=3), "ndim"),
        (dict(patch_size=(2, 2, 2, 2)), "1, 2 or 3"),
        (dict(num_scales=0), "num_scales"),
        (dict(norm="layer"), "norm"),
    ],
)
def test_invalid_configuration_raises_model_error(kwargs, match):
    with pytest.raises(ModelError, match=match):
        LSM(**kwargs)


def test_unknown_preset_raises_model_error_with_suggestion():
    with pytest.raises(ModelError, match="unknown LSM preset 'darcyy'. Did you mean 'darcy'"):
        LSM.from_preset("darcyy")
    with pytest.raises(ModelError, match="unknown LSM preset"):
        build("lsm", preset="darcyy")


def test_wrong_input_raises_model_error():
    model = _small()
    with pytest.raises(ModelError, match="in_channels"):
        model(torch.randn(1, 5, 16, 16))
    with pytest.raises(ModelError, match="expects input"):
        model(torch.randn(1, 3, 16))


def test_reference_resolution_runs_the_backbone_on_the_training_grid():
    torch.manual_seed(0)
    grid = _small(1, 1).eval().double()
    ref = _small(1, 1, reference_resolution=[16, 16]).eval().double()
    ref.load_state_dict(grid.state_dict())
    x16 = torch.randn(2, 1, 16, 16, dtype=torch.float64)
    torch.testing.assert_close(ref(x16), grid(x16))
    x31 = torch.randn(2, 1, 31, 31, dtype=torch.float64)  # 2x as fine as 16 nodes
    x31[..., ::2, ::2] = x16
    torch.testing.assert_close(ref(x31)[..., ::2, ::2], grid(x16))
    x8 = x16[..., ::2, ::2][..., :8, :8]  # 8 nodes: coarser, the whole model runs on the 16-node grid
    torch.testing.assert_close(ref(x8), resample(grid(resample(x8, (16, 16))), (8, 8)))
    assert grid.resolution_behaviour == "fixed_grid" and ref.resolution_behaviour == "function_space"
    with pytest.raises(ModelError, match=r"patch_size=\(4, 4\) is for 2 spatial axes but reference_resolution"):
        _small(1, 1, reference_resolution=[16])
    with pytest.raises(ModelError, match="one point count >= 2 per"):
        _small(1, 1, reference_resolution=[16, 1])


def _paper_scales(**kw) -> LSM:
    """Five scales (the paper's and the default), small widths."""
    torch.manual_seed(0)
    return LSM(1, 1, width=8, num_tokens=2, num_basis=4, num_heads=2, head_width=8, **kw)


@pytest.mark.parametrize("patch, spatial", [((4, 4), (16, 16)), ((4, 4), (8, 8)), ((4, 4), (33, 5)),
                                            ((4,), (3,)), ((7, 2, 2), (14, 8, 8))])
def test_grids_of_16_points_or_fewer_run_with_five_scales(patch, spatial):
    """The grid is padded to at least 2**num_scales points, so the coarsest scale keeps 2 per axis: this
    once failed with "a dirichlet axis needs at least 2 points; cannot resample (1, 1) -> (2, 2)"
    (eval) and with batch norm's "Expected more than 1 value per channel" (training, batch 1)."""
    model = _paper_scales(patch_size=patch)
    coarsest = []
    model.encoders[-1].register_forward_hook(lambda _m, _i, out: coarsest.append(tuple(out.shape[2:])))
    y = model.eval()(torch.randn(2, 1, *spatial))
    assert y.shape == (2, 1, *spatial) and torch.isfinite(y).all()
    assert coarsest == [tuple(max(2, -(-n // 16)) for n in spatial)]
    model.train()(torch.randn(1, 1, *spatial)).square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_padding_rule_keeps_the_results_of_grids_above_16_points():
    """Outputs of the 5-scale model on 64x64 and 85x85 (padded to 64 and 96 as before): mean, spread and
    the last row, where the padding acts, as computed by the code before the minimum size was added
    (padding 64 to 96 instead moves them by up to 3e-3)."""
    model = _paper_scales(patch_size=(4, 4)).eval()
    old = {64: (-0.1864122531369503, 0.0005092669463176276, [-0.1863096, -0.185653, -0.1859119, -0.1837517]),
           85: (-0.1864477600028358, 0.0004680374973649664, [-0.1868764, -0.1867542, -0.1854944, -0.1870184])}
    for n, (mean, std, last_row) in old.items():
        x = torch.randn(2, 1, n, n, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            y = model(x)
        assert y.double().mean().item() == pytest.approx(mean, abs=1e-6)
        assert y.double().std().item() == pytest.approx(std, rel=1e-3)
        torch.testing.assert_close(y[1, 0, -1, -4:], torch.tensor(last_row), rtol=0, atol=1e-5)


def test_int_patch_size_takes_its_axes_from_the_reference_grid_or_the_boundary():
    """An LSM on 1-D data (the tasks fill reference_resolution with the training grid) assumed 2 axes and failed
    with "reference_resolution=[16] needs one point count >= 2 per spatial axis (2)"; now, as MgNO and the U-Net,
    it takes its axes from the reference grid, else a per-axis boundary, else 2."""
    torch.manual_seed(0)
    model = build("lsm", in_channels=1, out_channels=1, width=8, reference_resolution=[33]).eval()
    assert model.ndim == 1 and model.patch_size == (4,) and model.reference_resolution == (33,)
    for n in (33, 65, 16):
        assert model(torch.randn(2, 1, n)).shape == (2, 1, n)
    assert build("lsm", width=8, num_scales=2, reference_resolution=[16], boundary=["periodic"]).ndim == 1
    assert build("lsm", width=8, num_scales=2, boundary=["periodic"] * 3).ndim == 3
    assert build("lsm", width=8, num_scales=2, boundary="periodic").ndim == 2
    assert build("lsm", width=8, num_scales=2, reference_resolution=[9, 9, 9], ndim=3).ndim == 3


def test_the_default_two_axes_and_the_presets_are_unchanged():
    """Without ndim, reference grid or per-axis boundary an int patch_size still means 2 axes, with the weights and
    outputs of ndim=2; the presets (per-axis patch sizes) build as before, with or without a reference grid."""
    torch.manual_seed(0)
    default = LSM(1, 1, width=8, num_scales=3, num_heads=2).eval()
    torch.manual_seed(0)
    explicit = LSM(1, 1, width=8, num_scales=3, num_heads=2, ndim=2).eval()
    x = torch.randn(2, 1, 20, 20)
    assert default.ndim == 2 and torch.equal(default(x), explicit(x))
    for name, expected in (("darcy", 19_187_457), ("navier_stokes", 19_188_033)):
        for grid in (None, [85, 85]):
            model = LSM.from_preset(name, reference_resolution=grid)
            assert model.ndim == 2 and _n_params(model) == expected


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(ndim=2, reference_resolution=[33]),
         r"^LSM: ndim=2 is for 2 spatial axes but reference_resolution=\[33\] \(the training data's grid\) has 1; "
         r"drop ndim \(an int patch_size then takes the data's axes\), or train it on 2-D data\.$"),
        # the Darcy preset's patch (6, 6) on a 1-D file: the old message asked for a grid the data does not have
        (dict(patch_size=(6, 6), reference_resolution=[64]), r"^LSM: patch_size=\(6, 6\) is for 2 spatial axes but "
         r"reference_resolution=\[64\] \(the training data's grid\) has 1; give patch_size one entry per axis of "
         r"the data, or one int for every axis \(e\.g\. 6\), or train it on 2-D data\.$"),
        (dict(ndim=1, reference_resolution=[33, 33]), r"ndim=1 .* reference_resolution=\[33, 33\]"),
        (dict(patch_size=(4, 4), reference_resolution=[33]), r"patch_size=\(4, 4\) .* reference_resolution=\[33\]"),
        (dict(reference_resolution=[9, 9, 9, 9]), r"1, 2 or 3 spatial axes, got 4 \(from reference_resolution"),
    ],
)
def test_axes_that_contradict_the_reference_grid_are_refused(kwargs, match):
    with pytest.raises(ModelError, match=match):
        build("lsm", width=8, num_scales=2, **kwargs)


def test_the_task_builds_an_lsm_for_1d_data():
    """OperatorTask fills reference_resolution (the training grid) and boundary (one mode per axis) from the data."""
    from neurops.tasks.operator import OperatorTask

    class Meta:
        def boundary_modes(self):
            return ("periodic",)

    task = OperatorTask(model="lsm", model_kwargs={"width": 8, "num_scales": 5})
    task._build(1, 1, Meta(), (16,))
    assert task.net.ndim == 1 and task.net.reference_resolution == (16,) and task.net.boundary == ("periodic",)
    assert task.net(torch.randn(2, 1, 16)).shape == (2, 1, 16)
