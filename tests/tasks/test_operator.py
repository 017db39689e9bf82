import warnings
from functools import partial

import lightning as L
import pytest
import torch

from neurops.checkpoints import load
from neurops.data.datamodule import OperatorDataModule
from neurops.errors import ConfigError, DataError, ModelError, NeuropsWarning
from neurops.tasks.operator import OperatorTask
from tests.conftest import write_operator_file


def _trainer(tmp_path, epochs=3):
    return L.Trainer(max_epochs=epochs, default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
                     enable_model_summary=False, enable_checkpointing=False)


def test_fit_test_per_resolution_and_checkpoint_roundtrip(operator_file, tmp_path):
    torch.manual_seed(0)
    dm = OperatorDataModule(operator_file, batch_size=8)
    task = OperatorTask("fno", {"modes": [4, 4], "width": 8, "n_layers": 2},
                        optimizer=partial(torch.optim.AdamW, lr=1e-2, weight_decay=1e-4),
                        lr_scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=10, gamma=0.5))
    trainer = _trainer(tmp_path, epochs=20)
    trainer.fit(task, dm)
    results = trainer.test(task, dm, verbose=False)
    assert set(results[0]) == {"test/loss@16", "test/rel_l2@16", "test/rel_h1@16"}
    assert set(results[1]) == {"test/loss@32", "test/rel_l2@32", "test/rel_h1@32"}
    assert results[0]["test/rel_l2@16"] < 0.5  # learned something in 20 short epochs (untrained: ~1)
    # normalizers were fitted on the training split only
    train_x = torch.stack([dm.train_set[i]["x"] for i in range(len(dm.train_set))])
    torch.testing.assert_close(task.in_norm.mean, train_x.mean().reshape(1), rtol=1e-4, atol=1e-5)
    ckpt = tmp_path / "m.ckpt"
    trainer.save_checkpoint(ckpt)
    kind, loaded = load(ckpt)
    assert kind == "operator"
    x = dm.test_sets[1][0]["x"][None]
    torch.testing.assert_close(loaded(x), task.eval()(x))
    assert loaded.hparams.model_kwargs["in_channels"] == 1 and loaded.data_fields == {"inputs": ["a"],
                                                                                     "outputs": ["u"]}


def test_channel_mismatch_is_one_clear_error(operator_file, tmp_path):
    dm = OperatorDataModule(operator_file, batch_size=8)
    task = OperatorTask("fno", {"modes": [4, 4], "width": 8, "in_channels": 3})
    with pytest.raises(ModelError, match=r"model_kwargs.in_channels=3 but the data has 1 in channel"):
        _trainer(tmp_path).fit(task, dm)


def test_too_many_modes_for_a_grid_of_the_data_is_refused_before_any_step(operator_file, tmp_path):
    dm = OperatorDataModule(operator_file, batch_size=8)
    task = OperatorTask("fno", {"modes": [9, 9], "width": 4, "n_layers": 1})  # fits test@32, not the 16^2 splits
    steps = []
    task.training_step = lambda batch, i: steps.append(i)
    with pytest.raises(ModelError, match=r"modes \[9, 9\] do not fit the 16x16 grid .* at most \[8, 9\] Fourier"):
        _trainer(tmp_path).fit(task, dm)
    assert steps == []


def test_unknown_model_fails_at_construction():
    with pytest.raises(ModelError, match="unknown model 'fourier'"):
        OperatorTask("fourier")


def test_h1_loss_and_onecycle(operator_file, tmp_path):
    dm = OperatorDataModule(operator_file, batch_size=8)
    task = OperatorTask("fno", {"modes": [4, 4], "width": 8, "n_layers": 1}, loss="rel_h1")  # one cycle: default
    _trainer(tmp_path, epochs=1).fit(task, dm)
    assert torch.isfinite(torch.tensor(_trainer(tmp_path).validate(task, dm, verbose=False)[0]["val/loss"]))


def test_boundary_conditions_come_from_the_data_file(operator_file, tmp_path):
    import h5py

    with h5py.File(operator_file, "a") as f:
        f.attrs["boundary"] = '{"x": "periodic", "y": "dirichlet"}'
    dm = OperatorDataModule(operator_file, batch_size=8)
    task = OperatorTask("mgno", {"width": 4, "n_layers": 1, "levels": 2})
    _trainer(tmp_path, epochs=1).fit(task, dm)
    assert task.hparams.model_kwargs["boundary"] == ["periodic", "dirichlet"]
    explicit = OperatorTask("mgno", {"width": 4, "n_layers": 1, "levels": 2, "boundary": "neumann"})
    _trainer(tmp_path, epochs=1).fit(explicit, dm)
    assert explicit.hparams.model_kwargs["boundary"] == "neumann"  # a user's choice is kept


@pytest.mark.parametrize("model,kwargs", [("mgno", {"width": 4, "n_layers": 1, "levels": 2}),
                                          ("fno", {"modes": [3, 3], "width": 4, "n_layers": 1})])
