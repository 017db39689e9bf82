from neurops.cli import main


def test_too_coarse_resolution_is_one_clear_error_before_any_work(tmp_path, capsys):
    assert main(["quickstart", "--out", str(tmp_path / "qs"), "--resolution", "17", "--n-train", "4"]) == 2
    err = capsys.readouterr().err
    assert "--resolution 17 is too coarse" in err and "use --resolution 25 or more" in err
    assert not (tmp_path / "qs").exists()  # nothing was generated
