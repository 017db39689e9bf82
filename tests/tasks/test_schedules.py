"""Run-relative learning-rate schedules (neurops/tasks/schedules.py)."""

from __future__ import annotations

import math

import pytest
import torch

from neurops.errors import ConfigError
from neurops.tasks.schedules import Cosine, ExponentialTo, OneCycle, StepDecay


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
