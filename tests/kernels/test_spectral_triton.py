"""The Triton spectral convolution against the reference path (neurops/kernels/spectral_triton.py).

On ``cpu`` the kernels run in Triton's interpreter (``TRITON_INTERPRET=1``, set by conftest), so
shapes are small; ``pytest --device cuda`` runs the same tests on compiled kernels.

Tolerances (relative L2 error of outputs and gradients against the float32/float64 reference):
float32 ``1e-5`` (3xTF32 on GPUs is within a few 1e-7 of float32), bfloat16 ``2e-2`` and
float16 ``4e-3`` (inputs and transform tables rounded to 8 / 11 significant bits, float32
accumulation), float64 ``1e-12``.
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton")

from neurops.errors import ConfigError  # noqa: E402
from neurops.kernels.spectral import PATH_VARIABLE, select_path, spectral_conv, spectral_conv_reference  # noqa: E402
from neurops.kernels.spectral_triton import mode_mix, spectral_conv_triton, truncated_dft, truncated_idft  # noqa: E402

#: (spatial, modes): even and odd grids, every mode of an odd half spectrum, up to the Nyquist
#: frequency of an even one, 1-D, 2-D and 3-D
CASES = [
    ((16,), (5,)),
    ((15,), (8,)),
    ((12, 10), (4, 6)),
    ((11, 17), (5, 9)),
    ((4, 5, 6), (2, 2, 3)),
]
TOLERANCE = {torch.float32: 1e-5, torch.bfloat16: 2e-2, torch.float16: 4e-3, torch.float64: 1e-12}


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm())


def _inputs(spatial, modes, device, dtype=torch.float32, ci=2, co=3, batch=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    kept = [2 * m for m in modes[:-1]] + [modes[-1]]
    x = torch.randn(batch, ci, *spatial, generator=g, dtype=torch.float64)
    w = torch.randn(ci, co, *kept, 2, generator=g, dtype=torch.float64)
    return x.to(device=device, dtype=dtype), w.to(device)


@pytest.mark.parametrize("spatial,modes", CASES)
def test_matches_reference_forward_and_backward_float32(spatial, modes, triton_device):
    x, w = _inputs(spatial, modes, triton_device)
    w = w.float()
    x.requires_grad_(True)
    w.requires_grad_(True)
    ref = spectral_conv_reference(x, w, modes)
    out = spectral_conv_triton(x, w, modes)
    assert out.shape == ref.shape and out.dtype == torch.float32 and out.device == x.device
    assert _rel(out, ref) < TOLERANCE[torch.float32]
    g = torch.randn_like(ref)
    for a, b in zip(torch.autograd.grad(out, (x, w), g), torch.autograd.grad(ref, (x, w), g)):
        assert a.dtype == b.dtype and _rel(a, b) < TOLERANCE[torch.float32]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("spatial,modes", [((15,), (6,)), ((11, 12), (4, 5))])
def test_half_precision_inputs_accumulate_in_float32(spatial, modes, dtype, triton_device):
    """bf16/fp16 fields of any size (11 x 12: no power of two); float32 weights, as under autocast."""
    x64, w64 = _inputs(spatial, modes, triton_device, dtype=torch.float64)
    ref = spectral_conv_reference(x64.to(dtype).double(), w64, modes)  # exact math on the rounded input
    x = x64.to(dtype).requires_grad_(True)
    w = w64.float().requires_grad_(True)
    out = spectral_conv_triton(x, w, modes)
    assert out.dtype == dtype
    assert _rel(out, ref) < TOLERANCE[dtype]
    g = torch.randn(ref.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64).to(triton_device)
    x_ref, w_ref = x64.to(dtype).double().requires_grad_(True), w64.clone().requires_grad_(True)
    ref_grads = torch.autograd.grad(spectral_conv_reference(x_ref, w_ref, modes), (x_ref, w_ref), g)
    gx, gw = torch.autograd.grad(out, (x, w), g.to(dtype))
    assert gx.dtype == dtype and gw.dtype == torch.float32
    assert _rel(gx, ref_grads[0]) < TOLERANCE[dtype] and _rel(gw, ref_grads[1]) < TOLERANCE[dtype]


@pytest.mark.parametrize("spatial,modes", [((7,), (3,)), ((6, 5), (2, 3))])
def test_float64_gradcheck(spatial, modes, triton_device):
    x, w = _inputs(spatial, modes, triton_device, dtype=torch.float64, ci=2, co=1, batch=1)
    x.requires_grad_(True)
    w.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: spectral_conv_triton(a, b, modes), (x, w), fast_mode=True)
    out = spectral_conv_triton(x, w, modes)
    assert _rel(out, spectral_conv_reference(x, w, modes)) < TOLERANCE[torch.float64]


def test_transforms_are_the_truncated_rfft_and_its_inverse(triton_device):
    """The kept coefficients equal rfft2's; the inverse of a spectrum with only those modes is irfft2."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 9, 14, generator=g, dtype=torch.float64).to(triton_device)
    z = truncated_dft(x, (3, 5))
    full = torch.fft.rfft2(x, norm="forward")
    kept = torch.cat([full[:, :3, :5], full[:, -3:, :5]], dim=1)
    torch.testing.assert_close(torch.view_as_complex(z), kept)
    padded = torch.zeros_like(full)
    padded[:, :3, :5], padded[:, -3:, :5] = kept[:, :3], kept[:, 3:]
    torch.testing.assert_close(truncated_idft(z, (9, 14), torch.float64),
                               torch.fft.irfft2(padded, s=(9, 14), norm="forward"))


