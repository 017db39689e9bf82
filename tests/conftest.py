"""Shared fixtures: small neurops files written by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neurops.data.writer import H5Writer

torch.set_num_threads(min(2, torch.get_num_threads()))


def smooth_operator_pair(n: int, res: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth, exactly known linear operator on [0,1]^2: u = a integrated along x (plus a shift).

    Inputs are low-frequency random fields, so a resolution change keeps the operator the same.
    """
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 1.0, res)
    coef = rng.standard_normal((n, 3, 3))
    a = sum(coef[:, i, j, None, None] * np.cos(np.pi * i * x)[:, None] * np.cos(np.pi * j * x)[None, :]
            for i in range(3) for j in range(3))
    u = sum(coef[:, i, j, None, None] * (np.sin(np.pi * i * x) / (np.pi * i) if i else x)[:, None]
            * np.cos(np.pi * j * x)[None, :] for i in range(3) for j in range(3))
    return x, a.astype(np.float32), u.astype(np.float32)


def write_operator_file(path: Path, splits: dict[str, tuple[int, int]], seed: int = 0) -> Path:
    """Write an ``operator`` file with splits ``{name: (n_samples, resolution)}``."""
    with H5Writer(path, kind="operator", name="toy", dims=("x", "y"),
                  boundary={"x": "dirichlet", "y": "dirichlet"}, parameters={"kind": "integral"}, seed=seed) as w:
        for i, (split, (n, res)) in enumerate(splits.items()):
            x, a, u = smooth_operator_pair(n, res, seed + i)
            w.add_split(split, coords={"x": x, "y": x}, inputs={"a": a}, outputs={"u": u})
    return path


@pytest.fixture
def operator_file(tmp_path: Path) -> Path:
    """train 24 @ 16^2, val 8 @ 16^2, test 8 @ 16^2, test@32 8 @ 32^2."""
    return write_operator_file(tmp_path / "toy.h5", {"train": (24, 16), "val": (8, 16), "test": (8, 16),
                                                     "test@32": (8, 32)})
