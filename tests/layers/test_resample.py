import math

import pytest
import torch

from neurops.layers.resample import Resample, cells, coarse_size, fine_size, on_grid, resample, spacing_ratio


def _grid(n: int, mode: str, ndim: int) -> list[torch.Tensor]:
    c = torch.arange(n, dtype=torch.float64) / cells(n, mode)
    return list(torch.meshgrid(*[c] * ndim, indexing="ij"))


def _field(n: int, mode: str, ndim: int) -> torch.Tensor:
    """Modes every grid below holds: periodic sin/cos, or cosines (even about the boundary nodes)."""
    xs = _grid(n, mode, ndim)
    if mode == "periodic":
        f = sum(torch.sin(2 * math.pi * (k + 1) * x) + 0.5 * torch.cos(2 * math.pi * k * x) for k, x in enumerate(xs))
    else:
        f = sum(torch.cos(math.pi * (k + 2) * x) for k, x in enumerate(xs))
    return f[None, None]


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", ["periodic", "dirichlet"])
@pytest.mark.parametrize("sizes", [(12, 24), (24, 12), (15, 22)])
def test_fourier_is_exact_on_modes_both_grids_hold(ndim, mode, sizes):
    n, m = sizes if mode == "periodic" else (sizes[0] + 1, sizes[1] + 1)
    out = resample(_field(n, mode, ndim), (m,) * ndim, "fourier", mode)
    torch.testing.assert_close(out, _field(m, mode, ndim), atol=1e-12, rtol=0)


def test_fourier_nyquist_mode_round_trips():
    x = torch.randn(2, 3, 16, dtype=torch.float64)  # all modes, Nyquist included
    up = resample(x, (32,), "fourier", "periodic")
    torch.testing.assert_close(resample(up, (16,), "fourier", "periodic"), x)
    torch.testing.assert_close(up[..., ::2], x)  # trigonometric interpolation passes through the samples


@pytest.mark.parametrize("mode", ["periodic", "dirichlet", "neumann"])
def test_linear_is_injection_on_nested_grids_and_exact_for_linear_fields(mode):
    n = 16 if mode == "periodic" else 17
    x = torch.randn(2, 1, n, n, dtype=torch.float64)
    fine = resample(x, (fine_size(n, mode),) * 2, "linear", mode)
    torch.testing.assert_close(fine[..., ::2, ::2], x)
    torch.testing.assert_close(resample(fine, (n, n), "linear", mode), x)
    if mode != "periodic":  # a linear function is reproduced at every point
        X, Y = _grid(n, mode, 2)
        F = _grid(fine_size(n, mode), mode, 2)
        torch.testing.assert_close(resample((2 * X - Y)[None, None], fine.shape[2:], "linear", mode),
                                   (2 * F[0] - F[1])[None, None])
    else:  # the periodic wrap: the new last point lies between the last and the first point
        torch.testing.assert_close(fine[..., -1, ::2], (x[..., -1, :] + x[..., 0, :]) / 2)


def test_linear_interpolation_error_shrinks_quadratically():
    def f(k: int) -> torch.Tensor:
        x, y = _grid(k, "dirichlet", 2)
        return torch.sin(2.0 * x) * torch.exp(y)

    errors = []
    for n in (9, 17, 33):
        errors.append((resample(f(n)[None, None], (2 * n - 1,) * 2) - f(2 * n - 1)).abs().max().item())
    assert 3.5 < errors[0] / errors[1] < 4.5 and 3.5 < errors[1] / errors[2] < 4.5


def test_sizes_ratios_and_module():
    assert coarse_size(65, "dirichlet") == 33 and coarse_size(64, "periodic") == 32
    assert coarse_size(64, "dirichlet") == -1 and fine_size(33, "neumann") == 65
    assert spacing_ratio((129, 128), (65, 64), ("dirichlet", "periodic")) == (2.0, 2.0)
    up = Resample(factor=2, boundary=("dirichlet", "periodic"))
    assert up(torch.zeros(1, 2, 33, 32)).shape == (1, 2, 65, 64)
    assert Resample(factor=0.5)(torch.zeros(1, 1, 65, 65)).shape == (1, 1, 33, 33)
    with pytest.raises(ValueError, match="no counterpart"):
        Resample(factor=0.5)(torch.zeros(1, 1, 64, 64))
    with pytest.raises(ValueError, match="exactly one"):
        Resample()
    with pytest.raises(ValueError, match="unknown resampling mode"):
        resample(torch.zeros(1, 1, 8), (16,), "cubic")


def test_on_grid_runs_a_block_on_the_reference_grid():
    calls = []

    def block(x):
        calls.append(tuple(x.shape[2:]))
        return 2 * x

    x = torch.randn(1, 1, 65, 65, dtype=torch.float64)
    y = on_grid(block, x, (33, 33))
    assert calls == [(33, 33)] and y.shape == x.shape
    torch.testing.assert_close(y[..., ::2, ::2], 2 * x[..., ::2, ::2])  # exact on the reference points
    torch.testing.assert_close(on_grid(block, x, (65, 65)), 2 * x)


def test_dtype_and_device_follow_the_input():
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    for mode in ("linear", "fourier"):
        assert resample(x, (16, 16), mode, "periodic").dtype == torch.float64


def test_an_axis_kept_at_its_size_needs_no_spacing():
    """A 1-node dirichlet axis has no spacing, but mapping it onto itself is exact; only an axis that
    changes its point count needs 2 nodes."""
    x = torch.randn(2, 3, 5, 1)
    y = resample(x, (9, 1))
    torch.testing.assert_close(y[..., ::2, :], x)
    with pytest.raises(ValueError, match=r"a dirichlet axis needs at least 2 points; cannot resample \(5, 1\) -> "
                                         r"\(9, 2\)"):
        resample(x, (9, 2))


def test_int_fields_and_factors_that_are_not_finite_and_positive_are_named():
    """An int field failed in torch ('"upsample_bilinear2d_channels_last" not implemented for 'Long''), a NaN factor
    raised "cannot convert float NaN to integer" at the first forward pass."""
    import inspect

    from neurops.errors import ModelError

    with pytest.raises(ModelError, match=r"^resample interpolates real floating-point fields, got torch\.int64; pass "
                                         r"x\.float\(\)\.$"):
        inspect.unwrap(resample)(torch.ones(1, 1, 5, 5, dtype=torch.long), (9, 9))
    for factor in (float("nan"), float("inf"), 0.0, -2.0):
        with pytest.raises(ModelError, match=rf"^factor={factor!r}: a refinement factor must be finite and > 0 "
                                             r"\(0\.5 coarsens by 2\)\.$"):
            Resample(factor=factor)
    assert Resample(factor=0.5)(torch.ones(1, 1, 9, 9)).shape == (1, 1, 5, 5)
