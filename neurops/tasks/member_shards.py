"""An ensemble's members spread over DDP processes: each process trains and validates its own block of members.

:class:`~neurops.tasks.dynamics.DynamicsTask` with ``seeds`` under ``--trainer.strategy ddp --trainer.devices W``
keeps the whole stacked ensemble on every process, but process ``w`` rolls out only the members of
:func:`member_shard` (``R`` members in ``W`` contiguous blocks) through :func:`member_view`, on those members'
own windows. DDP averages the gradients over the processes; a member's gradient comes from its own process alone,
so the task scales its loss by ``W`` and every process then holds each member's exact gradient, takes the same
optimizer step, and stays in step with the others. Member ``r`` thus trains as it does in one process (and as a
single run with its seed would), while the processes share the work. :func:`gather_members` collects per-member
values (validation scores, aGTF's alpha estimates) from all processes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import lightning as L
import torch
from lightning.pytorch.strategies import DDPStrategy
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from neurops.errors import ConfigError


def member_shard(members: int, world_size: int, rank: int) -> range:
    """The members of process ``rank``: block ``rank`` of ``members`` split into ``world_size`` contiguous blocks
    whose sizes differ by at most one (the first ``members % world_size`` blocks are the larger)."""
    if members < world_size:
        raise ConfigError(f"an ensemble of {members} member(s) cannot be spread over {world_size} processes (each "
                          f"trains one member or more); use --trainer.devices <= {members} or more seeds.")
    size, extra = divmod(members, world_size)
    start = rank * size + min(rank, extra)
    return range(start, start + size + (rank < extra))


def spread_members(task: L.LightningModule, trainer: L.Trainer) -> range:
    """The members ``task`` (with ``members`` and a ``member_best`` record) trains in this process of ``trainer``.

    Refuses a strategy other than DDP (FSDP would shard the stacked parameters the views slice). Every process
    updates the best states alike, from gathered scores, so they are kept out of DDP's per-step buffer broadcast
    (torch's documented way to exclude buffers from DDP, pytorch/pytorch#43690).
    """
    if not isinstance(trainer.strategy, DDPStrategy):
        raise ConfigError(f"an ensemble (seeds) spreads its members over DDP processes; strategy "
                          f"{type(trainer.strategy).__name__} is not DDP: use --trainer.strategy ddp.")
    DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(
        task, [f"member_best.{name}" for name, _ in task.member_best.named_buffers()])
    return member_shard(task.members, trainer.world_size, trainer.global_rank)


def member_view(ensemble: nn.Module, shard: range) -> nn.Module:
    """The members ``shard`` of a stacked ensemble as an ensemble of ``len(shard)`` members whose parameters are
    views of ``ensemble``'s (slices of the member axis): gradients through the view reach ``ensemble``'s
    parameters, zero for the other members."""
    view = copy.copy(ensemble)  # the same module type and settings; its own parameter table
    view._parameters = {name: None if p is None else p[shard.start: shard.stop]
                        for name, p in ensemble._parameters.items()}
    setattr(view, "members", len(shard))  # noqa: B010 (an int attribute; nn.Module types attributes as tensors)
    seeds = getattr(ensemble, "member_seeds", None)
    if seeds is not None:
        view.member_seeds = seeds[shard.start: shard.stop]
    return view


def gather_members(local: torch.Tensor, members: int, world_size: int,
                   all_gather: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """All members' values ``[R, ...]`` from each process's ``local : [len(shard), ...]`` (shards of
    :func:`member_shard`); ``all_gather`` is the LightningModule's (stacks equal shapes of all processes)."""
    shards = [member_shard(members, world_size, w) for w in range(world_size)]
    longest = len(shards[0])
    padded = torch.cat([local, local.new_zeros(longest - len(local), *local.shape[1:])])
    stacked = all_gather(padded)  # [W, longest, ...]
    return torch.cat([stacked[w, : len(shard)] for w, shard in enumerate(shards)])


__all__ = ["gather_members", "member_shard", "member_view", "spread_members"]
