"""benchmarks/dsr_common.train: a run folder holding a trained run is deleted only when asked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from neurops.errors import OutputExistsError


def _steps(ckpt: Path) -> int:
    return int(torch.load(ckpt, map_location="cpu", weights_only=False)["global_step"])


def test_a_trained_run_is_kept_resumed_or_replaced_only_when_asked(tmp_path: Path,
                                                                  cycle_run: Callable[..., Path]) -> None:
    run = tmp_path / "work" / "runs" / "cycle"
    (run / "checkpoints").mkdir(parents=True)
    (run / "stale.txt").write_text("from a start that crashed before its first checkpoint")
    assert cycle_run(None, epochs=1) == run  # a folder without checkpoints is cleared
    last = run / "checkpoints" / "last.ckpt"
    assert not (run / "stale.txt").exists() and _steps(last) == 2
    trained = last.read_bytes()
    with pytest.raises(OutputExistsError, match=f"^{run} holds a trained run \\(checkpoints/last.ckpt\\); pass "
                                                "resume=True to continue it, overwrite=True to train it anew "
                                                "\\(deleting it\\), or move it away.$"):
        cycle_run(None, epochs=1)
    assert last.read_bytes() == trained
    (run / "mine.txt").write_text("kept by a resume, deleted with the run by an overwrite")
    cycle_run(None, epochs=1, resume=True)  # continues the run (here: already at its end)
    assert (run / "mine.txt").exists() and _steps(last) == 2
    cycle_run(None, epochs=2, overwrite=True)  # trained anew, 2 batches per epoch
    assert not (run / "mine.txt").exists() and _steps(last) == 4
