"""LightningModules wiring model + loss + metrics (thin by design)."""

from neurops.tasks.generative import GenerativeDataModule, GenerativeOperatorTask
from neurops.tasks.operator import OperatorTask
from neurops.tasks.rollout import RolloutTask

__all__ = ["GenerativeDataModule", "GenerativeOperatorTask", "OperatorTask", "RolloutTask"]
