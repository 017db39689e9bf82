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


def test_predict_refuses_an_output_inside_its_data_folder_and_a_data_file_without_the_trained_fields(
        two_grid_file, tmp_path, capsys):
    import shutil

    import h5py

    ckpt = _checkpoint(two_grid_file, tmp_path)
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copy(two_grid_file, folder / "d.h5")
    capsys.readouterr()
    assert main(["predict", "--ckpt", str(ckpt), "--data", str(folder), "--out", str(folder / "pred.h5")]) == 2
    assert capsys.readouterr().err == (
        f"neurops: error: output {folder / 'pred.h5'} is inside the input folder {folder}, which this command reads "
        "as one data set (its *.h5 / *.hdf5 files): the output would join that data set; write it outside the folder "
        f"(e.g. {tmp_path / 'pred.h5'}).\n")
    assert [p.name for p in folder.iterdir()] == ["d.h5"]
    with h5py.File(folder / "d.h5", "a") as f:
        f.move("test/inputs/a", "test/inputs/k")
    out = tmp_path / "pred.h5"
    assert main(["predict", "--ckpt", str(ckpt), "--data", str(folder / "d.h5"), "--out", str(out),
                 "--splits", "test"]) == 2
    assert capsys.readouterr().err == (
        f"neurops: error: {folder / 'd.h5'} split 'test' has inputs ['k'] but the checkpoint was trained on inputs "
        "['a']; rename the fields in the file to the checkpoint's, or predict with a checkpoint trained on these "
        "fields.\n")
    assert not out.exists()
