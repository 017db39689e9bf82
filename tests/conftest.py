"""Shared fixtures: small neurops files written by the tests themselves, and the devices tests run on.

Devices. A test that takes the ``device`` fixture runs once per device chosen with
``pytest --device``: ``auto`` (default: ``cpu``, plus ``cuda`` when torch sees a GPU), or a
comma-separated list such as ``cpu,cuda`` or ``cuda``. When ``cpu`` is not among them, tests
without the fixture are deselected, so ``pytest --device cuda`` runs exactly the CUDA subset.
Triton kernels on ``cpu`` run through Triton's interpreter (``TRITON_INTERPRET=1``, set here
before anything imports Triton) when ``cuda`` is not a test device; with both, the kernels are
compiled and their CPU variants skip (``triton_device``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from neurops.utils.shape_checks import install as install_shape_checks

# Shapes are checked at run time for the whole test session: every function of neurops' kernels, layers and
# metrics is checked against its annotations (jaxtyping shapes such as Float[Tensor, "batch channel *space"])
# when it is called. The checks are added as modules are imported, so this comes before any other neurops import.
install_shape_checks()

from neurops.data.metadata import DatasetMeta  # noqa: E402
from neurops.data.writer import H5Writer  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--device", default="auto",
                     help="devices for tests that take the `device` fixture: 'auto' (cpu, and cuda when "
                          "available) or a comma-separated list, e.g. 'cuda' or 'cpu,cuda'.")


def _devices(config: pytest.Config) -> list[str]:
    value = config.getoption("--device")
    if value == "auto":
        return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    devices = [d.strip() for d in value.split(",") if d.strip()]
    for d in devices:
        try:
            kind = torch.device(d).type
        except RuntimeError as exc:
            raise pytest.UsageError(f"--device {value!r}: {exc}") from None
        if kind == "cuda" and not torch.cuda.is_available():
            raise pytest.UsageError(f"--device {value!r}: torch sees no CUDA device here (torch "
                                    f"{torch.__version__}); drop 'cuda' or run on a GPU machine.")
    return devices


def pytest_configure(config: pytest.Config) -> None:
    kinds = {torch.device(d).type for d in _devices(config)}
    if kinds == {"cpu"}:
        os.environ.setdefault("TRITON_INTERPRET", "1")  # Triton kernels on CPU tensors
    # Lightning is imported here, before any test, so that its log handler writes to pytest's session capture,
    # not to the (later closed) stream of the first test that imports it (`neurops` imports it lazily)
    import lightning  # noqa: F401


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", _devices(metafunc.config))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "cpu" in _devices(config):
        return
    keep = [item for item in items if "device" in getattr(item, "fixturenames", ())]
    if len(keep) < len(items):
        kept = set(map(id, keep))
        config.hook.pytest_deselected(items=[item for item in items if id(item) not in kept])
        items[:] = keep


def triton_interpreted() -> bool:
    """Whether Triton kernels run in the interpreter in this session (decided before any import of Triton)."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


@pytest.fixture
def triton_device(device: str) -> str:
    """``device`` for tests of Triton kernels; on the CPU they need the interpreter, else they skip."""
    if torch.device(device).type == "cpu" and not triton_interpreted():
        pytest.skip("Triton kernels on CPU tensors need TRITON_INTERPRET=1 (set when cuda is not a test device)")
    return device


@pytest.fixture
def implicit_device_trap() -> Callable[[], contextlib.AbstractContextManager]:
    """A context in which tensors created WITHOUT an explicit device land on ``meta``.

    Code that builds its tensors from its inputs' device keeps working on CPU data inside it;
    a ``torch.zeros(n)`` (or ``torch.tensor``, ``torch.arange``...) without ``device=`` makes a
    meta tensor that fails as soon as it meets the CPU data (or leaves meta in the result) --
    the same mistake that breaks the code on a GPU, caught on a CPU-only machine.
    """

    @contextlib.contextmanager
    def trap() -> Iterator[None]:
        with torch.device("meta"):
            yield

    return trap


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
    with H5Writer(path, DatasetMeta(kind="operator", name="toy", dims=("x", "y"),
                                    boundary={"x": "dirichlet", "y": "dirichlet"}, parameters={"kind": "integral"},
                                    seed=seed)) as w:
        for i, (split, (n, res)) in enumerate(splits.items()):
            x, a, u = smooth_operator_pair(n, res, seed + i)
            w.add_split(split, coords={"x": x, "y": x}, inputs={"a": a}, outputs={"u": u})
    return path


