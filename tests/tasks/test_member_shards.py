"""An ensemble's members spread over processes (neurops/tasks/member_shards.py): the blocks, the views, the gather.

The two-process run itself (a DDP fit that equals the one-process fit) is in tests/cli/test_lightning_ddp.py.
"""

from __future__ import annotations

import pytest
import torch

from neurops.dynamics.teacher_forcing import AdaptiveAlpha, estimate_alpha, gtf_rollout
from neurops.errors import ConfigError
from neurops.models import build
from neurops.models.piecewise_linear import stack_members
from neurops.tasks.member_shards import gather_members, member_shard, member_view


def test_shards_partition_the_members_in_blocks_of_nearly_equal_size() -> None:
    for members in range(1, 10):
        for world in range(1, members + 1):
            shards = [member_shard(members, world, w) for w in range(world)]
            assert [r for s in shards for r in s] == list(range(members))
            assert max(map(len, shards)) - min(map(len, shards)) <= 1
    assert [member_shard(5, 2, w) for w in (0, 1)] == [range(0, 3), range(3, 5)]
    with pytest.raises(ConfigError, match=r"ensemble of 2 member\(s\) cannot be spread over 3 processes.*"
                                          r"--trainer.devices <= 2"):
        member_shard(2, 3, 0)


def _ensemble(members: int) -> torch.nn.Module:
    models = [build("clipped_shplrnn", obs_dim=3, latent_dim=3, hidden_dim=12, seed=s) for s in range(members)]
    return stack_members(models, seeds=[10 + s for s in range(members)])


@pytest.mark.parametrize("fused", [True, False])
def test_a_view_rolls_out_and_differentiates_exactly_its_members(fused: bool) -> None:
    full, shard = _ensemble(4), range(1, 3)
    x = torch.randn(4, 5, 21, 3, generator=torch.Generator().manual_seed(0))
    view = member_view(full, shard)
    assert view.members == 2 and view.member_seeds == [11, 12]
    pred_view = gtf_rollout(view, x[1:3], 0.2, fused=fused)[0]
    pred_full = gtf_rollout(full, x, 0.2, fused=fused)[0]
    torch.testing.assert_close(pred_view, pred_full[1:3], rtol=0, atol=0)
    (pred_view - x[1:3, :, 1:]).square().sum().backward()
    via_view = {n: p.grad.clone() for n, p in full.named_parameters()}
    full.zero_grad()
    (pred_full[1:3] - x[1:3, :, 1:]).square().sum().backward()
    for name, p in full.named_parameters():
        torch.testing.assert_close(via_view[name], p.grad, msg=name)
        assert via_view[name][[0, 3]].abs().max() == 0 and via_view[name][1:3].abs().max() > 0, name
    assert full.members == 4 and len(full.member_seeds) == 4  # the ensemble itself is untouched


def _gathered_by(rank: int, locals_: list[torch.Tensor], members: int) -> torch.Tensor:
    """What process ``rank`` gets from gather_members when every process ``w`` holds ``locals_[w]``."""
    world, padded = len(locals_), []
    for local in locals_:  # each process's padded block, as all_gather would receive it
        gather_members(local, members, world, lambda t: padded.append(t) or torch.stack([t] * world))
    return gather_members(locals_[rank], members, world, lambda t: torch.stack(padded))


def test_gather_puts_every_process_block_in_member_order() -> None:
    values = torch.arange(10.0).reshape(5, 2)  # [R, 2], member r's values in row r
    locals_ = [values[member_shard(5, 2, w).start: member_shard(5, 2, w).stop] for w in (0, 1)]
    for rank in (0, 1):
        torch.testing.assert_close(_gathered_by(rank, locals_, 5), values, rtol=0, atol=0)


def test_adaptive_alpha_folds_in_the_gathered_estimates_of_the_whole_ensemble() -> None:
    full = _ensemble(4)
    x = torch.randn(4, 5, 21, 3, generator=torch.Generator().manual_seed(1))
    whole = AdaptiveAlpha(every=1)(full, x)
    estimates = [estimate_alpha(member_view(full, member_shard(4, 2, w)), x[2 * w: 2 * w + 2]) for w in (0, 1)]
    spread = AdaptiveAlpha(every=1)(member_view(full, range(0, 2)), x[:2], gather=lambda e: torch.cat(estimates))
    assert isinstance(spread, torch.Tensor) and spread.shape == (4,)
    torch.testing.assert_close(spread, whole, rtol=1e-12, atol=0)


def test_spreading_needs_ddp_and_keeps_the_best_states_out_of_its_broadcast() -> None:
    from types import SimpleNamespace

    from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy

    from neurops.tasks.dynamics import DynamicsTask
    from neurops.tasks.member_shards import spread_members

    task = DynamicsTask(model_kwargs={"obs_dim": 3, "latent_dim": 3, "hidden_dim": 8}, seeds=[1, 2, 3])
    ddp = SimpleNamespace(strategy=DDPStrategy(), world_size=2, global_rank=1)
    assert spread_members(task, ddp) == range(2, 3)
    ignored = set(task._ddp_params_and_buffers_to_ignore)
    assert ignored == {f"member_best.{name}" for name, _ in task.member_best.named_buffers()}
    assert not ignored & {name for name, _ in task.named_parameters()}  # the gradients are still averaged
    fsdp = SimpleNamespace(strategy=FSDPStrategy(), world_size=2, global_rank=0)
    with pytest.raises(ConfigError, match="strategy FSDPStrategy is not DDP: use --trainer.strategy ddp"):
        spread_members(task, fsdp)
