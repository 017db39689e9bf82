import lightning as L
import pytest

from neurops.cli import main
from neurops.data.datamodule import OperatorDataModule
from neurops.tasks.operator import OperatorTask
from tests.conftest import write_operator_file


@pytest.fixture
def two_grid_file(tmp_path):
    return write_operator_file(tmp_path / "d.h5", {"train": (8, 17), "test": (4, 17), "test@33": (4, 33)})


def _checkpoint(path, tmp_path, **model_kwargs):
    dm = OperatorDataModule(path, batch_size=4, val_split=None)
    task = OperatorTask("mgno", {"width": 4, "n_layers": 1, "levels": 2, **model_kwargs})
    trainer = L.Trainer(max_epochs=1, default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=False)
    trainer.fit(task, dm)
    ckpt = tmp_path / f"m{len(model_kwargs)}.ckpt"
    trainer.save_checkpoint(ckpt)
    return ckpt


def test_predict_warns_when_a_fixed_grid_model_meets_another_grid(two_grid_file, tmp_path, capsys):
    fixed = _checkpoint(two_grid_file, tmp_path, reference_resolution=None)
    assert main(["predict", "--ckpt", str(fixed), "--data", str(two_grid_file), "--out", str(tmp_path / "p.h5"),
                 "--splits", "test"]) == 0
    assert "warning" not in capsys.readouterr().err  # its own grid
    assert main(["predict", "--ckpt", str(fixed), "--data", str(two_grid_file), "--out", str(tmp_path / "q.h5")]) == 0
    err = capsys.readouterr().err
    assert err.count("neurops: warning:") == 1
    assert "split 'test@33' is on a 33x33 grid but the 'mgno' model was trained on 17x17 and is fixed_grid" in err


def test_predict_does_not_warn_for_a_function_space_model(two_grid_file, tmp_path, capsys):
    physical = _checkpoint(two_grid_file, tmp_path)  # reference_resolution filled in from the data
    out = tmp_path / "p.h5"
    assert main(["predict", "--ckpt", str(physical), "--data", str(two_grid_file), "--out", str(out)]) == 0
    assert "warning" not in capsys.readouterr().err