def test_mode_mix_contracts_per_mode_with_conjugates_and_transposes(triton_device):
    g = torch.Generator().manual_seed(4)
    a = torch.randn(3, 4, 5, 2, generator=g, dtype=torch.float64).to(triton_device)  # [P, R, K]
    b = torch.randn(4, 2, 5, 2, generator=g, dtype=torch.float64).to(triton_device)  # [R, Q, K]
    ac, bc = torch.view_as_complex(a), torch.view_as_complex(b)
    torch.testing.assert_close(torch.view_as_complex(mode_mix(a, b)), torch.einsum("prk,rqk->pqk", ac, bc))
    bt = b.transpose(0, 1).contiguous()  # [Q, R, K]
    torch.testing.assert_close(torch.view_as_complex(mode_mix(a, bt, transpose_b=True, conj_b=True)),
                               torch.einsum("prk,rqk->pqk", ac, bc.conj()))
    at = a.transpose(0, 1).contiguous()  # [R, P, K]
    torch.testing.assert_close(torch.view_as_complex(mode_mix(at, b, adjoint_a=True)),
                               torch.einsum("prk,rqk->pqk", ac.conj(), bc))


def test_dispatcher_picks_and_forces_paths(triton_device, monkeypatch):
    x, w = _inputs((12, 10), (3, 3), triton_device, batch=1)
    w = w.float()
    expected = "triton" if torch.device(triton_device).type == "cuda" else "fft"  # 3 of 12 points: FFT on CPUs
    assert select_path(x, w, (3, 3)) == expected
    monkeypatch.setenv(PATH_VARIABLE, "triton")
    torch.testing.assert_close(spectral_conv(x, w, (3, 3)), spectral_conv_reference(x, w, (3, 3)),
                               rtol=1e-5, atol=1e-5)
    monkeypatch.setenv(PATH_VARIABLE, "trition")
    with pytest.raises(ConfigError, match=rf"{PATH_VARIABLE}='trition' is not a path of this kernel"):
        spectral_conv(x, w, (3, 3))
    torch.testing.assert_close(spectral_conv(x, w, (3, 3), path="fft"), spectral_conv_reference(x, w, (3, 3)),
                               rtol=1e-5, atol=1e-5)  # an explicit path wins over the variable


def test_bad_inputs_are_clear_errors(triton_device):
    x, w = _inputs((12, 10), (3, 3), triton_device, batch=1)
    with pytest.raises(ConfigError, match="cannot take dtype torch.int64"):
        spectral_conv_triton(x.long(), w, (3, 3))
    with pytest.raises(ValueError, match="Fourier modes"):
        spectral_conv_triton(x, w, (7, 3))
    with pytest.raises(ConfigError, match="weights are on meta"):
        spectral_conv_triton(x, w.to("meta"), (3, 3))
    with pytest.raises(ValueError, match=r"weights have shape \(2, 3, 3, 6, 2\), expected \(2, 3, 6, 3, 2\)"):
        spectral_conv_triton(x, w.reshape(2, 3, 3, 6, 2), (3, 3))  # as many numbers, another layout


def test_autotuning_keeps_the_inverse_dft_of_float_fields_to_32_row_tiles():
    """The 64-row inverse-DFT tiles faulted on float32 fields on an H200 (see ``_faulting_idft_config``): large
    float32/float64 fields tune over the 32-row tile only, bfloat16 fields over all, small fields take the first."""
    from neurops.kernels.spectral_triton import _idft

    def kept(n, dtype):
        args = {"N1": n, "N2": n, "y_ptr": torch.empty(1, dtype=dtype)}
        return [c.kwargs["BLOCK_1"] for c in _idft._prune(_idft.configs, args)]

    assert kept(64, torch.float32) == kept(64, torch.float64) == [32]
    assert kept(64, torch.bfloat16) == [32, 64, 64]
    assert kept(16, torch.bfloat16) == [32]
