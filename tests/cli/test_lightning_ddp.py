"""``neurops fit`` in two real processes (DDP on CPU, gloo) against the same run in one process.

Both runs have the same global batch size (2 processes x 4 against 1 x 8), and the training
sampler's order depends only on the seed and the epoch, so they see the same batches: their
normalizers, weights, validation metrics (reduced across the two processes) and test metrics agree
to float32 round-off. The two-process run costs about 15 s of CPU (each process imports Lightning).
"""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml

from neurops.checkpoints import load
from neurops.cli import main
from neurops.data.datamodule import OperatorDataModule, RolloutDataModule
from tests.conftest import write_decay_file, write_operator_file

#: relative tolerance of the metrics: measured differences are ~1e-7 (float32 sums in another order)
RTOL = 1e-4


def _config(tmp_path: Path, data: Path) -> Path:
    cfg = {"seed_everything": 0,
           "trainer": {"max_epochs": 4, "accelerator": "cpu", "enable_progress_bar": False,
                       "enable_model_summary": False},
           "model": {"class_path": "neurops.tasks.OperatorTask",
                     "init_args": {"model": "fno", "model_kwargs": {"modes": [4, 4], "width": 8, "n_layers": 2},
                                   "optimizer": {"class_path": "torch.optim.AdamW",
                                                 "init_args": {"lr": 2e-2, "weight_decay": 1e-4}}}},  # one cycle
           "data": {"class_path": "neurops.data.datamodule.OperatorDataModule",
                    "init_args": {"path": str(data), "num_workers": 0}}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run_args(root: Path) -> list[str]:
    logger = {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": str(root),
                                                                                "name": "logs"}}
    return ["--trainer.default_root_dir", str(root),
            "--trainer.logger", yaml.safe_dump(logger, default_flow_style=True)]


def _val_curve(root: Path) -> list[float]:
    (metrics,) = root.rglob("metrics.csv")
    with open(metrics) as f:
        return [float(row["val/rel_l2"]) for row in csv.DictReader(f) if row.get("val/rel_l2")]


def _test_metrics(ckpt: Path, data: Path) -> dict[str, float]:
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    (first, second) = trainer.test(load(ckpt)[1], OperatorDataModule(data, batch_size=8), verbose=False)
    return {**first, **second}


