import re
import sys

import pytest
import torch

from neurops.errors import ModelError
from neurops.models import build


def test_neuralop_fno_is_neuraloperators_model():
    neuralop = pytest.importorskip("neuralop")
    kwargs = dict(n_modes=(8, 8), hidden_channels=8, n_layers=2, positional_embedding="grid")
    torch.manual_seed(0)
    ours = build("neuralop_fno", in_channels=1, out_channels=2, **kwargs)
    torch.manual_seed(0)
    theirs = neuralop.models.FNO(in_channels=1, out_channels=2, **kwargs)
    x = torch.randn(3, 1, 16, 16)
    torch.testing.assert_close(ours(x), theirs(x))
    assert ours(torch.randn(1, 1, 24, 24)).shape == (1, 2, 24, 24)  # any resolution


def test_neuralop_fno_without_the_package_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "neuralop", None)  # makes `import neuralop` fail
    monkeypatch.setitem(sys.modules, "neuralop.models", None)
    with pytest.raises(ModelError, match=r"needs the neuraloperator package: pip install 'neurops\[bench\]'"):
        build("neuralop_fno", in_channels=1, out_channels=1, n_modes=(4, 4), hidden_channels=4)


def _uses_every_mode(model, grid) -> bool:
    """Whether a forward pass on ``grid`` reaches every weight of the Fourier layers (neuraloperator drops the
    weights of the frequencies a grid does not hold, without a word)."""
    model.zero_grad()
    model(torch.randn(2, 1, *grid)).square().sum().backward()
    weights = [p for name, p in model.named_parameters() if "convs" in name and "weight" in name]
    return bool(weights) and all(bool((p.grad != 0).all()) for p in weights)


@pytest.mark.parametrize("n_modes, padding, grids", [
    ([6, 5], None, [(6, 8), (5, 8), (8, 8), (6, 4), (6, 3), (7, 9), (16, 16)]),
    ([6, 5], 0.25, [(6, 4), (5, 3), (4, 4), (3, 3), (4, 2), (8, 8)]),  # padded at both ends: 4 -> 6, 3 -> 5, 2 -> 2
    ([8], None, [(8,), (9,), (7,), (6,), (16,)]),  # the only axis is the half-spectrum's: 8 and 9 keep 5 of 5
    ([7], None, [(6,), (5,), (4,)]),
])
def test_neuralop_fno_check_grid_refuses_exactly_the_grids_that_drop_modes(n_modes, padding, grids):
    pytest.importorskip("neuralop")
    torch.manual_seed(0)
    model = build("neuralop_fno", in_channels=1, out_channels=1, n_modes=n_modes, hidden_channels=2, n_layers=1,
                  domain_padding=padding)
    for grid in grids:
        try:
            model.check_grid(grid)
            fits = True
        except ModelError as exc:
            fits = False
            assert str(exc).startswith(f"the neuralop FNO's n_modes {n_modes} do not fit the {'x'.join(map(str, grid))}"
                                       ), exc
        assert fits == _uses_every_mode(model, grid), grid


def test_neuralop_fno_check_grid_messages():
    pytest.importorskip("neuralop")
    model = build("neuralop_fno", in_channels=1, out_channels=1, n_modes=[8, 8], hidden_channels=2, n_layers=1)
    with pytest.raises(ModelError) as err:
        model.check_grid((4, 4))
    assert str(err.value) == ("the neuralop FNO's n_modes [8, 8] do not fit the 4x4 grid of the data, which holds at "
                              "most [4, 5] Fourier modes per axis (neuraloperator's count: the frequencies kept per "
                              "axis); set model_kwargs.n_modes to at most that, or use finer data.")
    with pytest.raises(ModelError, match=r"^the neuralop FNO has n_modes for 2 spatial dims \(n_modes=\[8, 8\]\) but "
                                         r"the data's grid 16 has 1; give one mode count per axis of the data\.$"):
        model.check_grid((16,))
    padded = build("neuralop_fno", in_channels=1, out_channels=1, n_modes=[8, 8], hidden_channels=2, n_layers=1,
                   domain_padding=[0.25, 0.0])
    with pytest.raises(ModelError, match=r"the 5x8 \(padded to 7x8\) grid of the data, which holds at most \[7, 9\]"):
        padded.check_grid((5, 8))
    with pytest.raises(ModelError, match=r"^neuralop FNO: n_modes is one whole number >= 1 per spatial axis"):
        build("neuralop_fno", in_channels=1, out_channels=1, n_modes=[0, 8], hidden_channels=2)


