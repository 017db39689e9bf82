"""The wall-time table of benchmarks/dsr_training_speed.py: its fits validate at the cadence asked for."""

from __future__ import annotations

import pytest

from benchmarks import dsr_training_speed

TASK = {"model": "clipped_shplrnn", "model_kwargs": {"latent_dim": 3, "hidden_dim": 8}, "alpha": 0.1}


@pytest.mark.parametrize(("val_every", "validates"), [(1, True), (2, True), (3, False)])
def test_fit_validates_every_val_every_epochs(lorenz63_file, val_every, validates):
    seconds, validating = dsr_training_speed.fit_seconds(lorenz63_file, TASK, [0, 1], epochs=2, batches=2, threads=1,
                                                         val_every=val_every)
    assert seconds > validating >= 0
    assert (validating > 0) is validates  # 2 epochs: validated after epoch 1 and 2, after 2, or never


@pytest.mark.parametrize("flag", ["--fit-val-every", "--fit-epochs", "--fit-batches"])
def test_bad_fit_settings_are_one_error_line(flag, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        dsr_training_speed.main([flag, "0", "--results-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        "--fit-epochs, --fit-batches and --fit-val-every must be >= 1")
    assert not list(tmp_path.iterdir())


@pytest.mark.processes  # forks two DDP processes (~5 s)
def test_a_fit_over_two_processes_counts_rank_zeros_validation(lorenz63_file):
    seconds, validating = dsr_training_speed.fit_seconds(lorenz63_file, TASK, [0, 1, 2], epochs=2, batches=2,
                                                         threads=1, val_every=1, processes=2)
    assert seconds > validating > 0  # the forked rank zero's validation time reached the parent
