"""Model-constructor checks (neurops/models/arguments.py): a bad size is one ModelError naming it, for every model."""

from __future__ import annotations

import re

import numpy as np
import pytest

from neurops.errors import ModelError
from neurops.models.arguments import check_sizes, per_axis
from neurops.models.registry import build


def test_check_sizes_names_the_argument() -> None:
    check_sizes("M", width=1, depth=np.int64(3))
    for bad in (0, -2, 2.5, "4", True, None):
        with pytest.raises(ModelError, match=rf"^M: depth must be a whole number >= 1, got {bad!r}\.$"):
            check_sizes("M", width=4, depth=bad)
    check_sizes("M", minimum=0, blocks=0)


def test_per_axis_takes_one_whole_number_per_axis() -> None:
    assert per_axis("M", "modes", [12, np.int32(8)], example="[12, 12]") == (12, 8)
    assert per_axis("M", "grid", (2,), example="[29]", minimum=2) == (2,)
    for bad in (4, [], [4, 0], [4, -1], [1, 2, 3, 4], [2.5, 3], "12", [1], None):
        with pytest.raises(ModelError, match=r"^M: grid is one whole number >= 2 per spatial axis, for 1, 2 or 3 "
                                             r"axes, e.g. \[29\]; got "):
            per_axis("M", "grid", bad, example="[29]", minimum=2)


SMALL = {  # quick-to-build settings of every field-space model, and the sizes a user could get wrong
    "fno": ({"modes": [4, 4], "width": 8}, ["in_channels", "out_channels", "width", "n_layers",
                                             "projection_channels"], "modes"),
    "lsm": ({"width": 8, "num_scales": 2, "head_width": 8, "num_heads": 2},
            ["in_channels", "out_channels", "width", "num_tokens", "num_basis", "num_heads", "head_width"],
            "patch_size"),
    "unet": ({"width": 4, "channel_multipliers": [1, 2]}, ["in_channels", "out_channels"], None),
    "dgno": ({"resolution": [9, 9], "latent_dim": 4, "encoder_hidden": [8], "width": 8, "depth": 2},
             ["in_channels", "out_channels", "latent_dim", "width", "depth"], "resolution"),
    "multionet": ({"resolution": [9, 9], "latent_dim": 4, "encoder_hidden": [8], "width": 8, "depth": 2},
                  ["in_channels", "out_channels", "latent_dim", "width", "depth"], "resolution"),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_model_refuses_a_zero_or_negative_size(name: str) -> None:
    """A size of 0 or -1 used to raise a PyTorch RuntimeError or ZeroDivisionError, or build a model without
    weights; now the constructor names the argument."""
    base, sizes, per_axis_name = SMALL[name]
    build(name, **base)  # the base settings are valid
    for size in sizes:
        for bad in (0, -1):
            with pytest.raises(ModelError, match=rf"{size} must be a whole number >= 1, got {bad}"):
                build(name, **{**base, size: bad})
    if per_axis_name:
        for bad in ([4, -1], [0, 4], 0 if name == "lsm" else 4):  # LSM takes one patch size for all axes
            with pytest.raises(ModelError, match=rf"{per_axis_name} is one whole number >= \d per spatial axis"):
                build(name, **{**base, per_axis_name: bad})


def test_dgno_encoder_widths_and_u_scale() -> None:
    base = SMALL["dgno"][0]
    with pytest.raises(ModelError, match=r"encoder_hidden\[1\] must be a whole number >= 1, got -1"):
        build("dgno", **{**base, "encoder_hidden": [8, -1]})
    with pytest.raises(ModelError, match="encoder_channels is a list of layer widths"):
        build("dgno", **{**base, "encoder_channels": 4})
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ModelError, match="u_scale must be a finite number > 0"):
            build("dgno", **{**base, "u_scale": bad})


def test_an_unknown_spectral_path_is_refused_when_the_model_is_built() -> None:
    from neurops.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown spectral-convolution path 'bogus'"):
        build("fno", modes=[4, 4], width=8, spectral_path="bogus")


