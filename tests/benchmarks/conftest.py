"""Fixtures of the benchmark tests: a real DSR run to study, and the check that bad settings are one error line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def cycle_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """``cycle_run(seeds, epochs=3, snapshots=False, **train_kwargs)``: the folder of a real DSR run on a noisy limit
    cycle.

    ``neurops fit`` through the benchmarks' training path (``benchmarks/dsr_common.train``): ``epochs`` epochs of 2
    batches with a validation each (validation orbits of 2000 steps); ``seeds``: an ensemble, ``None``: one model.
    The run's training series is ``tmp_path / "cycle.npy"``, a held-out test series ``tmp_path / "test.npy"``;
    ``train_kwargs`` (``resume``, ``overwrite``) go to ``train``.
    """
    from benchmarks import dsr_common

    monkeypatch.setattr(dsr_common, "WORK_DIR", tmp_path / "work")

    def train(seeds: list[int] | None, epochs: int = 3, snapshots: bool = False, **train_kwargs: bool) -> Path:
        t = np.arange(3000)
        series = np.stack([np.cos(t / 8.0), np.sin(t / 8.0), np.cos(t / 4.0)], axis=1)
        series += 0.05 * np.random.default_rng(0).standard_normal(series.shape)
        np.save(tmp_path / "cycle.npy", series[:2500])
        np.save(tmp_path / "test.npy", series[2500:])
        data = dsr_common.import_npy(tmp_path / "cycle.npy", "cycle", dt=1.0, val_fraction=0.2)
        task = {"model": "clipped_shplrnn", "model_kwargs": {"latent_dim": 3, "hidden_dim": 8}, "training": "gtf",
                "alpha": 0.2, "val_gen_length": 2000, "lr": 1e-2, "lr_end": 1e-3}
        dsr_common.train("cycle", data, task, epochs=epochs, batches=2, seq_len=20, val_every=1, val_length=500,
                         seeds=seeds, snapshots=snapshots, **train_kwargs)
        return tmp_path / "work" / "runs" / "cycle"

    return train


@pytest.fixture
def work_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``benchmarks/work`` for the DSR benchmarks (``dsr_common.WORK_DIR``), outside ``tmp_path``."""
    from benchmarks import dsr_common

    work = tmp_path_factory.mktemp("work")
    monkeypatch.setattr(dsr_common, "WORK_DIR", work)
    return work


@pytest.fixture
def run_folder(work_dir: Path) -> Callable[..., Path]:
    """``run_folder(name, trained=True)``: the folder ``runs/name`` of an earlier run in ``work_dir``, holding a
    ``checkpoints/last.ckpt`` (a trained run; its bytes: ``b"trained"``) or, with ``trained=False``, an empty
    ``checkpoints/`` (a start that crashed before its first epoch ended)."""

    def make(name: str, trained: bool = True) -> Path:
        folder = work_dir / "runs" / name
        (folder / "checkpoints").mkdir(parents=True)
        if trained:
            (folder / "checkpoints" / "last.ckpt").write_bytes(b"trained")
        return folder

    return make


@pytest.fixture
def one_error_line(tmp_path: Path, work_dir: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., None]:
    """``one_error_line(main, argv, message)``: ``main(argv + --data-dir <absent folder>)`` exits with status 2, its
    last stderr line ends with ``message`` (``{absent}`` stands for that folder, ``{runs}`` for the run folders'
    folder in ``work_dir``) and it leaves no file behind (in ``tmp_path``, and none but the run folders made
    before in ``work_dir``)."""

    def check(main: Callable[[list[str]], None], argv: list[str], message: str) -> None:
        absent = tmp_path / "absent"
        before = sorted(work_dir.rglob("*"))
        with pytest.raises(SystemExit) as exit_info:
            main([*argv, "--data-dir", str(absent)])
        assert exit_info.value.code == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert last.endswith(message.format(absent=absent, runs=work_dir / "runs"))
        assert not list(tmp_path.iterdir())
        assert sorted(work_dir.rglob("*")) == before

    return check
