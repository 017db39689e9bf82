"""The base of every task (neurops/tasks/base.py): one network attribute, one checkpoint record,
optimizer/scheduler injection, and random states that make a resumed run end where an
uninterrupted one does."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import lightning as L
import pytest
import torch

from neurops.data.datamodule import DynamicsDataModule, GenerativeDataModule, OperatorDataModule
from neurops.data.generators.darcy import DarcyConfig, generate_darcy
from neurops.errors import CheckpointError
from neurops.models.registry import spec_of
from neurops.tasks import DynamicsTask, GenerativeOperatorTask, OperatorTask, RolloutTask, Task
from neurops.tasks.callbacks import LastCheckpoint
from neurops.tasks.schedules import ExponentialTo, OneCycle, StepDecay

FNO = {"modes": [4, 4], "width": 8, "n_layers": 1}
DGNO = {"latent_dim": 4, "width": 8, "depth": 2, "encoder_hidden": [8]}


@pytest.fixture(scope="module")
def darcy_files(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("base_dgno")
    common = dict(resolution=9, coefficient="piecewise", a_high=10.0, a_low=5.0, forcing=10.0, seed=3)
    coef = generate_darcy(DarcyConfig(n_train=8, n_val=0, n_test=0, unlabelled=True, **common), root / "coef.h5",
                          workers=1, progress=False)
    lab = generate_darcy(DarcyConfig(n_train=1, n_val=2, n_test=2, **common), root / "lab.h5", workers=1,
                         progress=False)
    return coef, lab


def _built_tasks() -> list[Task]:
    return [OperatorTask("fno", {**FNO, "in_channels": 1, "out_channels": 1}),
            RolloutTask("fno", {"modes": [4], "width": 8, "in_channels": 2, "out_channels": 1}, t_in=2, t_out=2),
            GenerativeOperatorTask(model_kwargs={**DGNO, "resolution": [9, 9]}),
            DynamicsTask("alrnn", {"obs_dim": 3, "latent_dim": 4, "n_relu": 2})]


def test_every_task_wraps_its_registered_network_in_net_and_writes_one_record():
    records = []
    for task in _built_tasks():
        assert isinstance(task, Task) and isinstance(task.net, torch.nn.Module)
        name, kwargs = spec_of(task.net)
        record = task.checkpoint_record()
        assert (record["model"], record["model_kwargs"]) == (name, kwargs)
        assert record["task"] == f"{type(task).__module__}.{type(task).__name__}"
        assert record["torch_version"] == str(torch.__version__) and record["schema_version"] == 1
        records.append(record)
    assert records[0]["normalizers"] == {"in_norm": "GaussianNormalizer", "out_norm": "GaussianNormalizer"}
    assert records[2]["normalizers"] == {} and records[2]["forcing"] == 10.0 and records[3]["dt"] == 1.0
    common = {"task", "model", "model_kwargs", "normalizers", "schema_version", "neurops_version", "torch_version",
              "lightning_version"}
    assert all(common <= set(r) for r in records)


def test_rollout_task_takes_every_operator_argument():
    """RolloutTask passes **kwargs on to OperatorTask instead of restating them (it had lost `compile`)."""
    task = RolloutTask("fno", {"modes": [4], "width": 8, "in_channels": 2, "out_channels": 1}, t_in=2, t_out=2,
                       compile="eager", normalize=False, loss="rel_h1")
    assert task.hparams.compile == "eager" and task._compiled_forward is not None
    assert (task.hparams.normalize, task.hparams.loss, task.hparams.t_in) == (False, "rel_h1", 2)


def _trainer(root: Path, epochs: int, **kwargs) -> L.Trainer:
    return L.Trainer(max_epochs=epochs, default_root_dir=root, logger=False, enable_progress_bar=False,
                     enable_model_summary=False, accelerator="cpu", **kwargs)


def test_any_torch_optimizer_and_scheduler_can_be_injected(operator_file, tmp_path):
    task = OperatorTask("fno", FNO, optimizer=partial(torch.optim.SGD, lr=0.1, momentum=0.9),
                        lr_scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5))
    trainer = _trainer(tmp_path, 2, enable_checkpointing=False)
    trainer.fit(task, OperatorDataModule(operator_file, batch_size=8))
    opt = trainer.optimizers[0]
    assert type(opt) is torch.optim.SGD and opt.defaults["momentum"] == 0.9
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**2)  # stepped per epoch
    assert trainer.lr_scheduler_configs[0].interval == "epoch"


def test_resuming_with_another_optimizer_class_is_one_error_naming_both(operator_file, tmp_path):
    """SGD given the state of AdamW used to fail inside torch's SGD.step with KeyError: 'momentum'."""
    task = OperatorTask("fno", FNO, optimizer=partial(torch.optim.AdamW, lr=1e-2), lr_scheduler=None)
    _trainer(tmp_path, 1, callbacks=[LastCheckpoint()]).fit(task, OperatorDataModule(operator_file, batch_size=8))
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["neurops"]["optimizers"] == ["torch.optim.AdamW"]
    before = last.read_bytes()

    def resume(optimizer, ckpt: Path = last) -> None:
        task = OperatorTask("fno", FNO, optimizer=optimizer, lr_scheduler=None)
        _trainer(tmp_path, 2, callbacks=[LastCheckpoint()]).fit(task, OperatorDataModule(operator_file, batch_size=8),
                                                                ckpt_path=ckpt)

    with pytest.raises(CheckpointError) as err:
        resume(partial(torch.optim.SGD, lr=0.01))
    assert str(err.value) == (
        f"{last}: its optimizer state is AdamW's, which this run's SGD cannot continue; resume with the checkpoint's "
        "optimizer (--model.optimizer torch.optim.AdamW), or train with SGD in a new run folder "
        "(--trainer.default_root_dir DIR; a run cannot start from a checkpoint's weights alone).")
    assert last.read_bytes() == before  # nothing of the run was written
    # a checkpoint written before checkpoints named their optimizer: told by the hyperparameters SGD needs
    old = torch.load(last, weights_only=True)
    del old["neurops"]["optimizers"]
    torch.save(old, tmp_path / "old.ckpt")
    with pytest.raises(CheckpointError) as err:
        resume(partial(torch.optim.SGD, lr=0.01), tmp_path / "old.ckpt")
    assert str(err.value).startswith(f"{tmp_path / 'old.ckpt'}: its optimizer state is another optimizer's (it has no "
                                     "momentum, dampening), which this run's SGD cannot continue; resume with the "
                                     "checkpoint's optimizer (--model.optimizer CLASS), or train with SGD")
    # the same class resumes, with other settings too
    resume(partial(torch.optim.AdamW, lr=1e-3))
    assert torch.load(last, weights_only=True)["global_step"] == 2 * 3


