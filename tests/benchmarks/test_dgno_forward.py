"""Checkpoint check of benchmarks/dgno_forward.py (it fails before any data is generated or model trained)."""

from __future__ import annotations

from pathlib import Path

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
