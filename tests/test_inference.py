"""Prediction with rollout checkpoints (neurops/inference.py): ``predict_file`` / ``neurops predict`` on a
trajectory file writes each trajectory's input frames followed by the rolled-out ones.

The operator path is tested with the command (tests/cli/test_predict_cli.py, tests/cli/test_train_cli.py)."""

from __future__ import annotations

import logging
import re
import warnings
from functools import partial
from pathlib import Path

import h5py
import lightning as L
import numpy as np
import pytest
import torch

from neurops.checkpoints import load
from neurops.cli import main
from neurops.data.check import check_file
from neurops.data.datamodule import RolloutDataModule
from neurops.data.metadata import DatasetMeta
from neurops.data.reader import read_meta
from neurops.data.writer import H5Writer
from neurops.errors import ConfigError, DataError, ModelError, NeuropsWarning
from neurops.inference import _frame_times, predict_file
from neurops.tasks.operator import OperatorTask
from neurops.tasks.rollout import RolloutTask
from tests.conftest import operator_checkpoint, write_operator_file

N_FRAMES, NX = 12, 16
T_IN, T_OUT, STEP, START, STRIDE = 2, 4, 2, 1, 2  # windows: frames 1, 3 -> 5, 7, 9, 11
TIME = 0.5 + 0.25 * np.arange(N_FRAMES)


@pytest.fixture(autouse=True)
def _quiet():
    logging.getLogger("lightning").setLevel(logging.ERROR)


def write_trajectories(path: Path, splits: dict[str, tuple[int, int, int]], fields=("u", "v"), seed: int = 0) -> Path:
    """A ``trajectory`` file of decaying waves: split -> (trajectories, frames, grid points), fields ``u`` and
    ``v`` (``v`` half of ``u``, phase-shifted), times ``0.5, 0.75, ...``."""
    rng = np.random.default_rng(seed)
    meta = DatasetMeta(kind="trajectory", name="waves", dims=["x"], boundary={"x": "periodic"},
                       parameters={"decay": 0.8})
    with H5Writer(path, meta) as w:
        for split, (n, frames, nx) in splits.items():
            x = np.linspace(0, 1, nx, endpoint=False)
            decay = 0.8 ** np.arange(frames)[None, :, None]
            a, b = rng.normal(size=(2, n, 1, 1))
            states = {"u": decay * (a * np.sin(2 * np.pi * x) + b * np.cos(2 * np.pi * x)),
                      "v": 0.5 * decay * (a * np.cos(2 * np.pi * x) - b * np.sin(2 * np.pi * x))}
            w.add_split(split, coords={"x": x}, time=TIME[:frames] if frames <= N_FRAMES else np.arange(frames),
                        states={f: states[["u", "v"][i % 2]].astype(np.float32) for i, f in enumerate(fields)})
    return path