def test_resuming_with_another_scheduler_class_is_one_error_before_any_step(operator_file, tmp_path):
    """`neurops fit --config darcy_mgno --ckpt_path last` in a darcy_fno run folder loaded the StepLR state of
    darcy_fno's StepDecay into darcy_mgno's OneCycle, and the first step failed in torch with KeyError: 'max_lr'."""
    task = OperatorTask("fno", FNO, lr_scheduler=StepDecay(every=0.5))
    _trainer(tmp_path, 1, callbacks=[LastCheckpoint()]).fit(task, OperatorDataModule(operator_file, batch_size=8))
    last = tmp_path / "checkpoints" / "last.ckpt"
    saved = torch.load(last, weights_only=True)
    assert saved["neurops"]["lr_schedulers"] == ["torch.optim.lr_scheduler.StepLR"]
    before = last.read_bytes()

    def resume(schedule, ckpt: Path = last) -> None:
        task = OperatorTask("fno", FNO, lr_scheduler=schedule)
        _trainer(tmp_path, 2, callbacks=[LastCheckpoint()]).fit(task, OperatorDataModule(operator_file, batch_size=8),
                                                                ckpt_path=ckpt)

    with pytest.raises(CheckpointError) as err:
        resume(OneCycle())
    assert str(err.value) == (
        f"{last}: its learning-rate schedule state is StepLR's, which this run's OneCycle cannot continue; resume "
        "with the checkpoint's lr_scheduler (that of the config it was trained with), or train with this one in a "
        "new run folder (--trainer.default_root_dir DIR).")
    assert last.read_bytes() == before  # nothing of the run was written
    del saved["neurops"]["lr_schedulers"]  # a checkpoint written before checkpoints named their schedulers
    torch.save(saved, tmp_path / "old.ckpt")
    with pytest.raises(CheckpointError, match=r"old\.ckpt: its learning-rate schedule state is another scheduler's, "
                                              "which this run's OneCycle cannot continue"):
        resume(OneCycle(), tmp_path / "old.ckpt")
    resume(StepDecay(every=0.5), tmp_path / "old.ckpt")  # the same class resumes
    resume(StepDecay(every=0.5))
    assert torch.load(last, weights_only=True)["global_step"] == 2 * 3


