"""Tests of DynamicsTask and DynamicsDataModule with a tiny real Lightning fit (neurops/tasks/dynamics.py)."""

from __future__ import annotations

import csv
from functools import partial
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

from neurops.checkpoints import load
from neurops.data.datamodule import DynamicsDataModule
from neurops.data.generators import get_generator
from neurops.dynamics import teacher_forcing
from neurops.dynamics.evaluate import EvaluationSettings, evaluate_checkpoints
from neurops.errors import CheckpointError, ConfigError, ModelError
from neurops.metrics.dsr import generate_like, hellinger_distance, state_space_divergence
from neurops.tasks import dynamics as dynamics_module
from neurops.tasks.dynamics import DynamicsTask
from neurops.tasks.schedules import ExponentialTo


@pytest.fixture(scope="module")
def l63_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = get_generator("lorenz63")
    cfg = spec.make_config(n_train=2, n_val=1, n_test=1, n_steps=1500, dt=0.02, substeps=4, transient=10.0,
                           standardize=True, noise=0.05)
    return spec.fn(cfg, tmp_path_factory.mktemp("dyn") / "l63.h5", progress=False)


def _fit(path: Path, tmp: Path, **task_kwargs) -> tuple[L.Trainer, DynamicsTask, DynamicsDataModule]:
    L.seed_everything(0, verbose=False)
    dm = DynamicsDataModule(path, seq_len=30, batch_size=8, batches_per_epoch=10, val_length=800)
    task = DynamicsTask(**{"model": "clipped_shplrnn", "model_kwargs": {"latent_dim": 3, "hidden_dim": 16},
                           "optimizer": partial(torch.optim.RAdam, lr=5e-3), "lr_scheduler": ExponentialTo(1e-3),
                           **task_kwargs})
    trainer = L.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp, num_sanity_val_steps=0)
    trainer.fit(task, datamodule=dm)
    return trainer, task, dm


def test_fit_evaluates_and_checkpoint_rebuilds(l63_file: Path, tmp_path: Path) -> None:
    trainer, task, dm = _fit(l63_file, tmp_path, training="gtf", alpha=0.2, lambda_latent=1e-5)
    metrics = trainer.callback_metrics
    assert {"val/d_stsp", "val/d_h", "train/mse"} <= set(metrics)
    assert torch.isfinite(metrics["train/mse"])
    assert task.hparams.model_kwargs["obs_dim"] == 3 and dm.dt == pytest.approx(0.02)
    # the learning rate decays exponentially from lr to lr_end over max_epochs
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(1e-3, rel=1e-6)
    ckpt = tmp_path / "m.ckpt"
    trainer.save_checkpoint(ckpt)
    kind, loaded = load(ckpt)
    meta = loaded.record
    assert kind == "dynamics" and meta["model"] == "clipped_shplrnn" and meta["dt"] == pytest.approx(0.02)
    assert loaded.dt == pytest.approx(0.02)
    x0 = torch.randn(2, 3)
    torch.testing.assert_close(loaded.net(x0, 10), task.net.eval()(x0, 10))
    again = DynamicsTask.load_from_checkpoint(ckpt, weights_only=True)
    torch.testing.assert_close(again.net(x0, 10), loaded.net(x0, 10))