@pytest.mark.parametrize("name", ["mgno", "lsm"])
def test_reference_resolution_is_point_counts_or_null(name: str) -> None:
    """On the command line ``null`` inside model_kwargs arrives as the text 'None', which was read as the point
    counts ['N', 'o', 'n', 'e'] and then refused as the wrong number of axes."""
    model = {"mgno": "MgNO", "lsm": "LSM"}[name]
    base = {"mgno": {"width": 4, "levels": 2}, "lsm": SMALL["lsm"][0]}[name]
    with pytest.raises(ModelError, match=rf"^{model}: reference_resolution='None' is text, not point counts; give one "
                                         r"number per axis \(e\.g\. \[64, 64\]\), or null in a config file") as info:
        build(name, **{**base, "reference_resolution": "None"})
    # the example fits every model (the U-Net has no presets): the model's other kwargs stay, whatever they are
    assert str(info.value).endswith("with the model's other kwargs kept (e.g. --model.model_kwargs "
                                    "'{..., \"reference_resolution\": null}').")
    assert "preset" not in str(info.value)
    # an LSM with an int patch_size takes its number of axes from the reference grid, so [33] is a 1-D LSM
    for bad in ([33, 1], [33.5, 33]):
        with pytest.raises(ModelError, match=rf"^{model}: reference_resolution=.* needs one point count >= 2 per "
                                             r"spatial axis \(2\), e\.g\. \[64, 64\], or null \(grid units\)\.$"):
            build(name, **{**base, "reference_resolution": bad})
    assert build(name, **{**base, "reference_resolution": [33, 33]}).reference_resolution == (33, 33)
    assert build(name, **{**base, "reference_resolution": None}).reference_resolution is None


def test_a_training_grid_of_other_axes_names_the_model_setting_not_another_grid() -> None:
    """``neurops fit --config darcy_mgno`` on a 1-D file said "reference_resolution=[64] needs one point count
    >= 2 per spatial axis (2), e.g. [64, 64]": the task had filled in the data's grid, which the user never wrote,
    and the fix named a grid the data does not have. The error now names the model's setting that fixes its axes."""
    with pytest.raises(ModelError, match=r"^MgNO: the model is built for 2 spatial axes but reference_resolution="
                                         r"\[64\] \(the training data's grid\) has 1; build it for the data's axes "
                                         r"\(model_kwargs\.dim, or a boundary per axis\), or train it on 2-D data\.$"):
        build("mgno", width=4, levels=2, boundary="dirichlet", reference_resolution=[64])
    assert build("mgno", width=4, levels=2, dim=1, reference_resolution=[64]).reference_resolution == (64,)
    with pytest.raises(ModelError, match=r"^U-Net: the model is built for 3 spatial axes but reference_resolution="
                                         r"\[33, 33\] \(the training data's grid\) has 2; build it for the data's "
                                         r"axes \(model_kwargs\.dim\), or train it on 3-D data\.$"):
        build("unet", **{**SMALL["unet"][0], "reference_resolution": [33, 33], "dim": 3})


DTYPE_MODELS = {  # model kwargs, its name in errors, an input it takes
    "fno": ({"modes": [4, 4], "width": 8}, "FNO", (9, 9)),
    "mgno": ({"width": 4, "levels": 2}, "MgNO", (9, 9)),
    "lsm": (SMALL["lsm"][0], "LSM", (9, 9)),
    "unet": (SMALL["unet"][0], "U-Net", (9, 9)),
    "fs_unet": ({**SMALL["unet"][0], "reference_resolution": [9, 9]}, "U-Net", (9, 9)),
    "dgno": (SMALL["dgno"][0], "DGNO.encode", (9, 9)),
    "multionet": (SMALL["multionet"][0], "MultiONetOperator", (9, 9)),
}


