"""Tests of an ensemble's seeds and members (neurops/tasks/members.py): one clear error per unusable ``seeds``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neurops.checkpoints import load
from neurops.cli import main
from neurops.errors import ConfigError
from neurops.tasks.dynamics import DynamicsTask
from neurops.tasks.members import check_seeds

NOTE = " (one seed per ensemble member, each as --seed_everything takes it)."
RANGE = "must be an integer between 0 and 2**32 - 1 (4294967295)"
REPEAT = ("members with the same seed would be the same model trained twice; give each member its own seed, e.g. "
          "--model.seeds")
SMALL = {"model": "clipped_shplrnn", "model_kwargs": {"obs_dim": 3, "latent_dim": 3, "hidden_dim": 8}}


@pytest.mark.parametrize(("seeds", "message"), [
    ([0, 0], f"seeds [0, 0] repeat seed 0 (members 0 and 1): {REPEAT} '[0, 1]'."),
    # equal as integers: a NumPy seed repeats the Python int of the same value
    ([np.int64(2), 2], f"seeds [2, 2] repeat seed 2 (members 0 and 1): {REPEAT} '[2, 0]'."),
    ([3, 3, 3, 1, 1], f"seeds [3, 3, 3, 1, 1] repeat seeds 3 (members 0, 1 and 2) and 1 (members 3 and 4): {REPEAT} "
                      "'[3, 0, 2, 1, 4]'."),
    ([], "seeds is empty: an ensemble has one seed per member; give e.g. --model.seeds '[0, 1, 2]', or no seeds "
         "(null) for one model."),
    ([0, -1], f"seeds[1] {RANGE}, got -1; give e.g. --model.seeds '[0, 1]'{NOTE}"),
    ([True, 2], f"seeds[0] {RANGE}, got True; give e.g. --model.seeds '[0, 2]'{NOTE}"),
    ([5, np.bool_(False)], f"seeds[1] {RANGE}, got {np.bool_(False)!r}; give e.g. --model.seeds '[5, 0]'{NOTE}"),
    # torch's generators read 32 bits of a seed: 2**32 would initialise the member of seed 0
    ([2**32, 0], f"seeds[0] {RANGE}, got 4294967296; give e.g. --model.seeds '[1, 0]'{NOTE}"),
    ([np.int64(-1)], f"seeds[0] {RANGE}, got np.int64(-1); give e.g. --model.seeds '[0]'{NOTE}"),
    ([1.5], f"seeds[0] {RANGE}, got 1.5; give e.g. --model.seeds '[0]'{NOTE}"),
    ([0, "1"], f"seeds[1] {RANGE}, got '1'; give e.g. --model.seeds '[0, 1]'{NOTE}"),
    ("012", "seeds must be a list of integers, one seed per ensemble member, got '012'; give e.g. --model.seeds "
            "'[0, 1, 2]', or no seeds (null) for one model."),
    (3, "seeds must be a list of integers, one seed per ensemble member, got 3; give e.g. --model.seeds '[0, 1, 2]', "
        "or no seeds (null) for one model."),
])
def test_unusable_seeds_are_one_error_naming_the_seed_and_the_fix(seeds: object, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        check_seeds(seeds)
    assert str(err.value) == message
    with pytest.raises(ConfigError) as err:  # the task checks them before it builds anything
        DynamicsTask(**SMALL, seeds=seeds)
    assert str(err.value) == message


def test_seeds_are_python_ints() -> None:
    assert check_seeds(None) is None
    for seeds in ([np.int64(3), np.uint32(5), 7], np.array([3, 5, 7]), (3, 5, 7), range(3, 9, 2)):
        checked = check_seeds(seeds)
        assert checked == [3, 5, 7] and all(type(s) is int for s in checked)
    assert check_seeds([0, 2**32 - 1]) == [0, 2**32 - 1]


def test_numpy_seeds_give_the_model_of_the_equal_python_ints(tmp_path: Path) -> None:
    ints = DynamicsTask(**SMALL, seeds=[3, 5])
    for seeds in ([np.int64(3), np.int64(5)], np.array([3, 5], dtype=np.uint32)):
        task = DynamicsTask(**SMALL, seeds=seeds)
        assert task.hparams.seeds == [3, 5] and all(type(s) is int for s in task.hparams.seeds)
        assert task.net.member_seeds == [3, 5] and task.members == 2
        assert task.state_dict().keys() == ints.state_dict().keys()
        for name, value in ints.state_dict().items():
            assert torch.equal(task.state_dict()[name], value), name
    # the hyperparameters hold the checked ints: the checkpoint loads with weights_only (a NumPy integer would not)
    checkpoint = {"state_dict": task.state_dict(), "hyper_parameters": dict(task.hparams)}
    task.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, tmp_path / "numpy_seeds.ckpt")
    kind, loaded = load(tmp_path / "numpy_seeds.ckpt")
    assert kind == "dynamics" and loaded.hparams.seeds == [3, 5]
    for a, b in zip(loaded.member_models("final"), ints.member_models("final")):
        for p, q in zip(a.parameters(), b.parameters()):
            assert torch.equal(p, q)


@pytest.mark.parametrize(("seeds", "line"), [
    ("[0, 0]", f"seeds [0, 0] repeat seed 0 (members 0 and 1): {REPEAT} '[0, 1]'."),
    ("[0, -1]", f"seeds[1] {RANGE}, got -1; give e.g. --model.seeds '[0, 1]'{NOTE}"),
    ("[]", "seeds is empty: an ensemble has one seed per member; give e.g. --model.seeds '[0, 1, 2]', or no seeds "
           "(null) for one model."),
    # refused by the option's type (list[int] or null) before the task sees it
    ("[true, 2]", "neurops fit: argument --model.seeds: invalid list[int] or null value: '[True, 2]'; see `neurops "
                  "fit --help`."),
])
def test_the_command_line_gives_one_error_line(seeds: str, line: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--config", "dsr_lorenz63", "--model.seeds", seeds]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"neurops: error: {line}"]
    assert not list(tmp_path.iterdir())  # no run folder, nothing written
