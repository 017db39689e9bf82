import pytest
import torch

from neurops.errors import ModelError
from neurops.models import available, build, spec_of
from neurops.models.dgno import DGNO, grid_points

SMALL = dict(resolution=(9, 9), latent_dim=8, width=16, depth=3, encoder_hidden=(32,))


def _randomize(net: torch.nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g))


def _two_phase(n: int, res: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 5.0 + 5.0 * (torch.rand(n, 1, res, res, generator=g) > 0.5).float()


def test_registered_and_rebuildable():
    assert {"dgno", "multionet"} <= set(available())
    model = build("dgno", **SMALL)
    assert spec_of(model) == ("dgno", SMALL)


def test_grid_points_match_flattened_fields():
    pts = grid_points((3, 4), [(0.0, 1.0), (-1.0, 2.0)])
    assert pts.shape == (12, 2)
    assert pts[1].tolist() == [0.0, 0.0] and pts[4].tolist() == [0.5, -1.0] and pts[-1].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("encoder", ["mlp", "cnn"])
def test_forward_is_resolution_agnostic_and_zero_on_the_boundary(encoder):
    model = build("dgno", encoder=encoder, encoder_channels=(4, 4), **SMALL)
    _randomize(model)
    a = _two_phase(2, 9)
    u = model(a)
    assert u.shape == (2, 1, 9, 9)
    assert u[..., 0, :].abs().max() < 1e-6 and u[..., :, -1].abs().max() < 1e-6
    assert u.abs().max() > 1e-3
    fine = torch.nn.functional.interpolate(a, size=(17, 17), mode="bilinear", align_corners=True)
    u_fine = model(fine)
    assert u_fine.shape == (2, 1, 17, 17)
    assert torch.allclose(u_fine[..., ::2, ::2], u, atol=1e-5)  # same function, sampled on a nested grid


def test_solution_gradient_matches_autograd_with_the_dirichlet_factor():
    model = build("dgno", **SMALL)
    _randomize(model, 1)
    beta = model.encode(_two_phase(3, 9))
    x = torch.rand(11, 2)
    u, du = model.solution_and_grad(x, beta)
    xb = x.expand(3, 11, 2).clone().requires_grad_(True)
    ub = model.solution(xb, beta)
    (g,) = torch.autograd.grad(ub.sum(), xb)
    assert torch.allclose(u, ub, atol=1e-6) and torch.allclose(du[:, :, 0], g, atol=1e-5)
    # per-sample points take the same path
    u2, du2 = model.solution_and_grad(xb.detach(), beta)
    assert torch.allclose(du2, du, atol=1e-5)


def test_bernoulli_decoder_mean_variance_and_loss():
    torch.manual_seed(0)  # the initialisation draws from the global generator
    model = build("dgno", **SMALL)
    a = _two_phase(2, 9)
    beta = model.encode(a)
    x = grid_points((9, 9))
    # untrained: logits 0 -> p = 1/2, mean 7.5, variance 25/4, BCE = log 2
    assert torch.allclose(model.a_mean(x, beta), torch.full((2, 81, 1), 7.5))
    assert torch.allclose(model.a_variance(x, beta), torch.full((2, 81, 1), 6.25))
    assert model.a_nll(a, beta).item() == pytest.approx(0.693147, abs=1e-5)
    # a few steps on the reconstruction alone lower it
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        loss = model.a_nll(a, model.encode(a))
        loss.backward()
        opt.step()
    assert loss.item() < 0.6  # from log 2 = 0.693; 0.45-0.52 over initialisation seeds 0-7


def test_gaussian_decoder_and_flux_head():
    model = build("dgno", a_likelihood="gaussian", a_low=0.0, a_high=2.0, in_channels=2, mixed_form=False, **SMALL)
    a = torch.rand(2, 2, 9, 9) * 2
    beta = model.encode(a)
    assert model.a_mean(grid_points((9, 9)), beta).shape == (2, 81, 2)
    assert torch.equal(model.a_variance(grid_points((9, 9)), beta), torch.zeros(2, 81, 2))
    assert model.a_nll(a, beta) > 0
    with pytest.raises(ModelError, match="no flux head"):
        model.flux(torch.rand(3, 2), beta)
    mixed = build("dgno", **SMALL)
    assert mixed.flux(torch.rand(3, 2), mixed.encode(_two_phase(2, 9))).shape == (2, 3, 1, 2)


def test_default_dgno_builds_in_3d():
    """The mixed form's flux head has dim * out_channels = 3 outputs: the default width 100 is split 34, 33, 33
    (it was refused with "MultiONet width 100 must be divisible by out_channels 3")."""
    model = build("dgno", resolution=(5, 5, 5))
    beta = model.encode(5.0 + 5.0 * (torch.rand(2, 1, 5, 5, 5) > 0.5).float())
    assert model.flux(torch.rand(4, 3), beta).shape == (2, 4, 1, 3)
    assert model(torch.rand(2, 1, 5, 5, 5) + 5.0).shape == (2, 1, 5, 5, 5)
    with pytest.raises(ModelError, match=r"DGNO: the mixed form's flux head s ~ a grad u has dim \* out_channels = "
                                         r"3 \* 1 = 3 outputs, one group of the width's hidden features each, so "
                                         r"width must be at least 3, got 2; raise width or set mixed_form=False"):
        build("dgno", resolution=(5, 5, 5), width=2)
    assert build("dgno", resolution=(5, 5, 5), width=2, mixed_form=False).flux_head is None
    with pytest.raises(ModelError, match="MultiONet: width 2 must be at least out_channels 3"):
        build("multionet", out_channels=3, width=2)


def test_dgno_errors_are_clear():
    with pytest.raises(ModelError, match="Bernoulli"):
        DGNO(in_channels=2, **SMALL)
    with pytest.raises(ModelError, match="a_likelihood"):
        DGNO(a_likelihood="poisson", **SMALL)
    with pytest.raises(ModelError, match="a_high > a_low"):
        DGNO(a_low=3.0, a_high=1.0, **SMALL)
    # a two-phase decoder of a_low <= 0 used to be built and trained, and its inversion ended, after all the sampling,
    # in the true solver's 'the diffusion coefficient must be finite and > 0 at every node (min 0)'
    for a_low in (-1.0, 0.0):
        with pytest.raises(ModelError) as err:
            DGNO(a_low=a_low, a_high=1.0, **SMALL)
        assert str(err.value) == (
            "DGNO: the two-phase (Bernoulli) decoder's values a_low, a_high are those of the Darcy coefficient a, "
            "which must be > 0 (-div(a grad u) = f is elliptic only then; the true solver refuses others), got "
            f"a_low={a_low}, a_high=1.0; give the two phases' values, e.g. a_low=5, a_high=10.")
    assert DGNO(a_likelihood="gaussian", a_low=-1.0, a_high=1.0, mixed_form=False, **SMALL).a_low == -1.0  # a range
    with pytest.raises(ModelError, match="encoder"):
        DGNO(encoder="rnn", **SMALL)
    with pytest.raises(ModelError, match="1, 2 or 3 axes"):
        DGNO(resolution=(4, 4, 4, 4))
    model = DGNO(**SMALL)
    with pytest.raises(ModelError, match=r"DGNO.encode expects input \[B, 1, 2 spatial dims\]"):
        model(torch.rand(2, 9, 9))


def test_multionet_operator_learns_a_linear_map_and_changes_resolution():
    torch.manual_seed(0)
    model = build("multionet", resolution=(9,), latent_dim=8, width=16, depth=2, encoder_hidden=(16,),
                  dirichlet="sin")
    x = torch.linspace(0, 1, 9)
    coef = torch.randn(32, 1, 1)
    a = coef * torch.cos(torch.pi * x)[None, None]
    u = coef * torch.sin(torch.pi * x)[None, None]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(150):
        opt.zero_grad()
        loss = ((model(a) - u) ** 2).mean()
        first = first if first is not None else loss.item()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * first
    assert model(a).shape == (32, 1, 9)
    assert model.predict_on(a, (17,)).shape == (32, 1, 17)
    assert torch.allclose(model.predict_on(a, (17,))[..., ::2], model(a), atol=1e-5)
    with pytest.raises(ModelError, match="dirichlet"):
        build("multionet", dirichlet="robin")


def test_a_numpy_array_is_one_error_naming_the_conversion():
    """DGNO(a) and DGNO.a_nll given a NumPy array raised AttributeError: 'numpy.ndarray' object has no attribute
    'is_floating_point' (the shape check read it first); now the dtype check, which names the conversion, runs
    first (models.arguments.check_dtype refuses anything but a tensor)."""
    model = DGNO(**SMALL)
    a = _two_phase(2, 9).numpy()
    for call, name in ((model, "DGNO.encode"), (lambda x: model.a_nll(x, torch.zeros(2, 8)), "DGNO.a_nll")):
        with pytest.raises(ModelError) as err:
            call(a)
        assert str(err.value) == (f"{name}: the input is a numpy ndarray, not a torch.Tensor; pass "
                                  "torch.as_tensor(x, dtype=torch.float32).")


def test_numpy_query_points_or_latent_codes_are_one_error_naming_the_argument():
    """DGNO.a_mean, the solution decoders and the flux head given NumPy points or codes raised torch's TypeError
    ("linear(): argument 'input' must be Tensor", or from torch.linspace for decode_solution: "received an invalid
    combination of arguments"); now each raises one ModelError naming the method, the argument and the conversion."""
    model = DGNO(**SMALL, mixed_form=True)
    x, beta = torch.rand(5, 2), torch.zeros(2, 8)
    calls = {name: getattr(model, name) for name in ("a_params", "a_mean", "a_variance", "solution",
                                                      "solution_and_grad", "flux")}
    for name, call in calls.items():
        for argument, args in (("x", (x.numpy(), beta)), ("beta", (x, beta.numpy()))):
            with pytest.raises(ModelError) as err:
                call(*args)
            assert str(err.value) == (f"DGNO.{name}: {argument} is a numpy ndarray, not a torch.Tensor; pass "
                                      f"torch.as_tensor({argument}, dtype=torch.float32).")
    for name, call in (("decode_solution", lambda b: model.decode_solution(b, (9, 9))),
                       ("decode_coefficient", lambda b: model.decode_coefficient(b, (9, 9))),
                       ("a_nll", lambda b: model.a_nll(_two_phase(2, 9), b))):
        with pytest.raises(ModelError) as err:
            call(beta.numpy())
        assert str(err.value) == (f"DGNO.{name}: beta is a numpy ndarray, not a torch.Tensor; pass "
                                  "torch.as_tensor(beta, dtype=torch.float32).")
    with pytest.raises(ModelError, match=r"^DGNO.solution: beta is float64 but the model's parameters are float32; "
                                         r"pass beta.to\(torch.float32\), or model.double\(\)\.$"):
        model.solution(x, beta.double())