@pytest.mark.processes  # ~15-30 s: two processes import Lightning; CI runs it in `make test-processes`
def test_two_process_ddp_fit_equals_one_process(operator_file, tmp_path):
    cfg = _config(tmp_path, operator_file)
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    assert main(["fit", "--config", str(cfg), "--data.batch_size", "8", *_run_args(single)]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "neurops", "fit", "--config", str(cfg), "--data.batch_size", "4",
                           "--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu",
                           *_run_args(ddp)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Starting with 2 processes" in done.stderr + done.stdout
    # rank zero alone writes: one checkpoint, one config, one metrics file
    for pattern in ("*.ckpt", "config.yaml", "metrics.csv"):
        assert len(list(ddp.rglob(pattern))) == 1, (pattern, sorted(ddp.rglob("*")))
    (ckpt_single,), (ckpt_ddp,) = single.rglob("*.ckpt"), ddp.rglob("*.ckpt")
    model_single, model_ddp = load(ckpt_single)[1], load(ckpt_ddp)[1]
    for name in ("in_norm.mean", "in_norm.std", "out_norm.mean", "out_norm.std"):
        assert (model_single.state_dict()[name] == model_ddp.state_dict()[name]).all(), name
    weights_single, weights_ddp = model_single.net.state_dict(), model_ddp.net.state_dict()
    for name, value in weights_single.items():
        assert (value - weights_ddp[name]).abs().max() <= 1e-5 * value.abs().max(), name
    # validation metrics logged by the DDP run are reduced over both processes' halves of the split
    val_single, val_ddp = _val_curve(single), _val_curve(ddp)
    assert len(val_single) == len(val_ddp) == 4
    for a, b in zip(val_single, val_ddp):
        assert abs(a - b) <= RTOL * a
    assert val_single[-1] < 0.9 * val_single[0]  # the runs learned something, so the comparison means something
    test_single, test_ddp = _test_metrics(ckpt_single, operator_file), _test_metrics(ckpt_ddp, operator_file)
    assert set(test_single) == set(test_ddp) == {f"test/{m}@{r}" for m in ("loss", "rel_l2", "rel_h1")
                                                 for r in (16, 32)}
    for key, value in test_single.items():
        assert abs(value - test_ddp[key]) <= RTOL * value, key


def _printed(out: str, stage: str) -> dict[str, float]:
    """The metrics of the table ``neurops validate|test`` printed: ``{"test/rel_l2@8": 0.94, ...}``."""
    return {name: float(value) for name, value in re.findall(rf"({stage}/\S+)\s+(\d\S*)", out)}


@pytest.mark.processes  # ~30-40 s: two runs of two processes, each imports Lightning
def test_validate_and_test_in_two_ddp_processes_count_every_sample_once(tmp_path):
    """Odd validation and test splits (5 and 7 samples) in two processes: Lightning's DistributedSampler read 6 and
    8, a repeated sample weighing twice in the printed table (rel. L2 off by ~1e-3 here); every sample is now read
    once and the tables equal the one-process evaluation of the checkpoint."""
    data = write_operator_file(tmp_path / "odd.h5", {"train": (8, 16), "val": (5, 16), "test": (7, 16)}, seed=3)
    config = _config(tmp_path, data)
    root = tmp_path / "run"
    assert main(["fit", "--config", str(config), "--trainer.max_epochs", "1", "--test_after_fit", "false",
                 *_run_args(root)]) == 0
    (ckpt,) = root.rglob("last.ckpt")
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    task = load(ckpt)[1]
    expected = {**trainer.validate(task, OperatorDataModule(data, batch_size=2), verbose=False)[0],
                **trainer.test(task, OperatorDataModule(data, batch_size=2), verbose=False)[0]}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for stage in ("validate", "test"):
        done = subprocess.run([sys.executable, "-m", "neurops", stage, "--config", str(config), "--ckpt_path",
                               str(ckpt), "--data.batch_size", "2", "--trainer.strategy", "ddp", "--trainer.devices",
                               "2", "--trainer.logger", "false"], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Starting with 2 processes" in done.stderr + done.stdout
        printed = _printed(done.stdout, "val" if stage == "validate" else "test")
        wanted = {k: v for k, v in expected.items() if k.startswith("val" if stage == "validate" else "test")}
        assert set(printed) == set(wanted) and len(wanted) == 3, (printed, wanted)
        for key, value in wanted.items():
            assert abs(printed[key] - value) <= 1e-6 * value, (key, printed[key], value)


@pytest.mark.processes  # ~30-45 s: one run of three processes
def test_a_rollout_tested_in_three_ddp_processes_counts_every_window_once(lorenz63_file, tmp_path):
    """Four test windows in three processes (2 + 1 + 1; Lightning's sampler read 2 + 2 + 2): the printed errors,
    per-step ones included, equal the one-process test of the checkpoint."""
    cfg, _ = _tiny_configs(tmp_path, lorenz63_file)["rollout"]
    cfg["trainer"]["max_epochs"] = 1
    config = tmp_path / "rollout.yaml"
    config.write_text(yaml.safe_dump(cfg))
    root = tmp_path / "run"
    assert main(["fit", "--config", str(config), "--test_after_fit", "false", *_run_args(root)]) == 0
    (ckpt,) = root.rglob("last.ckpt")
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    task = load(ckpt)[1]
    (expected,) = trainer.test(task, RolloutDataModule(cfg["data"]["init_args"]["path"], t_in=task.hparams.t_in,
                                                       t_out=task.hparams.t_out, batch_size=1), verbose=False)
    done = subprocess.run([sys.executable, "-m", "neurops", "test", "--config", str(config), "--ckpt_path",
                           str(ckpt), "--data.batch_size", "1", "--trainer.strategy", "ddp", "--trainer.devices", "3",
                           "--trainer.logger", "false"], cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Starting with 3 processes" in done.stderr + done.stdout
    printed = _printed(done.stdout, "test")
    assert set(printed) == set(expected) and "test/rel_l2_step2@16" in expected, (printed, expected)
    for key, value in expected.items():
        assert abs(printed[key] - value) <= 1e-6 * value, (key, printed[key], value)


@pytest.mark.processes  # ~25-35 s: one run of two processes
def test_a_dynamics_model_validated_in_two_ddp_processes_scores_every_series_once(tmp_path):
    """One DSR model, three validation series, two processes: each scored its share (2 + 1 after Lightning's padding
    to 2 + 2) and the printed val/d_stsp was rank zero's mean alone; it is now the mean over the three series."""
    from neurops.data.generators import get_generator

    spec = get_generator("lorenz63")
    data = spec.fn(spec.make_config(n_train=1, n_val=3, n_test=1, n_steps=300, dt=0.02, substeps=2, transient=5.0,
                                    standardize=True, seed=1), tmp_path / "l63.h5", progress=False)
    cfg, _ = _tiny_configs(tmp_path, data)["dynamics"]
    cfg["data"]["init_args"]["val_length"] = 100
    cfg["trainer"]["max_epochs"] = 1
    config = tmp_path / "dsr.yaml"
    config.write_text(yaml.safe_dump(cfg))
    root = tmp_path / "run"
    assert main(["fit", "--config", str(config), *_run_args(root)]) == 0
    (ckpt,) = root.rglob("last.ckpt")
    runs = {}
    for devices in ("1", "2"):
        done = subprocess.run([sys.executable, "-m", "neurops", "validate", "--config", str(config), "--ckpt_path",
                               str(ckpt), "--trainer.strategy", "ddp", "--trainer.devices", devices,
                               "--trainer.logger", "false"], cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"},
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        runs[devices] = _printed(done.stdout, "val")
    assert set(runs["1"]) == {"val/d_stsp", "val/d_h"} and set(runs["2"]) == set(runs["1"])
    for key, value in runs["1"].items():
        assert abs(runs["2"][key] - value) <= 1e-6 * abs(value), (key, runs["2"][key], value)


def test_fsdp_on_cpu_is_one_clear_error(operator_file, tmp_path, capsys):
    cfg = _config(tmp_path, operator_file)
    assert main(["fit", "--config", str(cfg), "--trainer.strategy", "fsdp", "--trainer.devices", "2",
                 "--trainer.default_root_dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "neurops: error: the trainer options are not usable" in err and "requires a GPU accelerator" in err
    assert not (tmp_path / "runs").exists()  # nothing was written


def _tiny_configs(tmp_path: Path, lorenz63: Path) -> dict[str, tuple[dict, str]]:
    """kind -> (a tiny version of its shipped config, its validation metric)."""
    from neurops.configs import resolve_config
    from neurops.data.generators.darcy import DarcyConfig, generate_darcy

    shipped = {name: yaml.safe_load(resolve_config(name).read_text())
               for name in ("ns_lsm", "dgno_darcy_piecewise", "dsr_lorenz63")}
    rollout = shipped["ns_lsm"]
    rollout["model"]["init_args"].update({"model": "fno", "model_kwargs": {"modes": [4], "width": 8, "n_layers": 1},
                                          "t_in": 2, "t_out": 2})
    rollout["data"]["init_args"].update({"path": str(write_decay_file(tmp_path / "decay.h5")), "t_in": 2, "t_out": 2,
                                         "batch_size": 4, "num_workers": 0})
    darcy = dict(resolution=9, coefficient="piecewise", a_high=10.0, a_low=5.0, forcing=10.0)
    coef = generate_darcy(DarcyConfig(n_train=8, n_val=0, n_test=0, unlabelled=True, **darcy), tmp_path / "coef.h5",
                          workers=1, progress=False)
    labelled = generate_darcy(DarcyConfig(n_train=1, n_val=4, n_test=4, seed=1, **darcy), tmp_path / "lab.h5",
                              workers=1, progress=False)
    dgno = shipped["dgno_darcy_piecewise"]
    dgno["model"]["init_args"]["model_kwargs"].update({"resolution": [9, 9], "latent_dim": 8, "encoder_hidden": [16],
                                                        "width": 8, "depth": 2})
    dgno["model"]["init_args"].update({"n_particles": 8, "n_quad_per_axis": 3})
    dgno["data"]["init_args"].update({"train_path": str(coef), "eval_path": str(labelled), "batch_size": 2})
    dsr = shipped["dsr_lorenz63"]
    dsr["model"]["init_args"].update({"model": "alrnn", "model_kwargs": {"latent_dim": 4, "n_relu": 2},
                                      "training": "stf", "tau": 5, "val_gen_length": None})
    dsr["data"]["init_args"].update({"path": str(lorenz63), "seq_len": 20, "batch_size": 4, "batches_per_epoch": 4,
                                     "val_length": 200})
    configs = {"rollout": (rollout, "val/rel_l2"), "generative": (dgno, "val/rel_l2"), "dynamics": (dsr, "val/d_stsp")}
    for cfg, _ in configs.values():
        cfg["trainer"].update({"max_epochs": 2, "check_val_every_n_epoch": 1, "accelerator": "cpu",
                               "enable_progress_bar": False, "enable_model_summary": False})
        cfg["trainer"].pop("default_root_dir", None)
    return configs


def _fit_in_two_processes(config: Path, root: Path, *extra: str) -> subprocess.CompletedProcess:
    """`neurops fit --config CONFIG` in two DDP processes (one thread each), its run folder ``root``."""
    return subprocess.run([sys.executable, "-m", "neurops", "fit", "--config", str(config), "--trainer.strategy", "ddp",
                           "--trainer.devices", "2", *_run_args(root), *extra], cwd=config.parent,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)


@pytest.mark.processes  # ~15-25 s each (two processes import Lightning)
@pytest.mark.parametrize("kind", ["rollout", "generative", "dynamics"])
def test_every_task_fits_in_two_ddp_processes(kind, lorenz63_file, tmp_path):
    """The rollout, generative (DGNO) and dynamics (DSR) tasks under `--trainer.strategy ddp --trainer.devices 2`:
    the run ends, rank zero alone writes one checkpoint per callback and one metrics file, and the checkpoint is
    the task's kind."""
    cfg, metric = _tiny_configs(tmp_path, lorenz63_file)[kind]
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    root = tmp_path / "ddp"
    done = _fit_in_two_processes(path, root)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Starting with 2 processes" in done.stderr + done.stdout
    callbacks = {c["class_path"].rpartition(".")[2] for c in cfg["trainer"]["callbacks"]}
    names = {"LastCheckpoint": "last.ckpt", "BestCheckpoint": "best.ckpt"}
    assert sorted(p.name for p in root.rglob("*.ckpt")) == sorted(names[c] for c in callbacks)
    assert len(list(root.rglob("metrics.csv"))) == 1
    values = [float(v) for v in _val_curve_of(root, metric)]
    assert len(values) == 2 and all(v == v and v < float("inf") for v in values)
    if kind == "dynamics":  # its training loss, reduced over the processes, once an epoch (4 steps < 50)
        assert len(_val_curve_of(root, "train/mse")) == 2
    assert load(root / "checkpoints" / "last.ckpt")[0] == kind


@pytest.mark.processes  # ~15-25 s: two processes import Lightning
def test_a_mistake_met_in_every_ddp_process_is_one_line(lorenz63_file, tmp_path):
    """A configuration mistake that surfaces only once the processes have started (an identity observation
    reading 3 data dimensions from 2 latent units, found when the task is set up) is ONE error line, from rank
    zero, with exit status 2; the other process's "[rank: 1] Seed set to 0" line is dropped as in one process;
    no checkpoint is written."""
    cfg, _ = _tiny_configs(tmp_path, lorenz63_file)["dynamics"]
    cfg["model"]["init_args"]["model_kwargs"] = {"latent_dim": 2, "n_relu": 1}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    root = tmp_path / "ddp"
    done = _fit_in_two_processes(path, root)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out[-3000:]
    assert "Starting with 2 processes" in out  # the mistake was met after both processes started
    errors = [line for line in out.splitlines() if "neurops: error:" in line]
    assert errors == ["neurops: error: the identity observation reads the first 3 of 2 latent units; use "
                      "latent_dim >= obs_dim or observation='affine'."], out[-3000:]
    assert "Seed set to" not in out and "Traceback" not in out
    assert not list(root.rglob("*.ckpt"))


@pytest.mark.processes  # ~15-25 s: two processes import Lightning
def test_nan_in_the_test_split_stops_both_ddp_processes_before_the_first_step(operator_file, tmp_path):
    """Rank zero alone scans the validation and test splits at setup and broadcasts what it found: both processes
    stop before training (neither waits for the other), with one error line, from rank zero; nothing is written."""
    import h5py

    with h5py.File(operator_file, "a") as f:
        f["test@32/inputs/a"][6, 0, 0] = float("inf")
    root = tmp_path / "ddp"
    done = _fit_in_two_processes(_config(tmp_path, operator_file), root, "--data.batch_size", "4")
    out = done.stdout + done.stderr
    assert done.returncode == 2, out[-3000:]
    assert "Starting with 2 processes" in out
    errors = [line for line in out.splitlines() if "neurops: error:" in line]
    assert errors == [f"neurops: error: {operator_file}: the test split 'test@32' holds NaN/Inf values (test@32/inputs/"
                      "a: 1 NaN/Inf values in sample 6), found before training; fix or drop those samples at their "
                      "source, or leave the split out (--data.test_splits without 'test@32', or --test_after_fit "
                      "false); "
                      f"`neurops data check {operator_file}` lists every field with NaN/Inf."], out[-3000:]
    assert "Traceback" not in out and not list(root.rglob("*.ckpt"))


def _val_curve_of(root: Path, metric: str) -> list[str]:
    (metrics,) = root.rglob("metrics.csv")
    with open(metrics) as f:
        return [row[metric] for row in csv.DictReader(f) if row.get(metric)]


@pytest.mark.processes  # ~35-45 s: three two-process runs, each imports Lightning twice
def test_an_ensemble_spread_over_two_ddp_processes_trains_as_in_one(lorenz63_file, tmp_path):
    """Three members over two processes (blocks of 2 and 1), with aGTF (gathered alpha estimates), per-member
    gradient clipping, the latent regulariser and noise on the windows (drawn for all members in each process):
    each process trains its own members, and the run ends with the weights, per-member validation curves and best
    states of the one-process run (float32 round-off). A spread run stopped after 2 epochs and resumed to 3 ends
    bit-identical to the uninterrupted one."""
    cfg, metric = _tiny_configs(tmp_path, lorenz63_file)["dynamics"]
    cfg["model"]["init_args"].update({"model": "clipped_shplrnn", "model_kwargs": {"latent_dim": 3, "hidden_dim": 16},
                                      "training": "agtf", "alpha_every": 2, "gradient_clip": 0.5,
                                      "lambda_latent": 1e-3, "seeds": [4, 5, 6], "val_gen_length": 400,
                                      "input_noise": 0.05,
                                      "lr_scheduler": None})  # a constant lr: 2 epochs + 1 resumed = 3 epochs
    cfg["trainer"]["max_epochs"] = 3
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    single, ddp, resumed = tmp_path / "single", tmp_path / "ddp", tmp_path / "resumed"
    assert main(["fit", "--config", str(path), *_run_args(single)]) == 0

    def spread(root: Path, *extra: str) -> None:
        done = _fit_in_two_processes(path, root, *extra)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Starting with 2 processes" in done.stderr + done.stdout
        # Lightning's noise is dropped in every process: rank 1's seed line, the deprecation of its own all_gather
        assert "Seed set to" not in done.stderr + done.stdout
        assert "all_gather is deprecated" not in done.stderr + done.stdout

    spread(ddp)
    spread(resumed, "--trainer.max_epochs", "2")
    spread(resumed, "--ckpt_path", "last")
    one, two, again = (load(root / "checkpoints" / "last.ckpt")[1] for root in (single, ddp, resumed))
    for name, value in two.state_dict().items():
        assert torch.equal(again.state_dict()[name], value), name
    for name, value in one.state_dict().items():
        torch.testing.assert_close(two.state_dict()[name], value, rtol=1e-4, atol=1e-6, msg=name)
    assert (one.member_best.step >= 0).all()  # every member's best state was recorded
    torch.testing.assert_close(torch.as_tensor(two.alpha_schedule.alpha), torch.as_tensor(one.alpha_schedule.alpha))
    # train/mse and train/alpha: the epoch's mean over the steps and all members, every epoch, in one process as in
    # two (where each process logs its members' share: blocks of 2 and 1 weigh as their members do)
    for key in [metric, *(f"val/{m}/member_{r}" for m in ("d_stsp", "d_h") for r in range(3)), "train/mse",
                "train/alpha"]:
        curves = [[float(v) for v in _val_curve_of(root, key)] for root in (single, ddp)]
        assert len(curves[0]) == 3 and curves[0] == pytest.approx(curves[1], rel=1e-4), key


@pytest.mark.processes  # ~25-35 s: a one-process run and a two-process run
def test_one_model_with_agtf_in_two_ddp_processes_trains_as_in_one(lorenz63_file, tmp_path):
    """One model with aGTF under plain DDP: each process holds half of every global batch's windows, yet alpha is
    estimated from the whole batch (the processes' Jacobian-product bounds reduced by their maximum), so two
    processes with batch 4 train with the one-process run's alphas (batch 8) and end with its weights: each global
    batch of windows is the one-process run's (neurops.data.windows.ProcessShare)."""
    cfg, _ = _tiny_configs(tmp_path, lorenz63_file)["dynamics"]
    cfg["model"]["init_args"].update({"model": "clipped_shplrnn", "model_kwargs": {"latent_dim": 3, "hidden_dim": 16},
                                      "training": "agtf", "alpha_every": 1, "alpha_rate": 0.5,
                                      "alpha_method": "batch_maximum",  # > 0 from the start: sigma > 1 at init
                                      "optimizer": {"class_path": "torch.optim.RAdam", "init_args": {"lr": 1e-2}}})
    cfg["data"]["init_args"].update({"batch_size": 8, "batches_per_epoch": 4})
    cfg["trainer"]["max_epochs"] = 3
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    assert main(["fit", "--config", str(path), *_run_args(single)]) == 0
    done = _fit_in_two_processes(path, ddp, "--data.batch_size", "4")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Starting with 2 processes" in done.stderr + done.stdout
    one, two = (load(root / "checkpoints" / "last.ckpt")[1] for root in (single, ddp))
    assert 0.01 < one.alpha_schedule.alpha < 1.0  # positive estimates moved alpha (it starts at 1)
    assert two.alpha_schedule.alpha == pytest.approx(one.alpha_schedule.alpha, rel=1e-5)
    for name, value in one.state_dict().items():
        torch.testing.assert_close(two.state_dict()[name], value, rtol=1e-4, atol=1e-6, msg=name)
    for key in ["train/alpha", "train/mse"]:
        curves = [[float(v) for v in _val_curve_of(root, key)] for root in (single, ddp)]
        assert len(curves[0]) == 3 and curves[0] == pytest.approx(curves[1], rel=1e-5), key


@pytest.mark.processes  # ~20 s: two processes import Lightning
def test_a_dgno_fit_in_two_ddp_processes_keeps_the_latent_statistics_of_the_whole_training_set(lorenz63_file,
                                                                                                 tmp_path):
    """DGNO's prior is the mean and std of the encoded training coefficients, gathered over the epoch. Under DDP each
    process encodes its half of the split, and the checkpoint kept rank zero's statistics of 4 of the 8 samples;
    they are now summed over the processes. With the learning rate at 0 the encoder stays as initialised, so the
    checkpoint's statistics are those of the initial encoder over all 8 coefficient fields."""
    from neurops.data.datamodule import GenerativeDataModule

    cfg, _ = _tiny_configs(tmp_path, lorenz63_file)["generative"]
    cfg["model"]["init_args"]["optimizer"]["init_args"]["lr"] = 0.0
    cfg["trainer"]["max_epochs"] = 1
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    done = _fit_in_two_processes(path, tmp_path / "ddp")
    assert done.returncode == 0, done.stderr[-3000:]
    net = load(tmp_path / "ddp" / "checkpoints" / "last.ckpt")[1].net
    dm = GenerativeDataModule(cfg["data"]["init_args"]["train_path"], cfg["data"]["init_args"]["eval_path"],
                              batch_size=8)
    dm.setup("fit")
    (batch,) = list(dm.train_dataloader())
    assert len(batch["x"]) == 8
    with torch.no_grad():
        beta = net.encode(batch["x"])
    torch.testing.assert_close(net.latent_mean, beta.mean(0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(net.latent_std, beta.std(0, unbiased=False), rtol=1e-4, atol=1e-6)
