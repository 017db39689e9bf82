"""Run-relative learning-rate schedules (neurops/tasks/schedules.py)."""

from __future__ import annotations

import json
import math
from functools import partial

import lightning as L
import pytest
import torch

from neurops.data.datamodule import OperatorDataModule
from neurops.errors import ConfigError
from neurops.tasks import OperatorTask
from neurops.tasks.schedules import Cosine, ExponentialTo, OneCycle, StepDecay, _OneCycleLR, one_cycle_lr_problem


def _optimizer(lr: float = 1e-2) -> torch.optim.Optimizer:
    return torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=lr)


def _lrs(scheduler: torch.optim.lr_scheduler.LRScheduler, n: int) -> list[float]:
    out = []
    for _ in range(n):
        out.append(scheduler.optimizer.param_groups[0]["lr"])
        scheduler.optimizer.step()
        scheduler.step()
    return out


def test_one_cycle_is_torchs_one_cycle_over_the_whole_run():
    ours = OneCycle(pct_start=0.3, div_factor=10.0, final_div_factor=100.0).build(_optimizer(), 40, 4)
    ref_opt = _optimizer()
    ref = torch.optim.lr_scheduler.OneCycleLR(ref_opt, max_lr=1e-2, total_steps=40, pct_start=0.3, div_factor=10.0,
                                              final_div_factor=100.0)
    lrs = _lrs(ours, 40)
    assert lrs == _lrs(ref, 40)
    assert lrs[0] == pytest.approx(1e-3) and max(lrs) == pytest.approx(1e-2, rel=1e-3)
    assert lrs[-1] == pytest.approx(1e-2 / 10 / 100, rel=0.05)
    assert OneCycle.interval == "step"


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


@pytest.mark.parametrize("steps, pct_start", [(10, 0.3), (10, 0.25), (7, 0.1), (40, 0.5)])
def test_one_cycle_keeps_torchs_learning_rates_of_every_run_torch_can_schedule(steps, pct_start):
    ours = OneCycle(pct_start=pct_start).build(_optimizer(), steps, 1)
    ref = torch.optim.lr_scheduler.OneCycleLR(_optimizer(), max_lr=1e-2, total_steps=steps, pct_start=pct_start,
                                              div_factor=25.0, final_div_factor=1e4)
    assert _lrs(ours, steps) == _lrs(ref, steps)
    assert ours.optimizer.param_groups[0]["betas"] == ref.optimizer.param_groups[0]["betas"]


@pytest.mark.parametrize("steps, pct_start", [(5, 0.2), (10, 0.1), (2, 0.5), (3, 1 / 3)])
def test_one_cycle_with_a_warm_up_of_one_step_is_the_limit_of_torchs_schedule(steps, pct_start):
    # pct_start * steps == 1: torch's OneCycleLR divides 0 / 0 at step 0 (ZeroDivisionError). The limit of its
    # formula: step 0 at lr / div_factor, then torch's annealing phase from the peak over steps 0 .. steps - 1
    scheduler = OneCycle(pct_start=pct_start, div_factor=25.0, final_div_factor=1e4).build(_optimizer(), steps, 1)
    assert scheduler.optimizer.param_groups[0]["betas"][0] == 0.95  # the warm-up's start: the highest momentum
    lrs = _lrs(scheduler, steps)
    final = 1e-2 / 25.0 / 1e4
    assert all(math.isfinite(lr) for lr in lrs)
    assert lrs[0] == pytest.approx(1e-2 / 25.0, rel=1e-12)
    assert lrs[1:] == pytest.approx([_cos(1e-2, final, k / (steps - 1)) for k in range(1, steps)], rel=1e-12)
    assert lrs[-1] == pytest.approx(final, rel=1e-12)


