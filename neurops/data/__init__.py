"""HDF5 data layer: schema, atomic writer, lazy reader, checks, normalizers, generators."""

from neurops.data.check import check_file
from neurops.data.merge import merge_files
from neurops.data.metadata import DatasetMeta
from neurops.data.normalizers import GaussianNormalizer
from neurops.data.reader import H5OperatorDataset, list_splits, open_h5, read_meta, read_split
from neurops.data.schema import SCHEMA_VERSION
from neurops.data.shards import data_files
from neurops.data.writer import H5Writer
from neurops.data.xarray_io import to_xarray

__all__ = [
    "SCHEMA_VERSION",
    "DatasetMeta",
    "GaussianNormalizer",
    "H5OperatorDataset",
    "H5Writer",
    "check_file",
    "data_files",
    "list_splits",
    "merge_files",
    "open_h5",
    "read_meta",
    "read_split",
    "to_xarray",
]