def rollout_checkpoint(data: Path, ckpt: Path, model: str = "fno", model_kwargs: dict | None = None) -> Path:
    """A real ``RolloutTask`` checkpoint: two Lightning training steps on ``data``'s windows, then saved."""
    torch.manual_seed(0)
    dm = RolloutDataModule(data, t_in=T_IN, t_out=T_OUT, batch_size=4, start=START, time_stride=STRIDE)
    task = RolloutTask(model, model_kwargs or {"modes": [4], "width": 8, "n_layers": 1}, step=STEP,
                       optimizer=partial(torch.optim.AdamW, lr=1e-2), lr_scheduler=None)
    trainer = L.Trainer(max_steps=2, logger=False, enable_progress_bar=False, enable_model_summary=False,
                        enable_checkpointing=False, default_root_dir=ckpt.parent, num_sanity_val_steps=0,
                        limit_val_batches=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on workers and logging intervals
        trainer.fit(task, dm)
    trainer.save_checkpoint(ckpt)
    return ckpt


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_trajectories(tmp_path_factory.mktemp("traj") / "waves.h5",
                              {"train": (8, N_FRAMES, NX), "val": (2, N_FRAMES, NX), "test": (3, N_FRAMES, NX),
                               "test@32": (3, N_FRAMES, 32)})


@pytest.fixture(scope="module")
def ckpt(data) -> Path:
    return rollout_checkpoint(data, data.parent / "fno.ckpt")


def _windows(data: Path, split: str) -> torch.Tensor:
    """The input frames of the task's validation / test windows of ``split``, as its data module cuts them."""
    dm = RolloutDataModule(data, t_in=T_IN, t_out=T_OUT, start=START, time_stride=STRIDE)
    ds = dm.val_set if split == "val" else dm.test_sets[dm.test_splits.index(split)]
    return torch.stack([ds[i]["x"] for i in range(len(ds))])


def _states(path: Path, split: str) -> torch.Tensor:
    """The stored frames of ``split`` as time-major channels ``[N, T * F, nx]`` (fields u, v)."""
    with h5py.File(path) as f:
        frames = np.stack([f[f"{split}/states/u"][()], f[f"{split}/states/v"][()]], axis=2)
    return torch.from_numpy(frames.reshape(len(frames), -1, frames.shape[-1]))


def test_predict_writes_the_input_frames_then_the_rollout_of_every_trajectory(data, ckpt, tmp_path):
    out = tmp_path / "pred.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("error", NeuropsWarning)  # FNO is function_space: no grid warning on test@32
        assert predict_file(ckpt, data, out) == out
    assert check_file(out) == []
    meta, source = read_meta(out), read_meta(data)
    assert (meta.kind, meta.name, meta.shard) == ("trajectory", "waves-predictions", None)
    assert (meta.dims, meta.boundary, meta.parameters) == (source.dims, source.boundary, source.parameters)
    assert meta.generator == {"predicted_by": str(ckpt), "model": "fno", "source": str(data)}
    _, task = load(ckpt)
    assert task.window == {"start": START, "time_stride": STRIDE, "dt": 0.5}  # dt: the frame spacing it steps by
    with h5py.File(out) as f, h5py.File(data) as d:
        assert sorted(f) == ["test", "test@32", "train", "val"]
        assert f["train/states/u"].shape == (8, T_IN + T_OUT, NX)
        for split in ("val", "test", "test@32"):
            frames = START + STRIDE * np.arange(T_IN + T_OUT)  # 1, 3 | 5, 7, 9, 11 (all stored in the data)
            np.testing.assert_array_equal(f[f"{split}/time"][()], TIME[frames])
            np.testing.assert_array_equal(f[f"{split}/coords/x"][()], d[f"{split}/coords/x"][()])
            for field in ("u", "v"):  # the input frames, copied bit for bit
                np.testing.assert_array_equal(f[f"{split}/states/{field}"][:, :T_IN], d[f"{split}/states/{field}"][
                    :, frames[:T_IN]])
            x = _windows(data, split)
            with torch.no_grad():
                expected = task.rollout(x)
            stored = _states(out, split)
            torch.testing.assert_close(stored[:, :T_IN * 2], x, rtol=0, atol=0)
            torch.testing.assert_close(stored[:, T_IN * 2:], expected)


def test_steps_beyond_t_out_extrapolate_and_extend_the_time_axis(data, ckpt, tmp_path):
    out = predict_file(ckpt, data, tmp_path / "long.h5", splits=["test"], steps=10)
    short = predict_file(ckpt, data, tmp_path / "short.h5", splits=["test"])
    _, task = load(ckpt)
    x = _windows(data, "test")
    with torch.no_grad():
        expected = task.rollout(x, 10 // STEP)
    stored = _states(out, "test")
    assert stored.shape == (3, (T_IN + 10) * 2, NX)
    torch.testing.assert_close(stored[:, T_IN * 2:], expected)
    torch.testing.assert_close(stored[:, :(T_IN + T_OUT) * 2], _states(short, "test"))  # the same first frames
    with h5py.File(out) as f:
        # frames 1, 3, ..., 11 are stored; then the spacing of the last two of them (0.5) continues
        np.testing.assert_allclose(f["test/time"][()], 0.75 + 0.5 * np.arange(T_IN + 10), rtol=1e-12)


def test_the_command_predicts_a_rollout_checkpoint(data, ckpt, tmp_path, capsys):
    out = tmp_path / "cli.h5"
    assert main(["predict", "--ckpt", str(ckpt), "--data", str(data), "--out", str(out), "--splits", "test",
                 "--steps", "6", "--batch-size", "2"]) == 0
    assert capsys.readouterr().out == f"wrote predictions to {out}\n"
    python = predict_file(ckpt, data, tmp_path / "py.h5", splits=["test"], steps=6, batch_size=2)
    torch.testing.assert_close(_states(out, "test"), _states(python, "test"), rtol=0, atol=0)
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    assert "--steps STEPS" in capsys.readouterr().out


@pytest.mark.parametrize("model, kwargs", [
    ("mgno", {"width": 4, "n_layers": 1, "levels": 2, "reference_resolution": None}),  # MgNO's grid-unit variant
    ("unet", {"width": 4, "channel_multipliers": [1, 2]}),  # ordinary convolutions (conv="grid")
])
def test_a_fixed_grid_rollout_model_warns_on_another_grid(data, tmp_path, model, kwargs):
    fixed = rollout_checkpoint(data, tmp_path / "fixed.ckpt", model, kwargs)
    assert load(fixed)[1].net.resolution_behaviour == "fixed_grid"
    with pytest.warns(NeuropsWarning) as record:
        predict_file(fixed, data, tmp_path / "p.h5", splits=["test", "test@32"])
    messages = [str(w.message) for w in record if issubclass(w.category, NeuropsWarning)]
    assert len(messages) == 1 and messages[0].startswith(
        f"split 'test@32' is on a 32 grid but the {model!r} model was trained on 16 and is fixed_grid")


@pytest.mark.parametrize("model, kwargs", [
    ("mgno", {"width": 4, "n_layers": 1, "levels": 2}),
    ("lsm", {"width": 4, "num_scales": 2, "patch_size": [2], "num_tokens": 2, "num_basis": 2, "num_heads": 1,
             "head_width": 8}),
])
def test_lsm_and_mgno_rollout_checkpoints_are_function_space_and_predict_on_a_finer_grid(data, tmp_path, model,
                                                                                      kwargs):
    # the rollout model takes the training grid and the boundary conditions from the data, as an operator does
    ckpt = rollout_checkpoint(data, tmp_path / f"{model}.ckpt", model, kwargs)
    assert torch.load(ckpt, weights_only=True)["neurops"]["train_resolution"] == [NX]
    _, task = load(ckpt)
    assert task.net.resolution_behaviour == "function_space"
    assert task.hparams.model_kwargs == {**kwargs, "boundary": ["periodic"], "reference_resolution": [NX],
                                         "in_channels": T_IN * 2, "out_channels": STEP * 2}
    out = tmp_path / "p.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("error", NeuropsWarning)
        predict_file(ckpt, data, out, splits=["test", "test@32"])
    stored = _states(out, "test@32")
    assert stored.shape == (3, (T_IN + T_OUT) * 2, 32) and bool(torch.isfinite(stored).all())


def test_a_grid_the_model_cannot_take_is_refused_before_any_split_is_predicted(data, ckpt, operator_file, tmp_path,
                                                                              capsys, monkeypatch):
    # the FNO's 4 Fourier modes need 7 or more points: the 4-point split, the last one named, is refused as training
    # refuses it, before the 16-point split before it is predicted (no forward pass), and no file is left
    calls: list[int] = []
    forward = OperatorTask.forward  # RolloutTask's too: a rollout step is a forward pass

    def counted(self, x):
        calls.append(len(x))
        return forward(self, x)

    monkeypatch.setattr(OperatorTask, "forward", counted)
    coarse = write_trajectories(tmp_path / "coarse.h5", {"test": (2, N_FRAMES, NX), "test@4": (2, N_FRAMES, 4)})
    out = tmp_path / "out" / "p.h5"
    out.parent.mkdir()
    assert main(["predict", "--ckpt", str(ckpt), "--data", str(coarse), "--out", str(out), "--splits", "test",
                 "test@4", "--batch-size", "1"]) == 2
    assert capsys.readouterr().err == (
        f"neurops: error: {coarse} split 'test@4' cannot be predicted with the checkpoint's 'fno' model (trained on "
        "16): the FNO's modes [4] do not fit the 4 grid of the data, which holds at most [3] Fourier modes per axis; "
        "set model_kwargs.modes to at most that, or use finer data.\n")
    assert calls == [] and list(out.parent.iterdir()) == []
    # it counts: 2 trajectories, each rolled out by T_OUT / STEP = 2 forward passes
    assert predict_file(ckpt, coarse, out, splits=["test"], batch_size=1) == out and calls == [1, 1, 1, 1]
    out.unlink()
    # the operator path: an FNO with modes [3, 3] trained on 16x16; a missing split late in the list likewise
    op = operator_checkpoint(operator_file, tmp_path / "op.ckpt")
    calls.clear()
    coarse_op = write_operator_file(tmp_path / "coarse_op.h5", {"test": (2, 16), "test@4": (2, 4)})
    with pytest.raises(ModelError, match=r"^" + re.escape(
            f"{coarse_op} split 'test@4' cannot be predicted with the checkpoint's 'fno' model (trained on 16x16): "
            "the FNO's modes [3, 3] do not fit the 4x4 grid of the data, which holds at most [2, 3] Fourier modes")):
        predict_file(op, coarse_op, out, splits=["test", "test@4"], batch_size=1)
    with pytest.raises(DataError, match=r"^" + re.escape(f"{coarse_op} has no split 'val'; available: ['test', "
                                                         "'test@4'].")):
        predict_file(op, coarse_op, out, splits=["test", "val"], batch_size=1)
    assert calls == [] and list(out.parent.iterdir()) == []
    assert predict_file(op, coarse_op, out, splits=["test"], batch_size=1) == out  # its training grid predicts
    assert calls == [1, 1]


def _bad_files(tmp: Path, data: Path) -> dict[str, Path]:
    return {"operator": write_operator_file(tmp / "op.h5", {"train": (4, 9), "test": (2, 9)}),
            "short": write_trajectories(tmp / "short.h5", {"test": (2, 3, NX)}),
            "fields": write_trajectories(tmp / "w.h5", {"test": (2, N_FRAMES, NX)}, fields=("w",)),
            "data": data}


@pytest.mark.parametrize("case, data_file, args, message", [
    ("operator file", "operator", [], "{d} holds 'operator' data, but {c} is a rollout checkpoint (RolloutTask), "
     "which predicts 'trajectory' files (states/<field> [N, T, *spatial]), rolling out the first frames of each "
     "trajectory: give it a file like the one it was trained on, or predict {d} with an operator checkpoint "
     "(OperatorTask)."),
    ("steps not a multiple", "data", ["--steps", "3"], "steps=3 is not a multiple of the checkpoint's step=2 (frames "
     "per model call); pass --steps 2 or 4 (trained: t_out=4)."),
    ("steps zero", "data", ["--steps", "0"], "steps must be a positive number of frames to predict, got 0; pass e.g. "
     "--steps 10 (or leave it out: the trained t_out)."),
    ("too short", "short", [], "{d} split 'test': an input window of t_in=2 frames (time_stride=2) starting at frame 1 "
     "needs 4 stored frames, but the trajectories have 3; use longer trajectories (a checkpoint predicts from the "
     "input window it was trained with: its t_in, start and time_stride)."),
    ("fields", "fields", [], "{d} split 'test' has states ['w'] but the checkpoint was trained on states ['u', 'v']; "
     "rename the fields in the file to the checkpoint's, or predict with a checkpoint trained on these fields."),
])
def test_errors_are_one_line_and_leave_no_file(data, ckpt, tmp_path, capsys, case, data_file, args, message):
    d = _bad_files(tmp_path, data)[data_file]
    out = tmp_path / "out" / "p.h5"
    out.parent.mkdir()
    assert main(["predict", "--ckpt", str(ckpt), "--data", str(d), "--out", str(out), *args]) == 2
    assert capsys.readouterr().err == f"neurops: error: {message.format(d=d, c=ckpt)}\n"
    assert list(out.parent.iterdir()) == []


def test_an_operator_checkpoint_refuses_trajectories_and_steps(data, operator_file, tmp_path, capsys):
    op = operator_checkpoint(operator_file, tmp_path / "op.ckpt")
    out = tmp_path / "p.h5"
    assert main(["predict", "--ckpt", str(op), "--data", str(data), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"neurops: error: {data} holds 'trajectory' data, but {op} is an operator checkpoint (OperatorTask), which "
        "predicts 'operator' and 'input_only' files (input fields -> output fields): give it a file like the one it "
        f"was trained on, or predict {data} with a rollout checkpoint (RolloutTask).\n")
    assert main(["predict", "--ckpt", str(op), "--data", str(operator_file), "--out", str(out), "--steps", "4"]) == 2
    assert capsys.readouterr().err == (
        f"neurops: error: --steps sets the frames a rollout checkpoint predicts, but {op} is an operator checkpoint "
        "(OperatorTask), which predicts one output per input; leave --steps out.\n")
    assert not out.exists()


def test_an_existing_output_is_kept_and_a_crash_leaves_no_file(data, ckpt, tmp_path, monkeypatch, capsys):
    out = tmp_path / "p.h5"
    out.write_bytes(b"mine")
    assert main(["predict", "--ckpt", str(ckpt), "--data", str(data), "--out", str(out)]) == 2
    assert "already exists; pass overwrite=True (or --overwrite)" in capsys.readouterr().err
    assert out.read_bytes() == b"mine"
    calls = []

    def crash(self, x, n_steps=None):
        calls.append(len(x))
        if len(calls) == 2:
            raise RuntimeError("killed")
        return torch.zeros(len(x), (n_steps or self.n_steps) * STEP * 2, *x.shape[2:])

    monkeypatch.setattr(RolloutTask, "rollout", crash)
    with pytest.raises(RuntimeError, match="killed"):
        predict_file(ckpt, data, out, splits=["test"], batch_size=1, overwrite=True)
    assert calls == [1, 1] and [p.name for p in tmp_path.iterdir()] == ["p.h5"] and out.read_bytes() == b"mine"


def test_checkpoints_without_their_window_predict_from_frame_zero_with_a_warning(data, ckpt, tmp_path):
    contents = torch.load(ckpt, weights_only=True)
    del contents["neurops"]["window"]  # as written before checkpoints recorded it
    old = tmp_path / "old.ckpt"
    torch.save(contents, old)
    with pytest.warns(NeuropsWarning, match="does not record where its training data's windows start"):
        out = predict_file(old, data, tmp_path / "p.h5", splits=["test"])
    with h5py.File(out) as f, h5py.File(data) as d:
        np.testing.assert_array_equal(f["test/time"][()], TIME[:T_IN + T_OUT])
        np.testing.assert_array_equal(f["test/states/u"][:, :T_IN], d["test/states/u"][:, :T_IN])


def test_frame_times():
    time = np.array([0.0, 0.1, 0.3, 0.6])
    np.testing.assert_allclose(_frame_times(time, 1, 1, 5), [0.1, 0.3, 0.6, 0.9, 1.2])
    np.testing.assert_allclose(_frame_times(time, 0, 2, 4), [0.0, 0.3, 0.6, 0.9])
    np.testing.assert_allclose(_frame_times(time, 3, 2, 3), [0.6, 1.2, 1.8])  # one frame inside: 2 x the last spacing
    with pytest.raises(DataError, match="stores one frame"):
        _frame_times(np.array([2.0]), 0, 1, 3)


def test_steps_must_be_a_positive_whole_number(data, ckpt, tmp_path):
    for bad in (-2, 2.5, True):
        with pytest.raises(ConfigError, match="steps must be a positive number"):
            predict_file(ckpt, data, tmp_path / "p.h5", steps=bad)


def test_data_stored_at_another_time_step_than_the_training_data_is_refused(data, ckpt, tmp_path):
    """A rollout checkpoint trained on frames 0.5 apart (time_stride 2 of frames 0.25 apart) predicted a file
    stored at another spacing without a word: each model step then stood for the wrong time. The checkpoint now
    records the step (`window['dt']`) and predict refuses such data, writing nothing; the same spacing predicts."""
    assert load(ckpt)[1].window == {"start": START, "time_stride": STRIDE, "dt": 0.5}
    other = tmp_path / "fine.h5"
    write_trajectories(other, {"test": (3, N_FRAMES, NX)})
    with h5py.File(other, "a") as f:
        f["test/time"][...] = 0.5 + 0.125 * np.arange(N_FRAMES)
    with pytest.raises(DataError) as err:
        predict_file(ckpt, other, tmp_path / "p.h5", splits=["test"])
    assert str(err.value) == (
        f"{other} split 'test' holds frames 0.25 time units apart (time_stride 2), but the rollout model steps 0.5 "
        "(the frame spacing of its training data, which the checkpoint records), so its frames would stand for the "
        "wrong times; predict data stored at that spacing (e.g. generated with the training data's record_dt).")
    assert not (tmp_path / "p.h5").exists()
    with h5py.File(other, "a") as f:
        f["test/time"][...] = TIME + 10.0  # the same spacing, later times
    assert predict_file(ckpt, other, tmp_path / "p.h5", splits=["test"]).exists()
