"""Lightning's FSDP strategy on CPU, for the process tests (``tests/cli/test_lightning_fsdp.py``).

``--trainer.strategy fsdp`` does not run on CPU as shipped, for three reasons (Lightning 2.6, torch 2.13):

* Lightning refuses it: "The strategy `fsdp` requires a GPU accelerator, but received `accelerator='cpu'`"
  (its accelerator connector checks for ``FSDPStrategy`` itself, not for subclasses);
* torch's FSDP (FSDP1) refuses a module without a device: "FSDP needs a non-CPU accelerator device, but no
  accelerator device is detected." (Lightning passes ``device_id=root_device.index``, None on CPU); given
  ``device_id=torch.device("cpu")`` it shards and trains on CPU with gloo;
* saving a checkpoint then crashes the process (``Segmentation fault`` in torch's
  ``_full_post_state_dict_hook``): Lightning gathers the full state dict with ``offload_to_cpu=True``, which
  on a CPU device clones memory that FSDP has already freed.

:class:`CPUFSDP` is Lightning's ``FSDPStrategy`` with those three settings changed and nothing else: the same
wrapping of the whole LightningModule, checkpoints gathered to rank 0 as one file, optimizer states restored by
``FSDPStrategy.load_checkpoint`` after ``setup``. It is a test helper: GPUs run the strategy as shipped.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.strategies import FSDPStrategy


def _full_state_dict_context(module: torch.nn.Module, world_size: int, rank0_only: bool = True) -> Any:
    """Lightning's full-state-dict context (``lightning.fabric.strategies.fsdp``) without the CPU offload."""
    from torch.distributed.fsdp import FullOptimStateDictConfig, FullStateDictConfig, StateDictType
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    return FSDP.state_dict_type(module=module, state_dict_type=StateDictType.FULL_STATE_DICT,
                                state_dict_config=FullStateDictConfig(offload_to_cpu=False, rank0_only=rank0_only),
                                optim_state_dict_config=FullOptimStateDictConfig(offload_to_cpu=False,
                                                                                 rank0_only=rank0_only))


class CPUFSDP(FSDPStrategy):
    """``FSDPStrategy`` that runs on CPU processes (gloo); see the module's docstring."""

    def setup_environment(self) -> None:
        import lightning.pytorch.strategies.fsdp as fsdp

        # only in the processes of a run with this strategy: importing this module changes nothing
        fsdp._get_full_state_dict_context = _full_state_dict_context
        super().setup_environment()

    def _setup_model(self, model: torch.nn.Module) -> torch.nn.Module:
        from torch.distributed.fsdp import FullyShardedDataParallel

        if not any(isinstance(m, FullyShardedDataParallel) for m in model.modules()):
            # what FSDPStrategy._setup_model wraps, with the device FSDP needs on CPU; it keeps a wrapped model
            model = FullyShardedDataParallel(model, cpu_offload=self.cpu_offload, device_id=torch.device("cpu"),
                                             mixed_precision=self.mixed_precision_config,
                                             sharding_strategy=self.sharding_strategy, **self.kwargs)
        return super()._setup_model(model)