@pytest.mark.parametrize("seeds", [None, [3, 5]])
def test_train_metrics_are_the_epoch_means_in_metrics_csv(l63_file: Path, tmp_path: Path, seeds) -> None:
    """train/mse and train/alpha reach metrics.csv once an epoch, as the mean over the epoch's steps (over the
    members too), also when an epoch has fewer steps than log_every_n_steps (50); the DDP runs log the same value
    (tests/cli/test_lightning_ddp.py)."""
    steps: list[tuple[int, float]] = []  # (epoch, mean mse over the members) of every step

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            # no regulariser: the loss is the members' summed mse
            steps.append((trainer.current_epoch, float(outputs["loss"]) / (len(seeds) if seeds else 1)))

    L.seed_everything(0, verbose=False)
    dm = DynamicsDataModule(l63_file, seq_len=20, batch_size=4, batches_per_epoch=4, val_split=None)
    task = DynamicsTask("clipped_shplrnn", {"latent_dim": 3, "hidden_dim": 8}, training="gtf", alpha=0.2,
                        alpha_end=0.05, seeds=seeds, lr_scheduler=None)
    trainer = L.Trainer(max_epochs=3, accelerator="cpu", logger=CSVLogger(tmp_path, name="logs"), callbacks=[Record()],
                        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
    trainer.fit(task, datamodule=dm)
    with open(next(tmp_path.rglob("metrics.csv"))) as f:
        rows = list(csv.DictReader(f))
    logged = [float(r["train/mse"]) for r in rows if r.get("train/mse")]
    expected = [np.mean([v for e, v in steps if e == epoch]) for epoch in range(3)]
    assert len(steps) == 12 and logged == pytest.approx(expected, rel=1e-6)
    assert logged[0] != pytest.approx(steps[3][1], rel=1e-3)  # not the epoch's last step
    alphas = [float(r["train/alpha"]) for r in rows if r.get("train/alpha")]
    # alpha annealed geometrically over the 12 steps from 0.2 to 0.05: the epoch means of its values
    schedule = [0.2 * 0.25 ** (k / 11) for k in range(12)]
    assert alphas == pytest.approx([np.mean(schedule[4 * e: 4 * e + 4]) for e in range(3)], rel=1e-5)
    assert "train/mse" in trainer.progress_bar_metrics and "train/mse_step" not in trainer.callback_metrics


def test_training_lowers_the_forced_loss(l63_file: Path) -> None:
    dm = DynamicsDataModule(l63_file, seq_len=30, batch_size=8, batches_per_epoch=1)
    task = DynamicsTask(model="clipped_shplrnn", model_kwargs={"obs_dim": 3, "latent_dim": 3, "hidden_dim": 16},
                        training="gtf", alpha=0.3, optimizer=partial(torch.optim.RAdam, lr=3e-2), lr_scheduler=None)
    opt = task.configure_optimizers()
    batch = next(iter(dm.train_dataloader()))["x"]
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(task.rollout(batch), batch[:, 1:])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


@pytest.mark.parametrize("training", ["agtf", "stf", "bptt"])
def test_other_forcings_run(l63_file: Path, tmp_path: Path, training: str, monkeypatch: pytest.MonkeyPatch) -> None:
    estimates: list[float] = []
    estimate_alpha = teacher_forcing.estimate_alpha

    def recorded(*args, **kwargs):
        value = estimate_alpha(*args, **kwargs)
        estimates.append(float(value))
        return value

    monkeypatch.setattr(teacher_forcing, "estimate_alpha", recorded)
    trainer, task, _ = _fit(l63_file, tmp_path, training=training, tau=5, alpha_every=2, alpha_rate=0.1,
                            lambda_mar=1e-3)
    assert torch.isfinite(trainer.callback_metrics["train/mse"])
    if training == "agtf":
        # alpha* re-estimated every second training batch; alpha jumps up to it at once, else decays towards it
        assert len(estimates) == -(-trainer.global_step // 2) and all(0.0 <= a <= 1.0 for a in estimates)
        alpha = 1.0
        for a in estimates:
            alpha = a if a > alpha else 0.9 * alpha + 0.1 * a
        assert task.alpha_schedule.alpha == pytest.approx(alpha, rel=1e-12) and alpha < 1.0
        ckpt = tmp_path / "a.ckpt"
        trainer.save_checkpoint(ckpt)
        assert load(ckpt)[1].alpha_schedule.alpha == task.alpha_schedule.alpha


def test_annealed_alpha_follows_the_step_and_resumes(l63_file: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[float] = []
    rollout = dynamics_module.gtf_rollout

    def recorded(model, x, alpha, *args, **kwargs):
        used.append(float(alpha))
        return rollout(model, x, alpha, *args, **kwargs)

    monkeypatch.setattr(dynamics_module, "gtf_rollout", recorded)
    trainer, task, _ = _fit(l63_file, tmp_path / "whole", training="gtf", alpha=0.3, alpha_end=0.1)
    steps = trainer.global_step
    assert steps == 30 and len(used) == steps  # 3 epochs x 10 batches, one rollout each
    np.testing.assert_allclose(used, 0.3 * (0.1 / 0.3) ** (np.arange(steps) / (steps - 1)), rtol=1e-12)
    # stopped after the first epoch and resumed from its checkpoint: the rest of the schedule, unchanged
    whole, used[:] = list(used), []

    class StopAfterOneEpoch(L.Callback):
        def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
            trainer.should_stop = True

    L.seed_everything(0, verbose=False)
    dm = DynamicsDataModule(l63_file, seq_len=30, batch_size=8, batches_per_epoch=10, val_length=800)
    kwargs = {"model": "clipped_shplrnn", "model_kwargs": {"latent_dim": 3, "hidden_dim": 16}, "training": "gtf",
              "alpha": 0.3, "alpha_end": 0.1, "optimizer": partial(torch.optim.RAdam, lr=5e-3),
              "lr_scheduler": ExponentialTo(1e-3)}
    trainer_kwargs = {"max_epochs": 3, "accelerator": "cpu", "logger": False, "enable_progress_bar": False,
                      "enable_model_summary": False, "default_root_dir": tmp_path, "num_sanity_val_steps": 0,
                      "enable_checkpointing": False}
    first = L.Trainer(**trainer_kwargs, callbacks=[StopAfterOneEpoch()])
    first.fit(DynamicsTask(**kwargs), datamodule=dm)
    first.save_checkpoint(tmp_path / "epoch1.ckpt")
    assert used == pytest.approx(whole[:10], rel=1e-12)
    L.Trainer(**trainer_kwargs).fit(DynamicsTask(**kwargs), datamodule=dm, ckpt_path=tmp_path / "epoch1.ckpt")
    assert used == pytest.approx(whole, rel=1e-12)
    assert load(tmp_path / "epoch1.ckpt")[1].hparams.alpha_end == 0.1


def test_errors(l63_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="training"):
        DynamicsTask(training="rk4")
    with pytest.raises(ModelError, match="unknown model"):
        DynamicsTask(model="lstm")
    with pytest.raises(ConfigError, match="latent_dim"):
        DynamicsTask(model_kwargs={"obs_dim": 3})
    with pytest.raises(ConfigError, match="alpha must"):
        DynamicsTask(alpha=1.5)
    with pytest.raises(ConfigError, match="alpha_method"):
        DynamicsTask(alpha_method="median")
    with pytest.raises(ConfigError, match="training 'stf' does not use it"):
        DynamicsTask(training="stf", alpha_end=0.1)
    with pytest.raises(ConfigError, match="two strengths in"):
        DynamicsTask(alpha=0.3, alpha_end=0.0)
    with pytest.raises(ConfigError, match="tau"):
        DynamicsTask(tau=0)
    for name in ("lambda_latent", "lambda_mar", "lambda_obs", "input_noise", "gradient_clip", "smoothing"):
        for bad in (-1.0, float("nan")):  # a negative clip norm turned the gradient around; the others did nonsense
            with pytest.raises(ConfigError, match=rf"^{name}={bad}: it is .*; use {name} >= 0 \(0: off\)\.$"):
                DynamicsTask(**{name: bad})
        DynamicsTask(**{name: 0.0})
    with pytest.raises(CheckpointError, match="does not exist"):
        load(tmp_path / "none.ckpt")


def _small_task(**kwargs) -> DynamicsTask:
    return DynamicsTask(model="clipped_shplrnn", model_kwargs={"obs_dim": 3, "latent_dim": 3, "hidden_dim": 8},
                        **kwargs)


def test_val_gen_length_sets_the_orbit_length_of_d_stsp() -> None:
    x = torch.randn(1, 120, 3, generator=torch.Generator().manual_seed(0))
    x_np = x[0].double().numpy()
    for n_gen in (None, 600):
        task = _small_task(val_gen_length=n_gen, val_reference="val")
        logged: dict[str, float] = {}
        task.log = lambda key, value, _logged=logged, **_: _logged.__setitem__(key, value)  # no trainer
        task.validation_step({"x": x}, 0)
        gen = generate_like(task.net, x_np, n_steps=n_gen)
        assert len(gen) == (n_gen or 120)
        assert logged["val/d_stsp"] == pytest.approx(state_space_divergence(x_np, gen))
        assert logged["val/d_h"] == pytest.approx(hellinger_distance(x_np, gen[:120]))
    with pytest.raises(ConfigError, match="val_gen_length"):
        _small_task(val_gen_length=0)
    assert np.isfinite(logged["val/d_h"])


def test_val_reference_train_scores_the_orbit_against_the_training_split(l63_file: Path, tmp_path: Path) -> None:
    dm = DynamicsDataModule(l63_file, seq_len=30, batch_size=8, batches_per_epoch=2, val_length=300)
    logged = {}
    for reference in ("train", "val"):
        task = _small_task(val_reference=reference, val_gen_length=2000)  # the same initial model (seed 0)
        trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
                            default_root_dir=tmp_path)
        trainer.validate(task, datamodule=dm, verbose=False)
        logged[reference] = (float(trainer.callback_metrics["val/d_stsp"]), float(trainer.callback_metrics["val/d_h"]))
    x_val = dm.val_series[0].astype(np.float64)
    gen = generate_like(task.net, x_val, n_steps=2000)
    x_train = dm.train_series.reshape(-1, 3).astype(np.float64)  # both training trajectories, 2 x 1500 points
    assert len(x_train) == 3000
    assert logged["train"][0] == pytest.approx(state_space_divergence(x_train, gen), rel=1e-5)
    assert logged["val"][0] == pytest.approx(state_space_divergence(x_val, gen), rel=1e-5)
    assert abs(logged["train"][0] - logged["val"][0]) > 1e-3 * logged["val"][0]
    assert logged["train"][1] == pytest.approx(logged["val"][1])  # D_H always against the validation series
    assert logged["val"][1] == pytest.approx(hellinger_distance(x_val, gen[:300]), rel=1e-5)
    with pytest.raises(ConfigError, match="val_reference"):
        _small_task(val_reference="test")
    task = _small_task()  # the default, "train", without a data module: one clear error
    task.log = lambda *_, **__: None
    with pytest.raises(ConfigError, match="DynamicsDataModule"):
        task.validation_step({"x": torch.as_tensor(x_val[None])}, 0)


# -- ensembles (seeds): member r trains as a single run with seed r would ---------------------------
def _fit_seeded(path: Path, tmp: Path, seed: int, epochs: int = 2, val_every: int = 1,
                **task_kwargs) -> tuple[L.Trainer, DynamicsTask]:
    L.seed_everything(seed, verbose=False)
    dm = DynamicsDataModule(path, seq_len=20, batch_size=4, batches_per_epoch=6, val_length=600)
    task = DynamicsTask(model="clipped_shplrnn", model_kwargs={"latent_dim": 3, "hidden_dim": 12},
                        optimizer=partial(torch.optim.RAdam, lr=5e-3), lr_scheduler=ExponentialTo(1e-3),
                        **task_kwargs)
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp, num_sanity_val_steps=0,
                        enable_checkpointing=False, check_val_every_n_epoch=val_every)
    trainer.fit(task, datamodule=dm)
    return trainer, task


@pytest.mark.parametrize("training", ["gtf", "agtf"])
def test_member_trains_as_the_single_run_with_its_seed(l63_file: Path, tmp_path: Path, training: str) -> None:
    # gradient clipping on: each member is clipped on its own gradient norm, as its single run is
    kwargs = {"training": training, "alpha": 0.2, "alpha_every": 2, "gradient_clip": 0.5, "lambda_latent": 1e-4}
    _, ens = _fit_seeded(l63_file, tmp_path / "ens", seed=0, seeds=[3, 5], **kwargs)
    for r, seed in enumerate((3, 5)):
        _, single = _fit_seeded(l63_file, tmp_path / f"s{seed}", seed=seed, **kwargs)
        member = ens.member_models("final")[r]
        for (name, p), q in zip(member.named_parameters(), single.net.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5, msg=f"member {r} {name}")
    # different seeds: different members
    a, b = ens.member_models("final")
    assert not torch.allclose(next(a.parameters()), next(b.parameters()))


def test_member_summary_names_members_without_a_finite_validation(l63_file: Path, tmp_path: Path) -> None:
    _, task = _fit_seeded(l63_file, tmp_path / "a", seed=0, epochs=1, val_every=5, seeds=[0, 1], alpha=0.2)
    summary = task.member_summary()  # one epoch, validation every 5: none ran
    assert summary.count("no finite val/d_stsp; keeps its final state") == 2
    assert "no validation ran (it runs every 5 epochs: --trainer.check_val_every_n_epoch)" in summary
    assert "nan" not in summary and "inf" not in summary and "step -1" not in summary

    _, task = _fit_seeded(l63_file, tmp_path / "b", seed=0, epochs=1, seeds=[0, 1, 2], alpha=0.2)
    best = task.member_best
    kept = float(best.score[0])
    best.score[1], best.step[1] = float("inf"), -1  # as a member whose every validation orbit diverged
    summary = task.member_summary()
    assert "member 1 (seed 1): no finite val/d_stsp" in summary
    assert "over the 2 members with a finite score" in summary and "; 1 never finite" in summary
    assert f"median {float(np.median([kept, float(best.score[2])])):.4g}" in summary
    best.score[:], best.step[:] = float("inf"), -1
    assert "no member reached a finite val/d_stsp (every validation orbit diverged)" in task.member_summary()


def test_best_states_checkpoint_and_evaluation(l63_file: Path, tmp_path: Path) -> None:
    trainer, task = _fit_seeded(l63_file, tmp_path, seed=0, epochs=3, seeds=[0, 1, 2], training="gtf", alpha=0.2)
    metrics = trainer.callback_metrics
    per_member = [float(metrics[f"val/d_stsp/member_{r}"]) for r in range(3)]
    assert float(metrics["val/d_stsp"]) == pytest.approx(float(np.median(per_member)))
    best = task.member_best
    assert (best.step > 0).all() and torch.isfinite(best.score).all()
    # the best score of each member is the lowest of its validations; the last one is among them
    assert all(best.score[r] <= per_member[r] * (1 + 1e-6) for r in range(3))  # logged as float32
    # a member's best state is what member_models("best") returns
    for r, model in enumerate(task.member_models("best")):
        torch.testing.assert_close(dict(model.named_parameters())["A"], best.p_A[r])
    summary = task.member_summary()
    assert "member 2 (seed 2): best val/d_stsp" in summary and "over the 3 members with a finite score" in summary

    ckpt = tmp_path / "ens.ckpt"
    trainer.save_checkpoint(ckpt)
    kind, loaded = load(ckpt)
    assert kind == "dynamics" and loaded.members == 3
    torch.testing.assert_close(loaded.member_best.score, best.score)
    for m, n in zip(loaded.member_models("best"), task.member_models("best")):
        x0 = torch.randn(2, 3)
        torch.testing.assert_close(m(x0, 5), n.eval()(x0, 5))
    res = evaluate_checkpoints([ckpt], l63_file, settings=EvaluationSettings(starts=2, lyapunov_steps=200,
                                                                             lyapunov_starts=1, pe_steps=5))
    assert [m["seed"] for m in res["models"]] == [0, 1, 2] and res["summary"]["d_stsp"]["n"] >= 1
    final = evaluate_checkpoints([ckpt], l63_file, member_state="final",
                                 settings=EvaluationSettings(starts=2, lyapunov_steps=200, lyapunov_starts=1,
                                                             pe_steps=5))
    assert {m["state"] for m in final["models"]} == {"final"}


def test_the_model_seed_is_checked_and_saved_as_an_int(tmp_path: Path) -> None:
    """model_kwargs.seed is checked as the ensemble's seeds are (32 bits), before anything is built; a NumPy seed
    builds the int's model and is saved as the int, so the checkpoint loads with weights_only."""
    kwargs = {"obs_dim": 3, "latent_dim": 3, "hidden_dim": 8}
    for bad in (-1, 2**32):
        with pytest.raises(ConfigError) as err:
            DynamicsTask(model_kwargs={**kwargs, "seed": bad})
        assert str(err.value) == (
            f"model_kwargs.seed must be an integer between 0 and 2**32 - 1 (4294967295), got {bad}; give e.g. "
            "--model.model_kwargs.seed 0 (the model's initialisation; torch's generator reads only a seed's lowest 32 "
            "bits).")
    numpy_seed, int_seed = (DynamicsTask(model_kwargs={**kwargs, "seed": s}) for s in (np.int64(9), 9))
    assert type(numpy_seed.hparams.model_kwargs["seed"]) is int and numpy_seed.hparams.model_kwargs["seed"] == 9
    for (n, a), b in zip(int_seed.net.state_dict().items(), numpy_seed.net.state_dict().values()):
        assert torch.equal(a, b), n
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, max_epochs=0)
    trainer.strategy.connect(numpy_seed)
    trainer.save_checkpoint(tmp_path / "s.ckpt")
    kind, loaded = load(tmp_path / "s.ckpt")  # weights_only=True
    assert loaded.record["model_kwargs"]["seed"] == 9 and torch.equal(loaded.net.W1, int_seed.net.W1)


