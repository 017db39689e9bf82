"""Run-folder checks of benchmarks/dsr_alrnn.py (they fail before any data is generated or run folder deleted)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks import dsr_alrnn


class Trains(Exception):
    """Raised in place of the first system's data generation and training: the command got past its checks."""


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def run_system(*args: object, **kwargs: object) -> list[dict]:
        raise Trains

    monkeypatch.setattr(dsr_alrnn, "run_system", run_system)


@pytest.mark.parametrize(("argv", "trained", "message"), [
    (["--quick"], ["alrnn_lorenz63"],
     "{runs}/alrnn_lorenz63 holds a trained run (checkpoints/last.ckpt); pass --resume to continue it, --overwrite "
     "to train it anew (deleting it), or move it away"),
    (["--seeds", "0,1"], ["alrnn_lorenz63_s0-1", "alrnn_rossler_s0-1", "alrnn_rossler"],
     "{runs}/alrnn_lorenz63_s0-1, {runs}/alrnn_rossler_s0-1 hold trained runs (checkpoints/last.ckpt); pass --resume "
     "to continue them, --overwrite to train them anew (deleting them), or move them away"),
    (["--resume", "--overwrite"], [],
     "--resume continues the trained runs and --overwrite deletes them to train anew; pass one"),
])
def test_a_trained_run_is_one_error_line_and_kept(argv: list[str], trained: list[str], message: str,
                                                  run_folder: Callable[..., Path], work_dir: Path, no_training: None,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    folders = [run_folder(name) for name in trained]
    with pytest.raises(SystemExit) as exit_info:
        dsr_alrnn.main(argv)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message.format(runs=work_dir / "runs"))
    assert all((f / "checkpoints" / "last.ckpt").read_bytes() == b"trained" for f in folders)


@pytest.mark.parametrize(("argv", "trained"), [
    (["--overwrite"], ["alrnn_lorenz63", "alrnn_rossler"]),
    (["--resume"], ["alrnn_lorenz63", "alrnn_rossler"]),
    (["--systems", "rossler"], ["alrnn_lorenz63"]),  # a run this command does not train
])
def test_resume_or_overwrite_or_another_run_pass_the_check(argv: list[str], trained: list[str],
                                                           run_folder: Callable[..., Path], no_training: None) -> None:
    for name in trained:
        run_folder(name)
    with pytest.raises(Trains):
        dsr_alrnn.main(argv)


def test_a_run_folder_without_checkpoints_is_no_trained_run(run_folder: Callable[..., Path],
                                                            no_training: None) -> None:
    run_folder("alrnn_lorenz63", trained=False)  # a start that crashed before its first checkpoint
    with pytest.raises(Trains):
        dsr_alrnn.main(["--systems", "lorenz63"])