def two_phase_coefficient(shape: tuple[int, ...], seed: int = 0, batch: int = 1, high: float = 12.0,
                          low: float = 3.0) -> torch.Tensor:
    """Two-phase coefficient ``[batch, *shape]`` (as FNO's Darcy data): a smooth random field thresholded at 0."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(batch, 1, *[max(2, n // 8) for n in shape], generator=g, dtype=torch.float64)
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(shape)]
    z = torch.nn.functional.interpolate(coarse, size=shape, mode=mode, align_corners=True)[:, 0]
    return torch.where(z > 0, high, low).to(torch.float64)


def write_decay_file(path: Path, n_frames: int = 6, nx: int = 16) -> Path:
    """A ``trajectory`` file of ``u_t = 0.8^t (a sin 2 pi x + b cos 2 pi x)`` on ``nx`` periodic points,
    ``n_frames`` frames, splits train/val/test of 16/4/4: a linear one-step map to learn."""
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, nx, endpoint=False)
    decay = 0.8 ** np.arange(n_frames)[None, :, None]
    with H5Writer(path, DatasetMeta(kind="trajectory", name="decay", dims=["x"], boundary={"x": "periodic"})) as w:
        for split, n in (("train", 16), ("val", 4), ("test", 4)):
            a, b = rng.normal(size=(2, n, 1, 1))
            w.add_split(split, coords={"x": x}, time=np.arange(n_frames, dtype=float),
                        states={"u": (decay * (a * np.sin(2 * np.pi * x) + b * np.cos(2 * np.pi * x)))
                                .astype(np.float32)})
    return path


#: the dataset cards (one folder per data set, named like its generator)
DATASETS = Path(__file__).resolve().parents[1] / "datasets"


def recipe_configs(card: str) -> dict[str, tuple[object, dict]]:
    """Every recipe file of ``datasets/<card>`` read as ``neurops data generate <card> --config FILE`` reads it:
    ``{file stem: (the generator's config, the command's other options such as out)}``."""
    import dataclasses

    from neurops.cli import command
    from neurops.cli.builder import parse, parser_for
    from neurops.data.generators import get_generator

    spec, prog = get_generator(card), f"neurops data generate {card}"
    generate = command("data").children()["generate"].children()[card]
    fields = {f.name for f in dataclasses.fields(spec.config_cls)}
    out = {}
    for path in sorted((DATASETS / card).glob("recipe*.yaml")):
        values = parse(parser_for(generate, prog), ["--config", str(path)], prog)
        out[path.stem] = (spec.make_config(**{k: v for k, v in values.items() if k in fields}),
                          {k: v for k, v in values.items() if k not in fields})
    return out


def write_observation_file(path: Path, n: int = 5, **changes) -> Path:
    """An observation file written by hand with the documented fields only (no kind, no version): two
    points on a unit-square ``n x n`` grid; ``changes`` replaces fields (``None`` leaves one out)."""
    x = np.linspace(0, 1, n)
    fields = {"points": np.array([[0.25, 0.5], [0.75, 0.25]]), "values": np.array([0.1, 0.2]),
              "noise_std": 0.01, "dims": '["x", "y"]', "coords/x": x, "coords/y": x, **changes}
    with h5py.File(path, "w") as f:
        for key, value in fields.items():
            if value is None:
                continue
            if key in ("noise_std", "dims"):
                f.attrs[key] = value
            else:
                f.create_dataset(key, data=value)
    return path

@pytest.fixture(autouse=True)
def _no_seed_from_earlier_tests(monkeypatch):
    """Every test starts without a recorded global seed (``PL_GLOBAL_SEED``, which shuffles the training
    batches), so its result does not depend on the tests that ran before it."""
    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)


@pytest.fixture
def ctrl_c_reaches_python():
    """SIGINT as a terminal's foreground command has it: Python's ``KeyboardInterrupt`` handler here, its default
    action in the processes a test starts. A test suite started in the background of a non-interactive shell
    (``python -m pytest &``) inherits SIGINT ignored, and Ctrl-C would reach neither."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of writing (``capsys``'s stream in a test)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