def test_ensemble_errors(l63_file: Path, tmp_path: Path) -> None:
    # unusable seeds: tests/tasks/test_members.py
    with pytest.raises(ConfigError, match="best' or 'final"):
        DynamicsTask(model_kwargs={"obs_dim": 3, "latent_dim": 3}, seeds=[1, 2]).member_models("middle")


def test_a_non_finite_loss_names_the_members_that_diverged() -> None:
    task = DynamicsTask(model="clipped_shplrnn", model_kwargs={"obs_dim": 3, "latent_dim": 3, "hidden_dim": 8},
                        seeds=[4, 6, 9])
    x = torch.randn(3 * 2, 11, 3, generator=torch.Generator().manual_seed(0))
    x[2:4, 5] = float("nan")  # member 1's windows (block 1 of [R * B, T+1, N])
    with pytest.raises(ModelError, match=r"^the training loss became nan at step 0 \(members with seeds \[6\]\); use "
                                         r"a smaller lr\.$"):  # GTF already: its gradients stay bounded
        task.training_step({"x": x}, 0)
    for training, advice in (("gtf", "use a smaller lr"), ("stf", r"use GTF/aGTF \(training: gtf\) or a smaller lr")):
        one = DynamicsTask(model="clipped_shplrnn", model_kwargs={"obs_dim": 3, "latent_dim": 3, "hidden_dim": 8},
                           training=training)  # one model: its loss is a 0-d tensor
        with pytest.raises(ModelError, match=rf"^the training loss became nan at step 0; {advice}\.$"):
            one.training_step({"x": x[2:4]}, 0)


