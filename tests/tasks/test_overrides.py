"""Every Lightning hook that neurops implements is marked ``@override`` (mypy then checks it against Lightning)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

PACKAGES = ("neurops.tasks", "neurops.cli.callbacks", "neurops.data.datamodule")


def _modules() -> list[str]:
    names = []
    for name in PACKAGES:
        module = importlib.import_module(name)
        names.append(name)
        if hasattr(module, "__path__"):
            names += [f"{name}.{info.name}" for info in pkgutil.iter_modules(module.__path__)]
    return names


def _lightning_hooks() -> list[tuple[str, str]]:
    """``(class, method)`` of every method of a neurops class that overrides a Lightning or torch method."""
    found = []
    for name in _modules():
        for cls in vars(importlib.import_module(name)).values():
            if not inspect.isclass(cls) or cls.__module__ != name:
                continue
            for attr, fn in vars(cls).items():
                if inspect.isfunction(fn) and not attr.startswith("__") and any(
                        attr in vars(base) and base.__module__.split(".")[0] in ("lightning", "torch")
                        for base in cls.__mro__[1:]):
                    found.append((f"{name}.{cls.__name__}", attr))
    return found


def test_the_scan_finds_the_hooks() -> None:
    hooks = _lightning_hooks()
    assert ("neurops.tasks.dynamics.DynamicsTask", "training_step") in hooks
    assert ("neurops.tasks.callbacks.LastCheckpoint", "on_train_end") in hooks
    assert len(hooks) > 40


@pytest.mark.parametrize(("cls", "method"), _lightning_hooks())
def test_every_lightning_hook_is_marked_override(cls: str, method: str) -> None:
    module, name = cls.rsplit(".", 1)
    fn = vars(getattr(importlib.import_module(module), name))[method]
    assert getattr(fn, "__override__", False), f"{cls}.{method} overrides a Lightning hook: mark it @override"