@pytest.fixture
def lightning_logs_to_capsys(capsys, monkeypatch) -> None:
    """Lightning's console log lines (its own stderr handlers, bound to the stream of the moment Lightning
    was imported) go to ``capsys``'s stderr, so a test sees exactly what a user's terminal would show."""
    import logging

    for name in ("lightning.pytorch", "lightning.fabric"):
        for handler in logging.getLogger(name).handlers:
            if type(handler) is logging.StreamHandler:  # Lightning's own; not pytest's log capture handlers
                monkeypatch.setattr(handler, "stream", _CurrentStderr())


@pytest.fixture
def operator_file(tmp_path: Path) -> Path:
    """train 24 @ 16^2, val 8 @ 16^2, test 8 @ 16^2, test@32 8 @ 32^2."""
    return write_operator_file(tmp_path / "toy.h5", {"train": (24, 16), "val": (8, 16), "test": (8, 16),
                                                     "test@32": (8, 32)})


@pytest.fixture
def two_processes(tmp_path: Path):
    """Run a Python script in 2 real processes of one ``torch.distributed`` job (env:// rendezvous).

    ``run(source, *args)`` writes ``source`` to a file and starts it twice with ``RANK``,
    ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` set (one thread each), so the script
    calls ``dist.init_process_group("gloo")`` and ends with ``dist.barrier()`` and
    ``dist.destroy_process_group()`` (a process that tears its connections down while the other still
    works can make that one abort at exit); it fails with both processes' stderr if either does.
    """
    def run(source: str, *args: str, timeout: float = 300) -> None:
        script = tmp_path / "two_process_worker.py"
        script.write_text(source)
        with socket.socket() as sock:  # a free port for the rendezvous
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
               "WORLD_SIZE": "2"}
        procs = [subprocess.Popen([sys.executable, str(script), *args], env={**env, "RANK": str(r)},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in (0, 1)]
        outputs = [p.communicate(timeout=timeout) for p in procs]
        failed = [(r, err[-3000:]) for r, (p, (_, err)) in enumerate(zip(procs, outputs)) if p.returncode]
        assert not failed, failed

    return run


def operator_checkpoint(data: Path, ckpt: Path, model: str = "fno", model_kwargs: dict | None = None,
                        steps: int = 2) -> Path:
    """A real ``OperatorTask`` checkpoint: ``steps`` Lightning training steps on ``data``, then saved."""
    import lightning as L

    from neurops.data.datamodule import OperatorDataModule
    from neurops.tasks.operator import OperatorTask

    torch.manual_seed(0)
    task = OperatorTask(model, model_kwargs or {"modes": [3, 3], "width": 8, "n_layers": 2})
    trainer = L.Trainer(max_steps=steps, logger=False, enable_progress_bar=False, enable_model_summary=False,
                        enable_checkpointing=False, default_root_dir=ckpt.parent, num_sanity_val_steps=0,
                        limit_val_batches=0)
    trainer.fit(task, OperatorDataModule(data, batch_size=4, val_split=None))
    trainer.save_checkpoint(ckpt)
    return ckpt


@pytest.fixture(scope="session")
def lorenz63_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short standardised Lorenz-63 trajectory file: train / val / test, one series of 600 steps each."""
    from neurops.data.generators import get_generator

    spec = get_generator("lorenz63")
    cfg = spec.make_config(n_train=1, n_val=1, n_test=1, n_steps=600, dt=0.02, substeps=2, transient=5.0,
                           standardize=True)
    return spec.fn(cfg, tmp_path_factory.mktemp("lorenz63") / "l63.h5", progress=False)
