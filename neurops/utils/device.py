"""The torch device a command was asked to use, checked before any work; the memory this machine has free."""

from __future__ import annotations

import contextlib

import torch

from neurops.errors import ConfigError

__all__ = ["available_memory", "check_device"]


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device` that this machine has (a tensor can be made on it).

    Raises
    ------
    ConfigError : not a torch device name (``foo``), or a device this machine lacks (``cuda`` without a GPU,
        ``cuda:3`` with one GPU): one line naming it and ``--device cpu``.
    """
    try:
        device_t = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device {str(device)!r} is not a torch device name (cpu, cuda, cuda:1, mps...); "
                          "use --device cpu.") from None
    if device_t.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {str(device)!r} is not available here (torch finds no CUDA GPU); use --device cpu.")
    try:
        torch.empty(0, device=device_t)
    except (RuntimeError, AssertionError) as err:
        why = (str(err).strip().splitlines() or ["torch cannot make a tensor on it"])[0].split(". ")[0].rstrip(".")
        raise ConfigError(f"device {str(device)!r} is not available here ({why}); use --device cpu.") from None
    return device_t


def available_memory() -> int | None:
    """The memory (bytes) the kernel says can be allocated without swapping (``MemAvailable``), or None where it
    does not say (not Linux): a request larger than this would run until the system kills it."""
    with contextlib.suppress(OSError, ValueError, StopIteration), open("/proc/meminfo") as meminfo:  # Linux only
        return 1024 * int(next(line for line in meminfo if line.startswith("MemAvailable:")).split()[1])
    return None
