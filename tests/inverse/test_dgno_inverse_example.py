"""``docs/examples/dgno_inverse.py``: wrong arguments are one argparse line, before anything is written."""

import runpy
import sys
from pathlib import Path

import pytest

from neurops.data.generators.darcy import DarcyConfig, generate_darcy
from tests.conftest import operator_checkpoint

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "dgno_inverse.py"


def _run(args, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["dgno_inverse.py", *args])
    with pytest.raises(SystemExit) as end:
        runpy.run_path(str(EXAMPLE), run_name="__main__")
    assert end.value.code == 2
    return capsys.readouterr().err.splitlines()[-1]


def test_a_checkpoint_without_data_or_of_another_model_is_one_line(tmp_path, monkeypatch, capsys):
    """--ckpt without --data used to end in a TypeError traceback; an FNO checkpoint in an AttributeError after
    runs/dgno_inverse/obs.h5 had been written."""
    data = generate_darcy(DarcyConfig(n_train=8, n_val=0, n_test=2, resolution=9, seed=0), tmp_path / "d.h5",
                          workers=1, progress=False)
    fno = operator_checkpoint(data, tmp_path / "fno.ckpt")
    assert _run(["--ckpt", str(fno)], tmp_path, monkeypatch, capsys) == (
        "dgno_inverse.py: error: --ckpt needs --data, the labelled file whose test split is observed (and whose "
        "generator gives the true solver)")
    assert _run(["--ckpt", str(fno), "--data", str(data)], tmp_path, monkeypatch, capsys) == (
        f"dgno_inverse.py: error: {fno} holds no DGNO; invert it with `neurops invert surrogate --ckpt {fno}`")
    assert not (tmp_path / "runs").exists()