def test_compiled_model_matches_and_checkpoints_alike(model, kwargs):
    """``compile=`` runs the model through torch.compile (here its C++-free "eager" backend, which
    still traces the model with dynamo): same outputs and gradients, same state-dict keys, so
    checkpoints do not depend on it."""
    torch.manual_seed(0)
    plain = OperatorTask(model, {**kwargs, "in_channels": 1, "out_channels": 1})
    compiled = OperatorTask(model, {**kwargs, "in_channels": 1, "out_channels": 1}, compile="eager")
    compiled.load_state_dict(plain.state_dict())
    assert set(compiled.state_dict()) == set(plain.state_dict())
    x = torch.randn(2, 1, 12, 12)
    y_plain, y_compiled = plain(x), compiled(x)
    torch.testing.assert_close(y_compiled, y_plain, rtol=1e-5, atol=1e-6)
    y_plain.square().sum().backward()
    y_compiled.square().sum().backward()
    for (name, p), q in zip(plain.named_parameters(), compiled.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_normalizer_batches_must_be_positive():
    for bad in (0, -1):  # 0 and -1 used to be accepted (fitting the normalizers on no batch)
        with pytest.raises(ConfigError, match=f"normalizer_batches={bad}: .* use normalizer_batches >= 1"):
            OperatorTask("fno", {"modes": [3, 3], "width": 4}, normalizer_batches=bad)


def test_compile_with_an_unknown_backend_is_one_clear_error():
    with pytest.raises(ConfigError, match="compile='nonsense'"):
        OperatorTask("fno", {"modes": [3, 3], "width": 4, "in_channels": 1, "out_channels": 1}, compile="nonsense")



def test_bf16_mixed_precision_runs_mgno_in_bfloat16_with_float32_parameters(operator_file, tmp_path):
    """``--trainer.precision bf16-mixed`` (CPU autocast; the fast MgNO setting in docs/models/mgno.md):
    the V-cycle's convolutions run in bfloat16 close to the float32 result, parameters stay float32."""
    torch.manual_seed(0)
    dm = OperatorDataModule(operator_file, batch_size=8)
    task = OperatorTask("mgno", {"width": 8, "n_layers": 2, "levels": 3}, optimizer=partial(torch.optim.AdamW, lr=5e-3))
    trainer = L.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=1, default_root_dir=tmp_path,
                        logger=False, enable_progress_bar=False, enable_model_summary=False,
                        enable_checkpointing=False, precision="bf16-mixed")
    trainer.fit(task, dm)
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in task.parameters())
    assert torch.isfinite(torch.tensor(trainer.callback_metrics["val/loss"]))
    x = dm.test_sets[0][0]["x"][None]
    reference = task.eval()(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = task(x)
    assert low.dtype == torch.bfloat16
    relative = float((low.float() - reference).norm() / reference.norm())
    assert 0 < relative < 3e-2  # bfloat16 rounding of the same model


def test_reference_resolution_and_training_grid_come_from_the_data(tmp_path):
    path = write_operator_file(tmp_path / "r.h5", {"train": (8, 17), "test": (4, 17), "test@33": (4, 33)})
    dm = OperatorDataModule(path, batch_size=4, val_split=None, train_strides=[2])
    task = OperatorTask("mgno", {"width": 4, "n_layers": 1, "levels": 2})
    trainer = _trainer(tmp_path, epochs=1)
    trainer.fit(task, dm)
    assert task.hparams.model_kwargs["reference_resolution"] == [9, 9] and task.train_resolution == [9, 9]
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    _, loaded = load(tmp_path / "m.ckpt")
    assert loaded.train_resolution == [9, 9] and loaded.net.resolution_behaviour == "function_space"
    kept = OperatorTask("mgno", {"width": 4, "n_layers": 1, "levels": 2, "reference_resolution": None})
    _trainer(tmp_path, epochs=1).fit(kept, dm)
    assert kept.hparams.model_kwargs["reference_resolution"] is None  # a user's choice is kept
    assert kept.net.resolution_behaviour == "fixed_grid"


def test_testing_a_fixed_grid_model_on_another_grid_warns_as_predict_does(tmp_path):
    """``neurops fit`` / ``neurops test`` printed test/rel_l2@33 of a fixed_grid model trained on 17x17 without a
    word, while ``neurops predict`` on that grid warned; the test now warns per split, also from a checkpoint."""
    path = write_operator_file(tmp_path / "r.h5", {"train": (4, 17), "test": (2, 17), "test@33": (2, 33)})
    dm = OperatorDataModule(path, batch_size=2, val_split=None)
    kwargs = {"width": 4, "n_layers": 1, "levels": 2}
    grid = OperatorTask("mgno", {**kwargs, "reference_resolution": None})
    trainer = _trainer(tmp_path, epochs=1)
    trainer.fit(grid, dm)
    with pytest.warns(NeuropsWarning) as record:
        trainer.test(grid, dm, verbose=False)
    assert [str(w.message).split(": expect")[0] for w in record if w.category is NeuropsWarning] == [
        "test split 'test@33' is on a 33x33 grid but the 'mgno' model was trained on 17x17 and is fixed_grid (the "
        "weights act in grid units; on another grid the model computes a different operator)"]
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    with pytest.warns(NeuropsWarning, match="test split 'test@33' is on a 33x33 grid"):
        _trainer(tmp_path).test(OperatorTask("mgno", {**kwargs, "reference_resolution": None}), dm,
                                ckpt_path=tmp_path / "m.ckpt", verbose=False)
    reference = OperatorTask("mgno", kwargs)  # function_space: no warning
    _trainer(tmp_path, epochs=1).fit(reference, dm)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NeuropsWarning)
        _trainer(tmp_path).test(reference, dm, verbose=False)


