"""The ``neurops`` entry point: lazy imports, and command-line mistakes as one error line."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from neurops.cli import COMMANDS, EXIT_BROKEN_PIPE, command, main
from neurops.cli.builder import parse, parser_for


def test_help_imports_neither_torch_nor_lightning():
    code = ("import sys\nfrom neurops.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'lightning', 'h5py', 'numpy') if m in sys.modules))")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    seconds = time.perf_counter() - t0
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert all(name in out.stdout for name in COMMANDS)
    # measured 0.2-0.3 s on the busy 2-core machine (the eager version: 4-7 s idle, 45 s busy); a generous bound
    assert seconds < 5.0, f"`neurops --help` took {seconds:.1f} s"


def test_options_come_from_the_signature_of_the_function_called():
    predict = command("predict")
    values = parse(parser_for(predict, "neurops predict"), ["--ckpt", "a.ckpt", "--data", "d.h5", "--out", "p.h5"],
                   "neurops predict")
    assert values["batch_size"] == 16 and callable(predict.run)


@pytest.mark.parametrize("argv, expected", [
    (["data", "merge", "a.h5", "--out", "b.h5", "--cpy"], "unrecognized option --cpy; did you mean --copy?"),
    (["data", "generate", "darcy", "--n-trian", "4", "--out", "d.h5"], "did you mean --n-train?"),
    (["predict", "--ckpt", "a", "--data", "b", "--out", "c", "--zzz"],
     "unrecognized option --zzz. See `neurops predict --help`."),
    (["data", "info"], "the following arguments are required: file"),
    (["dat"], "invalid choice: 'dat'"),
    (["predict", "--ckpt", "a", "--data", "b", "--out", "c", "--batch-size", "x"], "invalid int value: 'x'"),
])
def test_command_line_mistakes_are_one_line(argv, expected, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("neurops: error: ") and expected in err, err



FIT = ["fit", "--config", "darcy_fno"]


@pytest.mark.parametrize("argv, expected", [
    # a value of the wrong type
    (["predict", "--ckpt", "a", "--data", "b", "--out", "c", "--batch-size", "x"],
     "neurops predict: argument --batch-size: invalid int value: 'x'; see `neurops predict --help`."),
    ([*FIT, "--data.init_args.batch_size", "x"],
     "neurops fit: argument --data.batch_size: invalid int value: 'x'; see `neurops fit --help`."),
    ([*FIT, "--trainer.max_epochs", "x"],
     "neurops fit: argument --trainer.max_epochs: invalid int or null value: 'x'; see `neurops fit --help`."),
    # an unknown option, with the closest one
    (["data", "merge", "a.h5", "--out", "b.h5", "--cpy"],
     "neurops data merge: unrecognized option --cpy; did you mean --copy? See `neurops data merge --help`."),
    ([*FIT, "--trainer.max_epocs", "2"],
     "neurops fit: unrecognized option --trainer.max_epocs; did you mean --trainer.max_epochs? See `neurops fit "
     "--help`."),
    # a value that is not one of the choices
    (["data", "generate", "darcy", "--coefficient", "checker", "--out", "d.h5"],
     "neurops data generate darcy: argument --coefficient: invalid choice: 'checker' (choose from 'piecewise', "
     "'lognormal'); see `neurops data generate darcy --help`."),
    ([*FIT, "--trainer.precision", "checker"],
     "neurops fit: argument --trainer.precision: invalid choice: 'checker' (choose from 64, 32, 16, "),
])
def test_builder_and_lightning_commands_word_the_same_mistake_alike(argv, expected, capsys):
    """One wording path (``builder.one_line``) for the jsonargparse errors of both kinds of command."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"neurops: error: {expected}") and err.count("\n") == 1, err


@pytest.mark.parametrize("args", [["--help"], ["data", "info", "{file}"]])
def test_a_closed_stdout_pipe_ends_the_command_quietly(args, operator_file):
    """`neurops data info FILE | head`: the reader is gone before the output is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # writing now fails with EPIPE, as after `head` has exited
    try:
        argv = [a.format(file=operator_file) for a in args]
        script = "import sys\nfrom neurops.cli import main\nsys.exit(main())"  # as the console script does
        proc = subprocess.run([sys.executable, "-c", script, *argv], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert proc.stderr == ""  # no BrokenPipeError traceback, no "Exception ignored" line
    assert proc.returncode == EXIT_BROKEN_PIPE == 141


def test_an_error_after_a_progress_bar_starts_its_own_line(tmp_path, capsys, monkeypatch):
    """A command that fails while its progress bar is drawn (here: NaN outputs found while converting) closes the
    bar first, so that `neurops: error: ...` is a line of its own, not glued to the bar (on a terminal: into a log
    the data commands print lines, no bar)."""
    import numpy as np

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)

    np.save(tmp_path / "a.npy", np.ones((4, 6, 6), np.float32))
    np.save(tmp_path / "u.npy", np.full((4, 6, 6), np.nan, np.float32))
    status = main(["data", "convert", "arrays", str(tmp_path / "a.npy"), "--outputs", str(tmp_path / "u.npy"),
                   "--out", str(tmp_path / "d.h5"), "--progress"])
    err = capsys.readouterr().err
    assert status == 2 and "convert a" in err  # the bar was drawn
    errors = [line for line in err.splitlines() if "neurops: error:" in line]
    named = "NaN or Inf values in samples [0, 1, 2, 3] of the source (counted from 0), read into train/outputs/u"
    assert len(errors) == 1 and errors[0].startswith("neurops: error: ") and named in errors[0], err
    assert not (tmp_path / "d.h5").exists()


def test_a_note_is_one_line_and_printed_once_under_ddp(monkeypatch, capsys):
    """Every `neurops: note:` line goes through cli.note; a DDP process other than rank zero prints none (the
    checkpoint-settings note of `neurops fit` used to be printed by every process)."""
    import neurops.cli as cli

    monkeypatch.setattr(cli, "_global_rank", lambda: 0)
    cli.note("the checkpoint's settings are used")
    assert capsys.readouterr().err == "neurops: note: the checkpoint's settings are used\n"
    monkeypatch.setattr(cli, "_global_rank", lambda: 1)
    cli.note("the checkpoint's settings are used")
    assert capsys.readouterr().err == ""
