"""Tests of OperatorDataModule (neurops/data/datamodule/operator.py)."""

import h5py
import numpy as np
import pytest
import torch

from neurops.data.datamodule import OperatorDataModule
from neurops.errors import DataError
from tests.conftest import write_decay_file, write_operator_file


def test_test_loaders_per_resolution(operator_file):
    dm = OperatorDataModule(operator_file, batch_size=4)
    assert dm.test_splits == ["test", "test@32"] and dm.test_tags == ["16", "32"]
    loaders = dm.test_dataloader()
    assert [next(iter(ld))["x"].shape[-1] for ld in loaders] == [16, 32]
    assert len(dm.train_dataloader()) == 6 and dm.in_channels == dm.out_channels == 1


def test_rejects_missing_split_and_wrong_kind(operator_file, tmp_path):
    with pytest.raises(DataError, match="no split 'training'"):
        OperatorDataModule(operator_file, train_split="training")
    dm = OperatorDataModule(operator_file, val_split="valid")  # testing needs no validation split
    dm.setup("test")
    assert dm.val_set is None and len(dm.test_sets) == 2
    for stage in ("fit", "validate"):
        with pytest.raises(DataError, match="no validation split 'valid'.*--data.val_split null"):
            dm.setup(stage)

    from neurops.data.metadata import DatasetMeta
    from neurops.data.writer import H5Writer

    path = tmp_path / "u.h5"
    with H5Writer(path, DatasetMeta(kind="input_only", name="u", dims=("x",))) as w:
        w.add_split("train", coords={"x": np.arange(4)}, inputs={"a": np.ones((2, 4))})
    with pytest.raises(DataError, match="needs an 'operator' file"):
        OperatorDataModule(path)


def test_train_batches_deal_the_split_to_processes(operator_file):
    """Normalizer batches: process shares are disjoint contiguous blocks that cover the (limited) split once."""
    dm = OperatorDataModule(operator_file, batch_size=5)
    everything = torch.cat([b["x"] for b in dm.train_batches()])
    assert len(everything) == 24
    shares = [torch.cat([b["x"] for b in dm.train_batches(rank=r, num_replicas=3)]) for r in range(3)]
    assert [len(s) for s in shares] == [8, 8, 8]
    assert torch.equal(torch.cat(shares), everything)
    limited = [torch.cat([b["x"] for b in dm.train_batches(2, rank=r, num_replicas=2)]) for r in range(2)]
    assert torch.equal(torch.cat(limited), everything[:10])  # the first 2 batches' samples, split 5 + 5


def test_training_order_depends_on_the_seed_only(operator_file):
    from neurops.utils.seeding import seed_everything

    dm = OperatorDataModule(operator_file, batch_size=4)
    orders = []
    for seed in (3, 3, 4):
        seed_everything(seed)
        torch.manual_seed(123)  # the global generator is not what shuffles
        orders.append(torch.cat([b["x"] for b in dm.train_dataloader()]))
    assert torch.equal(orders[0], orders[1]) and not torch.equal(orders[0], orders[2])