def test_a_fit_with_a_warm_up_of_one_step_trains(operator_file, tmp_path):
    seen: list[float] = []

    class Lrs(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            seen.append(trainer.optimizers[0].param_groups[0]["lr"])

    task = OperatorTask("fno", {"modes": [4, 4], "width": 8, "n_layers": 1}, lr_scheduler=OneCycle(pct_start=1 / 3))
    trainer = L.Trainer(max_epochs=1, default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=False, num_sanity_val_steps=0,
                        callbacks=[Lrs()])
    trainer.fit(task, OperatorDataModule(operator_file, batch_size=8))  # 24 / 8: 3 steps, the first one warm-up
    assert seen == pytest.approx([1e-3 / 25, _cos(1e-3, 1e-3 / 25 / 1e4, 0.5), 1e-3 / 25 / 1e4], rel=1e-12)
    assert trainer.global_step == 3


@pytest.mark.parametrize("epochs, step", [(500, 100), (50, 10), (7, 1), (3, 1)])
def test_step_decay_halves_every_fifth_of_the_run(epochs, step):
    scheduler = StepDecay(every=0.2, gamma=0.5).build(_optimizer(), 10 * epochs, epochs)
    assert scheduler.step_size == step
    lrs = _lrs(scheduler, epochs)
    assert lrs[step - 1] == pytest.approx(1e-2) and lrs[step] == pytest.approx(0.5e-2)


def test_exponential_to_reaches_lr_end_after_the_last_epoch_and_cosine_anneals():
    scheduler = ExponentialTo(lr_end=1e-5).build(_optimizer(1e-2), 300, 30)
    lrs = _lrs(scheduler, 30)
    assert lrs[0] == pytest.approx(1e-2)
    assert scheduler.optimizer.param_groups[0]["lr"] == pytest.approx(1e-5, rel=1e-9)  # after 30 epochs
    assert all(b < a for a, b in zip(lrs, lrs[1:]))
    cosine = Cosine(eta_min=1e-4).build(_optimizer(1e-2), 100, 10)
    lrs = _lrs(cosine, 11)
    assert lrs[5] == pytest.approx(1e-4 + (1e-2 - 1e-4) * (1 + math.cos(math.pi / 2)) / 2)
    assert lrs[10] == pytest.approx(1e-4)


def test_bad_schedules_are_one_clear_error():
    with pytest.raises(ConfigError, match="pct_start"):
        OneCycle(pct_start=1.5)
    with pytest.raises(ConfigError, match="every"):
        StepDecay(every=0.0)
    with pytest.raises(ConfigError, match="lr_end"):
        ExponentialTo(lr_end=0.0)
    with pytest.raises(ConfigError, match="max_epochs"):  # a run bounded by steps only has no epochs to divide
        StepDecay().build(_optimizer(), 100, None)


def _torch_one_cycle(**init_args: object) -> object:
    """The scheduler callable a config's ``lr_scheduler: {class_path: torch.optim.lr_scheduler.OneCycleLR, init_args:
    ...}`` becomes (jsonargparse's, as LightningCLI hands it to the task)."""
    from jsonargparse import ArgumentParser
    from lightning.pytorch.cli import LRSchedulerCallable

    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--s", type=LRSchedulerCallable)
    value = {"class_path": "torch.optim.lr_scheduler.OneCycleLR", "init_args": init_args}
    return parser.instantiate(parser.parse_args(["--s", json.dumps(value)])).s


@pytest.mark.parametrize("init_args, steps, change", [
    ({"max_lr": 1e-2, "total_steps": 5, "pct_start": 0.2}, "total_steps=5", "total_steps"),
    ({"max_lr": 1e-2, "total_steps": 4, "pct_start": 0.25, "three_phase": True}, "total_steps=4", "total_steps"),
    ({"max_lr": 1e-2, "epochs": 2, "steps_per_epoch": 5, "pct_start": 0.1},
     "epochs * steps_per_epoch = 2 * 5 = 10", "epochs or steps_per_epoch"),
])
def test_torchs_one_cycle_lr_with_a_one_step_warm_up_is_one_clear_error(init_args, steps, change):
    """torch's OneCycleLR named in a config crashed with a ZeroDivisionError when pct_start * total_steps == 1.
    Its class is not swapped for neurops's silently: the task refuses it with the cause and the fixes."""
    factory = _torch_one_cycle(**init_args)
    with pytest.raises(ZeroDivisionError):  # what torch does with it
        factory(_optimizer())
    task = OperatorTask("fno", {"modes": [4, 4], "width": 8, "n_layers": 1, "in_channels": 1, "out_channels": 1},
                        lr_scheduler=factory)
    with pytest.raises(ConfigError) as err:
        task.configure_optimizers()
    assert str(err.value) == (
        f"lr_scheduler torch.optim.lr_scheduler.OneCycleLR with pct_start={init_args['pct_start']} and {steps} has a "
        "warm-up of pct_start * total_steps = 1 step, for which torch's formula divides 0 by 0 (ZeroDivisionError); "
        "use class_path: neurops.tasks.schedules.OneCycle with the same pct_start, div_factor and final_div_factor "
        "(one cycle over the whole run, peaking at the optimizer's lr; its one-step warm-up is the limit of torch's "
        f"formula), or change pct_start or {change} so that pct_start * total_steps != 1.")
    # the same from Python code: a partial of the class itself, arguments by position too
    positional = partial(torch.optim.lr_scheduler.OneCycleLR, 1e-2, init_args.get("total_steps"),
                         **{k: v for k, v in init_args.items() if k not in ("max_lr", "total_steps")})
    assert one_cycle_lr_problem(positional) == str(err.value)


def test_every_other_one_cycle_lr_and_scheduler_builds_as_torch_builds_it():
    for init_args in ({"max_lr": 1e-2, "total_steps": 10}, {"max_lr": 1e-2, "total_steps": 3, "pct_start": 0.2},
                      {"max_lr": 1e-2, "epochs": 3, "steps_per_epoch": 3}):
        factory = _torch_one_cycle(**init_args)
        assert one_cycle_lr_problem(factory) is None
        task = OperatorTask("fno", {"modes": [4, 4], "width": 8, "n_layers": 1, "in_channels": 1, "out_channels": 1},
                            lr_scheduler=factory)
        scheduler = task.configure_optimizers()["lr_scheduler"]["scheduler"]
        assert type(scheduler) is torch.optim.lr_scheduler.OneCycleLR
    # neurops's own one-cycle schedule and other schedulers are not inspected
    assert one_cycle_lr_problem(partial(_OneCycleLR, max_lr=1e-2, total_steps=5, pct_start=0.2)) is None
    assert one_cycle_lr_problem(partial(torch.optim.lr_scheduler.StepLR, step_size=1)) is None
    assert one_cycle_lr_problem(lambda optimizer: None) is None
