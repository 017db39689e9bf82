import json

import h5py
import numpy as np
import torch

from neurops.cli import main
from neurops.data.writer import H5Writer
from neurops.models import build

KWARGS = dict(resolution=[9, 9], latent_dim=4, width=8, depth=2, encoder_hidden=[8])


def _checkpoint(path):
    """A checkpoint in the layout GenerativeOperatorTask writes (no training needed)."""
    torch.manual_seed(0)
    model = build("dgno", **KWARGS)
    with torch.no_grad():
        model.u_head.layer_weights.fill_(0.5)
    torch.save({"neurops": {"model": "dgno", "model_kwargs": KWARGS, "forcing": 10.0, "schema_version": 1},
                "state_dict": {f"net.{k}": v for k, v in model.state_dict().items()}}, path)
    return path


def _labelled(path):
    x = np.linspace(0, 1, 9)
    u = (np.sin(np.pi * x)[:, None] * np.sin(np.pi * x)[None, :]).astype(np.float32)
    a = np.full((9, 9), 5.0, dtype=np.float32)
    with H5Writer(path, kind="operator", name="darcy", dims=("x", "y"), parameters={"forcing": 10.0}) as w:
        w.add_split("test", coords={"x": x, "y": x}, inputs={"a": a[None]}, outputs={"u": u[None]})
    return path


def test_make_observations_then_invert(tmp_path, capsys):
    data, ckpt = _labelled(tmp_path / "d.h5"), _checkpoint(tmp_path / "m.ckpt")
    obs, post = tmp_path / "obs.h5", tmp_path / "post.h5"
    assert main(["invert", "--make-obs", "--data", str(data), "--index", "0", "--n-obs", "12", "--snr-db", "25",
                 "--seed", "3", "--out", str(obs)]) == 0
    with h5py.File(obs) as f:
        assert f.attrs["kind"] == "observations" and f["points"].shape == (12, 2)
    assert main(["invert", "--ckpt", str(ckpt), "--obs", str(obs), "--out", str(post), "--map-steps", "5",
                 "--chains", "2", "--burn", "2", "--samples", "4", "--particles", "5"]) == 0
    assert "wrote posterior" in capsys.readouterr().out
    with h5py.File(post) as f:
        assert f["fields/u_mean"].shape == (9, 9) and f["latent/samples"].shape == (2 * 2, 4)
        assert {"rel_l2_a", "rel_l2_u", "coverage_a", "coverage_u"} <= set(json.loads(f.attrs["metrics"]))
        assert json.loads(f.attrs["info"])["forcing"] == 10.0
    # an existing output is not replaced without --overwrite
    assert main(["invert", "--ckpt", str(ckpt), "--obs", str(obs), "--out", str(post)]) == 2


def test_invert_errors_exit_with_status_2(tmp_path, capsys):
    data = _labelled(tmp_path / "d.h5")
    assert main(["invert", "--obs", str(tmp_path / "o.h5"), "--out", str(tmp_path / "p.h5")]) == 2
    assert "needs --ckpt" in capsys.readouterr().err
    assert main(["invert", "--make-obs", "--out", str(tmp_path / "o.h5")]) == 2
    assert "--make-obs needs --data" in capsys.readouterr().err
    assert main(["invert", "--make-obs", "--data", str(data), "--n-obs", "500", "--out", str(tmp_path / "o.h5")]) == 2
    assert "n_obs must be between" in capsys.readouterr().err
    bad = tmp_path / "bad.ckpt"
    torch.save({"state_dict": {}}, bad)
    main(["invert", "--make-obs", "--data", str(data), "--out", str(tmp_path / "o.h5")])
    assert main(["invert", "--ckpt", str(bad), "--obs", str(tmp_path / "o.h5"), "--out", str(tmp_path / "p.h5")]) == 2
    assert "not a DGNO checkpoint" in capsys.readouterr().err
