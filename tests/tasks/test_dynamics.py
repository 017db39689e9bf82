"""Tests of DynamicsTask and DynamicsDataModule with a tiny real Lightning fit (neurops/tasks/dynamics.py)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from neurops.checkpoints import load
from neurops.data.datamodule import DynamicsDataModule
from neurops.data.generators import get_generator
from neurops.errors import CheckpointError, ConfigError, ModelError
from neurops.metrics.dsr import generate_like, hellinger_distance, state_space_divergence
from neurops.tasks.dynamics import DynamicsTask
from neurops.tasks.schedules import ExponentialTo


@pytest.fixture(scope="module")
def l63_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = get_generator("lorenz63")
    cfg = spec.make_config(n_train=2, n_val=1, n_test=1, n_steps=1500, dt=0.02, substeps=4, transient=10.0,
                           standardize=True, noise=0.05)
    return spec.fn(cfg, tmp_path_factory.mktemp("dyn") / "l63.h5", progress=False)


def _fit(path: Path, tmp: Path, **task_kwargs) -> tuple[L.Trainer, DynamicsTask, DynamicsDataModule]:
    L.seed_everything(0, verbose=False)
    dm = DynamicsDataModule(path, seq_len=30, batch_size=8, batches_per_epoch=10, val_length=800)
    task = DynamicsTask(**{"model": "clipped_shplrnn", "model_kwargs": {"latent_dim": 3, "hidden_dim": 16},
                           "optimizer": partial(torch.optim.RAdam, lr=5e-3), "lr_scheduler": ExponentialTo(1e-3),
                           **task_kwargs})
    trainer = L.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp, num_sanity_val_steps=0)
    trainer.fit(task, datamodule=dm)
    return trainer, task, dm


def test_fit_evaluates_and_checkpoint_rebuilds(l63_file: Path, tmp_path: Path) -> None:
    trainer, task, dm = _fit(l63_file, tmp_path, training="gtf", alpha=0.2, lambda_latent=1e-5)
    metrics = trainer.callback_metrics
    assert {"val/d_stsp", "val/d_h", "train/mse"} <= set(metrics)
    assert torch.isfinite(metrics["train/mse"])
    assert task.hparams.model_kwargs["obs_dim"] == 3 and dm.dt == pytest.approx(0.02)
    # the learning rate decays exponentially from lr to lr_end over max_epochs
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(1e-3, rel=1e-6)
    ckpt = tmp_path / "m.ckpt"
    trainer.save_checkpoint(ckpt)
    kind, loaded = load(ckpt)
    meta = loaded.record
    assert kind == "dynamics" and meta["model"] == "clipped_shplrnn" and meta["dt"] == pytest.approx(0.02)
    assert loaded.dt == pytest.approx(0.02)
    x0 = torch.randn(2, 3)
    torch.testing.assert_close(loaded.net(x0, 10), task.net.eval()(x0, 10))
    again = DynamicsTask.load_from_checkpoint(ckpt, weights_only=True)
    torch.testing.assert_close(again.net(x0, 10), loaded.net(x0, 10))


def test_training_lowers_the_forced_loss(l63_file: Path) -> None:
    dm = DynamicsDataModule(l63_file, seq_len=30, batch_size=8, batches_per_epoch=1)
    task = DynamicsTask(model="clipped_shplrnn", model_kwargs={"obs_dim": 3, "latent_dim": 3, "hidden_dim": 16},
                        training="gtf", alpha=0.3, optimizer=partial(torch.optim.RAdam, lr=3e-2), lr_scheduler=None)
    opt = task.configure_optimizers()
    batch = next(iter(dm.train_dataloader()))["x"]
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(task.rollout(batch), batch[:, 1:])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


@pytest.mark.parametrize("training", ["agtf", "stf", "bptt"])
def test_other_forcings_run(l63_file: Path, tmp_path: Path, training: str) -> None:
    trainer, task, _ = _fit(l63_file, tmp_path, training=training, tau=5, alpha_every=2, lambda_mar=1e-3)
    assert torch.isfinite(trainer.callback_metrics["train/mse"])
    if training == "agtf":
        assert 0.0 <= task.alpha_schedule.alpha <= 1.0
        ckpt = tmp_path / "a.ckpt"
        trainer.save_checkpoint(ckpt)
        assert load(ckpt)[1].alpha_schedule.alpha == task.alpha_schedule.alpha


def test_errors(l63_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="training"):
        DynamicsTask(training="rk4")
    with pytest.raises(ModelError, match="unknown model"):
        DynamicsTask(model="lstm")
    with pytest.raises(ConfigError, match="latent_dim"):
        DynamicsTask(model_kwargs={"obs_dim": 3})
    with pytest.raises(ConfigError, match="alpha must"):
        DynamicsTask(alpha=1.5)
    with pytest.raises(ConfigError, match="alpha_method"):
        DynamicsTask(alpha_method="median")
    with pytest.raises(ConfigError, match="tau"):
        DynamicsTask(tau=0)
    with pytest.raises(CheckpointError, match="does not exist"):
        load(tmp_path / "none.ckpt")


def _small_task(**kwargs) -> DynamicsTask:
    return DynamicsTask(model="clipped_shplrnn", model_kwargs={"obs_dim": 3, "latent_dim": 3, "hidden_dim": 8},
                        **kwargs)


def test_val_gen_length_sets_the_orbit_length_of_d_stsp() -> None:
    x = torch.randn(1, 120, 3, generator=torch.Generator().manual_seed(0))
    x_np = x[0].double().numpy()
    for n_gen in (None, 600):
        task = _small_task(val_gen_length=n_gen)
        logged: dict[str, float] = {}
        task.log = lambda key, value, _logged=logged, **_: _logged.__setitem__(key, value)  # no trainer
        task.validation_step({"x": x}, 0)
        gen = generate_like(task.net, x_np, n_steps=n_gen)
        assert len(gen) == (n_gen or 120)
        assert logged["val/d_stsp"] == pytest.approx(state_space_divergence(x_np, gen))
        assert logged["val/d_h"] == pytest.approx(hellinger_distance(x_np, gen[:120]))
    with pytest.raises(ConfigError, match="val_gen_length"):
        _small_task(val_gen_length=0)
    assert np.isfinite(logged["val/d_h"])
