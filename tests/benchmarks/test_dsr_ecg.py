"""Argument checks of benchmarks/dsr_ecg.py (they fail before any data is read or run folder made or deleted)."""

from __future__ import annotations

import argparse

import pytest

from benchmarks import dsr_ecg


@pytest.mark.parametrize(("argv", "message"), [
    (["--alpha", "1.5"], "--alpha must lie in [0, 1] (the paper's ECG: 0.3), got 1.5"),
    (["--alpha", "-0.1"], "--alpha must lie in [0, 1] (the paper's ECG: 0.3), got -0.1"),
    (["--alpha-end", "0"], "--alpha-end must lie in (0, 1] and --alpha be > 0 (the forcing decays geometrically "
                           "from one to the other), got 0 and 0.3"),
    (["--alpha", "0", "--alpha-end", "0.1"], "got 0.1 and 0"),
    (["--methods", "agtf", "--alpha-end", "0.1"],
     "--alpha-end anneals the fixed alpha of the GTF methods (gtf, alrnn_gtf); --methods agtf has none"),
    (["--lambda-obs=-1e-7"], "--lambda-latent and --lambda-obs must be >= 0, got 0 and -1e-07"),
    (["--input-noise=-0.1"], "--input-noise must be a finite number >= 0 (the paper's ECG: 0), got -0.1"),
    (["--input-noise", "nan"], "--input-noise must be a finite number >= 0 (the paper's ECG: 0), got nan"),
    (["--hidden-dim", "0"], "--hidden-dim must be >= 1 (the paper's ECG: 250), got 0"),
    (["--latent-dim", "4"], "--latent-dim must be >= 5, the ECG's dimension (the paper's: 5), got 4"),
    (["--observation", "linear"],
     "argument --observation: invalid choice: 'linear' (choose from 'affine', 'identity')"),
    (["--n-relu", "101"], "--n-relu must lie in [0, M = 100] and --tau be >= 1 (the AL-RNN paper's ECG: 2 and 10), "
                          "got 101 and 10"),
    (["--latent-dim", "20", "--n-relu", "21"], "must lie in [0, M = 20] and --tau be >= 1 (the AL-RNN paper's ECG: "
                                               "2 and 10), got 21 and 10"),
    (["--tau", "0"], "(the AL-RNN paper's ECG: 2 and 10), got 2 and 0"),
    (["--methods", "gtf,lstm"], "unknown methods ['lstm']; choose from ['agtf', 'alrnn', 'alrnn_gtf', 'gtf']"),
    ([], "ecg_5d_train.npy, ecg_5d_test.npy not found in {absent}; pass --data-dir with the folder of the shared "
         "reference series (../shared/data/dsr)"),
])
def test_bad_settings_are_one_error_line(argv, message, one_error_line):
    one_error_line(dsr_ecg.main, argv, message)


@pytest.mark.parametrize(("steps", "words"), [
    (250_000, "the paper's budget (5000 epochs x 50 batches)"),
    (60_000, "24 % of the paper's 5000 epochs x 50 batches"),
    (500_000, "2x the paper's 5000 epochs x 50 batches"),
])
def test_notes_compare_the_budget_with_the_papers(steps, words):
    assert dsr_ecg._paper_budget(steps) == words


def test_the_alrnn_papers_budget_is_its_own():
    assert dsr_ecg._paper_budget(200_000, dsr_ecg.ALRNN_PAPER_STEPS) == "the paper's budget (4000 epochs x 50 batches)"
    assert dsr_ecg._paper_budget(50_000, dsr_ecg.ALRNN_PAPER_STEPS) == "25 % of the paper's 4000 epochs x 50 batches"


