"""Tests of autoregressive rollout training (neurops/tasks/rollout.py)."""

from __future__ import annotations

import json
import logging
import warnings
from functools import partial

import h5py
import lightning as L
import numpy as np
import pytest
import torch

from neurops.cli.callbacks import RolloutErrorFigures
from neurops.data.datamodule import RolloutDataModule
from neurops.data.metadata import DatasetMeta
from neurops.data.writer import H5Writer
from neurops.errors import ConfigError, DataError, ModelError
from neurops.models import build
from neurops.tasks.rollout import RolloutTask, autoregressive_rollout, teacher_forcing_windows
from tests.conftest import write_decay_file

N_FRAMES, NX = 6, 16


@pytest.fixture(autouse=True)
def _quiet():
    logging.getLogger("lightning").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="module")
def decay_file(tmp_path_factory):
    """Trajectories u_t = 0.8^t (a sin 2 pi x + b cos 2 pi x): a linear one-step map to learn."""
    return write_decay_file(tmp_path_factory.mktemp("rollout") / "decay.h5", N_FRAMES, NX)


def test_autoregressive_rollout_feeds_predictions_back():
    x = torch.arange(1.0, 4.0).reshape(1, 3, 1)  # frames 1, 2, 3 (one field)
    # next frame = sum of the last three: 6, 11, 20, 37
    out = autoregressive_rollout(lambda w: w.sum(1, keepdim=True), x, 4)
    assert out.flatten().tolist() == [6.0, 11.0, 20.0, 37.0]
    # a step larger than the window keeps the last frames only: x -> [2x_last, 3x_last]
    out = autoregressive_rollout(lambda w: torch.cat([2 * w[:, -1:], 3 * w[:, -1:]], 1), x[:, :1], 2)
    assert out.flatten().tolist() == [2.0, 3.0, 6.0, 9.0]


def test_teacher_forcing_windows_use_true_frames():
    x = torch.arange(4.0).reshape(1, 4, 1)  # 2 frames x 2 fields
    y = torch.arange(4.0, 10.0).reshape(1, 6, 1)  # 3 frames x 2 fields
    inputs, targets = teacher_forcing_windows(x, y, 3)
    assert inputs[:, :, 0].tolist() == [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7]]
    assert targets[:, :, 0].tolist() == [[4, 5], [6, 7], [8, 9]]


def test_exact_model_rollout_equals_teacher_forcing_targets():
    x = torch.randn(3, 2, 8)
    frames = [x[:, 0:1], x[:, 1:2]]
    for _ in range(4):
        frames.append(0.5 * frames[-1] - frames[-2])
    y = torch.cat(frames[2:], 1)

    def step(w):
        return 0.5 * w[:, -1:] - w[:, -2:-1]

    torch.testing.assert_close(autoregressive_rollout(step, x, 4), y)
    inputs, targets = teacher_forcing_windows(x, y, 4)
    torch.testing.assert_close(step(inputs), targets)


def _fit(path, tmp_path, training, epochs=12, t_in=2, model="fno", model_kwargs=None, **task_kw):
    torch.manual_seed(0)
    dm = RolloutDataModule(path, t_in=t_in, t_out=4, batch_size=8)
    task = RolloutTask(model=model, model_kwargs=model_kwargs or dict(modes=[4], width=8, n_layers=1),
                       training=training, optimizer=partial(torch.optim.AdamW, lr=1e-2, weight_decay=1e-4),
                       lr_scheduler=None, **task_kw)
    trainer = L.Trainer(max_epochs=epochs, logger=L.pytorch.loggers.CSVLogger(tmp_path, name="run"),
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                        callbacks=[RolloutErrorFigures()])  # the figure neurops fit draws
    trainer.fit(task, dm)
    return task, dm, trainer


