"""LightningDataModules over neurops HDF5 files: operator pairs, rollouts, generative (DGNO) and dynamics data,
and the right-hand sides of DCDM training.

One module per kind of data (:mod:`~neurops.data.datamodule.operator`, ``generative``, ``dynamics``,
``dcdm``; what they share in ``loaders``). Configs and checkpoints name the classes by their path
in this package, ``neurops.data.datamodule.<Class>`` (e.g. ``class_path:
neurops.data.datamodule.OperatorDataModule``), which stays the canonical one.
"""

from neurops.data.datamodule.dcdm import DCDMDataModule
from neurops.data.datamodule.dynamics import DynamicsDataModule
from neurops.data.datamodule.generative import GenerativeDataModule
from neurops.data.datamodule.loaders import SplitLoaders, check_loader_options
from neurops.data.datamodule.operator import OperatorDataModule, RolloutDataModule

__all__ = ["DCDMDataModule", "DynamicsDataModule", "GenerativeDataModule", "OperatorDataModule", "RolloutDataModule",
           "SplitLoaders", "check_loader_options"]
