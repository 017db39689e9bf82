"""Bad input to the checkpoint-criterion study gives one error line, before any work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.dsr_checkpoint_criteria import main


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(lines) == 1
    return lines[0]


def test_bad_input_names_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    test = tmp_path / "test.npy"
    np.save(test, np.zeros((10, 3)))
    run = tmp_path / "run"
    run.mkdir()
    assert "no benchmark.yaml" in _error(["--run", str(run), "--test", str(test)], capsys)
    (run / "benchmark.yaml").write_text("data: {}\n")
    assert "holds no snapshots; train the run with --snapshots" in _error(["--run", str(run), "--test", str(test)],
                                                                          capsys)
    (run / "snapshots").mkdir()
    (run / "snapshots" / "epoch00009.ckpt").write_bytes(b"")
    assert "no test series at" in _error(["--run", str(run), "--test", str(tmp_path / "missing.npy")], capsys)
    assert "--every and --group must be >= 1" in _error(["--run", str(run), "--test", str(test), "--every", "0"],
                                                        capsys)
