import json
from pathlib import Path

import h5py
import lightning as L
import pytest
import torch

from neurops.checkpoints import load
from neurops.data.datamodule import GenerativeDataModule
from neurops.data.generators.darcy import DarcyConfig, generate_darcy
from neurops.errors import ConfigError, DataError
from neurops.tasks.generative import GenerativeOperatorTask

TINY = dict(latent_dim=8, width=16, depth=2, encoder_hidden=[32])
DARCY = dict(resolution=9, coefficient="piecewise", a_high=10.0, a_low=5.0, forcing=10.0, seed=3)


@pytest.fixture(scope="module")
def darcy_files(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("dgno")
    coef = generate_darcy(DarcyConfig(n_train=20, n_val=0, n_test=0, unlabelled=True, **DARCY), root / "coef.h5",
                          workers=1, progress=False)
    lab = generate_darcy(DarcyConfig(n_train=1, n_val=4, n_test=4, test_resolutions=(17,), **DARCY),
                         root / "lab.h5", workers=1, progress=False)
    return coef, lab


def _trainer(tmp_path: Path, epochs: int) -> L.Trainer:
    return L.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, default_root_dir=tmp_path, accelerator="cpu")


def test_tiny_fit_test_and_checkpoint_round_trip(darcy_files, tmp_path):
    coef, lab = darcy_files
    dm = GenerativeDataModule(coef, lab, batch_size=10)
    task = GenerativeOperatorTask(model_kwargs=TINY, n_particles=10, n_quad_per_axis=5, seed=1)
    trainer = _trainer(tmp_path, 2)
    trainer.fit(task, dm)
    assert task.hparams.model_kwargs["resolution"] == [9, 9]  # filled in from the data
    metrics = trainer.callback_metrics
    assert {"train/data", "train/pde", "train/loss", "val/rel_l2"} <= set(metrics)
    tested = trainer.test(task, dm, verbose=False)
    assert [set(t) for t in tested] == [{"test/rel_l2@9"}, {"test/rel_l2@17"}]
    # latent prior and residual scale were recorded from the training encodings
    net = task.net
    assert not torch.equal(net.latent_std, torch.ones_like(net.latent_std))
    assert 0 < net.latent_std.max() <= 1 and net.residual_rms > 0
    ckpt = tmp_path / "dgno.ckpt"
    trainer.save_checkpoint(ckpt)
    kind, loaded = load(ckpt)
    model, meta = loaded.net, loaded.record
    assert kind == "generative" and meta["model"] == "dgno" and meta["forcing"] == 10.0
    a = torch.full((1, 1, 9, 9), 5.0)
    assert torch.allclose(model(a), net.eval()(a), atol=1e-6)
    assert torch.equal(model.latent_mean, net.latent_mean)


def test_training_steps_lower_the_physics_and_data_losses(darcy_files):
    from neurops.data.reader import read_split

    torch.manual_seed(0)
    a = torch.from_numpy(read_split(darcy_files[0], "train")["inputs"]["a"])[:, None]
    task = GenerativeOperatorTask(model_kwargs={**TINY, "resolution": [9, 9]}, n_particles=20, n_quad_per_axis=5,
                                  radius_min=0.02, radius_max=0.05)
    opt = torch.optim.Adam(task.parameters(), lr=1e-2)
    history = []
    for _ in range(80):
        out = task.losses({"x": a})
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        history.append((out["data"].item(), out["pde"].item()))
    first = torch.tensor(history[:5]).mean(0)
    last = torch.tensor(history[-5:]).mean(0)
    assert last[1] < 0.5 * first[1]  # weak residual
    assert last[0] < first[0]  # reconstruction of a


def test_labels_add_a_supervised_term(darcy_files):
    from neurops.data.reader import read_split

    data = read_split(darcy_files[1], "val")
    batch = {"x": torch.from_numpy(data["inputs"]["a"])[:, None], "y": torch.from_numpy(data["outputs"]["u"])[:, None]}
    task = GenerativeOperatorTask(model_kwargs={**TINY, "resolution": [9, 9]}, w_label=1.0, n_particles=5,
                                  n_quad_per_axis=3)
    out = task.losses(batch)
    assert out["label"].item() == pytest.approx(1.0, abs=1e-3)  # untrained u = 0 -> relative error 1
    assert "label" not in GenerativeOperatorTask(model_kwargs={**TINY, "resolution": [9, 9]}).losses(batch)


def test_bad_configurations_raise_clear_errors(darcy_files, tmp_path):
    coef, lab = darcy_files
    with pytest.raises(DataError, match="no labels"):
        GenerativeDataModule(coef, coef, val_split=None, test_splits=["train"])
    with pytest.raises(DataError, match="no split"):
        GenerativeDataModule(coef, lab, val_split="validation")
    with pytest.raises(ConfigError, match="unknown pde"):
        GenerativeOperatorTask(pde="stokes")
    with pytest.raises(ConfigError, match="loss weights"):
        GenerativeOperatorTask(w_pde=-1.0)
    with pytest.raises(ConfigError, match="loss weights .* got 1.0, nan, 0.0"):
        GenerativeOperatorTask(w_pde=float("nan"))
    task = GenerativeOperatorTask(model_kwargs=TINY)
    with pytest.raises(Exception, match="not built yet"):
        task(torch.zeros(1, 1, 9, 9))


