import numpy as np
import pytest
import torch

from neurops.errors import ConfigError, DataError
from neurops.inverse import DarcyForward, SurrogateForward, observe
from neurops.inverse.forward import subsample
from neurops.solvers import solve_darcy  # the public export


def test_darcy_forward_matches_the_generators_direct_solve():
    rng = np.random.default_rng(0)
    a = np.exp(0.5 * rng.standard_normal((3, 17, 17)))
    for mean in ("arithmetic", "harmonic"):
        u = DarcyForward(forcing=2.0, mean=mean, rtol=1e-10)(torch.as_tensor(a))
        ref = solve_darcy(a, 2.0, method="direct", mean=mean)
        assert np.allclose(u.numpy(), ref, rtol=1e-7, atol=1e-12)


def test_darcy_forward_gradient_is_the_adjoint_one():
    """d/da of sum_i w_i u(x_i) by the adjoint solve agrees with a central difference along a random direction."""
    gen = torch.Generator().manual_seed(0)
    a = torch.exp(0.3 * torch.randn(1, 9, 9, generator=gen, dtype=torch.float64))
    pts = torch.tensor([[0.25, 0.5], [0.5, 0.75], [0.625, 0.375]], dtype=torch.float64)
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    fwd = DarcyForward(rtol=1e-12)
    loss = lambda x: (observe(fwd(x), pts) * w).sum()  # noqa: E731
    x = a.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(x), x)
    d = torch.randn(a.shape, generator=gen, dtype=torch.float64)
    eps = 1e-5
    fd = (loss(a + eps * d) - loss(a - eps * d)) / (2 * eps)
    assert float((grad * d).sum()) == pytest.approx(float(fd), rel=1e-6)


def test_observe_interpolates_node_values_and_subsample_keeps_nodes():
    x = np.linspace(0, 1, 9)
    u = torch.as_tensor(np.add.outer(2 * x, 3 * x))[None]  # linear: interpolation is exact anywhere
    pts = torch.tensor([[0.125, 0.5], [0.3, 0.71]], dtype=torch.float64)
    assert np.allclose(observe(u, pts)[0].numpy(), 2 * pts[:, 0].numpy() + 3 * pts[:, 1].numpy())
    assert subsample(u, 5).shape == (1, 5, 5) and torch.equal(subsample(u, 5)[0, 1], u[0, 2, ::2])
    with pytest.raises(DataError, match="not a subsample"):
        subsample(u, 4)
    with pytest.raises(ConfigError, match="face mean"):
        DarcyForward(mean="geometric")


def test_surrogate_forward_evaluates_the_model_on_its_grid():
    calls = []

    def model(x):
        calls.append(tuple(x.shape))
        return 2 * x

    fwd = SurrogateForward(model, resolution=5, batch_size=2)
    a = torch.rand(3, 9, 9, dtype=torch.float64)
    u = fwd(a)
    assert u.shape == (3, 5, 5) and u.dtype == torch.float64
    assert torch.allclose(u, 2 * a[:, ::2, ::2].float().double())
    assert calls == [(2, 1, 5, 5), (1, 1, 5, 5)]


@pytest.mark.parametrize("forcing", [0.0, float("inf")])
def test_darcy_forward_refuses_a_forcing_that_cannot_identify_the_coefficient(forcing):
    with pytest.raises(ConfigError) as err:
        DarcyForward(forcing=forcing)
    assert str(err.value) == (f"forcing must be a finite number other than 0 (with f = 0 the pressure u is 0 for every "
                              f"coefficient a, so u says nothing about a), got {forcing}; pass the forcing the "
                              f"observed data were generated with (--forcing).")


def test_darcy_forward_takes_a_numpy_forcing():
    """One shared check of the forcing took only Python numbers for a while: a NumPy float (e.g. read from an
    array) was refused as 'not a finite number'."""
    assert DarcyForward(forcing=np.float32(2.0)).forcing == 2.0
    assert isinstance(DarcyForward(forcing=np.int64(3)).forcing, float)
    with pytest.raises(ConfigError, match="got np.True_|got True"):
        DarcyForward(forcing=np.bool_(True))


def test_observe_takes_arrays_and_points_on_another_device(device):
    """NumPy arrays used to be an AttributeError ('numpy.ndarray' object has no attribute 'to'), and points on the
    CPU with fields on a GPU a device mismatch inside grid_sample."""
    x = np.linspace(0, 1, 5)
    u = np.stack([x[:, None] + 2 * x[None, :]] * 2)
    points = np.array([[0.25, 0.5], [1.0, 0.0]])
    expected = np.array([[1.25, 1.0]] * 2)
    assert np.allclose(observe(u, points).numpy(), expected)
    values = observe(torch.as_tensor(u, device=device), torch.as_tensor(points))
    assert values.device.type == torch.device(device).type and np.allclose(values.cpu().numpy(), expected)


def test_a_surrogate_record_in_place_of_its_model_names_forward():
    """SurrogateForward(load_surrogate(ckpt)) used to fail at the first step: 'Surrogate' object is not callable."""
    from neurops.inverse import Surrogate

    record = Surrogate("fno", lambda x: x, None, {})
    with pytest.raises(ConfigError) as err:
        SurrogateForward(record)
    assert str(err.value) == ("model must be callable, [B, 1, *R] -> [B, 1, *R], got Surrogate (a Surrogate of "
                              "load_surrogate: pass its .forward, SurrogateForward(surrogate.forward, "
                              "name=surrogate.name)).")
    with pytest.raises(ConfigError, match=r"^model must be callable, \[B, 1, \*R\] -> \[B, 1, \*R\], got str\.$"):
        SurrogateForward("fno.ckpt")


def test_forward_maps_refuse_what_is_not_a_floating_point_tensor():
    """DarcyForward given a NumPy array raised AttributeError ('numpy.ndarray' object has no attribute 'to'), and
    given an integer tensor returned u rounded to integers; SurrogateForward raised AttributeError too."""
    surrogate = SurrogateForward(lambda x: x)
    for forward, name in ((DarcyForward(), "DarcyForward"), (surrogate, "SurrogateForward")):
        for a, got in ((np.ones((1, 9, 9)), "a numpy ndarray; convert it with torch.as_tensor(..., "
                                            "dtype=torch.float64) (or float32)"),
                       (torch.ones(1, 9, 9, dtype=torch.int64), "dtype int64; convert it with .to(torch.float64) "
                                                                "(or float32)")):
            with pytest.raises(DataError) as err:
                forward(a)
            assert str(err.value) == f"{name}: a must be a floating-point torch.Tensor [B, *R], got {got}."
