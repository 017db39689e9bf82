"""``docs/examples/dgno_inverse.py``: wrong arguments are one argparse line, before anything is written; nothing of an
earlier run is replaced without ``--overwrite``; SIGTERM and Ctrl-C leave only whole files."""

import os
import runpy
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from neurops.data.generators.darcy import DarcyConfig, generate_darcy
from neurops.inverse import read_observations
from neurops.tasks import GenerativeOperatorTask
from tests.conftest import operator_checkpoint
from tests.test_checkpoints import save

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "dgno_inverse.py"
DGNO_KWARGS = dict(resolution=[9, 9], latent_dim=3, width=4, depth=1, encoder_hidden=[4])


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


def test_outputs_of_an_earlier_run_stop_it_before_any_work_unless_overwrite(tmp_path, monkeypatch, capsys):
    """Every run wrote over runs/dgno_inverse/* (coef.h5, test.h5, dgno.ckpt, obs.h5, posterior.*) without asking:
    a second try replaced the DGNO trained by the first. Now the files that exist are named, in one line, before
    anything is generated, trained or written."""
    data = generate_darcy(DarcyConfig(n_train=8, n_val=0, n_test=2, resolution=9, seed=0), tmp_path / "d.h5",
                          workers=1, progress=False)
    fno = operator_checkpoint(data, tmp_path / "fno.ckpt")
    out = tmp_path / "runs" / "dgno_inverse"
    out.mkdir(parents=True)
    (out / "posterior.png").write_bytes(b"mine")
    (out / "dgno.ckpt").write_bytes(b"trained for hours")
    assert _run([], tmp_path, monkeypatch, capsys) == (
        "dgno_inverse.py: error: runs/dgno_inverse/dgno.ckpt, runs/dgno_inverse/posterior.png exist (an earlier run); "
        "pass --overwrite to replace them, another --out folder, or move them away")
    assert _run(["--ckpt", str(fno), "--data", str(data)], tmp_path, monkeypatch, capsys) == (
        "dgno_inverse.py: error: runs/dgno_inverse/posterior.png exists (an earlier run); pass --overwrite to replace "
        "them, another --out folder, or move them away")
    assert _run(["--ckpt", str(fno), "--data", str(data), "--out", str(data)], tmp_path, monkeypatch, capsys) == (
        f"dgno_inverse.py: error: output {data}/obs.h5 cannot be written: {data} is a file, not a folder; choose "
        "another output path.")
    assert sorted(p.name for p in out.iterdir()) == ["dgno.ckpt", "posterior.png"]
    assert (out / "posterior.png").read_bytes() == b"mine" and (out / "dgno.ckpt").read_bytes() == b"trained for hours"


@pytest.mark.parametrize("args, message", [
    (["--n-obs", "0"], "argument --n-obs: 0 is below 1; give a whole number >= 1"),
    (["--epochs", "0"], "argument --epochs: 0 is below 1; give a whole number >= 1"),
    (["--snr-db", "nan"], "argument --snr-db: 'nan' is not a finite number"),
    (["--index", "10"], "--index 10: the test split the script generates has 10 samples (0 to 9)"),
])
def test_a_bad_number_is_one_line_before_any_work(args, message, tmp_path, monkeypatch, capsys):
    """--epochs 0 inverted with an untrained DGNO (and replaced the trained one); --n-obs 0, --snr-db nan and
    --index 10 ended in a DataError traceback, the last after the data had been generated and the DGNO trained."""
    assert _run(args, tmp_path, monkeypatch, capsys) == f"dgno_inverse.py: error: {message}"
    assert not (tmp_path / "runs").exists()


def test_an_error_of_the_data_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    """An --index past the test split of --data ended in a DataError traceback."""
    data = generate_darcy(DarcyConfig(n_train=2, n_val=0, n_test=2, resolution=9, seed=0), tmp_path / "d.h5",
                          workers=1, progress=False)
    torch.manual_seed(0)
    dgno = save(GenerativeOperatorTask(model_kwargs=DGNO_KWARGS, forcing=10.0), tmp_path / "dgno.ckpt")
    assert _run(["--ckpt", str(dgno), "--data", str(data), "--index", "5"], tmp_path, monkeypatch, capsys) == (
        f"dgno_inverse.py: error: {data} split 'test' has 2 samples; index 5 is out of range.")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("signum, by", [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "Ctrl-C (SIGINT)")])
def test_sigterm_or_ctrl_c_is_one_line_and_leaves_only_whole_files(signum, by, tmp_path):
    """SIGTERM killed the script where it was (a half-written dgno.ckpt, or a stray temporary file of
    posterior.h5), Ctrl-C printed a traceback. Now either ends it with one line (status 143 / 130); the files
    written before are whole, the one being made is not there."""
    data = generate_darcy(DarcyConfig(n_train=2, n_val=0, n_test=2, resolution=9, seed=0), tmp_path / "d.h5",
                          workers=1, progress=False)
    torch.manual_seed(0)
    dgno = save(GenerativeOperatorTask(model_kwargs=DGNO_KWARGS, forcing=10.0), tmp_path / "dgno.ckpt")
    out = tmp_path / "out"
    stop = (f"import os, runpy, signal, sys, time\nimport neurops.inverse\n"
            f"def invert(*args, **kwargs):\n    os.kill(os.getpid(), {int(signum)})\n    time.sleep(30)\n"
            f"neurops.inverse.invert_latent = invert\n"
            f"sys.argv = ['dgno_inverse.py', '--ckpt', {str(dgno)!r}, '--data', {str(data)!r}, '--out', {str(out)!r},\n"
            f"            '--n-obs', '20']\n"
            f"runpy.run_path({str(EXAMPLE)!r}, run_name='__main__')\n")
    root = EXAMPLE.parents[2]
    job = subprocess.run([sys.executable, "-c", stop], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"},
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert job.returncode == 128 + signum, job.stderr[-2000:]
    assert job.stderr.splitlines() == [
        f"dgno_inverse.py: stopped by {by} (exit status {128 + signum}); the files in {out} are whole (none is "
        "half-written); run it again with --overwrite to replace them"]
    assert [p.name for p in out.iterdir()] == ["obs.h5"]  # written before the inversion; no temporary file is left
    assert read_observations(out / "obs.h5").values.shape == (20,)