def test_resuming_a_run_relative_schedule_with_another_run_length_is_one_error(operator_file, tmp_path):
    """Extending a finished OneCycle run (`--ckpt_path last --trainer.max_epochs 2` after 1 epoch) loaded the saved
    total_steps 3 and stopped at step 4 in torch: ValueError: Tried to step 4 times; StepDecay kept the old length
    without a word."""
    def run(schedule, epochs: int, ckpt: Path | None = None) -> None:
        task = OperatorTask("fno", FNO, lr_scheduler=schedule)
        _trainer(tmp_path, epochs, callbacks=[LastCheckpoint()]).fit(
            task, OperatorDataModule(operator_file, batch_size=8), ckpt_path=ckpt)

    run(OneCycle(), 1)
    last = tmp_path / "checkpoints" / "last.ckpt"
    with pytest.raises(CheckpointError) as err:
        run(OneCycle(), 2, last)
    assert str(err.value).startswith(
        f"{last}: its OneCycle schedule was fitted to the length of the run it was saved in (total_steps 3), but this "
        "run's length gives total_steps 6 (another --trainer.max_epochs or max_steps, or another number of batches "
        "per epoch); a schedule relative to the run cannot change its length midway: resume with the run's ")
    run(StepDecay(every=0.5), 2)  # a new run in the folder (no ckpt_path), then extended
    with pytest.raises(CheckpointError, match=r"its StepDecay schedule was fitted .* \(step_size 1\), but this run's "
                                              r"length gives step_size 2 "):
        run(StepDecay(every=0.5), 4, last)
    run(StepDecay(every=0.5), 2, last)  # the same length resumes


def test_default_optimizers_and_run_relative_schedules(operator_file, tmp_path):
    task = OperatorTask("fno", FNO)  # AdamW 1e-3, one cycle over the run, per step
    trainer = _trainer(tmp_path, 2, enable_checkpointing=False)
    trainer.fit(task, OperatorDataModule(operator_file, batch_size=8))
    opt = trainer.optimizers[0]
    assert type(opt) is torch.optim.AdamW and opt.defaults["weight_decay"] == 1e-4
    assert trainer.lr_scheduler_configs[0].interval == "step"
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    assert isinstance(scheduler, torch.optim.lr_scheduler.OneCycleLR) and scheduler.total_steps == 2 * 3  # 24 / 8 x 2
    assert scheduler.last_epoch == 6 and opt.param_groups[0]["max_lr"] == 1e-3
    params = [torch.nn.Parameter(torch.zeros(1))]
    assert type(DynamicsTask.default_optimizer(params)) is torch.optim.RAdam
    assert GenerativeOperatorTask.default_optimizer(params).defaults["lr"] == 5e-4
    # no scheduler: a constant learning rate
    assert isinstance(OperatorTask("fno", {**FNO, "in_channels": 1, "out_channels": 1},
                                   lr_scheduler=None).configure_optimizers(), torch.optim.AdamW)