def test_a_fit_on_data_that_are_not_standardized_says_so_when_it_diverges(tmp_path: Path) -> None:
    spec = get_generator("lorenz63")  # raw Lorenz-63: z has mean ~24, as the shipped configs must not be given
    raw = spec.fn(spec.make_config(n_train=1, n_val=1, n_test=1, n_steps=1000, standardize=False),
                  tmp_path / "raw.h5", progress=False)
    with pytest.raises(ModelError, match=r"^the training loss became inf at step \d+; the training data are not "
                                         r"standardized \(a variable's mean or std reaches 2\d\.\d\): z-score them "
                                         r"\(neurops data generate/import-series --standardize\); use a smaller lr\.$"):
        _fit(raw, tmp_path, training="gtf", alpha=0.1, model_kwargs={"latent_dim": 3, "hidden_dim": 100},
             optimizer=partial(torch.optim.RAdam, lr=1e-3))


def test_one_model_is_clipped_on_its_whole_gradient_norm() -> None:
    task = DynamicsTask(model="clipped_shplrnn", model_kwargs={"obs_dim": 3, "latent_dim": 3, "hidden_dim": 8},
                        gradient_clip=0.5)
    reference = [torch.nn.Parameter(p.detach().clone()) for p in task.net.parameters()]
    for p, q in zip(task.net.parameters(), reference):
        p.grad = torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()))
        q.grad = p.grad.clone()
    torch.nn.utils.clip_grad_norm_(reference, 0.5)
    task.on_before_optimizer_step(None)
    for p, q in zip(task.net.parameters(), reference):
        torch.testing.assert_close(p.grad, q.grad)
    assert torch.cat([p.grad.flatten() for p in task.net.parameters()]).norm() == pytest.approx(0.5, rel=1e-5)


