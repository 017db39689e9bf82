"""Tests of rollout windows over trajectory files (neurops/data/rollout.py)."""

from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest
import torch

from neurops.data.datamodule import RolloutDataModule
from neurops.data.metadata import DatasetMeta
from neurops.data.rollout import H5RolloutDataset, window_starts
from neurops.data.writer import H5Writer
from neurops.errors import ConfigError, DataError

N_TRAJ, N_FRAMES, NX, NY = 3, 12, 4, 5


def _states(n: int, offset: float) -> dict[str, np.ndarray]:
    # value encodes (trajectory, frame, field) so windows can be checked exactly
    traj = np.arange(n)[:, None, None, None]
    frame = np.arange(N_FRAMES)[None, :, None, None]
    grid = np.zeros((1, 1, NX, NY)) + np.arange(NX * NY).reshape(NX, NY) * 1e-3
    u = offset + 100 * traj + frame + grid
    return {"u": u.astype(np.float32), "v": (-u).astype(np.float32)}


@pytest.fixture
def traj_file(tmp_path):
    path = tmp_path / "traj.h5"
    coords = {"x": np.linspace(0, 1, NX), "y": np.linspace(0, 1, NY)}
    with H5Writer(path, DatasetMeta(kind="trajectory", name="toy", dims=["x", "y"])) as w:
        w.add_split("train", coords=coords, time=np.arange(N_FRAMES) * 0.5, states=_states(N_TRAJ, 0.0))
        w.add_split("val", coords=coords, time=np.arange(N_FRAMES) * 0.5, states=_states(1, 1000.0))
        w.add_split("test", coords=coords, time=np.arange(N_FRAMES) * 0.5, states=_states(2, 2000.0))
    return path


def _frame_value(traj: int, frame: int, offset: float = 0.0) -> float:
    return offset + 100 * traj + frame  # value at grid point (0, 0)


def test_window_starts():
    assert window_starts(20, 10, 10) == [0]
    assert window_starts(12, 2, 3, window_stride=2) == [0, 2, 4, 6]
    assert window_starts(12, 2, 3, start=1, window_stride=3, time_stride=2) == [1]  # span 9 frames
    assert window_starts(12, 1, 1, window_stride=5) == [0, 5, 10]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(t_in=0, t_out=1), ConfigError, "t_in"),
        (dict(t_in=1, t_out=-1), ConfigError, "t_out must be >= 0"),
        (dict(t_in=12, t_out=0, start=1), DataError, "an input window of t_in=12 frames .* needs 13 stored frames"),
        (dict(t_in=1, t_out=1, window_stride=0), ConfigError, "window_stride"),
        (dict(t_in=1, t_out=1, start=-1), ConfigError, "start"),
        (dict(t_in=10, t_out=10), DataError, "generate longer"),
    ],
)
def test_window_starts_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        window_starts(12, **kwargs)


def test_single_window_per_trajectory_time_major_channels(traj_file):
    ds = H5RolloutDataset(traj_file, "train", t_in=3, t_out=2)
    assert len(ds) == N_TRAJ and ds.n_fields == 2 and ds.fields == ["u", "v"]
    assert ds.in_channels == 6 and ds.out_channels == 4 and ds.spatial_shape == (NX, NY)
    sample = ds[1]
    x, y = sample["x"], sample["y"]
    assert x.dtype == torch.float32 and x.shape == (6, NX, NY) and y.shape == (4, NX, NY)
    # channel t * F + f: frame t, field f (v = -u)
    assert [round(float(c)) for c in x[:, 0, 0]] == [100, -100, 101, -101, 102, -102]
    assert [round(float(c)) for c in y[:, 0, 0]] == [103, -103, 104, -104]
    np.testing.assert_allclose(x[0].numpy(), 100 + np.arange(NX * NY).reshape(NX, NY) * 1e-3, rtol=1e-6)


def test_sliding_windows_time_stride_fields_and_max_trajectories(traj_file):
    ds = H5RolloutDataset(traj_file, "train", t_in=2, t_out=1, fields=["u"], start=1, window_stride=4,
                          time_stride=2, max_trajectories=2)
    # span = (2 + 1 - 1) * 2 + 1 = 5 frames; starts 1, 5 (9 + 5 > 12)
    assert ds.starts == [1, 5] and len(ds) == 4
    assert ds.window(3) == (1, 5)
    s = ds[3]
    assert [round(float(c)) for c in s["x"][:, 0, 0]] == [105, 107] and round(float(s["y"][0, 0, 0])) == 109
    assert torch.equal(ds[-1]["x"], s["x"])
    with pytest.raises(IndexError):
        ds[4]


