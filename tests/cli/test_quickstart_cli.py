from neurops.cli import main


def test_too_coarse_resolution_is_one_clear_error_before_any_work(tmp_path, capsys):
    assert main(["quickstart", "--out", str(tmp_path / "qs"), "--resolution", "17", "--n-train", "4"]) == 2
    err = capsys.readouterr().err
    assert "--resolution 17 is too coarse" in err and "use --resolution 25 or more" in err
    assert not (tmp_path / "qs").exists()  # nothing was generated


def test_bad_settings_are_refused_before_the_data_are_generated(tmp_path, capsys):
    """--epochs 0 used to train nothing and report an untrained model; --batch-size 0 and --lr -1 failed only after
    minutes of data generation; --workers 0 / -1 were taken as 1; --out naming a file gave a traceback."""
    (tmp_path / "file.txt").write_text("mine")
    cases = [(["--epochs", "0"], "--epochs must be >= 1"), (["--batch-size", "0"], "--batch-size must be >= 1"),
             (["--lr", "-1"], "--lr must be a finite learning rate > 0"), (["--lr", "inf"], "invalid float value"),
             (["--workers", "0"], "workers must be a whole number >= 1"),
             (["--seed", str(2**32)], "seed must be an integer between 0 and 2**32 - 1 (4294967295), got 4294967296; "
                                      "give e.g. --seed 0."),  # Lightning refused it after the data were made
             (["--out", str(tmp_path / "file.txt")], "is a file; the quickstart writes a folder")]
    for extra, message in cases:
        argv = ["quickstart", "--out", str(tmp_path / "qs"), "--n-train", "4", "--n-test", "2", *extra]
        assert main(argv) == 2, extra
        err = capsys.readouterr().err.strip()
        assert err.startswith("neurops: error: ") and message in err and len(err.splitlines()) == 1, err
        assert not (tmp_path / "qs").exists()
    assert (tmp_path / "file.txt").read_text() == "mine"


def test_the_quickstart_is_a_run_of_neurops_fit_and_a_second_one_replaces_it(tmp_path, capsys):
    """Its numbers are those of the checkpoint `neurops fit` wrote in the quickstart's run folder."""
    import json

    import matplotlib.image
    import torch

    from neurops.checkpoints import load
    from neurops.data.reader import read_split
    from neurops.metrics.field import relative_lp

    args = ["quickstart", "--out", str(tmp_path / "qs"), "--n-train", "12", "--n-test", "4", "--resolution", "25",
            "--test-resolution", "33", "--epochs", "2", "--workers", "1"]
    assert main(args) == 0
    summary = json.loads((tmp_path / "qs" / "summary.json").read_text())
    printed = capsys.readouterr().out  # the table shows the summary's errors, training grid first
    m = summary["metrics"]
    assert f"25x25 | {m['test/rel_l2@25']:>12.4f} | {m['test/rel_h1@25']:>12.4f}  (train)" in printed
    assert f"33x33 | {m['test/rel_l2@33']:>12.4f} | {m['test/rel_h1@33']:>12.4f}  (zero-shot)" in printed
    figure = matplotlib.image.imread(summary["figure"])  # the prediction figure, drawn
    assert figure.ndim == 3 and figure.std() > 0.05
    assert summary["command"].startswith("neurops fit --config darcy_fno_quickstart ")
    assert summary["checkpoint"] == str(tmp_path / "qs" / "run" / "checkpoints" / "last.ckpt")
    kind, task = load(summary["checkpoint"])
    assert kind == "operator" and task.hparams.model_kwargs["modes"] == [12, 12]
    for res, split in ((25, "test"), (33, "test@33")):
        data = read_split(summary["data"], split)
        x = torch.from_numpy(data["inputs"]["a"])[:, None].float()
        y = torch.from_numpy(data["outputs"]["u"])[:, None].float()
        with torch.no_grad():
            error = relative_lp(task(x), y).item()
        assert abs(error - summary["metrics"][f"test/rel_l2@{res}"]) <= 1e-5 * error
    assert main(args) == 0  # the second run replaces the first one's run folder instead of refusing it
    assert "replacing the previous quickstart run" in capsys.readouterr().out
    assert [p.name for p in (tmp_path / "qs" / "run" / "logs").iterdir()] == ["version_0"]
