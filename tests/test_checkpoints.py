"""The one checkpoint loader (neurops/checkpoints.py): every task's checkpoint, wrong commands,
unreadable files, and checkpoints that name code neurops must not import."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from neurops.checkpoints import KINDS, load, read
from neurops.cli import main
from neurops.errors import CheckpointError, ConfigError
from neurops.tasks import DynamicsTask, GenerativeOperatorTask, OperatorTask, RolloutTask
from neurops.tasks.base import Task

TASKS = {
    "operator": lambda: OperatorTask("fno", {"modes": [3, 3], "width": 4, "n_layers": 1, "in_channels": 1,
                                             "out_channels": 1}),
    "rollout": lambda: RolloutTask("fno", {"modes": [3], "width": 4, "in_channels": 2, "out_channels": 1}, t_in=2,
                                   t_out=2),
    "generative": lambda: GenerativeOperatorTask(model_kwargs={"resolution": [5, 5], "latent_dim": 3, "width": 4,
                                                               "depth": 1, "encoder_hidden": [4]}),
    "dynamics": lambda: DynamicsTask("alrnn", {"obs_dim": 3, "latent_dim": 4, "n_relu": 2}),
}
INPUTS = {"operator": torch.randn(2, 1, 6, 6), "rollout": torch.randn(2, 2, 8),
          "generative": torch.rand(2, 1, 5, 5) * 5 + 5, "dynamics": torch.randn(2, 3)}


def save(task: Task, path: Path, **extra) -> Path:
    """Write ``task`` as Lightning does: state dict, hyperparameters, and the task's own hook."""
    with torch.no_grad():
        for p in task.parameters():
            p.add_(0.01 * torch.randn_like(p))  # not the initial weights
    checkpoint = {"state_dict": task.state_dict(), "hyper_parameters": dict(task.hparams), **extra}
    task.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    return path


def _out(kind: str, task: Task) -> torch.Tensor:
    x = INPUTS[kind]
    return task.net(x, 5) if kind == "dynamics" else task(x)


@pytest.mark.parametrize("kind", list(TASKS))
def test_every_task_checkpoint_rebuilds_the_same_task(kind, tmp_path):
    torch.manual_seed(0)
    task = TASKS[kind]()
    path = save(task, tmp_path / f"{kind}.ckpt")
    got, loaded = load(path)
    assert got == kind and type(loaded) is type(task) and not loaded.training
    torch.testing.assert_close(_out(kind, loaded), _out(kind, task.eval()), rtol=0, atol=0)
    assert loaded.record["task"] in KINDS and read(path).kind.name == kind


@pytest.mark.parametrize("kind, takes, command, says", [
    ("dynamics", ("operator", "rollout"), "neurops predict", "neurops dsr evaluate"),
    ("generative", ("operator", "rollout"), "neurops predict", "neurops invert"),
    ("operator", "dynamics", "neurops dsr evaluate", "neurops predict"),
    ("rollout", "generative", "neurops invert", "neurops test"),
])
def test_a_checkpoint_given_to_the_wrong_command_says_what_it_is(kind, takes, command, says, tmp_path):
    path = save(TASKS[kind](), tmp_path / "m.ckpt")
    with pytest.raises(CheckpointError) as err:
        load(path, takes, command=command)
    msg = str(err.value)
    assert f"{kind} checkpoint (" in msg and f"`{command}` takes" in msg and says in msg


