import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurops.cli import main
from neurops.data.reader import read_attrs, read_split


def test_check_valid_and_invalid_exit_codes(operator_file, capsys):
    assert main(["data", "check", str(operator_file)]) == 0
    assert "valid neurops file" in capsys.readouterr().out
    with h5py.File(operator_file, "a") as f:
        f["train/outputs/u"][0, 0, 0] = np.nan
        del f.attrs["kind"]
    assert main(["data", "check", str(operator_file)]) == 1
    err = capsys.readouterr().err
    assert "missing root attribute 'kind'" in err


def test_info_and_missing_file(operator_file, tmp_path, capsys):
    assert main(["data", "info", str(operator_file)]) == 0
    assert "split 'test@32'" in capsys.readouterr().out
    assert main(["data", "info", str(tmp_path / "missing.h5")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_generate_darcy_through_the_cli(tmp_path, capsys):
    out = tmp_path / "darcy.h5"
    args = ["data", "generate", "darcy", "--n-train", "4", "--n-val", "1", "--n-test", "2", "--resolution", "9",
            "--test-resolutions", "17", "--seed", "3", "--workers", "1", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    assert main(["data", "check", str(out)]) == 0
    attrs = read_attrs(out)
    assert attrs["seed"] == 3 and attrs["generator"]["n_train"] == 4
    test, test17 = read_split(out, "test"), read_split(out, "test@17")
    np.testing.assert_array_equal(test17["outputs"]["u"][:, ::2, ::2], test["outputs"]["u"])  # subsampled
    before = out.read_bytes()
    assert main(args) == 2  # refuses to overwrite
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == before


def test_generate_from_a_recipe_file_with_options_after_it(tmp_path, capsys):
    """`--config RECIPE.yaml` gives the options; options after it replace the recipe's values."""
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("out: never.h5\nn_train: 3\nn_val: 0\nn_test: 2\nresolution: 9\ntest_resolutions: [17]\n"
                      "coefficient: lognormal\nseed: 5\n")
    out = tmp_path / "d.h5"
    assert main(["data", "generate", "darcy", "--config", str(recipe), "--seed", "6", "--workers", "1",
                 "--no-progress", "--out", str(out)]) == 0
    generator = read_attrs(out)["generator"]
    assert (generator["n_train"], generator["coefficient"], generator["seed"]) == (3, "lognormal", 6)
    assert read_split(out, "test@17")["outputs"]["u"].shape == (2, 17, 17) and not (tmp_path / "never.h5").exists()
    recipe.write_text("n_trian: 3\n")
    assert main(["data", "generate", "darcy", "--config", str(recipe), "--out", str(out)]) == 2
    assert "n_trian" in capsys.readouterr().err


def test_every_command_shows_its_defaults(capsys):
    for argv, shown in ((["data", "generate", "darcy"], "--n-train N_TRAIN training samples (>= 1) (default: 1000)"),
                        (["predict"], "(default: 16)"), (["dsr", "evaluate"], "which has no bins (default: 30)"),
                        (["invert", "pde"], "--chains CHAINS"), (["data", "convert", "arrays"], "--extra-test")):
        with pytest.raises(SystemExit):
            main([*argv, "--help"])
        assert " ".join(shown.split()) in " ".join(capsys.readouterr().out.split()), argv


def test_generate_rejects_bad_options(tmp_path, capsys):
    assert main(["data", "generate", "darcy", "--n-train", "0", "--out", str(tmp_path / "x.h5")]) == 2
    assert "n_train" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()
    assert main(["data", "generate", "darcy", "--coefficient", "checkerboard", "--out", str(tmp_path / "x.h5")]) == 2
    assert "invalid choice: 'checkerboard'" in capsys.readouterr().err


@pytest.mark.parametrize("name, grid", [("darcy", ["--resolution", "33"]),
                                        ("burgers", ["--resolution", "32", "--solver-resolution", "128"]),
                                        ("navier_stokes", ["--resolution", "32", "--solver-resolution", "128"])])
def test_generate_refuses_a_test_resolution_that_repeats_one(name, grid, tmp_path, capsys):
    """A test resolution equal to --resolution was dropped without a word; one repeated in --test-resolutions was
    dropped (darcy) or 'split test@64 was already created' (burgers, navier_stokes): now one line, no file."""
    r = grid[1]
    other = "65" if name == "darcy" else "64"
    for extra, message in (([r, other], f"test_resolutions [{r}, {other}] repeat the resolution {r}: the test split "
                                        f"is already stored at {r}; drop {r} from --test-resolutions."),
                           ([other, other], f"test_resolutions [{other}, {other}] give {other} more than once: each "
                                            "test@R split is stored once; give each resolution once in "
                                            "--test-resolutions.")):
        argv = ["data", "generate", name, *grid, "--test-resolutions", *extra, "--out", str(tmp_path / "d.h5")]
        assert main(argv) == 2
        assert capsys.readouterr().err == f"neurops: error: {message}\n"
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name, options", [
    ("darcy", ["--resolution", "9", "--workers", "1"]),
    ("burgers", ["--resolution", "16", "--solver-resolution", "32", "--n-frames", "2", "--t-final", "0.01"]),
    ("lorenz63", ["--n-steps", "20"]),
])
def test_generate_into_a_pipe_prints_lines_not_a_redrawn_bar(name, options, tmp_path):
    """A log or a pipe got tqdm's bar, carriage-return fragments that fill a batch job's log: now plain lines."""
    out = tmp_path / "d.h5"
    run = subprocess.run([sys.executable, "-m", "neurops", "data", "generate", name, "--n-train", "2", "--n-val", "1",
                          "--n-test", "1", *options, "--out", str(out)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr
    assert "\r" not in run.stderr
    assert re.fullmatch(rf"{name}: (\d+)/\1 samples \(100%, [\d.]+ s\)\n", run.stderr), run.stderr
    assert run.stdout == f"wrote {out}\n"


def test_generate_checks_seed_and_output_before_generating(tmp_path, capsys, monkeypatch):
    import neurops.data.generators.darcy as darcy

    def never(*args, **kwargs):
        raise AssertionError("generated although the options were bad")

    monkeypatch.setattr(darcy, "darcy_samples", never)
    base = ["data", "generate", "darcy", "--n-train", "4", "--workers", "1", "--no-progress"]
    assert main([*base, "--seed", "-1", "--out", str(tmp_path / "x.h5")]) == 2
    assert capsys.readouterr().err == ("neurops: error: seed must be an integer between 0 and 2**63 - 1 "
                                       "(9223372036854775807), got -1; give e.g. --seed 0.\n")
    assert main([*base, "--out", str(tmp_path), "--overwrite"]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert sorted(tmp_path.iterdir()) == []


def test_sharded_generation_merge_and_check_through_the_cli(tmp_path, capsys):
    base = ["data", "generate", "darcy", "--n-train", "16", "--n-val", "0", "--n-test", "8", "--resolution", "9",
            "--seed", "1", "--workers", "1", "--no-progress"]
    assert main([*base, "--out", str(tmp_path / "full.h5")]) == 0
    for i in range(2):
        assert main([*base, "--shard", f"{i}/2", "--out", str(tmp_path / "parts" / f"p{i}.h5")]) == 0
    assert "(shard 1 of 2)" in capsys.readouterr().out
    assert main(["data", "check", str(tmp_path / "parts")]) == 0
    assert "valid neurops data set" in capsys.readouterr().out
    assert main(["data", "merge", str(tmp_path / "parts"), "--out", str(tmp_path / "merged.h5")]) == 0
    assert main(["data", "check", str(tmp_path / "merged.h5")]) == 0
    for split in ("train", "test"):
        np.testing.assert_array_equal(read_split(tmp_path / "merged.h5", split)["outputs"]["u"],
                                      read_split(tmp_path / "full.h5", split)["outputs"]["u"])
    assert main(["data", "check", str(tmp_path / "parts" / "p1.h5")]) == 0  # one shard alone is a valid file
    assert main(["data", "merge", str(tmp_path / "parts" / "p1.h5"), str(tmp_path / "full.h5"),
                 "--out", str(tmp_path / "m2.h5")]) == 2
    assert "mixed with other files" in capsys.readouterr().err


def test_ctrl_c_stops_generate_with_its_workers_in_one_line_and_no_temporary_file(tmp_path, ctrl_c_reaches_python):
    """Ctrl-C, which a terminal sends to every process of the command (here: to its process group), printed a
    KeyboardInterrupt traceback and ended with status -2 (SIGINT); the pool's workers now ignore it, the command
    stops them and says so in one line, with exit status 130."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import neurops

    out = tmp_path / "big.h5"
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(neurops.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    job = subprocess.Popen([sys.executable, "-m", "neurops", "data", "generate", "darcy", "--n-train", "5000",
                            "--resolution", "129", "--workers", "2", "--no-progress", "--out", str(out)],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".big.h5.*.tmp")) and time.monotonic() < deadline and job.poll() is None:
        time.sleep(0.05)
    time.sleep(1.0)  # inside the solves
    os.killpg(job.pid, signal.SIGINT)
    stdout, stderr = job.communicate(timeout=60)
    assert (job.returncode, stderr) == (130, (
        f"neurops: error: neurops data generate darcy was stopped by Ctrl-C (SIGINT) before it finished (exit status "
        f"130); nothing was written to {out} (no partial file is left); run it again: neurops data generate darcy "
        f"--n-train 5000 --resolution 129 --workers 2 --no-progress --out {out}\n"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_stops_generate_with_one_line_and_no_temporary_file(tmp_path, workers):
    """SIGTERM (a scheduler's time limit, `timeout`) ended `data generate` by the default action: the temporary file
    `.<name>.<host>.<pid>.<token>.tmp` stayed beside the target and, with workers, their BrokenPipe tracebacks were
    printed; now the writer cleans up and one line says what happened, with exit status 143."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import neurops

    out = tmp_path / "big.h5"
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(neurops.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    job = subprocess.Popen([sys.executable, "-m", "neurops", "data", "generate", "darcy", "--n-train", "5000",
                            "--resolution", "129", "--workers", workers, "--no-progress", "--out", str(out)],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".big.h5.*.tmp")) and time.monotonic() < deadline and job.poll() is None:
        time.sleep(0.05)
    time.sleep(1.0)  # inside the solves
    job.send_signal(signal.SIGTERM)
    stdout, stderr = job.communicate(timeout=60)
    assert job.returncode == 143
    assert stderr.startswith(f"neurops: error: neurops data generate darcy was stopped by SIGTERM before it "
                             f"finished (exit status 143); nothing was written to {out} (no partial file is left); "
                             f"run it again: neurops data generate darcy --n-train 5000 ")
    assert stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