@pytest.mark.parametrize("training", ["rollout", "teacher_forcing"])
def test_fit_learns_the_rollout_and_logs_per_step_errors(decay_file, tmp_path, training):
    task, dm, trainer = _fit(decay_file, tmp_path, training)
    assert task.hparams.t_in == 2 and task.hparams.t_out == 4 and task.n_steps == 4
    assert task.hparams.model_kwargs["in_channels"] == 2 and task.hparams.model_kwargs["out_channels"] == 1
    (res,) = trainer.test(task, dm, verbose=False)
    # an untrained model has relative error ~1; the linear decay is learned quickly
    assert res["test/rel_l2@16"] < 0.35
    per_step = [res[f"test/rel_l2_step{k}@16"] for k in range(1, 5)]
    assert task.rollout_errors["test"]["16"] == pytest.approx(per_step, rel=1e-5)
    record = json.loads((tmp_path / "run" / "version_0" / "rollout_errors_test.json").read_text())
    assert record["rel_l2_per_step"]["16"] == pytest.approx(per_step, rel=1e-5)
    assert (tmp_path / "run" / "version_0" / "rollout_errors_test.png").stat().st_size > 0
    assert "val" in task.rollout_errors and len(task.rollout_errors["val"]["val"]) == 4
    saved = json.loads((tmp_path / "run" / "version_0" / "rollout_errors_val.json").read_text())
    assert saved["rel_l2_per_step"] == task.rollout_errors["val"]


def test_error_curves_of_a_diverged_rollout_are_strict_json(decay_file, tmp_path):
    """A rollout whose error overflowed wrote NaN/Infinity into rollout_errors_<stage>.json, which jq and JavaScript
    refuse: a non-finite error is null."""
    task, _, _ = _fit(decay_file, tmp_path, "rollout", epochs=1)
    task.rollout_errors["test"] = {"16": [0.5, float("inf"), float("nan")]}
    task._save_curves("test")
    text = (tmp_path / "run" / "version_0" / "rollout_errors_test.json").read_text()
    record = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert record["rel_l2_per_step"] == {"16": [0.5, None, None]}


def test_checkpoint_restores_rollout_settings(decay_file, tmp_path):
    task, dm, trainer = _fit(decay_file, tmp_path, "rollout", epochs=1, step=2)
    ckpt = tmp_path / "last.ckpt"
    trainer.save_checkpoint(ckpt)
    record = torch.load(ckpt, weights_only=True)["neurops"]
    assert record["task"] == "neurops.tasks.rollout.RolloutTask"
    assert record["window"] == {"start": 0, "time_stride": 1, "dt": 1.0}  # predict: input frames, time step
    restored = RolloutTask.load_from_checkpoint(ckpt, weights_only=True)
    assert (restored.hparams.t_in, restored.hparams.t_out, restored.hparams.step) == (2, 4, 2)
    assert restored.window == {"start": 0, "time_stride": 1, "dt": 1.0}
    assert restored.hparams.model_kwargs["out_channels"] == 2
    x = dm.test_sets[0][0]["x"][None]
    task.eval()
    restored.eval()
    with torch.no_grad():
        torch.testing.assert_close(restored.rollout(x), task.rollout(x))
    assert restored.rollout(x).shape == (1, 4, NX)


def test_mgno_protocol_one_frame_in_teacher_forced(decay_file, tmp_path):
    task, dm, trainer = _fit(decay_file, tmp_path, "teacher_forcing", epochs=1, t_in=1)
    assert task.net.in_channels == 1 and task.net.out_channels == 1 and task.n_steps == 4
    (res,) = trainer.test(task, dm, verbose=False)
    assert {f"test/rel_l2_step{k}@16" for k in range(1, 5)} <= set(res)
    assert task.predict_step(next(iter(dm.test_dataloader()[0])), 0).shape == (4, 4, NX)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(training="pushforward"), "training"),
        (dict(step=0), "step"),
        (dict(t_out=5, step=2), "multiple of step"),
        (dict(t_in=0), "t_in"),
    ],
)
def test_bad_settings_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        RolloutTask(model="fno", **kwargs)


