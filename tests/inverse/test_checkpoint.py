import pytest
import torch

from neurops.errors import ModelError
from neurops.inverse import load_dgno
from neurops.models import build

KWARGS = dict(resolution=[5, 5], latent_dim=3, width=4, depth=1, encoder_hidden=[4])


def _save(path, kwargs, state):
    torch.save({"neurops": {"model": "dgno", "model_kwargs": kwargs, "forcing": 2.0},
                "state_dict": {f"net.{k}": v for k, v in state.items()}}, path)


def test_round_trip_rebuilds_the_same_model(tmp_path):
    model = build("dgno", **KWARGS)
    with torch.no_grad():
        model.u_head.layer_weights.fill_(1.0)
        model.latent_std.fill_(0.3)
    _save(tmp_path / "m.ckpt", KWARGS, model.state_dict())
    loaded, meta = load_dgno(tmp_path / "m.ckpt")
    a = torch.rand(2, 1, 5, 5) * 5 + 5
    assert torch.equal(loaded(a), model(a)) and meta["forcing"] == 2.0
    assert torch.equal(loaded.latent_std, model.latent_std) and not loaded.training


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dgno(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_text("not a checkpoint")
    with pytest.raises(ModelError, match="cannot read checkpoint"):
        load_dgno(tmp_path / "junk.ckpt")
    _save(tmp_path / "mismatch.ckpt", {**KWARGS, "width": 8}, build("dgno", **KWARGS).state_dict())
    with pytest.raises(ModelError, match="does not match"):
        load_dgno(tmp_path / "mismatch.ckpt")
