"""FNO, MgNO and LSM shard under FSDP: one training step in 2 processes equals the unsharded step.

Lightning's ``--trainer.strategy fsdp`` (PyTorch's FSDP1) needs GPUs; on CPU, PyTorch's FSDP2
(``fully_shard``, gloo) runs, and it shards the same parameters: FNO's complex spectral weights
(stored as real ``[..., 2]`` tensors), MgNO's convolutions and LSM's attention latents. LSM uses
instance normalisation here: batch statistics would differ between a half and a whole batch.
"""

import json

import pytest
import torch

from neurops.models import build

MODELS = {
    "fno": {"in_channels": 1, "out_channels": 1, "modes": [4, 4], "width": 8, "n_layers": 2},
    "mgno": {"in_channels": 1, "out_channels": 1, "width": 4, "n_layers": 1, "levels": 2},
    "lsm": {"in_channels": 1, "out_channels": 1, "width": 8, "num_scales": 2, "patch_size": 2, "ndim": 2,
            "num_tokens": 2, "num_basis": 4, "num_heads": 2, "head_width": 4, "norm": "instance"},
}

_WORKER = """
import json, sys, torch, torch.distributed as dist
from torch.distributed.fsdp import fully_shard
from neurops.models import build
dist.init_process_group("gloo")
rank = dist.get_rank()
models, out = json.loads(sys.argv[1]), {}
for name, kwargs in models.items():
    torch.manual_seed(0)
    model = build(name, **kwargs)
    fully_shard(model)
    x, y = torch.load(sys.argv[2])
    # SGD: Adam would turn the round-off of gradients that are zero in exact arithmetic (LSM's key
    # biases: softmax ignores a shift shared by all keys) into whole learning-rate steps
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    # each process: the mean loss of its half; FSDP averages the gradients = the whole batch's mean
    (model(x.chunk(2)[rank]) - y.chunk(2)[rank]).square().mean().backward()
    opt.step()
    state = {k: v.full_tensor() if hasattr(v, "full_tensor") else v for k, v in model.state_dict().items()}
    shards = {k: tuple(p.to_local().shape) for k, p in model.named_parameters()}
    out[name] = {"state": state, "shards": shards}
if rank == 0:
    torch.save(out, sys.argv[3])
dist.barrier()  # rank 1 must not tear its gloo pairs down while rank 0 still saves (a SIGABRT at exit)
dist.destroy_process_group()
"""


@pytest.mark.processes  # ~10-20 s: two processes import torch.distributed; CI runs it in `make test-processes`
def test_fsdp2_step_in_two_processes_equals_the_unsharded_step(tmp_path, two_processes):
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(4, 1, 16, 16, generator=gen), torch.randn(4, 1, 16, 16, generator=gen)
    torch.save((x, y), tmp_path / "batch.pt")
    two_processes(_WORKER, json.dumps(MODELS), str(tmp_path / "batch.pt"), str(tmp_path / "out.pt"))
    sharded = torch.load(tmp_path / "out.pt")
    for name, kwargs in MODELS.items():
        torch.manual_seed(0)
        model = build(name, **kwargs)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        (model(x) - y).square().mean().backward()
        opt.step()
        for key, value in model.state_dict().items():
            torch.testing.assert_close(sharded[name]["state"][key], value, rtol=1e-5, atol=1e-6, msg=f"{name} {key}")
        full = dict(model.named_parameters())
        # parameters really were split: dimension 0 of each is divided between the two processes
        assert all(shape[0] == (full[k].shape[0] + 1) // 2 for k, shape in sharded[name]["shards"].items())