def test_resuming_on_data_of_another_training_grid_is_refused(tmp_path):
    """`neurops fit --ckpt_path last --data.path d65.h5` resumed a run trained on 33x33 on the 65x65 file without a
    word, and its checkpoints went on naming 33x33 as the training grid (which predict's warnings and MgNO's and
    LSM's reference grid rely on)."""
    from neurops.errors import CheckpointError
    from neurops.tasks.callbacks import LastCheckpoint

    coarse = write_operator_file(tmp_path / "c.h5", {"train": (4, 17), "test": (2, 17)})
    fine = write_operator_file(tmp_path / "f.h5", {"train": (4, 33), "test": (2, 33)})

    def fit(path, epochs, ckpt=None, strides=None):
        trainer = L.Trainer(max_epochs=epochs, default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
                            enable_model_summary=False, callbacks=[LastCheckpoint()])
        trainer.fit(OperatorTask("fno", {"modes": [4, 4], "width": 4, "n_layers": 1}, lr_scheduler=None),
                    OperatorDataModule(path, batch_size=2, val_split=None, train_strides=strides), ckpt_path=ckpt)

    fit(coarse, 1)
    last = tmp_path / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    with pytest.raises(CheckpointError) as err:
        fit(fine, 2, last)
    assert last.read_bytes() == before
    assert str(err.value) == (f"{last} was trained on a 17x17 grid, but {fine} trains on 33x33 (its split 'train'); "
                              "resume the run on its own data, or train on this data in a new run folder "
                              "(--trainer.default_root_dir DIR).")
    with pytest.raises(CheckpointError, match=r"trains on 9x9 \(its split 'train', train_strides \[2\]\)"):
        fit(coarse, 2, last, strides=[2])
    fit(fine, 2, last, strides=[2])  # the same 17x17 grid, every second point of the finer file
    assert load(last)[1].train_resolution == [17, 17] and last.read_bytes() != before
    fit(coarse, 3, last)  # its own data resumes
    assert load(last)[1].train_resolution == [17, 17]


def test_multi_resolution_training_warns_for_batch_norm_on_a_fixed_grid(tmp_path):
    path = write_operator_file(tmp_path / "r.h5", {"train": (8, 17), "test": (4, 17)})
    dm = OperatorDataModule(path, batch_size=4, val_split=None, train_strides=[1, 2])
    lsm = {"width": 4, "num_scales": 2, "patch_size": [2, 2], "num_tokens": 2, "num_basis": 2, "num_heads": 1,
           "head_width": 8}
    grid = OperatorTask("lsm", {**lsm, "reference_resolution": None})
    with pytest.warns(NeuropsWarning, match="running statistics average"):
        _trainer(tmp_path, epochs=1).fit(grid, dm)
    for kwargs in (lsm, {**lsm, "reference_resolution": None, "norm": "instance"}):  # one grid / no running stats
        with warnings.catch_warnings():
            warnings.simplefilter("error", NeuropsWarning)
            _trainer(tmp_path, epochs=1).fit(OperatorTask("lsm", kwargs), dm)


@pytest.mark.parametrize("stage", ["test", "validate"])
def test_a_checkpoint_refuses_data_whose_fields_differ_from_its_training_data(operator_file, tmp_path, stage):
    import shutil

    import h5py

    dm = OperatorDataModule(operator_file, batch_size=8)
    task = OperatorTask("fno", {"modes": [4, 4], "width": 4, "n_layers": 1})
    trainer = L.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=1, default_root_dir=tmp_path,
                        logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(task, dm)
    ckpt = tmp_path / "m.ckpt"
    trainer.save_checkpoint(ckpt)
    renamed = tmp_path / "renamed.h5"
    shutil.copy(operator_file, renamed)
    with h5py.File(renamed, "a") as f:
        for split in list(f):
            f.move(f"{split}/outputs/u", f"{split}/outputs/p")
    steps = []
    fresh = OperatorTask("fno", {"modes": [4, 4], "width": 4, "n_layers": 1})
    fresh.test_step = fresh.validation_step = lambda batch, i, *rest: steps.append(i)
    with pytest.raises(DataError) as err:
        getattr(_trainer(tmp_path), stage)(fresh, OperatorDataModule(renamed, batch_size=8), ckpt_path=ckpt)
    assert str(err.value) == (
        f"{renamed} split 'train' has outputs ['p'] but the checkpoint was trained on outputs ['u']; rename the "
        "fields in the file, or select fields every split has (--data.input_fields / --data.output_fields; "
        "--data.fields of trajectories).")
    assert steps == []