def test_mismatch_with_data_raises(decay_file, tmp_path):
    trainer = L.Trainer(max_epochs=1, logger=False, enable_progress_bar=False, default_root_dir=tmp_path)
    dm = RolloutDataModule(decay_file, t_in=2, t_out=4)
    with pytest.raises(ConfigError, match="t_in=3"):
        trainer.fit(RolloutTask(model="fno", model_kwargs=dict(modes=[4], width=4), t_in=3), dm)
    task = RolloutTask(model="fno", model_kwargs=dict(modes=[4], width=4, in_channels=2, out_channels=2))
    with pytest.raises(ModelError, match="needs 2 -> 1"):
        trainer.fit(task, dm)


# the model is built from the data as OperatorTask builds it ---------------------------------------------------
def write_waves_2d(path, n_frames: int = 4, n: int = 32):
    """A ``trajectory`` file of decaying plane waves on a periodic ``n x n`` grid (splits train/val/test: 4/2/2)."""
    rng = np.random.default_rng(1)
    x = np.linspace(0, 1, n, endpoint=False)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    meta = DatasetMeta(kind="trajectory", name="waves2d", dims=["x", "y"], boundary={"x": "periodic", "y": "periodic"})
    with H5Writer(path, meta) as w:
        for split, count in (("train", 4), ("val", 2), ("test", 2)):
            a, b = rng.normal(size=(2, count, 1, 1, 1))
            decay = 0.8 ** np.arange(n_frames)[None, :, None, None]
            w.add_split(split, coords={"x": x, "y": x}, time=np.arange(n_frames, dtype=float),
                        states={"w": (decay * (a * np.sin(2 * np.pi * (xx + 2 * yy)) + b * np.cos(2 * np.pi * xx)))
                                .astype(np.float32)})
    return path


@pytest.fixture(scope="module")
def waves_2d(tmp_path_factory):
    return write_waves_2d(tmp_path_factory.mktemp("rollout2d") / "waves2d.h5")


def test_testing_a_checkpoint_on_data_at_another_time_step_is_refused(decay_file, tmp_path):
    """`neurops test --ckpt_path` (a trainer's test of a checkpoint) on a file stored at half the time step took the
    data's spacing and scored the rollout without a word; the checkpoint's recorded step now refuses it, naming
    both spacings. The same spacing at other times tests as before."""
    _, _, trainer = _fit(decay_file, tmp_path, "rollout", epochs=1)
    ckpt = tmp_path / "last.ckpt"
    trainer.save_checkpoint(ckpt)
    for name, time, ok in (("half", 0.5 * np.arange(N_FRAMES), False), ("later", 3.0 + np.arange(N_FRAMES), True)):
        other = write_decay_file(tmp_path / f"{name}.h5", N_FRAMES, NX)
        with h5py.File(other, "a") as f:
            for split in ("train", "val", "test"):
                f[f"{split}/time"][...] = time
        task = RolloutTask(model="fno", model_kwargs=dict(modes=[4], width=8, n_layers=1))
        tester = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
        if ok:
            assert tester.test(task, RolloutDataModule(other, t_in=2, t_out=4), ckpt_path=ckpt, verbose=False)
            continue
        with pytest.raises(DataError) as err:
            tester.test(task, RolloutDataModule(other, t_in=2, t_out=4), ckpt_path=ckpt, verbose=False)
        assert str(err.value) == (
            "the checkpoint's model steps 1 time units (the frame spacing of its training data), but this run's "
            "training split holds frames 0.5 apart (time_stride 1), so each step would stand for the wrong time; use "
            "data stored at the checkpoint's spacing, or set --data.time_stride so the spacings agree.")


def _fit_steps(task, dm, tmp_path, steps=2):
    trainer = L.Trainer(max_steps=steps, logger=False, enable_progress_bar=False, enable_model_summary=False,
                        enable_checkpointing=False, default_root_dir=tmp_path, num_sanity_val_steps=0,
                        limit_val_batches=0)
    trainer.fit(task, dm)
    return trainer


