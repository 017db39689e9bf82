import math

import pytest
import torch

from neurops.layers.local_integral import LocalIntegralConv, local_basis, quadrature_weights


def _field(n: int, mode: str, ndim: int) -> torch.Tensor:
    c = torch.arange(n, dtype=torch.float64) / (n if mode == "periodic" else n - 1)
    xs = torch.meshgrid(*[c] * ndim, indexing="ij")
    f1 = sum(torch.sin(2 * math.pi * (k + 1) * x) for k, x in enumerate(xs))
    k = 2 if mode == "periodic" else 1  # cos(2 pi x) is periodic, cos(pi x) is even about both ends
    return torch.stack([f1, math.prod(torch.cos(k * math.pi * x) for x in xs)])[None]


@pytest.mark.parametrize("mode,ndim", [("periodic", 1), ("periodic", 2), ("dirichlet", 2), ("periodic", 3)])
def test_outputs_on_refined_grids_converge(mode, ndim):
    torch.manual_seed(0)
    conv = LocalIntegralConv(2, 2, radius=1 / 4, n_rings=2, boundary=mode, ndim=ndim).double()
    every_second = (Ellipsis, *[slice(None, None, 2)] * ndim)
    sizes = (4, 8, 16) if ndim == 3 else (16, 32, 64)
    with torch.no_grad():
        out = {n: conv(_field(n if mode == "periodic" else n + 1, mode, ndim)) for n in sizes}
    diffs = [(out[n] - out[2 * n][every_second]).abs().max().item() for n in sizes[:-1]]
    assert all(a > 2.5 * b for a, b in zip(diffs, diffs[1:])), diffs


def test_parameters_do_not_depend_on_the_grid_and_the_kernel_is_local():
    conv = LocalIntegralConv(1, 1, radius=1 / 8, n_rings=3, order=1, bias=False).double()
    assert conv.weight.shape == (1, 1, 3 + 2 * 2)
    assert conv.stencil((17, 17)).shape[-1] == 5 and conv.stencil((65, 65)).shape[-1] == 17
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 0] = 1.0  # the central hat only: a local average over |y| < r / 3
    x = torch.zeros(1, 1, 65, 65, dtype=torch.float64)
    x[0, 0, 32, 32] = 1.0
    y = conv(x)[0, 0]
    assert y[32, 32] > 0 and y[32, 40] == 0 and y[32, 35] == 0  # radius r/3 = 2.7 cells


def test_constant_input_gives_the_kernel_integral_on_every_grid():
    """Mean value of a radial hat: int phi / |B_r|; the quadrature converges to it."""
    conv = LocalIntegralConv(1, 1, radius=1 / 8, n_rings=1, order=0, boundary="periodic", bias=False).double()
    with torch.no_grad():
        conv.weight.fill_(1.0)
    values = [conv(torch.ones(1, 1, n, n, dtype=torch.float64))[0, 0, 0, 0].item() for n in (32, 64, 128)]
    exact = 1.0 / 3.0  # int_{|y|<r} (1 - |y|/r) dy / (pi r^2) in 2D
    assert all(abs(v - exact) < 5e-4 for v in values), values


def test_quadrature_weights_and_basis():
    w = quadrature_weights((5, 4), ("dirichlet", "periodic"), dtype=torch.float64)
    assert w.shape == (5, 4) and w[0, 0] == 0.125 * 0.25 and w[2, 1] == 0.25 * 0.25
    assert w.sum().item() == pytest.approx(1.0)
    b = local_basis((0.1,), 0.35, n_rings=2, order=1)
    assert b.shape == (3, 7) and (b[:, [0, -1]] == 0).all() is not False
    with pytest.raises(ValueError, match="radius"):
        LocalIntegralConv(1, 1, radius=0.0)


def test_an_infinite_radius_is_refused():
    """radius=inf built a layer (``radius > 0`` holds), whose basis is then not finite."""
    from neurops.errors import ModelError

    with pytest.raises(ModelError, match=r"^need a finite radius > 0, n_rings >= 1 and order 0 or 1; got inf, 3, 1$"):
        LocalIntegralConv(2, 3, radius=math.inf)


def test_a_grid_coarser_than_the_radius_warns_once_per_shape():
    """A radius below the grid spacing left only the centre tap, so outputs scaled like (h / r)^d (about 1e5 here)
    without a word; now one NeuropsWarning per layer and grid shape names the spacing, the points and the fix."""
    import warnings

    from neurops.errors import NeuropsWarning

    conv = LocalIntegralConv(1, 1, radius=1e-4)
    x = torch.rand(1, 1, 9, 9)
    with pytest.warns(NeuropsWarning) as record:
        conv(x)
        conv(x)
    assert [str(w.message) for w in record] == [
        "LocalIntegralConv(radius=0.0001) on a grid of shape (9, 9): the grid spacing exceeds the radius on axis 0 "
        "(9 points, spacing 0.125), axis 1 (9 points, spacing 0.125), so the kernel there is only its centre tap and "
        "the quadrature does not resolve it (outputs scale like (spacing / radius)^2); use a grid of at least 10001 "
        "points on axis 0, 10001 points on axis 1, or a radius >= 0.125."]
    periodic = LocalIntegralConv(1, 1, radius=1 / 8, boundary="periodic")
    with pytest.warns(NeuropsWarning, match=r"axis 0 \(7 points, spacing 0.142857\), so .* at least 8 points on "
                                            r"axis 0, or a radius >= 0.142857\.$"):
        periodic(torch.rand(1, 1, 7, 9))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        periodic(torch.rand(1, 1, 8, 8))
        LocalIntegralConv(1, 1, radius=1 / 8)(torch.rand(1, 1, 9, 9))
