"""The Darcy generator: nesting of resolutions, config errors, a real file, worker independence."""

from __future__ import annotations

import multiprocessing
import threading
import time

import numpy as np
import pytest

from neurops.data.check import check_file
from neurops.data.generators import get_generator
from neurops.data.generators.darcy import DarcyConfig, darcy_sample, fine_resolution_for, generate_darcy
from neurops.data.reader import list_splits, read_attrs, read_split
from neurops.errors import ConfigError, SolverError
from neurops.solvers.pde.diffusion_fd import diffusion_matrix, interior
from tests.conftest import recipe_configs


@pytest.mark.parametrize(
    ("resolutions", "kwargs", "fine"),
    [
        ((85, 141, 211), {}, 421),  # FNO's family
        ((29,), {}, 29),
        ((33, 65), {}, 65),
        ((33, 65), {"fine_factor": 2}, 129),
        ((85,), {"fine_resolution": 421}, 421),
        ((17, 33, 65), {"fine_resolution": 257}, 257),
    ],
)
def test_fine_resolution_for(resolutions, kwargs, fine):
    assert fine_resolution_for(resolutions, **kwargs) == fine


def test_resolutions_that_cannot_nest_suggest_valid_ones():
    with pytest.raises(ConfigError, match=r"\[65, 129\]"):
        fine_resolution_for([64, 128])
    with pytest.raises(ConfigError, match=r"Valid resolutions for this fine grid: \[3, 5, 9, 17, 33\]"):
        fine_resolution_for([65], fine_resolution=33)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"coefficient": "checkerboard"}, "coefficient"),
        ({"n_train": 0}, "n_train must be >= 1"),
        ({"resolution": 64, "test_resolutions": (128,)}, "cannot be subsampled"),
        ({"resolution": 65, "fine_resolution": 100}, "not subsamples"),
        ({"n_test": 0, "test_resolutions": (129,)}, "n_test is 0"),
        ({"face_mean": "geometric"}, "face_mean"),
        ({"a_low": 0.0}, "a_high and a_low"),
        ({"resolution": 2}, ">= 3 nodes"),
        ({"forcing": 0.0}, "with f = 0 the pressure u is 0"),
        ({"forcing": float("nan")}, "forcing must be a finite number"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        DarcyConfig(**kwargs)


def test_registered_and_unknown_options_are_named():
    spec = get_generator("darcy")
    assert spec.config_cls is DarcyConfig and spec.fn is generate_darcy
    with pytest.raises(ConfigError, match="n_trian"):
        spec.make_config(n_trian=3)


SMALL = {"n_train": 5, "n_val": 2, "n_test": 3, "resolution": 9, "test_resolutions": (17,), "seed": 3}


def test_writes_a_valid_file_that_reads_back(tmp_path):
    config = DarcyConfig(**SMALL)
    path = generate_darcy(config, tmp_path / "darcy.h5", workers=1, progress=False)
    assert check_file(path) == []
    assert sorted(list_splits(path)) == ["test", "test@17", "train", "val"]
    attrs = read_attrs(path)
    assert attrs["kind"] == "operator" and attrs["seed"] == 3
    assert attrs["boundary"] == {"x": "dirichlet", "y": "dirichlet"}
    assert attrs["generator"]["resolution"] == 9 and attrs["generator"]["test_resolutions"] == [17]
    assert attrs["parameters"]["a_high"] == 12.0 and attrs["parameters"]["fine_resolution"] == 17
    stored = {k: v for k, v in attrs["generator"].items() if k != "name"}
    assert attrs["generator"]["name"] == "darcy" and DarcyConfig(**stored) == config  # enough to regenerate

    train, test, fine = read_split(path, "train"), read_split(path, "test"), read_split(path, "test@17")
    assert train["inputs"]["a"].shape == (5, 9, 9) and train["outputs"]["u"].shape == (5, 9, 9)
    assert train["inputs"]["a"].dtype == np.float32
    np.testing.assert_allclose(train["coords"]["x"], np.linspace(0, 1, 9))
    assert set(np.unique(train["inputs"]["a"])) <= {3.0, 12.0}
    # the coarse test set is every second node of the fine one: the same samples
    np.testing.assert_array_equal(test["inputs"]["a"], fine["inputs"]["a"][:, ::2, ::2])
    np.testing.assert_array_equal(test["outputs"]["u"], fine["outputs"]["u"][:, ::2, ::2])
    # u solves the discrete problem on the fine grid (float32 storage) and is 0 on the boundary
    a, u = fine["inputs"]["a"][0].astype(float), fine["outputs"]["u"][0].astype(float)
    residual = diffusion_matrix(a) @ interior(u).ravel() - 1.0
    assert np.abs(residual).max() < 1e-4
    assert np.all(u[0] == 0) and np.all(u[:, -1] == 0) and u.max() > 0


def test_same_file_contents_for_one_or_two_workers(tmp_path):
    config = DarcyConfig(**{**SMALL, "n_train": 20})
    p1 = generate_darcy(config, tmp_path / "w1.h5", workers=1, progress=False)
    p2 = generate_darcy(config, tmp_path / "w2.h5", workers=2, progress=False)
    for split in list_splits(p1):
        s1, s2 = read_split(p1, split), read_split(p2, split)
        np.testing.assert_array_equal(s1["inputs"]["a"], s2["inputs"]["a"])
        np.testing.assert_array_equal(s1["outputs"]["u"], s2["outputs"]["u"])


def _big_block(task):
    """A stand-in for a solved block: megabytes, as a 129^2 block of 8 samples is, after a short solve."""
    time.sleep(0.05)
    return [{65: (np.full((1024, 1024), float(task), np.float32), None)}]


def _exit_codes_of_workers(results, read):
    before = set(multiprocessing.active_children())
    out = [next(results) for _ in range(read)]
    workers = set(multiprocessing.active_children()) - before
    results.close()
    for worker in workers:
        worker.join(30)
    return out, sorted(worker.exitcode for worker in workers)


@pytest.mark.parametrize("read", [40, 3])
def test_two_workers_end_on_their_own_when_done_or_stopped_early(monkeypatch, read):
    """The workers of a finished pool, and of one whose caller stopped reading (an error, SIGTERM), exit on their own
    (status 0): the blocks not started are cancelled and those being solved finish. The pool used to end them with
    SIGTERM (status -15) after every run, and multiprocessing.Pool.terminate can hang when a worker is still
    writing a solved block of megabytes into the result pipe (ci84: a SIGTERMed `data generate --workers 2`)."""
    from neurops.data.generators import darcy

    monkeypatch.setattr(darcy, "_work", _big_block)
    results = darcy._results(list(range(40)), workers=2)
    done = threading.Event()
    got: list = []
    worker = threading.Thread(target=lambda: (got.append(_exit_codes_of_workers(results, read)), done.set()))
    worker.start()
    assert done.wait(60), "the pool did not end"
    out, codes = got[0]
    assert [float(block[65][0][0, 0]) for block in out] == list(range(read))  # in task order
    assert codes == [0, 0]


def test_blocks_solved_together_match_single_solves(tmp_path):
    """The generator solves blocks of samples in one batched multigrid call (129^2 is above the
    direct solver's size): each stored solution equals that sample solved on its own."""
    config = DarcyConfig(n_train=10, n_val=0, n_test=0, resolution=129)
    path = generate_darcy(config, tmp_path / "blocks.h5", workers=1, progress=False)
    stored = read_split(path, "train")
    for i in (0, 9):  # first and second block
        a, u = darcy_sample(config, "train", i)
        np.testing.assert_array_equal(stored["inputs"]["a"][i], a.astype(np.float32))
        np.testing.assert_allclose(stored["outputs"]["u"][i], u, rtol=0, atol=1e-6 * np.abs(u).max())


def test_seeds_are_per_sample():
    """Test samples do not depend on n_train; different seeds and indices give different fields."""
    a1, u1 = darcy_sample(DarcyConfig(n_train=5, resolution=17), "test", 2)
    a2, u2 = darcy_sample(DarcyConfig(n_train=50, resolution=17), "test", 2)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(u1, u2)
    a3, _ = darcy_sample(DarcyConfig(n_train=5, resolution=17), "train", 2)
    a4, _ = darcy_sample(DarcyConfig(n_train=5, resolution=17, seed=1), "test", 2)
    assert not np.array_equal(a1, a3) and not np.array_equal(a1, a4)


def test_unlabelled_writes_input_only(tmp_path):
    config = DarcyConfig(n_train=4, n_val=0, n_test=0, resolution=29, a_high=10.0, a_low=5.0, forcing=10.0,
                         unlabelled=True)
    path = generate_darcy(config, tmp_path / "unlabelled.h5", workers=1, progress=False)
    assert read_attrs(path)["kind"] == "input_only"
    assert list_splits(path) == ["train"]
    train = read_split(path, "train")
    assert train["inputs"]["a"].shape == (4, 29, 29) and not train.get("outputs")
    assert set(np.unique(train["inputs"]["a"])) == {5.0, 10.0}
    assert check_file(path) == []


def test_lognormal_coefficient_and_forcing_scale_the_solution():
    """a = exp(GRF) is smooth and positive; u is linear in the constant forcing."""
    base = {"n_train": 1, "resolution": 17, "coefficient": "lognormal"}
    a, u = darcy_sample(DarcyConfig(**base), "train", 0)
    _, u10 = darcy_sample(DarcyConfig(**base, forcing=10.0), "train", 0)
    assert a.min() > 0 and len(np.unique(a)) > 100
    np.testing.assert_allclose(u10, 10 * u, rtol=1e-9, atol=1e-14)


def test_existing_file_is_not_overwritten(tmp_path):
    out = tmp_path / "d.h5"
    out.write_bytes(b"keep")
    with pytest.raises(FileExistsError, match="overwrite"):
        generate_darcy(DarcyConfig(n_train=1, n_test=0, resolution=5), out, workers=1, progress=False)
    assert out.read_bytes() == b"keep"


def test_recipe_files_are_configs_of_the_generate_command():
    """Every recipe file of the dataset card, read by `neurops data generate darcy --config FILE`, is a DarcyConfig."""
    recipes = recipe_configs("darcy")
    assert {"recipe", "recipe_quickstart"} <= set(recipes)
    benchmark, options = recipes["recipe"]
    assert (benchmark.resolution, benchmark.test_resolutions, benchmark.fine_resolution) == (85, (141, 211), 421)
    assert str(options["out"]) == "data/darcy/darcy_piecewise_r85.h5" and options["workers"] == 2
    quickstart, options = recipes["recipe_quickstart"]
    assert quickstart == DarcyConfig(n_train=1000, n_test=100, resolution=33, test_resolutions=(65,), seed=0)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_solve_leaves_no_file(tmp_path, workers):
    """An error in a (worker) solve reaches the caller, and no partial file is left behind."""
    config = DarcyConfig(n_train=4, n_test=0, resolution=9, solver="direct", rtol=1e-19)
    with pytest.raises(SolverError, match="relative residual"):
        generate_darcy(config, tmp_path / "d.h5", workers=workers, progress=False)
    assert list(tmp_path.iterdir()) == []