@pytest.mark.parametrize("name", sorted(DTYPE_MODELS))
def test_every_field_model_names_an_input_of_another_dtype(name: str) -> None:
    """A float64, half or integer input to a float32 model raised torch's "expected m1 and m2 to have the same
    dtype" (or ran: DGNO took integers); now the model names both dtypes and the fix, and converts nothing."""
    import torch

    kwargs, model_name, grid = DTYPE_MODELS[name]
    torch.manual_seed(0)
    model = build(name, **kwargs).eval()
    x = torch.rand(2, 1, *grid) + 5.0
    assert model(x).dtype == torch.float32
    for dtype, fix in ((torch.float64, "model.double()"), (torch.float16, "run it under torch.autocast"),
                       (torch.bfloat16, "run it under torch.autocast")):
        message = (rf"^{model_name}: the input is {str(dtype)[6:]} but the model's parameters are float32; "
                   rf"pass x\.to\(torch\.float32\), or {re.escape(fix)}\.$")
        with pytest.raises(ModelError, match=message):
            model(x.to(dtype))
    for dtype in (torch.int64, torch.bool, torch.complex64):
        with pytest.raises(ModelError, match=rf"^{model_name}: the input is {str(dtype)[6:]}, not floating point; "
                                             r"the model's parameters are float32: pass x\.to\(torch\.float32\)\.$"):
            model(x.to(dtype))
    model.double()
    assert model(x.double()).dtype == torch.float64
    with pytest.raises(ModelError, match=r"the input is float32 but the model's parameters are float64; pass "
                                         r"x\.to\(torch\.float64\), or model\.float\(\)\.$"):
        model(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # mixed precision casts per operation: any float passes
        model.float()
        model(x.to(torch.bfloat16))
    # a NumPy array raised AttributeError ('numpy.ndarray' object has no attribute 'dim') in all but DGNO
    with pytest.raises(ModelError, match=rf"^{model_name}: the input is a numpy ndarray, not a torch\.Tensor; pass "
                                         r"torch\.as_tensor\(x, dtype=torch\.float32\)\.$"):
        model(x.numpy())


@pytest.mark.parametrize("name", ["fs_unet", "unet"])
def test_unet_reference_resolution_is_checked_as_mgno_and_lsm_do(name: str) -> None:
    """The U-Net read any iterable as point counts: the text '65' became the grid (6, 5), [33.5, 33] was
    truncated, [1, 1] divided by zero and 'None' gave 'got dim=4'. Now the shared check refuses them."""
    base = SMALL["unet"][0]
    for text in ("65", "33", "None"):
        with pytest.raises(ModelError, match=rf"^U-Net: reference_resolution='{text}' is text, not point counts; give "
                                             r"one number per axis \(e\.g\. \[64, 64\]\), or null in a config file"):
            build(name, **{**base, "reference_resolution": text})
    for bad in ([33.5, 33], [1, 1], [0, 33], [33, None]):
        with pytest.raises(ModelError, match=r"^U-Net: reference_resolution=.* needs one point count >= 2 per spatial "
                                             r"axis \(2\), e\.g\. \[64, 64\], or null \(grid units\)\.$"):
            build(name, **{**base, "reference_resolution": bad})
    with pytest.raises(ModelError, match=r"needs one point count >= 2 per spatial axis \(3\), e\.g\. \[64, 64, 64\]"):
        build(name, **{**base, "reference_resolution": [33, 1], "dim": 3})
    with pytest.raises(ModelError, match=r"^U-Net supports 1, 2 or 3 spatial dims, got dim=4 \(from "
                                         r"reference_resolution=\[9, 9, 9, 9\]\)\.$"):
        build(name, **{**base, "reference_resolution": [9, 9, 9, 9]})
    model = build(name, **{**base, "reference_resolution": (np.int64(17), 9)})
    assert model.reference_resolution == (17, 9) and model.dim == 2
    assert build(name, **{**base, "reference_resolution": [17]}).dim == 1