@pytest.fixture(scope="module")
def other_physics(tmp_path_factory) -> dict[str, Path]:
    """Labelled files of the generator's defaults (forcing 1, a in {3, 12}) and of a lognormal coefficient."""
    root = tmp_path_factory.mktemp("other")
    files = {"default": DarcyConfig(n_train=4, n_val=2, n_test=2, resolution=9, seed=0),
             "lognormal": DarcyConfig(n_train=4, n_val=2, n_test=2, resolution=9, coefficient="lognormal",
                                      forcing=10.0, seed=0)}
    return {k: generate_darcy(c, root / f"{k}.h5", workers=1, progress=False) for k, c in files.items()}


@pytest.mark.parametrize("role", ["eval", "train"])
def test_data_of_other_physics_are_refused_at_setup(darcy_files, other_physics, role, tmp_path):
    # the data recorded forcing 1 and a in {3, 12}, the task forcing 10 and a in {5, 10}: it trained silently
    coef, lab = darcy_files
    other = other_physics["default"]
    dm = GenerativeDataModule(coef, other) if role == "eval" else GenerativeDataModule(other, lab)
    task = GenerativeOperatorTask(model_kwargs=TINY, n_particles=10, n_quad_per_axis=5)
    with pytest.raises(ConfigError) as err:
        _trainer(tmp_path, 1).fit(task, dm)
    assert str(err.value) == (
        f"{other} was generated with forcing 1.0, a_low 3.0, a_high 12.0, but this DGNO's physics has forcing 10.0, "
        "a_low 5.0, a_high 10.0: pass --model.forcing 1.0 --model.model_kwargs.a_low 3.0 --model.model_kwargs.a_high "
        "12.0, or data generated with `neurops data generate darcy ... --forcing 10.0 --a-low 5.0 --a-high 10.0`.")
    assert task.global_step == 0
    task = GenerativeOperatorTask(model_kwargs={**TINY, "a_low": 3.0, "a_high": 12.0}, forcing=1.0, n_particles=10,
                                  n_quad_per_axis=5)
    _trainer(tmp_path, 1).fit(task, GenerativeDataModule(other, other))  # the physics of the data: taken


def test_a_two_phase_decoder_is_refused_on_a_lognormal_coefficient(darcy_files, other_physics, tmp_path):
    coef, _ = darcy_files
    other = other_physics["lognormal"]
    task = GenerativeOperatorTask(model_kwargs=TINY, n_particles=10, n_quad_per_axis=5)
    with pytest.raises(ConfigError) as err:
        _trainer(tmp_path, 1).fit(task, GenerativeDataModule(coef, other))
    assert str(err.value) == (
        f"{other} was generated with coefficient lognormal, but this DGNO's physics has coefficient piecewise: pass "
        "--model.model_kwargs.a_likelihood gaussian, or data generated with `neurops data generate darcy ... "
        "--coefficient piecewise`.")


def test_files_without_a_generator_record_are_taken_as_they_are(darcy_files, other_physics, tmp_path):
    from neurops.data.reader import read_meta

    coef, _ = darcy_files
    converted = tmp_path / "converted.h5"  # forcing 1, a in {3, 12}, but no record of it
    converted.write_bytes(other_physics["default"].read_bytes())
    with h5py.File(converted, "a") as f:  # as `neurops data convert` writes it: its converter, no Darcy record
        f.attrs["generator"] = json.dumps({"converter": "arrays"})
    assert read_meta(converted).generator == {"converter": "arrays"}
    task = GenerativeOperatorTask(model_kwargs=TINY, n_particles=10, n_quad_per_axis=5)
    _trainer(tmp_path, 1).fit(task, GenerativeDataModule(coef, converted))
    assert task.global_step > 0


@pytest.mark.parametrize("name", ["dgno_darcy_piecewise", "dgno_darcy_smooth"])
def test_shipped_configs_build_the_task(name):
    import importlib
    import inspect

    import yaml

    from neurops.configs import resolve_config

    cfg = yaml.safe_load(resolve_config(name).read_text())

    def cls(section):
        module, _, attr = cfg[section]["class_path"].rpartition(".")
        return getattr(importlib.import_module(module), attr)

    task = cls("model")(**cfg["model"]["init_args"])
    assert isinstance(task, GenerativeOperatorTask) and task.net is not None
    assert task.net(torch.full((1, 1, 29, 29), 5.0)).shape == (1, 1, 29, 29)
    assert cls("data") is GenerativeDataModule
    assert set(cfg["data"]["init_args"]) <= set(inspect.signature(GenerativeDataModule).parameters)
