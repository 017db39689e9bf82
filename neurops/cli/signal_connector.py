"""SIGTERM while a trainer runs: Lightning's signal connector without a collective in its signal handler.

Lightning's connector records SIGTERM, forwards it to the processes its launcher started, and, under DDP,
broadcasts rank zero's flag from inside the signal handler, at whatever point each process is: there it met
another collective of the other process (gloo's "Received data size doesn't match expected size ... collective
mismatch"), and a preempted two-process run ended in ~140 lines of aborts and tracebacks. Its loops then stop
the run where each process finds the flag, each on its own (after a batch, an epoch, a validation batch), so
one process could leave while the other waited for it in the next collective.

:class:`SignalConnector` records the signal and forwards it, nothing more. Under DDP ``fit`` the processes
agree at the start of every training batch, with one all-reduce in place of the broadcast Lightning does
there, whether any of them received SIGTERM, and all stop at that batch; Lightning's other checks wait for that
agreement (a SIGTERM during validation stops the run at the next training batch, after the epoch's
checkpoint). In one process, and in ``validate``/``test``, Lightning's checks are kept as they are.
Lightning's SLURM auto-requeue (``SLURMEnvironment``, SIGUSR1) is untouched: its SIGUSR1 handler saves
``hpc_ckpt_N.ckpt`` and requeues the job; the SIGTERM SLURM then sends stops the run as above.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import FrameType
from typing import Any
from unittest import mock

import lightning as L
import torch
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.trainer.connectors.signal_connector import _SignalConnector
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from neurops.cli import sigterm

__all__ = ["SignalConnector", "install", "received_anywhere", "slurm_requeued", "without_hpc_checkpoint"]


class SignalConnector(_SignalConnector):
    """Lightning's signal connector without a collective in the SIGTERM handler; under DDP ``fit`` the processes
    agree at the start of each training batch (:meth:`agree`) whether to stop."""

    def __init__(self, trainer: L.Trainer) -> None:
        self._local = self._agreed = False
        #: whether :meth:`agree` runs at every training batch under DDP (set by :func:`install`)
        self.agreement = False
        super().__init__(trainer)

    @property  # type: ignore[override]
    def received_sigterm(self) -> bool:
        """What Lightning's loops ask: under DDP ``fit`` whether the processes agreed to stop, else whether this
        process received SIGTERM."""
        return self._agreed if self._agreement_needed() else self._local

    @received_sigterm.setter
    def received_sigterm(self, value: bool) -> None:  # Lightning resets it for every run of the trainer
        self._local = self._agreed = value

    def _agreement_needed(self) -> bool:
        trainer = getattr(self, "trainer", None)
        return (self.agreement and trainer is not None and trainer.world_size > 1
                and trainer.state.fn == TrainerFn.FITTING)

    def register_signal_handlers(self) -> None:
        super().register_signal_handlers()
        sigterm._state.trainer_handles = True

    def teardown(self) -> None:
        super().teardown()
        sigterm._state.trainer_handles = False

    def _sigterm_notifier_fn(self, signum: Any, _: FrameType | None) -> None:
        sigterm._state.received = True
        if not self._local:  # the processes Lightning's launcher started get it too, once
            sigterm.forward(self.trainer, signum)
        self._local = True

    def agree(self) -> None:
        """Under DDP, at the start of every training batch, in every process: stop all processes here together
        (``SIGTERMException``) if any of them received SIGTERM."""
        flag = torch.tensor([int(self._local)], device=self.trainer.strategy.root_device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        if flag.item():
            self._agreed = sigterm._state.received = True  # also where only a peer process received it
            raise SIGTERMException()


def install(trainer: L.Trainer) -> L.Trainer:
    """``trainer`` with a :class:`SignalConnector` in place of Lightning's, and the trainer whose run folder the
    message of a stopped command names.

    Under DDP the connector's :meth:`~SignalConnector.agree` replaces Lightning's per-batch broadcast of rank
    zero's flag (``_TrainingEpochLoop._broadcast_sigterm_tensor``, called in its ``advance``). A Lightning without
    that method gets no agreement: its loops then read each process's own flag, as Lightning's connector has them
    do (an agreement that never ran would leave a DDP run deaf to SIGTERM).
    """
    sigterm._state.trainer = trainer
    connector = SignalConnector(trainer)
    trainer._signal_connector = connector
    epoch_loop = trainer.fit_loop.epoch_loop
    if callable(getattr(epoch_loop, "_broadcast_sigterm_tensor", None)):
        connector.agreement = True
        epoch_loop._broadcast_sigterm_tensor = connector.agree  # type: ignore[method-assign]
    setup_environment = trainer.strategy.setup_environment

    def setup_environment_ended_by_sigterm() -> None:  # the DDP rendezvous
        with sigterm.default_action():
            setup_environment()

    trainer.strategy.setup_environment = setup_environment_ended_by_sigterm  # type: ignore[method-assign]
    return trainer


def received_anywhere(trainer: L.Trainer) -> bool:
    """Whether any process of the run received SIGTERM (under DDP a collective: every process must ask)."""
    flag = sigterm.received()
    if trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
        tensor = torch.tensor([int(flag)], device=trainer.strategy.root_device)
        torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.MAX)
        flag = bool(tensor.item())
    sigterm._state.received = flag
    return flag


def slurm_requeued(trainer: L.Trainer) -> bool:
    """Whether ``trainer`` resumes a SLURM job that Lightning's auto-requeue (SIGUSR1) checkpointed and requeued:
    under SLURM, a ``fit`` without ``ckpt_path`` resumes from the newest ``hpc_ckpt_N.ckpt`` of the run folder."""
    return SLURMEnvironment.detect() and trainer._checkpoint_connector._hpc_resume_path is not None


@contextlib.contextmanager
def without_hpc_checkpoint(trainer: L.Trainer) -> Iterator[None]:
    """Inside, ``trainer.test|validate(ckpt_path=None)`` evaluate the model's weights: under SLURM Lightning loads
    the newest ``hpc_ckpt_N.ckpt`` of the run folder instead, the state a requeued job resumed from (epochs older
    than the weights a finished ``fit`` holds)."""
    with mock.patch.object(type(trainer._checkpoint_connector), "_hpc_resume_path", property(lambda self: None)):
        yield
