"""Run folders of `neurops fit|test` (neurops/cli/lightning.py): where logs and checkpoints go, resuming
with `--ckpt_path last` (also after a SIGKILL), and no stub folders from failed runs."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from neurops.cli import main
from neurops.configs import resolve_config

KILLER = '''
import os, signal
import lightning as L

class Kill(L.Callback):
    """SIGKILL this process in the middle of epoch 2 (after the checkpoint of epoch 1)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if (trainer.current_epoch, batch_idx) == (2, 1):
            os.kill(os.getpid(), signal.SIGKILL)
'''


def operator_config(data: Path, root: Path, epochs: int = 4, workers: int = 0) -> dict:
    """A tiny version of the shipped darcy_fno config."""
    cfg = yaml.safe_load(resolve_config("darcy_fno").read_text())
    cfg["trainer"].update({"max_epochs": epochs, "enable_progress_bar": False, "default_root_dir": str(root),
                           "accelerator": "cpu", "num_sanity_val_steps": 0, "enable_model_summary": False})
    cfg["model"]["init_args"]["model_kwargs"].update({"modes": [4, 4], "width": 8, "n_layers": 1})
    cfg["model"]["init_args"]["optimizer"]["init_args"]["lr"] = 1e-2
    cfg["data"]["init_args"].update({"path": str(data), "batch_size": 8, "num_workers": workers})
    return cfg


def dynamics_config(data: Path, root: Path, epochs: int = 4) -> dict:
    """A tiny version of the shipped dsr_lorenz63 config (random windows, input noise)."""
    cfg = yaml.safe_load(resolve_config("dsr_lorenz63").read_text())
    cfg["trainer"].update({"max_epochs": epochs, "check_val_every_n_epoch": 1, "enable_progress_bar": False,
                           "default_root_dir": str(root), "num_sanity_val_steps": 0})
    cfg["model"]["init_args"].update({"model": "alrnn", "model_kwargs": {"latent_dim": 4, "n_relu": 2},
                                      "training": "stf", "tau": 5, "input_noise": 0.05, "val_gen_length": None})
    cfg["data"]["init_args"].update({"path": str(data), "seq_len": 20, "batch_size": 4, "batches_per_epoch": 3,
                                     "val_length": 200})
    return cfg


def _write(cfg: dict, path: Path) -> str:
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def _metrics(log_dir: Path) -> list[dict[str, str]]:
    with open(log_dir / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_the_run_folder_holds_logs_and_checkpoints_and_last_resumes_it(operator_file, tmp_path, capsys):
    root = tmp_path / "run"
    cfg = _write(operator_config(operator_file, root, epochs=2), tmp_path / "cfg.yaml")
    assert main(["fit", "--config", cfg]) == 0
    last = root / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == 2 * 3
    assert (root / "logs" / "version_0" / "config.yaml").is_file() and _metrics(root / "logs" / "version_0")
    assert "checkpoints: " in capsys.readouterr().out
    # a new run into the same folder would mix two runs: refused, nothing touched
    before = last.read_bytes()
    assert main(["fit", "--config", cfg]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("neurops: error:") and "Traceback" not in err
    assert "already holds the checkpoints" in err and "--ckpt_path last" in err
    assert last.read_bytes() == before and not (root / "logs" / "version_1").exists()
    # resume: two more epochs continue from the checkpoint; this attempt logs into version_1
    assert main(["fit", "--config", cfg, "--trainer.max_epochs", "4", "--ckpt_path", "last"]) == 0
    assert torch.load(last, weights_only=True)["global_step"] == 4 * 3
    trained = [r for r in _metrics(root / "logs" / "version_1") if r.get("train/loss_epoch")]
    assert {int(r["epoch"]) for r in trained} == {2, 3}
    # test and best/last by name, in the run folder
    capsys.readouterr()
    assert main(["test", "--config", cfg, "--ckpt_path", "last"]) == 0
    assert "note:" not in capsys.readouterr().err  # the config's settings are the checkpoint's
    assert main(["test", "--config", cfg, "--ckpt_path", "best"]) == 2
    assert "best.ckpt does not exist" in capsys.readouterr().err
    # settings of the config that the checkpoint's replace are named (they used to be dropped without a word)
    assert main(["test", "--config", cfg, "--ckpt_path", "last", "--model.model_kwargs.width", "16"]) == 0
    err = capsys.readouterr().err
    assert "the checkpoint's are used: model_kwargs.width 8 (the config's: 16)" in err
    # another optimizer class: one line before the Trainer starts (tests/cli/test_lightning_fsdp.py: under FSDP)
    before, versions = last.read_bytes(), sorted((root / "logs").iterdir())
    assert main(["fit", "--config", cfg, "--trainer.max_epochs", "5", "--ckpt_path", "last", "--model.optimizer",
                 "torch.optim.SGD", "--model.optimizer.lr", "0.01"]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        f"neurops: error: {last}: its optimizer state is AdamW's, which this run's SGD cannot continue; resume with "
        "the checkpoint's optimizer (--model.optimizer torch.optim.AdamW), or train with SGD in a new run folder "
        "(--trainer.default_root_dir DIR; a run cannot start from a checkpoint's weights alone)."]
    assert "Restoring states" not in out + err and sorted((root / "logs").iterdir()) == versions
    assert last.read_bytes() == before
    # no optimizer in the config: the task's default (OperatorTask: AdamW) continues the run's AdamW state
    assert main(["fit", "--config", cfg, "--trainer.max_epochs", "5", "--ckpt_path", "last", "--model.optimizer",
                 "null", "--test_after_fit", "false"]) == 0
    assert torch.load(last, weights_only=True)["global_step"] == 5 * 3


def test_resuming_with_max_epochs_below_the_checkpoints_epoch_is_one_line_before_the_trainer(operator_file, tmp_path,
                                                                                            capsys):
    root = tmp_path / "run"
    cfg = _write(operator_config(operator_file, root, epochs=3), tmp_path / "cfg.yaml")
    assert main(["fit", "--config", cfg, "--test_after_fit", "false"]) == 0
    last = root / "checkpoints" / "last.ckpt"
    saved = torch.load(last, weights_only=True)
    assert saved["epoch"] == 2 and saved["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"] == 3
    before, versions = last.read_bytes(), sorted((root / "logs").iterdir())
    capsys.readouterr()
    assert main(["fit", "--config", cfg, "--trainer.max_epochs", "1", "--ckpt_path", "last"]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        f"neurops: error: {last} was saved in epoch 2 (counting from 0), but --trainer.max_epochs is 1, which ends "
        "the run before it; to train on, give --trainer.max_epochs N with N > 3 (the epochs it has finished), or "
        f"evaluate it with `neurops test --config ... --ckpt_path {last}`."]
    assert "Restoring states" not in out + err and sorted((root / "logs").iterdir()) == versions
    assert last.read_bytes() == before
    # what Lightning takes is still taken: max_epochs 2 (the checkpoint's epoch) ends at once, 4 trains one more
    assert main(["fit", "--config", cfg, "--trainer.max_epochs", "2", "--ckpt_path", "last",
                 "--test_after_fit", "false"]) == 0
    assert main(["fit", "--config", cfg, "--trainer.max_epochs", "4", "--ckpt_path", "last",
                 "--test_after_fit", "false"]) == 0
    assert torch.load(last, weights_only=True)["global_step"] == 4 * 3


def test_validate_and_test_of_a_checkpoint_log_into_its_run_folder(operator_file, tmp_path, capsys):
    """`neurops test|validate --config C --ckpt_path OTHER/checkpoints/last.ckpt` wrote its logs into C's folder
    (runs/<config name> by default), starting a run folder for a run that never existed; now into OTHER, in a new
    logs/version_N beside the earlier ones, unless --trainer.default_root_dir names another folder."""
    other = tmp_path / "other"
    assert main(["fit", "--config", _write(operator_config(operator_file, other, epochs=1), tmp_path / "a.yaml")]) == 0
    first = {p: p.read_bytes() for p in (other / "logs" / "version_0").iterdir()}
    cfg = _write(operator_config(operator_file, tmp_path / "configured", epochs=1), tmp_path / "cfg.yaml")
    ckpt = other / "checkpoints" / "last.ckpt"
    capsys.readouterr()
    for version, sub in enumerate(("test", "validate"), start=1):
        assert main([sub, "--config", cfg, "--ckpt_path", str(ckpt)]) == 0
        assert f"logs: {other / 'logs' / f'version_{version}'}" in capsys.readouterr().out.splitlines()
        assert _metrics(other / "logs" / f"version_{version}")
    assert not (tmp_path / "configured").exists()
    assert {p: p.read_bytes() for p in (other / "logs" / "version_0").iterdir()} == first  # nothing overwritten
    assert main(["test", "--config", cfg, "--ckpt_path", str(ckpt), "--trainer.default_root_dir",
                 str(tmp_path / "mine")]) == 0
    assert _metrics(tmp_path / "mine" / "logs" / "version_0") and not (other / "logs" / "version_3").exists()


def test_last_in_an_empty_folder_starts_a_new_run_and_the_default_folder_is_named_after_the_config(
        operator_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cfg = operator_config(operator_file, tmp_path, epochs=1)
    del cfg["trainer"]["default_root_dir"]
    assert main(["fit", "--config", _write(cfg, tmp_path / "my_study.yaml"), "--ckpt_path", "last"]) == 0
    err = capsys.readouterr().err
    assert "neurops: note: nothing to resume (" in err and err.count("nothing to resume") == 1  # a note, once
    assert (tmp_path / "runs" / "my_study" / "checkpoints" / "last.ckpt").is_file()


def test_a_failed_run_leaves_no_stub_folder(operator_file, tmp_path, capsys):
    cfg = operator_config(operator_file, tmp_path / "run")
    cfg["model"]["init_args"]["model_kwargs"]["in_channels"] = 3  # the data has 1: fails in setup
    assert main(["fit", "--config", _write(cfg, tmp_path / "cfg.yaml")]) == 2
    assert "in_channels=3 but the data has 1" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("option, value, line", [
    ("--trainer.check_val_every_n_epoch", "0", "check_val_every_n_epoch must be a positive integer or null, got 0; "
     "--trainer.check_val_every_n_epoch N validates after every N-th epoch (to train without validation: "
     "--data.val_split null)."),
    ("--seed_everything", "-5", "seed_everything must be an integer between 0 and 2**32 - 1 (4294967295), got -5; "
     "give e.g. --seed_everything 0 (true: a random seed)."),
    ("--seed_everything", str(2**32), "seed_everything must be an integer between 0 and 2**32 - 1 (4294967295), got "
     "4294967296; give e.g. --seed_everything 0 (true: a random seed)."),
    *[("--trainer.accumulate_grad_batches", k, f"accumulate_grad_batches must be an integer >= 1, got {k}; "
       "--trainer.accumulate_grad_batches K sums the gradients of K batches before each optimizer step (1: a step "
       "after every batch).") for k in ("0", "-1")],
    ("--trainer.gradient_clip_val", "-1e-3", "gradient_clip_val must be a number >= 0, got -0.001; 0 or null means "
     "no clipping (--trainer.gradient_clip_val 1.0 clips the gradients' norm at 1)."),
])
def test_values_lightning_fails_on_or_ignores_are_one_line_before_the_run(option, value, line, operator_file,
                                                                          tmp_path, capsys):
    # they used to be a ZeroDivisionError from Lightning's validation loop and a ValueError from numpy's seeding;
    # accumulate_grad_batches 0 a ZeroDivisionError from Lightning's step count, -1 trained as if it were 1; a
    # negative gradient_clip_val trained without clipping (Lightning skips clipping at a value <= 0)
    cfg = _write(operator_config(operator_file, tmp_path / "run", epochs=1), tmp_path / "cfg.yaml")
    assert main(["fit", "--config", cfg, option, value]) == 2
    assert capsys.readouterr().err.splitlines() == [f"neurops: error: {line}"]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("option", ["--trainer.max_epochs", "--trainer.max_steps"])
def test_a_fit_of_zero_epochs_or_steps_is_refused_and_a_finished_run_still_resumes(option, operator_file, tmp_path,
                                                                                     capsys):
    """`fit` with max_epochs 0 or max_steps 0 trained nothing, wrote no checkpoint and printed the test table of the
    untrained model, with status 0; now one line. Resuming a finished run (Lightning: nothing left to do) is kept:
    it tests the final state and exits 0."""
    cfg = _write(operator_config(operator_file, tmp_path / "run", epochs=1), tmp_path / "cfg.yaml")
    assert main(["fit", "--config", cfg, option, "0"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"neurops: error: a run of {option.split('.')[1]} 0 trains nothing; give {option} N with N >= 1, or "
        "evaluate a checkpoint with `neurops test --config ... --ckpt_path CKPT`."]
    assert not (tmp_path / "run").exists()
    assert main(["fit", "--config", cfg]) == 0
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    capsys.readouterr()
    assert main(["fit", "--config", cfg, "--ckpt_path", "last"]) == 0  # finished: nothing left to train
    assert "test/rel_l2@16" in capsys.readouterr().out and last.read_bytes() == before
    assert main(["test", "--config", cfg, option, "0", "--ckpt_path", "last"]) == 0  # trains nothing anyway


def test_an_unbounded_run_refuses_a_run_relative_schedule_and_trains_without_one(operator_file, tmp_path, capsys):
    """`--trainer.max_epochs -1` (Lightning: train until stopped) was an OverflowError traceback (a run-relative
    schedule fitted to infinitely many steps); now one line. Without such a schedule -1 trains, until max_time."""
    cfg = _write(operator_config(operator_file, tmp_path / "run", epochs=1), tmp_path / "cfg.yaml")
    assert main(["fit", "--config", cfg, "--trainer.max_epochs", "-1"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "neurops: error: lr_scheduler StepDecay(every=0.2, gamma=0.5) is fitted to the length of the run, but this "
        "run has no bound (max_epochs -1 and no max_steps: it trains until stopped); give --trainer.max_epochs N "
        "(N >= 1) or --trainer.max_steps N, or use a constant learning rate (--model.lr_scheduler null) or a torch "
        "scheduler of absolute length (e.g. --model.lr_scheduler torch.optim.lr_scheduler.StepLR "
        "--model.lr_scheduler.step_size 100)."]
    assert not (tmp_path / "run").exists()
    assert main(["fit", "--config", cfg, "--trainer.max_epochs", "-1", "--model.lr_scheduler", "null",
                 "--trainer.max_time", "00:00:00:01", "--test_after_fit", "false"]) == 0
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] > 0


def test_a_torch_scheduler_torch_cannot_build_is_one_line(operator_file, tmp_path, capsys):
    """torch.optim.lr_scheduler.OneCycleLR without total_steps (or epochs and steps_per_epoch) was torch's ValueError
    traceback from configure_optimizers; now one line naming the class and torch's words."""
    cfg = operator_config(operator_file, tmp_path / "run", epochs=1)
    cfg["model"]["init_args"]["lr_scheduler"] = {"class_path": "torch.optim.lr_scheduler.OneCycleLR",
                                                 "init_args": {"max_lr": 1e-2}}
    assert main(["fit", "--config", _write(cfg, tmp_path / "cfg.yaml")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "neurops: error: lr_scheduler torch.optim.lr_scheduler.OneCycleLR cannot be built: You must define either "
        "total_steps OR (epochs AND steps_per_epoch) (set its arguments under model.init_args.lr_scheduler.init_args, "
        "or use a schedule fitted to the run, class_path: neurops.tasks.schedules.OneCycle, StepDecay, Cosine or "
        "ExponentialTo)."]
    assert not (tmp_path / "run").exists()


def test_nan_in_the_test_split_stops_fit_before_the_first_step(operator_file, tmp_path, capsys):
    """A NaN in the test split was found only by the test after fit, once the whole training had run (and its
    checkpoints were written); now `neurops fit` refuses it at setup, with one line, and leaves no run folder."""
    import h5py

    with h5py.File(operator_file, "a") as f:
        f["test/outputs/u"][3, 2, 2] = float("nan")
    cfg = _write(operator_config(operator_file, tmp_path / "run", epochs=2), tmp_path / "cfg.yaml")
    assert main(["fit", "--config", cfg]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"neurops: error: {operator_file}: the test split 'test' holds NaN/Inf values (test/outputs/u: 1 NaN/Inf "
        "values in sample 3), found before training; fix or drop those samples at their source, or leave the split out "
        f"(--data.test_splits without 'test', or --test_after_fit false); `neurops data check {operator_file}` lists "
        "every field with NaN/Inf."], err
    assert not (tmp_path / "run").exists()  # no checkpoint, no log folder: nothing was trained
    # a run that does not test reads no test split: it trains
    assert main(["fit", "--config", cfg, "--test_after_fit", "false"]) == 0
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2 * 3


@pytest.mark.parametrize("subcommand", ["fit", "validate", "test"])
def test_a_negative_number_in_scientific_notation_is_an_options_value(subcommand, operator_file, tmp_path, capsys):
    """`--model.init_args.lr_scheduler.init_args.gamma -5e-1` was "argument --model: expected one argument"
    (Python 3.11's argparse reads only -1 and -.5 as numbers); now the value, as `...gamma=-5e-1` always was, which
    then meets its own range check."""
    cfg = _write(operator_config(operator_file, tmp_path / "run", epochs=1), tmp_path / "cfg.yaml")
    for given in (["--model.init_args.lr_scheduler.init_args.gamma", "-5e-1"],
                  ["--model.init_args.lr_scheduler.init_args.gamma=-5e-1"]):
        assert main([subcommand, "--config", cfg, *given]) == 2
        assert capsys.readouterr().err.splitlines() == [
            "neurops: error: StepDecay needs 0 < every <= 1 and gamma > 0; got every=0.2, gamma=-0.5."]
    assert not (tmp_path / "run").exists()


def test_a_negative_learning_rate_in_scientific_notation_meets_the_optimizers_check(operator_file, tmp_path, capsys):
    cfg = _write(operator_config(operator_file, tmp_path / "run", epochs=1), tmp_path / "cfg.yaml")
    assert main(["fit", "--config", cfg, "--model.init_args.optimizer.init_args.lr", "-1e-3"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "neurops: error: the optimizer settings are not usable (torch.optim.AdamW): Invalid learning rate: -0.001 (set "
        "them under model.init_args.optimizer.init_args, e.g. --model.init_args.optimizer.init_args.lr 0.001)."]
    assert not (tmp_path / "run").exists()
    from neurops.cli.lightning import instantiate

    task, _ = instantiate(cfg, "--model.init_args.optimizer.init_args.weight_decay", "-1E-4")
    assert task.optimizer_factory.keywords["weight_decay"] == -1e-4  # parsed as the number given, nothing else


def test_torchs_one_cycle_lr_with_a_one_step_warm_up_is_one_line_before_the_first_step(operator_file, tmp_path,
                                                                                          capsys):
    """A config naming torch.optim.lr_scheduler.OneCycleLR with pct_start * total_steps == 1 was a ZeroDivisionError
    traceback from inside torch once the run had started; now one line naming the cause and the fix, and the run
    leaves no folder."""
    cfg = operator_config(operator_file, tmp_path / "run", epochs=1)
    cfg["model"]["init_args"]["lr_scheduler"] = {"class_path": "torch.optim.lr_scheduler.OneCycleLR",
                                                 "init_args": {"max_lr": 1e-2, "total_steps": 5, "pct_start": 0.2}}
    assert main(["fit", "--config", _write(cfg, tmp_path / "cfg.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "neurops: error: lr_scheduler torch.optim.lr_scheduler.OneCycleLR with pct_start=0.2 and total_steps=5 has a "
        "warm-up of pct_start * total_steps = 1 step, for which torch's formula divides 0 by 0 (ZeroDivisionError); "
        "use class_path: neurops.tasks.schedules.OneCycle with the same pct_start, div_factor and final_div_factor "
        "(one cycle over the whole run, peaking at the optimizer's lr; its one-step warm-up is the limit of torch's "
        "formula), or change pct_start or total_steps so that pct_start * total_steps != 1."], err
    assert not (tmp_path / "run").exists()
    # the fix it names trains
    cfg["model"]["init_args"]["lr_scheduler"] = {"class_path": "neurops.tasks.schedules.OneCycle",
                                                 "init_args": {"pct_start": 1 / 3}}  # 3 steps: a one-step warm-up
    assert main(["fit", "--config", _write(cfg, tmp_path / "cfg.yaml"), "--test_after_fit", "false"]) == 0
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 3


@pytest.mark.processes  # ~10 s each; tests/tasks/test_base.py checks the same resumption in-process, fast
@pytest.mark.parametrize("kind", ["operator", "dynamics"])
def test_a_sigkilled_run_resumes_to_the_same_final_state_and_metrics(kind, operator_file, lorenz63_file,
                                                                     tmp_path):
    """The uninterrupted run and the killed-then-resumed run end bit-identical (CPU, same seed)."""
    # the operator run reads its data in a worker process (persistent across epochs, restarted by the resume)
    make = {"operator": lambda root: operator_config(operator_file, root, workers=1),
            "dynamics": lambda root: dynamics_config(lorenz63_file, root)}[kind]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main(["fit", "--config", _write(make(whole), tmp_path / "whole.yaml")]) == 0
    (tmp_path / "killer.py").write_text(KILLER)
    cfg = make(cut)
    cfg["trainer"]["callbacks"].append({"class_path": "killer.Kill"})
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "OMP_NUM_THREADS": str(torch.get_num_threads())}
    child = subprocess.run([sys.executable, "-m", "neurops", "fit", "--config", _write(cfg, tmp_path / "kill.yaml")],
                           env=env, capture_output=True, text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    last = cut / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["epoch"] == 1  # the state after epoch 2 of 4
    assert main(["fit", "--config", _write(make(cut), tmp_path / "resume.yaml"), "--ckpt_path", "last"]) == 0
    final = {name: torch.load(root / "checkpoints" / "last.ckpt", weights_only=True) for name, root in
             (("whole", whole), ("cut", cut))}
    assert final["whole"]["global_step"] == final["cut"]["global_step"] == 4 * 3
    for key, value in final["whole"]["state_dict"].items():
        assert torch.equal(value, final["cut"]["state_dict"][key]), key
    metric = {"operator": "val/rel_l2", "dynamics": "val/d_stsp"}[kind]
    logged = {name: [r[metric] for r in _metrics(log) if r.get(metric)] for name, log in
              (("whole", whole / "logs" / "version_0"), ("cut", cut / "logs" / "version_1"))}
    assert logged["cut"] == logged["whole"][-2:]  # epochs 2 and 3, to the last digit


def test_instantiate_builds_a_config_as_fit_does(operator_file, tmp_path):
    from neurops.cli.lightning import instantiate
    from neurops.tasks.schedules import OneCycle

    task, dm = instantiate("darcy_mgno", "--data.init_args.path", str(operator_file),
                           "--model.init_args.loss", "rel_l2")
    assert type(task).__name__ == "OperatorTask" and task.hparams.model == "mgno" and task.hparams.loss == "rel_l2"
    assert task.hparams.model_kwargs == {"preset": "darcy"}  # the boundary: the file's, at setup
    optimizer = task.optimizer_factory([torch.nn.Parameter(torch.zeros(1))])
    assert type(optimizer) is torch.optim.AdamW and optimizer.defaults["lr"] == 5e-4
    assert isinstance(task.scheduler_factory, OneCycle) and task.scheduler_factory.div_factor == 2.0
    assert Path(dm.path) == operator_file and dm.batch_size == 8


def test_every_option_of_the_shipped_tasks_and_data_modules_has_a_help_text():
    """`neurops fit --model.help CLASS` / `--data.help CLASS` show jsonargparse's reading of the docstrings
    (docstring_parser, numpydoc): every parameter needs an entry it reads as a description ("name" on its line,
    the text indented below; "name : text" is read as a type and showed no help)."""
    import inspect

    import docstring_parser

    from neurops.data.datamodule import (
        DCDMDataModule,
        DynamicsDataModule,
        GenerativeDataModule,
        OperatorDataModule,
        RolloutDataModule,
    )
    from neurops.tasks import DCDMTask, DynamicsTask, GenerativeOperatorTask, OperatorTask, RolloutTask
    from neurops.tasks.callbacks import BestCheckpoint, LastCheckpoint
    from neurops.tasks.schedules import Cosine, ExponentialTo, OneCycle, StepDecay

    missing = {}
    for cls in (OperatorTask, RolloutTask, DynamicsTask, GenerativeOperatorTask, DCDMTask, OperatorDataModule,
                RolloutDataModule, DynamicsDataModule, GenerativeDataModule, DCDMDataModule, BestCheckpoint,
                LastCheckpoint, OneCycle, StepDecay, Cosine, ExponentialTo):
        described = {}
        for source in reversed(cls.__mro__):  # base classes first, as jsonargparse reads them
            if source.__module__.startswith("neurops") and source.__doc__:
                parsed = docstring_parser.parse(source.__doc__, style=docstring_parser.DocstringStyle.AUTO)
                described.update({p.arg_name: p.description for p in parsed.params if p.description})
        params = [p for p in inspect.signature(cls.__init__).parameters.values()
                  if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        lacking = [p.name for p in params if p.name not in described]
        if lacking:
            missing[cls.__name__] = lacking
    assert not missing, f"parameters without a help text under --model.help / --data.help: {missing}"


@pytest.mark.parametrize("finished", [True, False])
def test_a_run_closes_the_process_group_it_opened(finished, tmp_path):
    """`neurops fit` under DDP closes its gloo group before the interpreter shuts down (Lightning closes NCCL
    groups only; a gloo group torn down at shutdown can abort the process); after a finished run it waits for
    the other processes first (here: one process, so the barrier returns at once)."""
    import torch.distributed as dist

    from neurops.cli.lightning import _close_process_group

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        _close_process_group(finished)
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    _close_process_group(finished)  # nothing to close: no error


def test_checkpointing_off_with_a_config_that_keeps_checkpoints_names_the_fix(operator_file, tmp_path, capsys):
    """It was Lightning's words ("Trainer was configured with `enable_checkpointing=False` but found
    `ModelCheckpoint` in callbacks list") and a pointer to docs/scaling.md; the fix is the config's callbacks."""
    cfg = _write(operator_config(operator_file, tmp_path / "run", epochs=1), tmp_path / "cfg.yaml")
    assert main(["fit", "--config", cfg, "--trainer.enable_checkpointing", "false"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "neurops: error: --trainer.enable_checkpointing false: the config keeps checkpoints with a callback (e.g. "
        "LastCheckpoint); add --trainer.callbacks '[]' to drop the config's callbacks, or leave checkpointing on."]
    assert not (tmp_path / "run").exists()
    args = ["fit", "--config", cfg, "--trainer.enable_checkpointing", "false", "--trainer.callbacks", "[]"]
    assert main(args) == 0 and not (tmp_path / "run" / "checkpoints").exists()


def test_an_operator_checkpoint_with_a_rollout_config_is_named_as_the_reverse_is(operator_file, tmp_path, capsys):
    """`neurops test --config ns_lsm --ckpt_path OPERATOR.ckpt` passed the kind check (RolloutTask is derived from
    OperatorTask), took the checkpoint's settings and stopped with 'the model maps 1 -> 1 channels but the data needs
    10 -> 1 ...; fix model_kwargs or the windows', pointing at the wrong fix. It is now refused as a rollout
    checkpoint with an operator config is, before anything is built or logged."""
    from neurops.checkpoints import KINDS, kind_of
    from neurops.tasks import OperatorTask, RolloutTask

    assert (kind_of(RolloutTask), kind_of(OperatorTask), kind_of(type("Mine", (RolloutTask,), {}))) == (
        KINDS["neurops.tasks.rollout.RolloutTask"], KINDS["neurops.tasks.operator.OperatorTask"],
        KINDS["neurops.tasks.rollout.RolloutTask"])
    assert main(["fit", "--config", _write(operator_config(operator_file, tmp_path / "op", epochs=1),
                                           tmp_path / "op.yaml")]) == 0
    ckpt = tmp_path / "op" / "checkpoints" / "last.ckpt"
    capsys.readouterr()
    for sub in ("test", "fit"):
        assert main([sub, "--config", "ns_lsm", "--data.path", str(operator_file), "--ckpt_path", str(ckpt),
                     "--trainer.default_root_dir", str(tmp_path / "ns")]) == 2
        assert capsys.readouterr().err == (
            f"neurops: error: {ckpt} is an operator checkpoint (OperatorTask) but the config trains "
            "neurops.tasks.RolloutTask; use it with a config of OperatorTask, or with `neurops predict --ckpt CKPT` "
            "and `neurops test --ckpt_path CKPT`.\n")
    assert not (tmp_path / "ns").exists()
