import pytest
import torch

from neurops.errors import ModelError
from neurops.inverse import load_dgno, load_surrogate
from neurops.models import build
from tests.conftest import operator_checkpoint

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


def test_load_surrogate_takes_any_operator_checkpoint(operator_file, tmp_path):
    ckpt = operator_checkpoint(operator_file, tmp_path / "fno.ckpt")
    surrogate = load_surrogate(ckpt)
    assert surrogate.name == "fno" and surrogate.dgno is None
    a = torch.rand(2, 1, 16, 16)
    assert surrogate.forward(a).shape == (2, 1, 16, 16)
    model = build("dgno", **KWARGS)
    _save(tmp_path / "dgno.ckpt", KWARGS, model.state_dict())
    dgno = load_surrogate(tmp_path / "dgno.ckpt")
    assert dgno.name == "dgno" and dgno.dgno is not None and dgno.meta["forcing"] == 2.0


def test_load_surrogate_refuses_what_is_not_an_operator(tmp_path):
    torch.save({"neurops": {"model": "shplrnn", "task": "neurops.tasks.dynamics.DynamicsTask"}, "state_dict": {}},
               tmp_path / "dsr.ckpt")
    with pytest.raises(ModelError, match="DynamicsTask checkpoint"):
        load_surrogate(tmp_path / "dsr.ckpt")
    (tmp_path / "text.ckpt").write_text("hello")
    with pytest.raises(ModelError, match="not a readable PyTorch checkpoint") as err:
        load_surrogate(tmp_path / "text.ckpt")
    assert "weights_only=False" not in str(err.value)
    torch.save({"state_dict": {}}, tmp_path / "plain.ckpt")
    with pytest.raises(ModelError, match="no 'neurops' record"):
        load_surrogate(tmp_path / "plain.ckpt")
