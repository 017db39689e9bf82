"""Learning-rate schedules written relative to the length of the run.

Every task takes ``lr_scheduler``: any torch scheduler (``optimizer -> scheduler``, e.g.
``class_path: torch.optim.lr_scheduler.StepLR`` in a config), or one of the schedules
below, which are fitted to the run when the optimizers are configured: their lengths are
fractions of the run, so ``--trainer.max_epochs 50`` decays the learning rate as
``--trainer.max_epochs 500`` does, ten times faster. Each builds the torch scheduler that
implements it.

=================  =========================================================  ========
schedule           torch scheduler it builds                                  interval
=================  =========================================================  ========
``OneCycle``       ``OneCycleLR(max_lr=lr, total_steps=<optimizer steps>)``    step
``StepDecay``      ``StepLR(step_size=every * max_epochs, gamma)``            epoch
``Cosine``         ``CosineAnnealingLR(T_max=max_epochs)``                    epoch
``ExponentialTo``  ``ExponentialLR(gamma=(lr_end / lr) ** (1 / max_epochs))``   epoch
=================  =========================================================  ========

References
----------
.. [1] L. N. Smith, N. Topin, "Super-convergence: very fast training of neural networks
   using large learning rates", arXiv:1708.07120 (the one-cycle policy).
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import Literal

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from typing_extensions import override

from neurops.errors import ConfigError
from neurops.utils.signature import called_class

__all__ = ["Cosine", "ExponentialTo", "OneCycle", "RunSchedule", "StepDecay", "one_cycle_lr_problem"]

Interval = Literal["step", "epoch"]


class RunSchedule:
    """A schedule whose torch scheduler is built once the run length is known.

    Subclasses set :attr:`interval` and implement :meth:`build`.
    """

    #: whether the built scheduler steps after every optimizer step or every epoch
    interval: Interval = "epoch"

    def build(self, optimizer: Optimizer, total_steps: int, total_epochs: int | None) -> LRScheduler:
        """The torch scheduler for a run of ``total_steps`` optimizer steps and ``total_epochs`` epochs
        (``None`` when the run is bounded by steps only)."""
        raise NotImplementedError

    def _schedule_class(self) -> type:
        # configs build defaults lazily (jsonargparse's LazyInstance_* subclasses): name the schedule itself
        return next(c for c in type(self).__mro__ if c.__module__ == __name__)

    def _epochs(self, total_epochs: int | None) -> int:
        if not total_epochs or total_epochs < 1:
            raise ConfigError(f"{self._schedule_class().__name__} is relative to the number of epochs, but the run "
                              "has none (an iterable data set without length?); set --trainer.max_epochs, or use "
                              "OneCycle.")
        return int(total_epochs)

    def __repr__(self) -> str:
        cls = self._schedule_class()
        names = [n for n in inspect.signature(cls.__init__).parameters if n != "self"]
        return f"{cls.__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"


class OneCycle(RunSchedule):
    """The one-cycle policy [1]_ over the whole run, stepped per optimizer step.

    The optimizer's learning rate is the peak; it starts at ``lr / div_factor``, rises
    (cosine) for the first ``pct_start`` of the steps, then anneals to
    ``lr / (div_factor * final_div_factor)``; Adam-type momentum cycles inversely (torch's
    ``OneCycleLR`` defaults). A warm-up of a single step (``pct_start * total_steps == 1``, e.g. 0.2 of
    5 steps), where torch's formula is ``0 / 0``, is its limit: step 0 at ``lr / div_factor``, then the annealing.

    Parameters
    ----------
    pct_start
        fraction of the run spent rising.
    div_factor
        peak / initial learning rate.
    final_div_factor
        initial / final learning rate.
    """

    interval: Interval = "step"

    def __init__(self, pct_start: float = 0.2, div_factor: float = 25.0, final_div_factor: float = 1e4) -> None:
        if not 0.0 < pct_start < 1.0 or div_factor <= 0 or final_div_factor <= 0:
            raise ConfigError(f"OneCycle needs 0 < pct_start < 1 and positive factors; got pct_start={pct_start}, "
                              f"div_factor={div_factor}, final_div_factor={final_div_factor}.")
        self.pct_start, self.div_factor, self.final_div_factor = pct_start, div_factor, final_div_factor

    def build(self, optimizer: Optimizer, total_steps: int, total_epochs: int | None) -> LRScheduler:
        return _OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=max(1, int(total_steps)),
            pct_start=self.pct_start, div_factor=self.div_factor, final_div_factor=self.final_div_factor)


class _OneCycleLR(torch.optim.lr_scheduler.OneCycleLR):
    """torch's ``OneCycleLR``, also when the warm-up is a single step (``pct_start * total_steps == 1``).

    torch ends the warm-up at step ``pct_start * total_steps - 1``; at 0 its interpolation at step 0 is
    ``0 / 0`` (``ZeroDivisionError``). This takes the limit of torch's formula as that end tends to 0 from
    above: step 0 at the initial learning rate (and momentum), every later step in the annealing phase,
    exactly as torch computes it. Every other run has torch's learning rates, unchanged.
    """

    @override
    def get_lr(self) -> list[float | torch.Tensor]:
        warm_up = self._schedule_phases[0]
        if warm_up["end_step"] == 0:
            # the smallest float above 0: step 0 interpolates 0 / 5e-324 = 0 (the warm-up's start), and the
            # annealing phase's (step - 5e-324) / (total_steps - 1 - 5e-324) rounds to its limit, step / (total - 1)
            warm_up["end_step"] = math.ulp(0.0)
        return super().get_lr()


def one_cycle_lr_problem(factory: object) -> str | None:
    """Why ``factory`` (a scheduler callable ``optimizer -> scheduler``) would crash, or ``None``: a factory of
    torch's own ``OneCycleLR`` whose warm-up is a single step (``pct_start * total_steps == 1``), where torch
    divides 0 by 0 when it is built (``ZeroDivisionError``; :class:`_OneCycleLR` takes the limit instead).

    torch's class is not replaced by ours behind the user's back: the problem is reported with its fix. The class
    and its arguments are read from the ``functools.partial`` a config's ``class_path`` becomes (jsonargparse
    passes the class among the partial's arguments, Python code as its function); other callables are not
    inspected (``None``) and build as they are.
    """
    called = called_class(factory) if isinstance(factory, functools.partial) else None
    if called is None:
        return None
    cls, given, keywords = called
    if not issubclass(cls, torch.optim.lr_scheduler.OneCycleLR) or issubclass(cls, _OneCycleLR):
        return None
    try:
        bound = inspect.signature(cls).bind_partial(None, *given, **keywords)
    except TypeError:  # torch reports its own arguments
        return None
    bound.apply_defaults()
    args = bound.arguments
    pct_start, total, epochs, per_epoch = (args.get(k) for k in ("pct_start", "total_steps", "epochs",
                                                                 "steps_per_epoch"))
    if total is None and epochs is not None and per_epoch is not None:
        total, steps = epochs * per_epoch, f"epochs * steps_per_epoch = {epochs} * {per_epoch} = {epochs * per_epoch}"
        change = "epochs or steps_per_epoch"
    else:
        steps, change = f"total_steps={total}", "total_steps"
    if not isinstance(pct_start, (int, float)) or not isinstance(total, int) or float(pct_start * total) - 1 != 0:
        return None  # torch's own checks, or its formula without a 0 / 0
    return (f"lr_scheduler {cls.__module__}.{cls.__qualname__} with pct_start={pct_start} and {steps} has a warm-up "
            "of pct_start * total_steps = 1 step, for which torch's formula divides 0 by 0 (ZeroDivisionError); use "
            "class_path: neurops.tasks.schedules.OneCycle with the same pct_start, div_factor and final_div_factor "
            "(one cycle over the whole run, peaking at the optimizer's lr; its one-step warm-up is the limit of "
            f"torch's formula), or change pct_start or {change} so that pct_start * total_steps != 1.")


class StepDecay(RunSchedule):
    """Multiply the learning rate by ``gamma`` every ``every`` of the run's epochs.

    ``every=0.2`` over 500 epochs is ``StepLR(step_size=100)`` (the FNO paper's schedule);
    the step is ``floor(every * max_epochs)``, at least one epoch.

    Parameters
    ----------
    every
        fraction of the epochs between two decays, in (0, 1].
    gamma
        factor per decay.
    """

    def __init__(self, every: float = 0.2, gamma: float = 0.5) -> None:
        if not 0.0 < every <= 1.0 or gamma <= 0:
            raise ConfigError(f"StepDecay needs 0 < every <= 1 and gamma > 0; got every={every}, gamma={gamma}.")
        self.every, self.gamma = every, gamma

    def build(self, optimizer: Optimizer, total_steps: int, total_epochs: int | None) -> LRScheduler:
        step = max(1, int(self._epochs(total_epochs) * self.every + 1e-9))
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step, gamma=self.gamma)


class Cosine(RunSchedule):
    """Cosine annealing from the optimizer's learning rate to ``eta_min`` over the run's epochs.

    Parameters
    ----------
    eta_min
        the learning rate at the last epoch (>= 0).
    """

    def __init__(self, eta_min: float = 0.0) -> None:
        if eta_min < 0:
            raise ConfigError(f"Cosine needs eta_min >= 0, got {eta_min}.")
        self.eta_min = eta_min

    def build(self, optimizer: Optimizer, total_steps: int, total_epochs: int | None) -> LRScheduler:
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self._epochs(total_epochs),
                                                          eta_min=self.eta_min)


class ExponentialTo(RunSchedule):
    """Exponential decay per epoch from the optimizer's learning rate to ``lr_end`` at the last epoch.

    The schedule of the GTF and AL-RNN papers (``lr_end = lr`` keeps it constant).

    Parameters
    ----------
    lr_end
        learning rate after the last epoch (> 0).
    """

    def __init__(self, lr_end: float = 1e-6) -> None:
        if lr_end <= 0:
            raise ConfigError(f"ExponentialTo needs lr_end > 0, got {lr_end}.")
        self.lr_end = lr_end

    def build(self, optimizer: Optimizer, total_steps: int, total_epochs: int | None) -> LRScheduler:
        epochs = self._epochs(total_epochs)
        lr = optimizer.param_groups[0]["lr"]
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=(self.lr_end / lr) ** (1.0 / epochs))