@pytest.mark.parametrize("model, preset", [("lsm", "navier_stokes"), ("mgno", "navier_stokes")])
def test_the_training_grid_as_reference_changes_nothing_on_that_grid(waves_2d, tmp_path, model, preset):
    """The presets of ns_lsm.yaml (and the MgNO row of benchmarks/lsm_navier_stokes.py), trained on a periodic
    trajectory file: with the training grid as reference_resolution (now filled in from the data) the weights after
    two training steps and the rollouts are bit for bit those of the model built without it (as before)."""
    dm = RolloutDataModule(waves_2d, t_in=2, t_out=2, batch_size=2)
    tasks = {}
    for name, kwargs in (("new", {"preset": preset}),  # built in setup from the data
                         ("old", {"preset": preset, "in_channels": 2, "out_channels": 1})):  # built without the data
        torch.manual_seed(0)
        task = RolloutTask(model, kwargs, normalize=False, lr_scheduler=None,
                           optimizer=partial(torch.optim.AdamW, lr=5e-4, weight_decay=1e-4))
        _fit_steps(task, dm, tmp_path)
        tasks[name] = task.eval()
    new, old = tasks["new"], tasks["old"]
    assert new.hparams.model_kwargs["reference_resolution"] == [32, 32]
    assert "reference_resolution" not in old.hparams.model_kwargs
    assert new.hparams.model_kwargs["boundary"] == ["periodic", "periodic"]
    assert (new.net.resolution_behaviour, old.net.resolution_behaviour) == ("function_space", "fixed_grid")
    assert new.train_resolution == old.train_resolution == [32, 32]  # recorded at fit, for predict
    old_state, new_state = old.state_dict(), new.state_dict()
    assert list(old_state) == list(new_state)
    assert all(torch.equal(old_state[k], new_state[k]) for k in old_state)
    x = torch.stack([dm.test_sets[0][i]["x"] for i in range(2)])
    with torch.no_grad():
        assert torch.equal(new.rollout(x), old.rollout(x))


def test_mgno_takes_the_periodic_boundary_of_the_data(waves_2d, tmp_path):
    dm = RolloutDataModule(waves_2d, t_in=1, t_out=2, batch_size=2)
    torch.manual_seed(0)
    task = RolloutTask("mgno", {"width": 4, "n_layers": 2, "levels": 3}, training="teacher_forcing")
    _fit_steps(task, dm, tmp_path, steps=1)
    assert task.hparams.model_kwargs == {"width": 4, "n_layers": 2, "levels": 3, "boundary": ["periodic", "periodic"],
                                         "reference_resolution": [32, 32], "in_channels": 1, "out_channels": 1}
    assert task.net.boundary == ("periodic", "periodic")
    # circular padding: the model commutes with a circular shift by a multiple of its coarsest spacing (4 points);
    # zero (Dirichlet) padding of the same weights does not
    dirichlet = build("mgno", **{**task.hparams.model_kwargs, "boundary": "dirichlet"})
    dirichlet.load_state_dict(task.net.state_dict())
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        for net, equivariant in ((task.net, True), (dirichlet, False)):
            error = (net(x.roll((4, -8), (2, 3))) - net(x).roll((4, -8), (2, 3))).abs().max() / net(x).abs().max()
            assert (error < 1e-6) == equivariant, float(error)


def test_mgno_trains_on_a_one_dimensional_trajectory_file(decay_file, tmp_path):
    # before, the rollout model was built without the data's boundary conditions: MgNO took its 2-D default and
    # every step failed with "MgNO expects input [B, 2, 2 spatial dims]"
    task, dm, trainer = _fit(decay_file, tmp_path, "rollout", epochs=12, model="mgno",
                             model_kwargs=dict(width=8, n_layers=1, levels=3))
    assert task.net.ndim == 1 and task.net.boundary == ("periodic",)
    assert task.hparams.model_kwargs["reference_resolution"] == [NX]
    (res,) = trainer.test(task, dm, verbose=False)
    assert res["test/rel_l2@16"] < 0.35  # an untrained model is at ~1, as for the FNO above