def test_epoch_relative_schedules_follow_a_run_bounded_by_steps(operator_file, tmp_path):
    """--trainer.max_steps alone: the run is as many epochs as its steps fill (here 3 batches an epoch)."""
    task = OperatorTask("fno", FNO, lr_scheduler=StepDecay(every=0.5, gamma=0.5))
    trainer = L.Trainer(max_steps=7, default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=False, limit_val_batches=0)
    trainer.fit(task, OperatorDataModule(operator_file, batch_size=8))
    assert trainer.max_epochs == -1 and trainer.lr_scheduler_configs[0].scheduler.step_size == 1  # 0.5 x 3 epochs


class _Interrupt(L.Callback):
    """Stop the run with an exception in the middle of an epoch (after its checkpoint of the epoch before)."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.at = (epoch, batch)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if (trainer.current_epoch, batch_idx) == self.at:
            raise RuntimeError("interrupted")


def _operator(files):
    # a worker process reads the data: the resumed run's first iterator is filled before Lightning sets the epoch
    return (OperatorTask("fno", FNO, optimizer=partial(torch.optim.AdamW, lr=1e-2)),
            OperatorDataModule(files["operator"], batch_size=8, num_workers=1))


def _dynamics(files):
    # input noise and the random windows draw from the global and the data module's generators
    return (DynamicsTask("alrnn", {"latent_dim": 4, "n_relu": 2}, training="stf", tau=5, input_noise=0.05,
                         optimizer=partial(torch.optim.RAdam, lr=5e-3), lr_scheduler=ExponentialTo(1e-3)),
            DynamicsDataModule(files["l63"], seq_len=20, batch_size=4, batches_per_epoch=3, val_length=200))


def _generative(files):
    # the weak-form particles come from the task's own generator
    return (GenerativeOperatorTask(model_kwargs=DGNO, n_particles=5, n_quad_per_axis=3),
            GenerativeDataModule(*files["darcy"], batch_size=4, val_split=None, test_splits=[]))


@pytest.mark.parametrize("make", [_operator, _dynamics, _generative], ids=["operator", "dynamics", "generative"])
def test_a_resumed_run_ends_bit_identical_to_an_uninterrupted_one(make, operator_file, lorenz63_file, darcy_files,
                                                                  tmp_path):
    files = {"operator": operator_file, "l63": lorenz63_file, "darcy": darcy_files}
    epochs = 4

    def run(root: Path, *extra: L.Callback, ckpt_path: Path | None = None) -> Task:
        L.seed_everything(0, verbose=False)
        task, dm = make(files)
        trainer = _trainer(root, epochs, callbacks=[LastCheckpoint(), *extra], num_sanity_val_steps=0)
        trainer.fit(task, dm, ckpt_path=ckpt_path)
        return task

    whole = run(tmp_path / "whole")
    with pytest.raises(RuntimeError, match="interrupted"):
        run(tmp_path / "cut", _Interrupt(epoch=2, batch=1))
    last = tmp_path / "cut" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["epoch"] == 1  # the state after epoch 2 of 4
    resumed = run(tmp_path / "cut", ckpt_path=last)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    assert not list((tmp_path / "cut" / "checkpoints").glob(".*"))  # no temporary file left


@pytest.mark.parametrize("settings, named", [({"lr": float("nan")}, "lr nan"), ({"lr": float("inf")}, "lr inf"),
                                             ({"lr": 0.1, "weight_decay": float("nan")}, "weight_decay nan")])
def test_a_nan_or_infinite_learning_rate_is_refused(settings, named):
    """torch.optim.SGD takes lr=nan without a word and the run trains its weights into nan."""
    from neurops.errors import ConfigError

    task = OperatorTask("fno", {**FNO, "in_channels": 1, "out_channels": 1},
                        optimizer=partial(torch.optim.SGD, **settings), lr_scheduler=None)
    with pytest.raises(ConfigError, match=rf"^the optimizer settings are not usable \(torch\.optim\.SGD\): {named} is "
                                          "not a finite number"):
        task.configure_optimizers()


@pytest.mark.parametrize("factory, line", [
    (partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=0.1), "lr_scheduler torch.optim.lr_scheduler.OneCycleLR "
     "cannot be built: You must define either total_steps OR (epochs AND steps_per_epoch) (set its arguments"),
    (partial(torch.optim.lr_scheduler.StepLR), "lr_scheduler torch.optim.lr_scheduler.StepLR cannot be built: "
     "StepLR.__init__() missing 1 required positional argument: 'step_size' (set its arguments"),
])
def test_a_scheduler_torch_refuses_is_one_config_error_naming_the_class(factory, line):
    from neurops.errors import ConfigError

    task = OperatorTask("fno", {**FNO, "in_channels": 1, "out_channels": 1}, lr_scheduler=factory)
    with pytest.raises(ConfigError) as raised:
        task.configure_optimizers()
    assert str(raised.value).startswith(line)



_FIT_THEN_TEST = """
import json
import sys
from functools import partial

