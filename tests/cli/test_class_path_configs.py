"""Shipped configs that name their classes (class_path) run through ``neurops fit`` unchanged."""

import yaml

from neurops.cli import main
from neurops.configs import resolve_config


def test_dgno_config_fits_through_the_cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = ["--coefficient", "piecewise", "--a-high", "10", "--a-low", "5", "--forcing", "10", "--resolution", "9",
              "--workers", "1", "--no-progress"]
    assert main(["data", "generate", "darcy", *common, "--n-train", "8", "--n-val", "0", "--n-test", "0",
                 "--unlabelled", "--out", "coef.h5"]) == 0
    assert main(["data", "generate", "darcy", *common, "--n-train", "1", "--n-val", "4", "--n-test", "4",
                 "--seed", "1", "--out", "test.h5"]) == 0
    cfg = yaml.safe_load(resolve_config("dgno_darcy_piecewise").read_text())
    cfg["model"]["init_args"]["model_kwargs"].update({"resolution": [9, 9], "latent_dim": 8,
                                                      "encoder_hidden": [16], "width": 8, "depth": 2})
    cfg["model"]["init_args"].update({"n_particles": 8, "n_quad_per_axis": 3})
    cfg["data"]["init_args"].update({"train_path": "coef.h5", "eval_path": "test.h5", "batch_size": 4})
    cfg["trainer"] = {"max_epochs": 1, "check_val_every_n_epoch": 1, "logger": False, "enable_progress_bar": False,
                      "default_root_dir": str(tmp_path / "runs")}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["fit", "--config", "cfg.yaml"]) == 0
    assert list((tmp_path / "runs").rglob("*.ckpt"))


def test_dgno_config_refuses_data_of_other_physics_before_training(tmp_path, monkeypatch, capsys):
    # a forcing-1 file with a in {3, 12} used to train and test silently under the config's forcing 10, a in {5, 10}
    monkeypatch.chdir(tmp_path)
    assert main(["data", "generate", "darcy", "--resolution", "9", "--n-train", "4", "--n-val", "2", "--n-test", "2",
                 "--workers", "1", "--no-progress", "--out", "darcy.h5"]) == 0
    capsys.readouterr()
    assert main(["fit", "--config", "dgno_darcy_piecewise", "--data.train_path", "darcy.h5", "--data.eval_path",
                 "darcy.h5", "--trainer.max_epochs", "1", "--trainer.default_root_dir", "runs"]) == 2
    assert capsys.readouterr().err == (
        "neurops: error: darcy.h5 was generated with forcing 1.0, a_low 3.0, a_high 12.0, but this DGNO's physics has "
        "forcing 10.0, a_low 5.0, a_high 10.0: pass --model.forcing 1.0 --model.model_kwargs.a_low 3.0 "
        "--model.model_kwargs.a_high 12.0, or data generated with `neurops data generate darcy ... --forcing 10.0 "
        "--a-low 5.0 --a-high 10.0`.\n")
    assert not (tmp_path / "runs").exists()


def test_misspelled_init_arg_is_named(tmp_path, capsys):
    cfg = yaml.safe_load(resolve_config("dgno_darcy_piecewise").read_text())
    cfg["model"]["init_args"]["w_pdee"] = 1.0
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["fit", "--config", str(tmp_path / "cfg.yaml")]) == 2
    err = capsys.readouterr().err
    assert "unknown config key 'model.init_args.w_pdee'. Did you mean 'model.init_args.w_pde'?" in err


def test_dcdm_config_trains_through_the_cli_and_its_checkpoint_solves(tmp_path, monkeypatch):
    import torch

    from neurops.checkpoints import load
    from neurops.data.reader import read_split
    from neurops.solvers.learned.dcdm import dcdm_solve
    from neurops.solvers.linear.cg import pcg
    from neurops.solvers.linear.diffusion import DiffusionOperator

    monkeypatch.chdir(tmp_path)
    assert main(["data", "generate", "darcy", "--resolution", "9", "--n-train", "2", "--n-val", "0", "--n-test", "0",
                 "--unlabelled", "--workers", "1", "--no-progress", "--out", "coef.h5"]) == 0
    cfg = yaml.safe_load(resolve_config("dcdm_darcy").read_text())
    cfg["model"]["init_args"]["model_kwargs"].update({"width": 4, "fine_blocks": 1, "coarse_blocks": 1})
    cfg["data"]["init_args"].update({"coefficients": "coef.h5", "n_matrices": 2, "num_ritz": 10, "num_rhs": 20,
                                     "steps_per_epoch": 6})
    cfg["trainer"].update({"max_epochs": 1, "enable_progress_bar": False, "default_root_dir": str(tmp_path / "run")})
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["fit", "--config", "cfg.yaml"]) == 0
    kind, task = load(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert kind == "dcdm" and task.hparams.model_kwargs["dim"] == 2  # the grid dimension came from the data
    coefficient = torch.as_tensor(read_split("coef.h5", "train")["inputs"]["a"][:1], dtype=torch.float64)
    op = DiffusionOperator.from_coefficient(coefficient)  # float64, as b: the solvers refuse mixed dtypes
    b = torch.ones(1, *op.shape, dtype=torch.float64)
    exact = pcg(op, b, rtol=1e-12).x
    x = dcdm_solve(op, b, task.net, rtol=1e-6, maxiter=10, check=False).x
    assert float(((x - exact) * op.apply(x - exact)).sum()) < float((exact * op.apply(exact)).sum())
