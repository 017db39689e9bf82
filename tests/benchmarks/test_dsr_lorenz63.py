"""Argument checks of benchmarks/dsr_lorenz63.py (they fail before any data is read or run folder made or deleted)."""

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


NOT_FOUND = ("lorenz63_noise0.05_train.npy, lorenz63_test.npy not found in {absent}; pass --data-dir with the folder "
             "of the shared reference series (../shared/data/dsr)")


@pytest.mark.parametrize(("argv", "trained", "message"), [
    (["--methods", "gtf", "--epochs", "2"], ["l63_gtf_s0"],
     "{runs}/l63_gtf_s0 holds a trained run (checkpoints/last.ckpt); pass --resume to continue it, --overwrite to "
     "train it anew (deleting it), or move it away"),
    (["--methods", "gtf,stf", "--seeds", "0,1"], ["l63_gtf_s1", "l63_stf_s0", "l63_gtf_s2"],
     "{runs}/l63_gtf_s1, {runs}/l63_stf_s0 hold trained runs (checkpoints/last.ckpt); pass --resume to continue "
     "them, --overwrite to train them anew (deleting them), or move them away"),
    (["--methods", "gtf", "--seeds", "0,1,2,3,4,5,6,7", "--ensemble"], ["l63_gtf_ensemble_s0-1-2-3-4-5-6-7"],
     "{runs}/l63_gtf_ensemble_s0-1-2-3-4-5-6-7 holds a trained run (checkpoints/last.ckpt); pass --resume to "
     "continue it, --overwrite to train it anew (deleting it), or move it away"),
    (["--resume", "--overwrite"], ["l63_gtf_s0"],
     "--resume continues the trained runs and --overwrite deletes them to train anew; pass one"),
    # what lets the command past the run folders: it then stops at the missing data, before any work
    (["--overwrite"], ["l63_gtf_s0", "l63_bptt_s0"], NOT_FOUND),
    (["--resume"], ["l63_gtf_s0", "l63_bptt_s0"], NOT_FOUND),
    (["--evaluate-only"], ["l63_gtf_s0", "l63_bptt_s0"], NOT_FOUND),  # reads the runs, deletes none
    (["--methods", "gtf", "--seeds", "0,1", "--ensemble"], ["l63_gtf_s0", "l63_gtf_s1"], NOT_FOUND),
])
def test_a_trained_run_is_kept_unless_resumed_or_overwritten(argv, trained, message, run_folder, one_error_line):
    folders = [run_folder(name) for name in trained]
    one_error_line(dsr_lorenz63.main, argv, message)
    assert all((f / "checkpoints" / "last.ckpt").read_bytes() == b"trained" for f in folders)


def test_a_run_folder_without_checkpoints_is_no_trained_run(run_folder, one_error_line):
    run_folder("l63_gtf_s0", trained=False)  # a start that crashed before its first checkpoint
    one_error_line(dsr_lorenz63.main, ["--methods", "gtf"], NOT_FOUND)
