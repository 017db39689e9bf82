"""``inverse_surrogates``: a trained surrogate is not replaced without --overwrite."""

from pathlib import Path

import pytest

from benchmarks import inverse_surrogates


def test_an_existing_checkpoint_is_kept_unless_overwrite_is_given(tmp_path, monkeypatch):
    """A trial run (--epochs 1) used to replace the long-trained checkpoint that inverse_posterior reads."""
    monkeypatch.setattr(inverse_surrogates, "INVERSE_DIR", tmp_path)
    ckpt = inverse_surrogates.checkpoint_path("fno", "lognormal")
    ckpt.write_bytes(b"trained for 20 epochs")
    trained = []
    monkeypatch.setattr(inverse_surrogates, "problem_file", lambda coefficient, n_train: tmp_path / "d.h5")
    row = {"model": "fno", "coefficient": "lognormal", "epochs": 1, "params": 1, "train_seconds": 1.0, "test": {}}
    monkeypatch.setattr(inverse_surrogates, "train", lambda *args: trained.append(args) or row)
    monkeypatch.setattr(inverse_surrogates, "save_results", lambda *args: None)
    run = ["--models", "fno", "--coefficients", "lognormal", "--epochs", "1", "--results-dir", str(tmp_path)]
    with pytest.raises(SystemExit) as end:
        inverse_surrogates.main(run)
    assert str(end.value) == (f"inverse_surrogates: {ckpt} exist (inverse_posterior reads them, and its cached "
                              "posteriors came from them); pass --overwrite to retrain them, or move them away.")
    assert ckpt.read_bytes() == b"trained for 20 epochs" and trained == []
    assert inverse_surrogates.main([*run, "--overwrite"]) == 0
    assert [a[:3] for a in trained] == [("fno", "lognormal", 1)]


def test_a_crash_while_a_surrogate_is_saved_leaves_no_checkpoint(tmp_path, monkeypatch):
    """trainer.save_checkpoint wrote straight to <model>_<coefficient>.ckpt: a crash or kill while it wrote left a
    truncated checkpoint, which the next run refused to replace and inverse_posterior could not read. Now it is
    written to a temporary file and renamed: nothing is left at its name."""
    import lightning as L

    from neurops.data.generators.darcy import DarcyConfig, generate_darcy

    monkeypatch.setattr(inverse_surrogates, "INVERSE_DIR", tmp_path / "inverse")
    data = generate_darcy(DarcyConfig(n_train=4, n_val=2, n_test=2, resolution=33, seed=0), tmp_path / "d.h5",
                          workers=1, progress=False)

    def half_written(self, path, *args, **kwargs):
        Path(path).write_bytes(b"half a checkpoint")
        raise OSError("No space left on device")

    monkeypatch.setattr(L.Trainer, "save_checkpoint", half_written)
    with pytest.raises(OSError, match="No space left on device"):
        inverse_surrogates.train("fno", "lognormal", epochs=1, batch_size=2, seed=0, data=data)
    assert list((tmp_path / "inverse").iterdir()) == []
