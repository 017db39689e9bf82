import math

import pytest
import torch

from neurops.errors import ConfigError, ModelError
from neurops.layers.deeponet import (
    ConvFieldEncoder,
    DeepONet,
    MLPFieldEncoder,
    MultiONet,
    SiLUId,
    SiLUSin,
    TanhSin,
    dirichlet_factor,
    get_activation,
)


def _randomize(net: torch.nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g))


def test_activations_match_their_formulas():
    x = torch.linspace(-2, 2, 11)
    assert torch.allclose(TanhSin()(x), torch.tanh(torch.sin(math.pi * (x + 1))) + x)
    assert torch.allclose(SiLUSin()(x), torch.nn.functional.silu(torch.sin(math.pi * (x + 1))) + x)
    assert torch.allclose(SiLUId()(x), torch.nn.functional.silu(x) + x)
    with pytest.raises(ConfigError, match="unknown activation"):
        get_activation("swishy")


def test_multionet_starts_at_its_bias_and_is_the_weighted_sum_of_layer_inner_products():
    torch.manual_seed(0)
    net = MultiONet(latent_dim=5, dim=2, width=8, depth=3, sum_layers=2)
    x, beta = torch.rand(7, 2), torch.rand(4, 5)
    # weights start at zero: the output is the bias
    assert torch.equal(net(x, beta), torch.zeros(4, 7, 1))
    _randomize(net)
    t, b = net.trunk.hidden_states(x)[-2:], net.branch.hidden_states(beta)[-2:]
    w = net.layer_weights
    expected = (w[0] * b[0] @ t[0].T + w[1] * b[1] @ t[1].T) / 2 + net.bias
    assert torch.allclose(net(x, beta)[..., 0], expected, atol=1e-5)


def test_multionet_shared_and_per_sample_points_agree():
    net = MultiONet(4, 3, width=6, depth=2, out_channels=2)
    _randomize(net)
    x, beta = torch.rand(9, 3), torch.rand(2, 4)
    assert net(x, beta).shape == (2, 9, 2)
    assert torch.allclose(net(x, beta), net(x.expand(2, 9, 3), beta), atol=1e-6)


@pytest.mark.parametrize("width, sizes", [(8, [4, 4]), (9, [5, 4]), (10, [4, 3, 3])])
def test_multionet_outputs_take_one_group_of_hidden_features_each(width, sizes):
    """Equal groups when the outputs divide the width (as always before); otherwise the first groups have one
    feature more (a width not divisible by out_channels was once refused: DGNO's 3-D flux head)."""
    net = MultiONet(latent_dim=5, dim=2, width=width, depth=3, sum_layers=2, out_channels=len(sizes))
    _randomize(net)
    x, beta = torch.rand(7, 2), torch.rand(4, 5)
    t, b = net.trunk.hidden_states(x)[-2:], net.branch.hidden_states(beta)[-2:]
    w, start = net.layer_weights, 0
    for c, size in enumerate(sizes):
        part = slice(start, start + size)
        expected = (w[0] * b[0][:, part] @ t[0][:, part].T + w[1] * b[1][:, part] @ t[1][:, part].T) / 2
        torch.testing.assert_close(net(x, beta)[..., c], expected + net.bias[c])
        start += size
    torch.testing.assert_close(net(x, beta), net(x.expand(4, 7, 2), beta))


@pytest.mark.parametrize("head", ["multionet", "deeponet", "multionet_uneven"])
@pytest.mark.parametrize("shared", [True, False])
def test_value_and_grad_matches_autograd(head, shared):
    net = (MultiONet(3, 2, width=8, depth=3, out_channels=2) if head == "multionet"
           else MultiONet(3, 2, width=9, depth=3, out_channels=2) if head == "multionet_uneven"
           else DeepONet(3, 2, width=8, depth=2, basis=4, out_channels=2))
    _randomize(net, 1)
    beta = torch.rand(3, 3)
    x = torch.rand(10, 2) if shared else torch.rand(3, 10, 2)
    u, grad = net.value_and_grad(x, beta)
    xb = (x.expand(3, 10, 2) if shared else x).clone().requires_grad_(True)
    ub = net(xb, beta)
    assert torch.allclose(u, ub, atol=1e-6)
    for c in range(2):
        (g,) = torch.autograd.grad(ub[..., c].sum(), xb, retain_graph=True)
        assert torch.allclose(grad[:, :, c], g, atol=1e-5)