def test_training_a_neuralop_fno_refuses_a_split_that_would_drop_modes(tmp_path):
    """OperatorTask runs the model's check_grid on every split before the first step (and `neurops predict` on
    every split it predicts): neuraloperator's FNO with n_modes [8, 8] trained on 16x16 used to be tested on a 4x4
    split with a quarter of its modes, silently."""
    pytest.importorskip("neuralop")
    import lightning as L

    from neurops.data.datamodule import OperatorDataModule
    from neurops.tasks.operator import OperatorTask
    from tests.conftest import write_operator_file

    data = write_operator_file(tmp_path / "d.h5", {"train": (4, 16), "val": (2, 16), "test": (2, 16),
                                                   "test@4": (2, 4)})
    task = OperatorTask("neuralop_fno", {"n_modes": [8, 8], "hidden_channels": 4, "n_layers": 1})
    trainer = L.Trainer(max_steps=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
                        enable_checkpointing=False, default_root_dir=tmp_path)
    with pytest.raises(ModelError, match=r"^" + re.escape(
            "the neuralop FNO's n_modes [8, 8] do not fit the 4x4 grid of the data, which holds at most [4, 5]")):
        trainer.fit(task, OperatorDataModule(data, batch_size=2))
    assert trainer.global_step == 0


def test_neuralop_fno_refuses_an_input_of_another_dtype():
    pytest.importorskip("neuralop")
    model = build("neuralop_fno", in_channels=1, out_channels=1, n_modes=[4, 4], hidden_channels=4, n_layers=1)
    with pytest.raises(ModelError, match=re.escape("neuralop FNO: the input is float64 but the model's parameters are "
                                                   "float32; pass x.to(torch.float32), or model.double().")):
        model(torch.zeros(1, 1, 8, 8, dtype=torch.float64))
    with pytest.raises(ModelError, match="neuralop FNO: the input is int64, not floating point"):
        model(torch.zeros(1, 1, 8, 8, dtype=torch.int64))


def test_a_fitted_neuralop_fno_checkpoint_loads_and_predicts_as_the_trained_model(operator_file, tmp_path):
    """neuraloperator puts its init arguments (the gelu function, the SpectralConv class) into every state dict it
    fills; neurops drops them, so the checkpoint reads with weights_only=True and the rebuilt model is the trained
    one: `neurops predict` writes the in-memory model's outputs."""
    pytest.importorskip("neuralop")
    import h5py
    import lightning as L

    from neurops.checkpoints import load
    from neurops.cli import main
    from neurops.data.datamodule import OperatorDataModule
    from neurops.tasks import OperatorTask

    task = OperatorTask(model="neuralop_fno", model_kwargs={"n_modes": [8, 8], "hidden_channels": 8, "n_layers": 2})
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(task, OperatorDataModule(operator_file, batch_size=8, num_workers=0))
    ckpt = tmp_path / "neuralop.ckpt"
    trainer.save_checkpoint(ckpt)
    assert "_metadata" not in torch.load(ckpt, weights_only=True)["state_dict"]
    _, loaded = load(ckpt, "operator")
    out = tmp_path / "pred.h5"
    assert main(["predict", "--ckpt", str(ckpt), "--data", str(operator_file), "--out", str(out),
                 "--splits", "test"]) == 0
    with h5py.File(operator_file) as f, h5py.File(out) as g:
        (name,) = f["test/inputs"]
        x = torch.as_tensor(f[f"test/inputs/{name}"][:])[:, None]  # one field: [B, 1, H, W]
        (target,) = g["test/outputs"]
        written = torch.as_tensor(g[f"test/outputs/{target}"][:])
    task.eval()
    with torch.no_grad():
        expected = task(x)
        assert torch.equal(loaded(x), expected)
    torch.testing.assert_close(written, expected[:, 0].to(written.dtype), rtol=0, atol=0)
