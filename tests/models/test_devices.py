"""Every registered model on every test device (``pytest --device``): same values as on the CPU,
gradients too, buffers moved by ``.to(device)``, and no tensor created without its inputs' device.

A cross-cutting test of the registry rather than of one module: it builds each model by name.
"""

from __future__ import annotations

import pytest
import torch

from neurops.models import available, build

#: a small configuration and an input for every registered model; keeps up with the registry
#: (test_every_registered_model_has_a_case)
CASES = {
    "fno": (dict(in_channels=2, out_channels=1, modes=(4, 3), width=8, n_layers=2, projection_channels=16),
            (2, 2, 12, 10)),
    "fno_1d": (dict(in_channels=1, out_channels=1, modes=(5,), width=8, n_layers=2, projection_channels=16),
               (2, 1, 17)),
    "mgno": (dict(in_channels=1, out_channels=1, preset="darcy", width=6), (2, 1, 17, 17)),
    "mgno_periodic": (dict(in_channels=1, out_channels=1, preset="navier_stokes", width=6), (2, 1, 16, 16)),
    "lsm": (dict(in_channels=1, out_channels=1, width=8, num_scales=3, patch_size=(4, 4), num_heads=2,
                 head_width=8, norm="instance"), (2, 1, 16, 16)),
    "mgno_reference": (dict(in_channels=1, out_channels=1, preset="darcy", width=6, reference_resolution=[9, 9]),
                       (2, 1, 17, 17)),
    "lsm_reference": (dict(in_channels=1, out_channels=1, width=8, num_scales=3, patch_size=(4, 4), num_heads=2,
                           head_width=8, norm="instance", reference_resolution=[16, 16]), (2, 1, 31, 31)),
    "unet": (dict(in_channels=2, out_channels=1, width=4, channel_multipliers=(1, 2)), (2, 2, 12, 10)),
    "unet_disco": (dict(in_channels=1, out_channels=1, width=4, channel_multipliers=(1, 2), conv="disco",
                        radius=0.1), (2, 1, 17, 17)),
    "fs_unet": (dict(in_channels=1, out_channels=1, width=4, channel_multipliers=(1, 2), reference_resolution=[9, 9],
                     boundary="periodic"), (2, 1, 16, 16)),
    "dgno": (dict(resolution=(9, 9), latent_dim=8, width=16, depth=2, encoder_hidden=(16,)), (2, 1, 9, 9)),
    "multionet": (dict(resolution=(9,), latent_dim=8, width=16, depth=2, encoder_hidden=(16,), dirichlet="sin"),
                  (2, 1, 9)),
    "plrnn": (dict(obs_dim=3, latent_dim=4, seed=0), (2, 3)),
    "shplrnn": (dict(obs_dim=3, latent_dim=3, hidden_dim=6, observation="affine", seed=0), (2, 3)),
    "clipped_shplrnn": (dict(obs_dim=3, latent_dim=3, hidden_dim=6, seed=0), (2, 3)),
    "dendplrnn": (dict(obs_dim=3, latent_dim=4, seed=0), (2, 3)),
    "alrnn": (dict(obs_dim=3, latent_dim=4, n_relu=2, seed=0), (2, 3)),
    "dcdm": (dict(dim=2, width=4, fine_blocks=1, coarse_blocks=1), (2, 1, 9, 9)),
}
RNN_STEPS = 5
#: models of other packages wrapped for side-by-side runs (neurops.models.external): their code, not ours
PEERS = {"neuralop_fno"}


def _model_name(case: str) -> str:
    return case if case in available() else case.rsplit("_", 1)[0]


def _run(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model(x, RNN_STEPS) if x.ndim == 2 else model(x)


def _built(case: str) -> tuple[torch.nn.Module, torch.Tensor]:
    kwargs, shape = CASES[case]
    torch.manual_seed(0)
    model = build(_model_name(case), **kwargs).double()
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    if _model_name(case) in ("dgno", "multionet"):
        x = 5.0 + 5.0 * (x > 0).double()  # two-phase coefficient fields, as these models expect
    return model.eval(), x


def test_every_registered_model_has_a_case():
    assert set(available()) - PEERS <= {_model_name(c) for c in CASES}


@pytest.mark.parametrize("case", sorted(CASES))
def test_model_creates_no_tensor_without_the_inputs_device(case, implicit_device_trap):
    """Forward and backward on CPU data give the same values when stray factory calls would land on 'meta'."""
    model, x = _built(case)
    x.requires_grad_(True)
    expected = _run(model, x)
    (gx,) = torch.autograd.grad(expected.square().sum(), x)
    with implicit_device_trap():
        out = _run(model, x)
        (gx_trapped,) = torch.autograd.grad(out.square().sum(), x)
    assert out.device.type == "cpu" and gx_trapped.device.type == "cpu"
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gx_trapped, gx, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", sorted(CASES))
def test_model_on_device_matches_cpu(case, device):
    if torch.device(device).type == "cpu":
        pytest.skip("the CPU is the reference device")
    model, x = _built(case)
    x.requires_grad_(True)
    expected = _run(model, x)
    expected.square().sum().backward()
    model_dev = model.to(device)
    for name, t in [*model_dev.named_parameters(), *model_dev.named_buffers()]:
        assert t.device.type == torch.device(device).type, f"{case}: {name} stayed on {t.device}"
    model_dev.zero_grad()
    x_dev = x.detach().to(device).requires_grad_(True)
    out = _run(model_dev, x_dev)
    out.square().sum().backward()
    assert out.device.type == torch.device(device).type
    torch.testing.assert_close(out.cpu(), expected, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(x_dev.grad.cpu(), x.grad, rtol=1e-9, atol=1e-9)