def test_the_commands_name_the_kind_of_a_wrong_checkpoint(operator_file, lorenz63_file, tmp_path, capsys):
    dsr, fno = save(TASKS["dynamics"](), tmp_path / "dsr.ckpt"), save(TASKS["operator"](), tmp_path / "fno.ckpt")
    dgno = save(TASKS["generative"](), tmp_path / "dgno.ckpt")
    out = str(tmp_path / "p.h5")
    for argv, kind in ((["predict", "--ckpt", str(dsr), "--data", str(operator_file), "--out", out], "dynamics"),
                       (["predict", "--ckpt", str(dgno), "--data", str(operator_file), "--out", out], "generative"),
                       (["predict", "--ckpt", str(save(TASKS["rollout"](), tmp_path / "ns.ckpt")), "--data",
                         str(operator_file), "--out", out], "rollout"),  # it predicts trajectory files
                       (["dsr", "evaluate", "--ckpt", str(fno), "--data", str(lorenz63_file)], "operator"),
                       (["test", "--config", "darcy_fno", "--data.path", str(operator_file), "--ckpt_path", str(dsr),
                         "--trainer.default_root_dir", str(tmp_path / "runs")], "dynamics")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("neurops: error:") and f"{kind} checkpoint (" in err
    assert not (tmp_path / "p.h5").exists()


def test_unreadable_files_are_one_clear_error_that_never_advises_weights_only_false(tmp_path):
    real = save(TASKS["operator"](), tmp_path / "real.ckpt").read_bytes()
    files = {"text.ckpt": b"not a checkpoint\n", "empty.ckpt": b"", "truncated.ckpt": real[: len(real) // 2]}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    torch.save({"state_dict": {}, "neurops": {"task": "neurops.tasks.operator.OperatorTask"},
                "extra": Path("x")}, tmp_path / "object.ckpt")  # a Python object: refused by weights_only
    reasons = {"text.ckpt": "not a PyTorch checkpoint", "empty.ckpt": "empty, truncated or corrupt",
               "truncated.ckpt": "empty, truncated or corrupt", "object.ckpt": "refuses to load"}
    for name, reason in reasons.items():
        with pytest.raises(CheckpointError) as err:
            load(tmp_path / name)
        assert reason in str(err.value) and "weights_only=False" not in str(err.value), name
        assert err.value.__cause__ is None  # torch's own advice is not chained into the report either
    torch.save({"state_dict": {}}, tmp_path / "plain.ckpt")
    with pytest.raises(CheckpointError, match="not a neurops checkpoint"):
        read(tmp_path / "plain.ckpt")
    with pytest.raises(CheckpointError, match="does not exist"):
        read(tmp_path / "missing.ckpt")


@pytest.fixture
def trap(tmp_path, monkeypatch) -> Path:
    """An importable module that leaves a file behind when it is imported."""
    marker = tmp_path / "imported"
    (tmp_path / "trap_module.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('x')\n"
        "import lightning\nclass Task(lightning.LightningModule):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    sys.modules.pop("trap_module", None)


def test_a_checkpoint_naming_foreign_code_is_refused_without_importing_it(trap, operator_file, tmp_path, capsys):
    foreign_task = save(TASKS["operator"](), tmp_path / "a.ckpt")
    contents = torch.load(foreign_task, weights_only=True)
    contents["neurops"]["task"] = "trap_module.Task"
    torch.save(contents, foreign_task)
    with pytest.raises(CheckpointError, match="'trap_module.Task', which is not a neurops task"):
        load(foreign_task)
    foreign_class_path = save(TASKS["operator"](), tmp_path / "b.ckpt")
    contents = torch.load(foreign_class_path, weights_only=True)
    contents["hyper_parameters"].update({"_class_path": "trap_module.Task",
                                         "_instantiator": "lightning.pytorch.cli.instantiate_module"})
    torch.save(contents, foreign_class_path)
    with pytest.raises(CheckpointError, match="refused"):
        load(foreign_class_path)
    # `neurops test --ckpt_path` reads the checkpoint with the same loader before Lightning sees it
    assert main(["test", "--config", "darcy_fno", "--data.init_args.path", str(operator_file),
                 "--trainer.default_root_dir", str(tmp_path / "runs"), "--ckpt_path", str(foreign_class_path)]) == 2
    assert "trap_module.Task" in capsys.readouterr().err
    assert "trap_module" not in sys.modules and not trap.exists()


def test_checkpoints_of_older_neurops_versions_still_load(tmp_path):
    """A DynamicsTask checkpoint from before the shared base: no task in its record, its network under ``model.``."""
    task = TASKS["dynamics"]()
    old = {"state_dict": {k.replace("net.", "model.", 1): v for k, v in task.state_dict().items()},
           "hyper_parameters": {**dict(task.hparams), "lr": 1e-3, "lr_end": 1e-6},
           "neurops": {"schema_version": 1, "neurops_version": "0.1.0", "model": "alrnn",
                       "model_kwargs": task.hparams.model_kwargs, "dt": 0.02, "alpha": None}}
    torch.save(old, tmp_path / "old.ckpt")
    kind, loaded = load(tmp_path / "old.ckpt", "dynamics")
    assert kind == "dynamics" and loaded.dt == 0.02
    torch.testing.assert_close(loaded.net(INPUTS["dynamics"], 4), task.net.eval()(INPUTS["dynamics"], 4))


@pytest.mark.parametrize("name, message", [
    ("foo", "device 'foo' is not a torch device name (cpu, cuda, cuda:1, mps...); use --device cpu."),
    ("cuda", "device 'cuda' is not available here (torch finds no CUDA GPU); use --device cpu."),
], ids=["foo", "cuda"])
def test_a_device_this_machine_lacks_is_not_a_corrupt_checkpoint(name, message, monkeypatch, tmp_path):
    path = save(TASKS["operator"](), tmp_path / "op.ckpt")
    assert read(path).kind.name == "operator"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError) as err:
        read(path, map_location=name)
    assert str(err.value) == message
