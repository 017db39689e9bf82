"""Checkpoint check of benchmarks/dgno_forward.py (it fails before any data is generated or model trained)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks import dgno_forward


@pytest.mark.parametrize(("argv", "saved", "message"), [
    (["--seed", "1"], ["dgno_piecewise.ckpt"], "{ckpt}/dgno_piecewise.ckpt exists; pass --overwrite to retrain it, "
                                               "another --save-ckpt folder, or move it away"),
    (["--quick"], ["dgno_piecewise_quick.ckpt", "dgno_smooth_quick.ckpt", "dgno_smooth.ckpt"],
     "{ckpt}/dgno_piecewise_quick.ckpt, {ckpt}/dgno_smooth_quick.ckpt exist; pass --overwrite to retrain them, "
     "another --save-ckpt folder, or move them away"),
])
def test_a_saved_dgno_is_kept_unless_overwrite(argv: list[str], saved: list[str], message: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    for name in saved:
        (tmp_path / name).write_bytes(b"trained")
    with pytest.raises(SystemExit) as exit_info:
        dgno_forward.parse_args([*argv, "--save-ckpt", str(tmp_path)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message.format(ckpt=tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(saved)
    assert all((tmp_path / name).read_bytes() == b"trained" for name in saved)


@pytest.mark.parametrize("argv", [["--overwrite"], ["--models", "fno,multionet"], ["--problems", "smooth"]])
def test_overwrite_or_no_dgno_of_a_saved_problem_passes(argv: list[str], tmp_path: Path) -> None:
    (tmp_path / "dgno_piecewise.ckpt").write_bytes(b"trained")
    args = dgno_forward.parse_args([*argv, "--save-ckpt", str(tmp_path)])
    assert args.save_ckpt == tmp_path


def _half_written(path: str | Path, *args: object, **kwargs: object) -> None:
    """A checkpoint write that fails half-way (a full disk, a kill): some bytes at ``path``, then the error."""
    Path(path).write_bytes(b"half a checkpoint")
    raise OSError("No space left on device")


def test_a_crash_while_a_dgno_is_saved_leaves_no_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """trainer.save_checkpoint wrote straight to dgno_<problem>.ckpt: a crash or kill while it wrote left a truncated
    checkpoint, which the next run refused to replace ("exists; pass --overwrite") and `neurops invert` could not
    load. Now it is written to a temporary file and renamed: nothing is left at its name."""
    trainer = SimpleNamespace(save_checkpoint=_half_written)
    monkeypatch.setattr(dgno_forward, "data_files", lambda *args: (tmp_path / "c.h5", tmp_path / "l.h5", (5.0, 10.0)))
    monkeypatch.setattr(dgno_forward, "GenerativeDataModule", lambda *args, **kwargs: None)
    fitted = {"task": SimpleNamespace(trainer=trainer)}
    monkeypatch.setattr(dgno_forward, "fit_and_test", lambda *args, **kwargs: fitted)
    folder = tmp_path / "ckpt"
    with pytest.raises(OSError, match="No space left on device"):
        dgno_forward.main(["--models", "dgno", "--problems", "smooth", "--save-ckpt", str(folder), "--results-dir",
                           str(tmp_path / "results")])
    assert list(folder.iterdir()) == [] and not (tmp_path / "results").exists()
