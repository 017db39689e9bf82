"""init_parameters (neurops/utils/signature.py)."""

from neurops.tasks import OperatorTask, RolloutTask
from neurops.utils.signature import init_parameters


class _Base:
    def __init__(self, a: int, b: int = 2) -> None:
        pass


class _Child(_Base):
    def __init__(self, c: int, **kwargs) -> None:
        super().__init__(**kwargs)


class _Closed(_Base):
    def __init__(self, d: int) -> None:
        super().__init__(d)


def test_parameters_follow_kwargs_to_the_parents():
    assert init_parameters(_Child) == ["c", "a", "b"]
    assert init_parameters(_Closed) == ["d"]  # no **kwargs: the parent's parameters are not accepted
    assert set(init_parameters(OperatorTask)) < set(init_parameters(RolloutTask))
    assert {"t_in", "compile", "optimizer", "lr_scheduler"} <= set(init_parameters(RolloutTask))