def test_train_strides_give_batches_of_several_grids_in_one_epoch(tmp_path):
    """A real fit: every training batch is on the 17- or the 9-node grid, as drawn for its step."""
    import lightning as L

    from neurops.tasks.operator import OperatorTask
    from neurops.utils.seeding import seed_everything

    path = write_operator_file(tmp_path / "r.h5", {"train": (24, 17), "val": (4, 17), "test": (4, 17)})
    seed_everything(3)
    dm = OperatorDataModule(path, batch_size=4, train_strides=[1, 2])
    assert dm.train_resolution == (17, 17)

    class Shapes(L.Callback):
        def __init__(self):
            self.seen, self.val = [], set()

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            self.seen.append((trainer.global_step, tuple(batch["x"].shape[2:]), tuple(batch["y"].shape[2:])))

        def on_validation_batch_start(self, trainer, module, batch, batch_idx, dataloader_idx=0):
            self.val.add(tuple(batch["x"].shape[2:]))

    shapes = Shapes()
    task = OperatorTask("fno", {"modes": [3, 3], "width": 4, "n_layers": 1})
    L.Trainer(max_epochs=2, logger=False, enable_progress_bar=False, enable_model_summary=False,
              enable_checkpointing=False, callbacks=[shapes], default_root_dir=tmp_path).fit(task, dm)
    assert len(shapes.seen) == 12
    for step, x_shape, y_shape in shapes.seen:
        n = 16 // dm.train_stride(step) + 1
        assert x_shape == y_shape == (n, n)
    assert {s[1] for s in shapes.seen[:6]} == {(17, 17), (9, 9)}  # both grids in the first epoch
    assert shapes.val == {(17, 17)}  # validation keeps the file's grid
    assert OperatorDataModule(path, train_strides=[2]).train_resolution == (9, 9)
    with pytest.raises(DataError, match=r"valid strides: \[1, 2, 4, 8, 16\]"):
        OperatorDataModule(path, train_strides=[3])


def _rename(path, old, new):
    import h5py

    with h5py.File(path, "a") as f:
        f.move(old, new)


def test_every_split_must_hold_the_fields_of_the_training_split(operator_file):
    import h5py

    _rename(operator_file, "test@32/outputs/u", "test@32/outputs/p")
    with pytest.raises(DataError) as err:
        OperatorDataModule(operator_file)
    assert str(err.value) == (
        f"{operator_file} split 'test@32' has outputs ['p'] but the model trains on outputs ['u']; rename the fields "
        "in the file, or select fields every split has (--data.input_fields / --data.output_fields; --data.fields of "
        "trajectories).")
    _rename(operator_file, "test@32/outputs/p", "test@32/outputs/u")
    with h5py.File(operator_file, "a") as f:  # a second input field in train only
        f.copy(f["train/inputs/a"], f["train/inputs"], "b")
    with pytest.raises(DataError, match=r"split 'val' has inputs \['a'\] but the model trains on inputs \['a', 'b'\]"):
        OperatorDataModule(operator_file)
    dm = OperatorDataModule(operator_file, input_fields=["a"])  # the fields every split has
    assert [ds.input_fields for ds in (dm.train_set, dm.val_set, *dm.test_sets)] == [["a"]] * 4


def test_rollout_splits_at_another_time_step_than_the_training_split_are_refused(tmp_path):
    """A test split stored at another frame spacing than the training split was rolled out and scored with the
    training step, its per-step errors meaning nothing; now one error names both spacings. Uneven frames (whose
    step is unknown) and equal spacings at other times pass."""
    from neurops.data.datamodule import RolloutDataModule

    path = write_decay_file(tmp_path / "decay.h5")
    with h5py.File(path, "a") as f:
        f["test/time"][...] = 0.5 * np.arange(6)
    with pytest.raises(DataError) as err:
        RolloutDataModule(path, t_in=1, t_out=2, time_stride=2)
    assert str(err.value) == (
        f"{path} split 'test' holds frames 1 time units apart (time_stride 2), but the rollout model steps 2 (the "
        "spacing of the training split 'train'), so its frames would stand for the wrong times; store every split "
        "at one spacing (or convert them into separate files).")
    for time in (np.arange(6) + 7.0, np.array([0, 1, 3, 4, 6, 7.0])):
        with h5py.File(path, "a") as f:
            f["test/time"][...] = time
        assert RolloutDataModule(path, t_in=1, t_out=2).test_sets[0].time.tolist() == time.tolist()


def test_rollout_splits_must_hold_the_training_state_fields(tmp_path):
    from neurops.data.datamodule import RolloutDataModule

    path = write_decay_file(tmp_path / "decay.h5")
    _rename(path, "test/states/u", "test/states/v")
    with pytest.raises(DataError, match=r"split 'test' has states \['v'\] but the model trains on states \['u'\]; "):
        RolloutDataModule(path, t_in=1, t_out=1)