def test_a_flag_given_overrides_the_methods_default():
    args = argparse.Namespace(lr=None, lr_end=1e-6, seq_len=None, batch_size=None, input_noise=0.0, latent_dim=None,
                              observation=None)
    gtf, alrnn = dsr_ecg._resolved(args, dsr_ecg.GTF_DEFAULTS), dsr_ecg._resolved(args, dsr_ecg.ALRNN_DEFAULTS)
    assert (gtf["lr"], gtf["lr_end"], gtf["seq_len"], gtf["input_noise"]) == (5e-3, 1e-6, 100, 0.0)
    assert (alrnn["lr"], alrnn["lr_end"], alrnn["seq_len"], alrnn["input_noise"]) == (2e-3, 1e-6, 50, 0.0)
    assert (alrnn["latent_dim"], alrnn["observation"]) == (100, "identity")


NOT_FOUND = ("ecg_5d_train.npy, ecg_5d_test.npy not found in {absent}; pass --data-dir with the folder of the shared "
             "reference series (../shared/data/dsr)")


@pytest.mark.parametrize(("argv", "trained", "message"), [
    (["--methods", "gtf"], ["ecg_0"], "{runs}/ecg_0 holds a trained run (checkpoints/last.ckpt); pass --resume to "
                                      "continue it, --overwrite to train it anew (deleting it), or move it away"),
    # the 5-seed ensembles of both GTF methods; an AL-RNN run of the same seeds is not one that this command trains
    (["--seeds", "0,1,2,3,4"], ["ecg_0_s0-1-2-3-4", "ecg_1_s0-1-2-3-4", "ecg_alrnn_s0-1-2-3-4"],
     "{runs}/ecg_0_s0-1-2-3-4, {runs}/ecg_1_s0-1-2-3-4 hold trained runs (checkpoints/last.ckpt); pass --resume to "
     "continue them, --overwrite to train them anew (deleting them), or move them away"),
    # the run folders are named by method position and seeds, not by --name: a smoke run would land in ecg_0
    (["--methods", "agtf", "--epochs", "2", "--name", "smoke"], ["ecg_0"],
     "{runs}/ecg_0 holds a trained run (checkpoints/last.ckpt); pass --resume to continue it, --overwrite to train it "
     "anew (deleting it), or move it away"),
    (["--methods", "alrnn,gtf"], ["ecg_alrnn", "ecg_1"],
     "{runs}/ecg_alrnn, {runs}/ecg_1 hold trained runs (checkpoints/last.ckpt); pass --resume to continue them, "
     "--overwrite to train them anew (deleting them), or move them away"),
    (["--resume", "--overwrite"], ["ecg_0"],
     "--resume continues the trained runs and --overwrite deletes them to train anew; pass one"),
    # what lets the command past the run folders: it then stops at the missing data, before any work
    (["--overwrite"], ["ecg_0", "ecg_1"], NOT_FOUND),
    (["--resume"], ["ecg_0", "ecg_1"], NOT_FOUND),
    (["--methods", "gtf,agtf", "--seeds", "0,1"], ["ecg_0", "ecg_1_s0-1-2-3-4"], NOT_FOUND),
])
def test_a_trained_run_is_kept_unless_resumed_or_overwritten(argv, trained, message, run_folder, one_error_line):
    folders = [run_folder(name) for name in trained]
    one_error_line(dsr_ecg.main, argv, message)
    assert all((f / "checkpoints" / "last.ckpt").read_bytes() == b"trained" for f in folders)


def test_a_run_folder_without_checkpoints_is_no_trained_run(run_folder, one_error_line):
    run_folder("ecg_0", trained=False)  # a start that crashed before its first checkpoint
    one_error_line(dsr_ecg.main, ["--methods", "gtf"], NOT_FOUND)


def test_the_run_names_are_those_of_the_documented_runs():
    assert [dsr_ecg.run_name(key, i, [0]) for i, key in enumerate(["gtf", "agtf", "alrnn"])] == \
        ["ecg_0", "ecg_1", "ecg_alrnn"]
    assert dsr_ecg.run_name("gtf", 0, [0, 1, 2, 3, 4]) == "ecg_0_s0-1-2-3-4"
    assert dsr_ecg.run_name("alrnn_gtf", 3, [0, 1]) == "ecg_alrnn_gtf_s0-1"
