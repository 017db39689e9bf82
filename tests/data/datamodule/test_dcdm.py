"""Tests of DCDMDataModule (neurops/data/datamodule/dcdm.py)."""

import numpy as np
import pytest
import torch

from neurops.errors import DataError


def test_dcdm_right_hand_sides_are_unit_combinations_of_ritz_vectors_drawn_per_matrix(tmp_path):
    from neurops.data.datamodule import DCDMDataModule
    from neurops.data.metadata import DatasetMeta
    from neurops.data.writer import H5Writer
    from neurops.solvers.learned.dcdm import ritz_vectors
    from neurops.solvers.linear.diffusion import DiffusionOperator

    x = np.linspace(0, 1, 9)
    a = np.where(np.random.default_rng(0).random((3, 9, 9)) > 0.5, 12.0, 3.0)
    with H5Writer(tmp_path / "coef.h5", DatasetMeta(kind="input_only", name="coef", dims=("x", "y"))) as w:
        w.add_split("train", coords={"x": x, "y": x}, inputs={"a": a})
    dm = DCDMDataModule(tmp_path / "coef.h5", n_matrices=2, num_ritz=12, num_rhs=30, batch_size=4, steps_per_epoch=5,
                        seed=1)
    dm.setup("fit")
    assert dm.dim == 2 and dm.operator.batch_size == 2 and dm.ritz_count == 24
    for k, pool in enumerate(dm.pools):
        assert pool.shape == (30, 7, 7)
        torch.testing.assert_close(pool.flatten(1).norm(dim=1), torch.ones(30, dtype=torch.float64))
        # every right-hand side lies in the span of the matrix's Ritz vectors
        _, vectors = ritz_vectors(DiffusionOperator.from_coefficient(torch.as_tensor(a[k:k + 1])).select(0), 12,
                                  seed=1 + 7 * k)
        basis = vectors.flatten(1)
        projected = pool.flatten(1) @ basis.T @ basis
        torch.testing.assert_close(projected, pool.flatten(1), rtol=0, atol=1e-10)
    loader = dm.train_dataloader()
    first = [(b["matrix"].tolist(), b["b"].shape) for b in loader]
    assert first == [([k % 2] * 4, (4, 7, 7)) for k in range(5)]
    state, second = dm.state_dict(), [b["b"] for b in loader]
    resumed = DCDMDataModule(tmp_path / "coef.h5", n_matrices=2, num_ritz=12, num_rhs=30, batch_size=4,
                             steps_per_epoch=5, seed=1)
    resumed.load_state_dict(state)
    for got, expected in zip((b["b"] for b in resumed.train_dataloader()), second):
        assert torch.equal(got, expected)  # the draws continue where the checkpoint left them
    assert [b["matrix"][0].item() for b in resumed.train_dataloader()][:2] == [0, 1]
    with pytest.raises(DataError, match="positive"):
        DCDMDataModule(torch.zeros(1, 5, 5))
    with pytest.raises(DataError, match="no input field"):
        DCDMDataModule(tmp_path / "coef.h5", field="k")


def test_the_seed_is_checked_and_a_numpy_seed_is_the_int():
    from neurops.data.datamodule import DCDMDataModule
    from neurops.errors import ConfigError

    a = torch.full((1, 5, 5), 2.0, dtype=torch.float64)
    for bad in (-1, 2**32):
        with pytest.raises(ConfigError) as err:
            DCDMDataModule(a, num_ritz=4, num_rhs=4, batch_size=2, steps_per_epoch=1, seed=bad)
        assert str(err.value) == (f"seed must be an integer between 0 and 2**32 - 1 (4294967295), got {bad}; give e.g. "
                                  "--data.seed 0 (it seeds the Ritz vectors and draws; null: the run's seed).")
    dm = DCDMDataModule(a, num_ritz=4, num_rhs=4, batch_size=2, steps_per_epoch=1, seed=np.int64(5))
    assert type(dm.seed) is int and dm.seed == 5
