"""Fixtures of the benchmark tests: a real DSR run to study."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def cycle_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """``cycle_run(seeds, epochs=3, snapshots=False)``: the folder of a real DSR run on a noisy limit cycle.

    ``neurops fit`` through the benchmarks' training path (``benchmarks/dsr_common.train``): ``epochs`` epochs of 2
    batches with a validation each (validation orbits of 2000 steps); ``seeds``: an ensemble, ``None``: one model.
    The run's training series is ``tmp_path / "cycle.npy"``, a held-out test series ``tmp_path / "test.npy"``.
    """
    from benchmarks import dsr_common

    monkeypatch.setattr(dsr_common, "WORK_DIR", tmp_path / "work")

    def train(seeds: list[int] | None, epochs: int = 3, snapshots: bool = False) -> Path:
        t = np.arange(3000)
        series = np.stack([np.cos(t / 8.0), np.sin(t / 8.0), np.cos(t / 4.0)], axis=1)
        series += 0.05 * np.random.default_rng(0).standard_normal(series.shape)
        np.save(tmp_path / "cycle.npy", series[:2500])
        np.save(tmp_path / "test.npy", series[2500:])
        data = dsr_common.import_npy(tmp_path / "cycle.npy", "cycle", dt=1.0, val_fraction=0.2)
        task = {"model": "clipped_shplrnn", "model_kwargs": {"latent_dim": 3, "hidden_dim": 8}, "training": "gtf",
                "alpha": 0.2, "val_gen_length": 2000, "lr": 1e-2, "lr_end": 1e-3}
        dsr_common.train("cycle", data, task, epochs=epochs, batches=2, seq_len=20, val_every=1, val_length=500,
                         seeds=seeds, snapshots=snapshots)
        return tmp_path / "work" / "runs" / "cycle"

    return train
