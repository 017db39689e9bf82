"""Argument checks of benchmarks/dsr_lorenz63.py (they fail before any data is read or run folder made)."""

from __future__ import annotations

import pytest

from benchmarks import dsr_lorenz63


@pytest.mark.parametrize(("argv", "message"), [
    (["--alpha-end", "1.5"], "--alpha-end must lie in (0, 1] and --alpha be > 0 (the forcing decays geometrically "
                             "from one to the other), got 1.5 and 0.1"),
    (["--methods", "bptt,stf", "--alpha-end", "0.03"],
     "--alpha-end anneals the fixed alpha of the GTF methods (gtf); --methods bptt,stf has none"),
    (["--methods", "gtf,lstm"], "unknown methods ['lstm']; choose from ['agtf', 'bptt', 'gtf', 'stf']"),
    ([], "lorenz63_noise0.05_train.npy, lorenz63_test.npy not found in {absent}; pass --data-dir with the folder of "
         "the shared reference series (../shared/data/dsr)"),
])
def test_bad_settings_are_one_error_line(argv, message, one_error_line):
    one_error_line(dsr_lorenz63.main, argv, message)
