"""Argument checks of benchmarks/dsr_ecg.py (they fail before any data is read or run folder made)."""

from __future__ import annotations

import pytest

from benchmarks import dsr_ecg


@pytest.mark.parametrize(("argv", "message"), [
    (["--alpha", "1.5"], "--alpha must lie in [0, 1] (the paper's ECG: 0.3), got 1.5"),
    (["--alpha", "-0.1"], "--alpha must lie in [0, 1] (the paper's ECG: 0.3), got -0.1"),
    (["--lambda-obs=-1e-7"], "--lambda-latent and --lambda-obs must be >= 0, got 0 and -1e-07"),
    (["--input-noise=-0.1"], "--input-noise must be a finite number >= 0 (the paper's ECG: 0), got -0.1"),
    (["--input-noise", "nan"], "--input-noise must be a finite number >= 0 (the paper's ECG: 0), got nan"),
    (["--hidden-dim", "0"], "--hidden-dim must be >= 1 (the paper's ECG: 250), got 0"),
    (["--latent-dim", "4"], "--latent-dim must be >= 5, the ECG's dimension (the paper's: 5), got 4"),
    (["--observation", "linear"],
     "argument --observation: invalid choice: 'linear' (choose from 'affine', 'identity')"),
])
def test_bad_settings_are_one_error_line(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        dsr_ecg.main([*argv, "--data-dir", str(tmp_path / "absent")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].endswith(message)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("steps", "words"), [
    (250_000, "the paper's budget (5000 epochs x 50 batches)"),
    (60_000, "24 % of the paper's 5000 epochs x 50 batches"),
    (500_000, "2x the paper's 5000 epochs x 50 batches"),
])
def test_notes_compare_the_budget_with_the_papers(steps, words):
    assert dsr_ecg._paper_budget(steps) == words