@pytest.mark.parametrize("val_reference", ["train", "val"])
def test_a_constant_variable_in_the_validation_reference_is_refused(tmp_path: Path, val_reference: str) -> None:
    # a user who imported a series with a constant channel (import-series only warns) saw val/d_stsp inf at every
    # validation, and best.ckpt chosen by it, without a word; the fit now stops before training with the fix
    from neurops.data.series_import import import_series
    from neurops.errors import DataError

    t = np.arange(2000)
    np.save(tmp_path / "s.npy", np.stack([np.sin(2 * np.pi * t / 50), np.ones(2000)], axis=1))
    with pytest.warns(UserWarning, match="constant in the train block"):
        path = import_series(tmp_path / "s.npy", dt=1.0, out=tmp_path / "s.h5")
    with pytest.raises(DataError, match=rf"^variables \[1\] of {tmp_path / 's.h5'} are constant in the "
                                        rf"{val_reference} split, which val/d_stsp's histogram is built on: it is inf "
                                        r"for almost any orbit and picks no checkpoint; drop them, import the series "
                                        r"again \(neurops data import-series\)\.$"):
        _fit(path, tmp_path, training="gtf", alpha=0.2, val_reference=val_reference)


def test_a_validation_series_too_short_for_d_h_is_named_once_at_setup(tmp_path: Path) -> None:
    # a series imported with a small --val-fraction left a 6-point val split: the fit logged val/d_h ~ 1e-6 (spectra
    # of 4 bins smoothed over 20 are all the same), a perfect score, without a word; it now says so once, with the fix
    import warnings

    from neurops.data.series_import import import_series
    from neurops.errors import NeuropsWarning

    t = np.arange(2000)
    series = np.stack([np.sin(2 * np.pi * t / 50), np.cos(2 * np.pi * t / 37)], axis=1).astype(np.float32)
    np.save(tmp_path / "s.npy", series)
    path = import_series(tmp_path / "s.npy", dt=1.0, out=tmp_path / "s.h5", val_fraction=0.003)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(path, tmp_path, training="gtf", alpha=0.2)
    said = [str(w.message) for w in caught if issubclass(w.category, NeuropsWarning)]
    assert said == ["the validation series have 6 points: val/d_h smooths their power spectra over 20 frequency bins, "
                    "more than 2 % of their 4, which blurs every spectrum into its overall shape, so val/d_h separates "
                    "models little (near 0 for any model when the series is far too short); D_H needs at least 1998 "
                    "points at smoothing 20. Validate on a longer block: import the series again with a larger "
                    "--val-fraction (neurops data import-series), or generate longer series."]
