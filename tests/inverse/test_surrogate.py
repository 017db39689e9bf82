import pytest
import torch

from neurops.errors import CheckpointError, ModelError
from neurops.inverse import load_surrogate
from neurops.tasks import DynamicsTask, GenerativeOperatorTask, OperatorTask
from tests.conftest import operator_checkpoint
from tests.test_checkpoints import save

KWARGS = dict(resolution=[5, 5], latent_dim=3, width=4, depth=1, encoder_hidden=[4])


def test_an_operator_checkpoint_is_the_task_that_wrote_it(operator_file, tmp_path):
    ckpt = operator_checkpoint(operator_file, tmp_path / "fno.ckpt")
    surrogate = load_surrogate(ckpt)
    assert surrogate.name == "fno" and surrogate.dgno is None and surrogate.meta["model"] == "fno"
    task = OperatorTask.load_from_checkpoint(ckpt, weights_only=True).eval()
    a = torch.rand(2, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(surrogate.forward(a), task(a), rtol=0, atol=0)
    assert not any(p.requires_grad for p in surrogate.forward.parameters())


def test_a_dgno_checkpoint_gives_its_latent_model_and_forcing(tmp_path):
    torch.manual_seed(0)
    task = GenerativeOperatorTask(model_kwargs=KWARGS, forcing=2.0)
    surrogate = load_surrogate(save(task, tmp_path / "dgno.ckpt"))
    a = torch.rand(2, 1, 5, 5) * 5 + 5
    assert surrogate.name == "dgno" and surrogate.meta["forcing"] == 2.0 and surrogate.dgno is surrogate.forward
    with torch.no_grad():
        torch.testing.assert_close(surrogate.dgno(a), task.eval().net(a), rtol=0, atol=0)
    assert torch.equal(surrogate.dgno.latent_std, task.net.latent_std) and not surrogate.dgno.training


def test_what_is_not_an_operator_is_refused_with_its_kind(tmp_path):
    dsr = save(DynamicsTask("alrnn", {"obs_dim": 3, "latent_dim": 4, "n_relu": 2}), tmp_path / "dsr.ckpt")
    with pytest.raises(CheckpointError, match="is a dynamics checkpoint .*`neurops invert` takes") as err:
        load_surrogate(dsr)
    assert "neurops dsr evaluate" in str(err.value)
    (tmp_path / "text.ckpt").write_text("hello")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint") as err:
        load_surrogate(tmp_path / "text.ckpt")
    assert "weights_only=False" not in str(err.value)
    torch.save({"state_dict": {}}, tmp_path / "plain.ckpt")
    with pytest.raises(CheckpointError, match="no 'neurops' record"):
        load_surrogate(tmp_path / "plain.ckpt")


def test_an_operator_of_several_channels_is_refused(tmp_path):
    task = OperatorTask("fno", {"modes": [3, 3], "width": 4, "n_layers": 1, "in_channels": 2, "out_channels": 1})
    with pytest.raises(ModelError, match="2 -> 1 channels"):
        load_surrogate(save(task, tmp_path / "two.ckpt"))
