"""LightningModules wiring model + loss + metrics (thin by design)."""

from neurops.tasks.operator import OperatorTask

__all__ = ["OperatorTask"]
