import pytest
import torch

from neurops.errors import ConfigError
from neurops.utils.device import check_device

NO_GPU = "device 'cuda' is not available here (torch finds no CUDA GPU); use --device cpu."
NOT_A_DEVICE = "device 'foo' is not a torch device name (cpu, cuda, cuda:1, mps...); use --device cpu."


@pytest.fixture
def no_gpu(monkeypatch):
    """A machine without CUDA, also where tests run on one."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_a_device_of_this_machine_is_returned():
    assert check_device("cpu") == torch.device("cpu") and check_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("name, message", [("foo", NOT_A_DEVICE), ("cuda", NO_GPU)], ids=["foo", "cuda"])
def test_a_device_this_machine_lacks_is_one_config_error(no_gpu, name, message):
    with pytest.raises(ConfigError) as err:
        check_device(name)
    assert str(err.value) == message
