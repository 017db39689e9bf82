"""LightningModules wiring model + loss + metrics (thin by design), all on one base (:class:`Task`)."""

from neurops.tasks.base import Task
from neurops.tasks.dcdm import DCDMTask
from neurops.tasks.dynamics import DynamicsTask
from neurops.tasks.generative import GenerativeOperatorTask
from neurops.tasks.operator import OperatorTask
from neurops.tasks.rollout import RolloutTask

__all__ = ["DCDMTask", "DynamicsTask", "GenerativeOperatorTask", "OperatorTask", "RolloutTask", "Task"]
