"""Every task on every test device (``pytest --device``): a real Lightning fit on the device, and
training steps that create no tensor without their batch's device (checked on the CPU).

Tasks: OperatorTask (FNO, MgNO, LSM), RolloutTask, GenerativeOperatorTask (DGNO) and
DynamicsTask (GTF-trained shPLRNN), each on a tiny file written here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from neurops.data.datamodule import DynamicsDataModule, GenerativeDataModule, OperatorDataModule, RolloutDataModule
from neurops.data.generators import get_generator
from neurops.data.generators.darcy import DarcyConfig, generate_darcy
from neurops.data.metadata import DatasetMeta
from neurops.data.writer import H5Writer
from neurops.tasks.dynamics import DynamicsTask
from neurops.tasks.generative import GenerativeOperatorTask
from neurops.tasks.operator import OperatorTask
from neurops.tasks.rollout import RolloutTask


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("devices")
    darcy = dict(resolution=9, coefficient="piecewise", a_high=10.0, a_low=5.0, forcing=10.0, seed=3)
    out = {
        "darcy": generate_darcy(DarcyConfig(n_train=8, n_val=4, n_test=0, **darcy), root / "darcy.h5",
                                workers=1, progress=False),
        "coef": generate_darcy(DarcyConfig(n_train=8, n_val=0, n_test=0, unlabelled=True, **darcy),
                               root / "coef.h5", workers=1, progress=False),
    }
    spec = get_generator("lorenz63")
    cfg = spec.make_config(n_train=1, n_val=1, n_test=0, n_steps=400, dt=0.02, substeps=4, transient=5.0,
                           standardize=True)
    out["l63"] = spec.fn(cfg, root / "l63.h5", progress=False)
    x = np.linspace(0, 1, 16, endpoint=False)
    rng = np.random.default_rng(0)
    with H5Writer(root / "decay.h5", DatasetMeta(kind="trajectory", name="decay", dims=["x"],
                                                 boundary={"x": "periodic"})) as w:
        for split, n in (("train", 8), ("val", 4)):
            a = rng.normal(size=(n, 1, 1))
            states = 0.8 ** np.arange(6)[None, :, None] * a * np.sin(2 * np.pi * x)
            w.add_split(split, coords={"x": x}, time=np.arange(6.0), states={"u": states.astype(np.float32)})
    out["decay"] = root / "decay.h5"
    return out


Setup = Callable[[dict[str, Path]], tuple[L.LightningDataModule, L.LightningModule]]


def _operator(model: str, kwargs: dict) -> Setup:
    return lambda f: (OperatorDataModule(f["darcy"], batch_size=4), OperatorTask(model, kwargs))  # AdamW lr 1e-3


#: task name -> (data module, task) on the files above
CASES: dict[str, Setup] = {
    "operator_fno": _operator("fno", dict(modes=[3, 3], width=8, n_layers=2, projection_channels=16)),
    "operator_mgno": _operator("mgno", dict(preset="darcy", width=6)),
    "operator_lsm": _operator("lsm", dict(width=8, num_scales=2, patch_size=[3, 3], num_heads=2, head_width=8,
                                          num_tokens=2, num_basis=4)),
    "rollout_fno": lambda f: (RolloutDataModule(f["decay"], t_in=2, t_out=3, batch_size=4),
                              RolloutTask(model="fno", model_kwargs=dict(modes=[4], width=8, n_layers=1))),
    "generative_dgno": lambda f: (GenerativeDataModule(f["coef"], f["darcy"], batch_size=4),
                                  GenerativeOperatorTask(model_kwargs=dict(latent_dim=8, width=16, depth=2,
                                                                           encoder_hidden=[16]),
                                                         n_particles=8, n_quad_per_axis=5, seed=1)),
    "dynamics_gtf_shplrnn": lambda f: (DynamicsDataModule(f["l63"], seq_len=20, batch_size=4, batches_per_epoch=3,
                                                          val_length=200),
                                       DynamicsTask(model="shplrnn", model_kwargs=dict(latent_dim=3, hidden_dim=8),
                                                    training="gtf", alpha=0.2)),
}


def _trainer(root: Path, device: str, **kw) -> L.Trainer:
    kind = torch.device(device).type
    return L.Trainer(accelerator="gpu" if kind == "cuda" else kind, devices=1, logger=False,
                     enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                     default_root_dir=root, num_sanity_val_steps=0, **kw)


@pytest.mark.parametrize("case", sorted(CASES))
def test_training_step_creates_no_tensor_without_the_batch_device(case, files, tmp_path, implicit_device_trap):
    dm, task = CASES[case](files)
    _trainer(tmp_path, "cpu", max_steps=1, limit_val_batches=0).fit(task, dm)  # set up normalizers, lazy models
    batch = next(iter(dm.train_dataloader()))
    task.log = lambda *args, **kwargs: None  # no trainer loop around this direct call
    with implicit_device_trap():
        loss = task.training_step(batch, 0)
        loss.backward()
    assert loss.device.type == "cpu" and math.isfinite(float(loss))
    assert all(p.grad is None or p.grad.device.type == "cpu" for p in task.parameters())


class _Devices(L.Callback):
    """The devices of the parameters and of the step's loss, read during training (Lightning moves the
    model back to the CPU when the fit ends)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.seen.update(p.device.type for p in module.parameters())
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor):
            self.seen.add(loss.device.type)


@pytest.mark.parametrize("case", sorted(CASES))
def test_fit_on_device(case, files, tmp_path, device):
    if torch.device(device).type == "cpu":
        pytest.skip("the CPU fits are the other task tests")
    L.seed_everything(0, verbose=False)
    dm, task = CASES[case](files)
    devices = _Devices()
    trainer = _trainer(tmp_path, device, max_epochs=2, limit_train_batches=3, limit_val_batches=1,
                       callbacks=[devices])
    trainer.fit(task, dm)
    assert devices.seen == {torch.device(device).type}
    losses = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("train/", "val/"))}
    assert losses and all(math.isfinite(v) for v in losses.values()), losses