import lightning as L
import torch

from neurops.data.datamodule import OperatorDataModule
from neurops.tasks import OperatorTask
from neurops.tasks.callbacks import LastCheckpoint
from tests.cli.cpu_fsdp import CPUFSDP

data, root, out = sys.argv[1:]
L.seed_everything(0)
task = OperatorTask("fno", {"modes": [4, 4], "width": 8, "n_layers": 2}, optimizer=partial(torch.optim.SGD, lr=0.01))
datamodule = OperatorDataModule(data, batch_size=4, num_workers=0)
trainer = L.Trainer(strategy=CPUFSDP(), accelerator="cpu", devices=2, max_epochs=2, default_root_dir=root,
                    logger=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[LastCheckpoint()])
trainer.fit(task, datamodule)
tested = trainer.test(task, datamodule, verbose=False)
validated = trainer.validate(task, datamodule, verbose=False)
if trainer.is_global_zero:
    with open(out, "w") as f:
        json.dump({k: v for metrics in tested + validated for k, v in metrics.items()}, f)
"""


@pytest.mark.processes  # ~30-40 s: one run of two processes
def test_trainer_test_after_trainer_fit_under_fsdp_evaluates_the_trained_weights(operator_file, tmp_path):
    """The Python API: ``trainer.fit(task, dm)`` then ``trainer.test(task, dm)`` (and ``trainer.validate``) under
    Lightning's FSDP in two processes. Lightning reconnected the bare task and wrapped it in a second FSDP wrapper
    inside fit's, which holds its parameters flattened and sharded: "RuntimeError: size mismatch, got input (1024),
    mat (1024x3), vec (24)". The task now hands the strategy fit's wrapper, and the metrics are those of the final
    weights evaluated in one process."""
    import json
    import subprocess
    import sys

    from neurops.checkpoints import load
    from tests.cli.test_lightning_fsdp import _env

    script, out = tmp_path / "fit_then_test.py", tmp_path / "metrics.json"
    script.write_text(_FIT_THEN_TEST)
    done = subprocess.run([sys.executable, str(script), str(operator_file), str(tmp_path / "run"), str(out)],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    got = json.loads(out.read_text())
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    task = load(tmp_path / "run" / "checkpoints" / "last.ckpt")[1]
    dm = OperatorDataModule(operator_file, batch_size=4)
    expected = {k: v for metrics in trainer.test(task, dm, verbose=False) + trainer.validate(task, dm, verbose=False)
                for k, v in metrics.items()}
    assert set(got) == set(expected) and len(expected) == 9
    for key, value in expected.items():
        assert abs(got[key] - value) <= 1e-5 * value, (key, got[key], value)
