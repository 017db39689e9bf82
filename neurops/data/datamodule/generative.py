"""The data module of generative operator learning (DGNO): unlabelled training coefficients, labelled
evaluation pairs."""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
from typing_extensions import override

from neurops.data.datamodule.loaders import SplitLoaders, check_loader_options
from neurops.data.reader import H5OperatorDataset, list_splits, read_meta
from neurops.data.schema import is_test_split, resolution_tag
from neurops.errors import DataError


class GenerativeDataModule(SplitLoaders, L.LightningDataModule):
    """Unlabelled training coefficients and labelled evaluation pairs, from one or two files.

    Parameters
    ----------
    train_path
        file whose ``train_split`` provides the coefficient field (kind
        ``input_only`` or ``operator``; outputs, if any, are passed on as labels ``y``).
    eval_path
        ``operator`` file with labelled ``val_split`` / ``test*`` splits
        (default: ``train_path``).
    batch_size
        batch size of all loaders.
    num_workers
        DataLoader worker processes.
    input_field
        name of the coefficient field.
    output_field
        name of the solution field.
    train_split
        the split trained on.
    val_split
        the validation split (``None`` skips validation).
    test_splits
        test split names of ``eval_path`` (default: every ``test*`` split).
    """

    def __init__(self, train_path: str | os.PathLike, eval_path: str | os.PathLike | None = None,
                 batch_size: int = 25, num_workers: int = 0, input_field: str = "a", output_field: str = "u",
                 train_split: str = "train", val_split: str | None = "val",
                 test_splits: list[str] | None = None) -> None:
        super().__init__()
        check_loader_options(batch_size, num_workers)
        self.train_path = Path(train_path)
        self.eval_path = Path(eval_path) if eval_path is not None else self.train_path
        self.batch_size, self.num_workers = batch_size, num_workers
        train_kind = read_meta(self.train_path).kind
        outputs = [output_field] if train_kind == "operator" else None
        self.train_set = H5OperatorDataset(self.train_path, train_split, [input_field], outputs)
        eval_splits = list_splits(self.eval_path)
        wanted = [s for s in [val_split, *(test_splits or [])] if s is not None]
        missing = [s for s in wanted if s not in eval_splits]
        if missing:
            raise DataError(f"{self.eval_path} has no split(s) {missing}; it has {eval_splits}. Pass "
                            "eval_path= a labelled file (neurops data generate darcy ...) or fix the split names.")
        eval_kind = read_meta(self.eval_path).kind
        if eval_kind != "operator" and (val_split or test_splits):
            raise DataError(f"{self.eval_path} has no labels (kind {eval_kind!r}); "
                            "validation and tests need an 'operator' file: pass eval_path=.")
        self.val_set = (H5OperatorDataset(self.eval_path, val_split, [input_field], [output_field])
                        if val_split else None)
        names = test_splits if test_splits is not None else sorted(
            (s for s in eval_splits if is_test_split(s)), key=lambda s: (s != "test", s))
        self.test_splits = names
        self.test_sets = [H5OperatorDataset(self.eval_path, s, [input_field], [output_field]) for s in names]

    @override
    def setup(self, stage: str) -> None:
        self.check_values(stage)

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return tuple(self.train_set.spatial_shape)

    @property
    def test_tags(self) -> list[str]:
        """Metric suffix of each test loader: its resolution, unique per loader."""
        tags = [resolution_tag(ds.spatial_shape) for ds in self.test_sets]
        return [t if tags.count(t) == 1 else f"{t}_{s}" for t, s in zip(tags, self.test_splits)]


__all__ = ["GenerativeDataModule"]