def test_input_frames_alone_and_a_data_module_needs_targets(traj_file):
    # t_out=0: the input frames of the windows (what prediction reads), the same as with targets
    ds = H5RolloutDataset(traj_file, "test", t_in=3, t_out=0, start=2, time_stride=3)
    full = H5RolloutDataset(traj_file, "test", t_in=3, t_out=1, start=2, time_stride=3)
    assert ds.starts == [2] and len(ds) == 2 and ds[1]["y"].shape == (0, NX, NY)
    assert torch.equal(ds[1]["x"], full[1]["x"])
    assert [round(float(c)) for c in ds[1]["x"][::2, 0, 0]] == [2102, 2105, 2108]
    with pytest.raises(DataError, match=f"^{traj_file} split 'test': an input window of t_in=5 frames "
                       r"\(time_stride=3\) starting at frame 2 needs 15 stored frames"):
        H5RolloutDataset(traj_file, "test", t_in=5, t_out=0, start=2, time_stride=3)
    with pytest.raises(ConfigError, match="t_out must be >= 1, got 0: the windows need target frames"):
        RolloutDataModule(traj_file, t_in=1, t_out=0)


def test_dataset_pickles_without_open_handle(traj_file):
    ds = H5RolloutDataset(traj_file, "test", t_in=1, t_out=1)
    first = ds[0]["x"]
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._files is None
    assert torch.equal(clone[0]["x"], first)


def test_errors_name_the_problem(traj_file, tmp_path):
    with pytest.raises(DataError, match=r"split 'train' has states \['u', 'v'\] but you asked for states \['p'\]; "):
        H5RolloutDataset(traj_file, "train", 1, 1, fields=["p"])
    with pytest.raises(DataError, match="no split"):
        H5RolloutDataset(traj_file, "nope", 1, 1)
    with pytest.raises(DataError, match="generate longer"):
        H5RolloutDataset(traj_file, "train", 8, 8)
    for bad in (0, -1):  # 0 used to give an empty training set without a word
        with pytest.raises(ConfigError, match=f"max_trajectories must be >= 1 .*got {bad}"):
            H5RolloutDataset(traj_file, "train", 1, 1, max_trajectories=bad)
    assert len(H5RolloutDataset(traj_file, "train", 1, 1, max_trajectories=1)) >= 1
    op = tmp_path / "op.h5"
    with H5Writer(op, DatasetMeta(kind="operator", name="op", dims=["x"])) as w:
        w.add_split("train", coords={"x": np.arange(3.0)}, inputs={"a": np.ones((2, 3))},
                    outputs={"u": np.ones((2, 3))})
    with pytest.raises(DataError, match="'trajectory' file"):
        H5RolloutDataset(op, "train", 1, 1)
    with pytest.raises(DataError, match="'trajectory' file"):
        RolloutDataModule(op, t_in=1, t_out=1)


def test_nan_frames_raise_on_read(traj_file):
    with h5py.File(traj_file, "r+") as f:
        f["train/states/u"][0, 4, 0, 0] = np.nan
    ds = H5RolloutDataset(traj_file, "train", t_in=2, t_out=3)
    with pytest.raises(DataError, match="NaN"):
        ds[0]
    assert torch.isfinite(ds[1]["x"]).all()


def test_datamodule_loaders_and_tags(traj_file):
    dm = RolloutDataModule(traj_file, t_in=2, t_out=4, batch_size=2, window_stride=2)
    assert dm.in_channels == 4 and dm.out_channels == 8 and dm.n_fields == 2
    assert len(dm.train_set) == N_TRAJ * 4  # starts 0, 2, 4, 6
    assert len(dm.val_set) == 1 and len(dm.test_sets[0]) == 2  # evaluation: one window each
    assert dm.test_splits == ["test"] and dm.test_tags == [f"{NX}x{NY}"]
    batch = next(iter(dm.test_dataloader()[0]))
    assert batch["x"].shape == (2, 4, NX, NY) and batch["y"].shape == (2, 8, NX, NY)
    assert round(float(batch["x"][1, 0, 0, 0])) == 2100
    assert sum(len(b["x"]) for b in dm.train_batches()) == N_TRAJ * 4
    with pytest.raises(DataError, match="no validation split 'valid'"):  # when fitting; testing needs none
        RolloutDataModule(traj_file, t_in=1, t_out=1, val_split="valid").setup("fit")