def test_gradients_reach_every_parameter_through_value_and_grad():
    net = MultiONet(3, 2, width=8, depth=3)
    _randomize(net, 2)
    u, grad = net.value_and_grad(torch.rand(5, 2), torch.rand(2, 3))
    (u.sum() + (grad**2).sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_deeponet_is_an_inner_product_of_trunk_and_branch_outputs():
    net = DeepONet(3, 1, width=5, depth=2, basis=4)
    _randomize(net, 3)
    x, beta = torch.rand(6, 1), torch.rand(2, 3)
    expected = net.branch(beta) @ net.trunk(x).T + net.bias
    assert torch.allclose(net(x, beta)[..., 0], expected, atol=1e-5)


def test_head_errors_are_clear():
    net = MultiONet(4, 2, width=8, depth=2)
    with pytest.raises(ModelError, match=r"beta must have shape \[B, 4\]"):
        net(torch.rand(3, 2), torch.rand(2, 5))
    with pytest.raises(ModelError, match="query points"):
        net(torch.rand(3, 3), torch.rand(2, 4))
    with pytest.raises(ModelError, match="B = 2"):
        net(torch.rand(5, 3, 2), torch.rand(2, 4))
    with pytest.raises(ConfigError, match="MultiONet width 2 must be at least out_channels 3: each output takes"):
        MultiONet(4, 2, width=2, out_channels=3)
    with pytest.raises(ConfigError, match="sum_layers"):
        MultiONet(4, 2, depth=3, sum_layers=4)


@pytest.mark.parametrize("encoder", ["mlp", "cnn"])
@pytest.mark.parametrize("dim", [1, 2, 3])
def test_field_encoders_accept_any_resolution(encoder, dim):
    res = (9,) * dim
    enc = (MLPFieldEncoder(2, res, [16], 6) if encoder == "mlp"
           else ConvFieldEncoder(2, res, [4, 4], [16], 6))
    a = torch.rand(3, 2, *res)
    assert enc(a).shape == (3, 6)
    # a field on a finer grid that nests the sensor grid gives the same code
    fine = torch.nn.functional.interpolate(a, size=(17,) * dim, mode={1: "linear", 2: "bilinear", 3: "trilinear"}[dim],
                                           align_corners=True)
    assert torch.allclose(enc(fine), enc(a), atol=1e-5)
    with pytest.raises(ModelError, match="expected a field"):
        enc(torch.rand(3, 1, *res))


@pytest.mark.parametrize("kind", ["sin", "poly"])
@pytest.mark.parametrize("dim", [1, 2, 3])
def test_dirichlet_factor_vanishes_on_the_boundary_with_exact_gradient(kind, dim):
    domain = [(-1.0, 2.0)] * dim
    x = (torch.rand(20, dim, dtype=torch.float64) * 3 - 1).requires_grad_(True)
    m, dm = dirichlet_factor(x, domain, kind)
    (g,) = torch.autograd.grad(m.sum(), x)
    assert torch.allclose(dm, g)
    assert (m > 0).all()
    edge = x.detach().clone()
    edge[:, 0] = 2.0
    assert torch.allclose(dirichlet_factor(edge, domain, kind)[0], torch.zeros(20, dtype=torch.float64), atol=1e-12)
    with pytest.raises(ConfigError, match="Dirichlet factor kind"):
        dirichlet_factor(x, domain, "cubic")
    with pytest.raises(ConfigError, match="low < high"):
        dirichlet_factor(x, [(1.0, 0.0)] * dim)
