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


def _old_streams(a, seed, num_ritz, num_rhs, batch_size, steps):
    """The pools and draws as the module derived them before the seed range was bounded (seed + 7 k, + 1, seed + 2)."""
    from neurops.solvers.learned.dcdm import ritz_right_hand_sides, ritz_vectors
    from neurops.solvers.linear.diffusion import DiffusionOperator

    op = DiffusionOperator.from_coefficient(a)
    pools = []
    for k in range(op.batch_size):
        values, vectors = ritz_vectors(op.select(k), num_ritz, seed=seed + 7 * k)
        pools.append(ritz_right_hand_sides(values, vectors, num_rhs, seed=seed + 7 * k + 1))
    g = torch.Generator().manual_seed(seed + 2)
    draws = [torch.randint(0, num_rhs, (batch_size,), generator=g).tolist() for _ in range(steps)]
    return pools, draws


@pytest.mark.parametrize("seed", [0, 123_456_789, 2**32 - 1 - 8])
def test_usable_seeds_keep_their_streams(seed):
    from neurops.data.datamodule import DCDMDataModule

    a = torch.as_tensor(np.where(np.random.default_rng(3).random((2, 7, 7)) > 0.5, 5.0, 1.0))
    dm = DCDMDataModule(a, num_ritz=5, num_rhs=6, batch_size=3, steps_per_epoch=4, seed=seed)
    dm.setup("fit")
    pools, draws = _old_streams(a, seed, 5, 6, 3, 4)
    for got, expected in zip(dm.pools, pools, strict=True):
        assert torch.equal(got, expected)
    got_draws = [b["b"] for b in dm.train_dataloader()]
    for k, (b, idx) in enumerate(zip(got_draws, draws, strict=True)):
        assert torch.equal(b, pools[k % 2][idx])


@pytest.mark.parametrize(("n", "largest"), [(1, 2**32 - 3), (2, 2**32 - 9), (3, 2**32 - 16)])
def test_seeds_whose_streams_would_pass_2_to_the_32_are_refused_naming_the_largest(n, largest, monkeypatch):
    from neurops.data.datamodule import DCDMDataModule
    from neurops.errors import ConfigError

    a = torch.full((n, 5, 5), 2.0, dtype=torch.float64)
    kw = dict(num_ritz=3, num_rhs=4, batch_size=2, steps_per_epoch=1)
    assert DCDMDataModule(a, seed=largest, **kw).seed == largest
    offset = 2**32 - 1 - largest
    for bad in (largest + 1, 2**32 - 1):
        with pytest.raises(ConfigError) as err:
            DCDMDataModule(a, seed=bad, **kw)
        assert str(err.value) == (
            f"seed {bad} is too large for {n} matri{'ces' if n > 1 else 'x'}: the Ritz vectors, pools and draws are "
            f"seeded with seed + 0 .. seed + {offset}, which must stay below 2**32 (torch reads only a seed's lowest "
            f"32 bits, so they would repeat the streams of seed 0, 1, ...); give a seed between 0 and {largest}, "
            "e.g. --data.seed 0.")
    monkeypatch.setenv("PL_GLOBAL_SEED", str(2**32 - 1))
    with pytest.raises(ConfigError, match=r"^the run's seed \(PL_GLOBAL_SEED, from --seed_everything\) 4294967295 "):
        DCDMDataModule(a, **kw)
