"""Chaotic-system data sets: Lorenz-63, Roessler, Lorenz-96, Kuramoto-Sivashinsky and any dysts flow.

Every generator writes a ``trajectory`` file (schema v1) with splits ``train``, ``val``
and ``test``; each split holds ``n_<split>`` independent trajectories of ``n_steps``
samples taken every ``dt`` after a transient:

* ODE systems: dims ``["component"]``, field ``x`` of shape ``[N_traj, T, D]``;
* Kuramoto-Sivashinsky: dims ``["x"]`` (periodic), field ``u`` of shape ``[N_traj, T, X]``.

Options common to all: observation noise (Gaussian, ``noise`` times each variable's
standard deviation, added to ``train`` and ``val``, and to ``test`` only with
``noise_test``), standardisation by the clean train split's mean and std (stored in the
``parameters`` attribute as ``standardization``), and one ``seed``. ``dt``, the integrator
and all physical parameters are recorded in the root attributes.

``dysts`` integrates any flow of the optional dysts library (``--system Lorenz``, ``Rossler``,
...) and records its published Lyapunov spectrum in ``parameters["published"]``.

Randomness: trajectory ``i`` of split ``s`` starts from a state drawn with
``SeedSequence(seed, spawn_key=(split_id, i))`` and its noise from
``spawn_key=(split_id, i, 1)``: splits do not change when another split's size does.

References
----------
.. [1] Lorenz (1963); Roessler (1976); Lorenz (1996) - see
   :mod:`neurops.systems`.
.. [2] Kassam, A.-K., Trefethen, L. N. (2005). Fourth-order time-stepping for stiff PDEs.
   SIAM J. Sci. Comput. 26(4), 1214-1233.
.. [3] Hess, F. et al. (2023). Generalized teacher forcing for learning chaotic dynamics.
   ICML 2023 (data protocol: 10^5 samples, dt = 0.01, 5 % observation noise on train).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from neurops.data.generators.base import register_generator
from neurops.data.metadata import DatasetMeta
from neurops.data.progress import progress_bar
from neurops.data.writer import H5Writer
from neurops.errors import ConfigError
from neurops.solvers.timestepping.etdrk4 import KuramotoSivashinsky
from neurops.solvers.timestepping.ode import METHODS, integrate
from neurops.systems import Lorenz63, Lorenz96, Roessler
from neurops.utils.device import available_memory
from neurops.utils.io import format_size

SPLIT_IDS: dict[str, int] = {"train": 0, "val": 1, "test": 2}


@dataclass
class _CommonConfig:
    """Options shared by all chaotic-system generators (see the module docstring).

    Parameters
    ----------
    n_train : trajectories in the train split.
    n_val : trajectories in the val split (0: none).
    n_test : trajectories in the test split (0: none).
    n_steps : samples per trajectory.
    dt : sampling interval.
    transient : time discarded before sampling.
    noise : observation-noise std as a fraction of each variable's std.
    noise_test : also add noise to the test split.
    standardize : z-score all splits with the clean train split's mean and std.
    seed : the one seed of the data set.
    compression : HDF5 compression.
    """

    n_train: int = 1
    n_val: int = 1
    n_test: int = 1
    n_steps: int = 100_000
    dt: float = 0.01
    transient: float = 100.0
    noise: float = 0.0
    noise_test: bool = False
    standardize: bool = False
    seed: int = 0
    compression: Literal["none", "gzip", "lzf"] = "none"

    def _check_common(self) -> None:
        if self.n_train < 1 or self.n_val < 0 or self.n_test < 0:
            raise ConfigError(f"need n_train >= 1, n_val >= 0, n_test >= 0; got {self.n_train}, {self.n_val}, "
                              f"{self.n_test}.")
        if self.n_steps < 2 or self.dt <= 0 or self.transient < 0:
            raise ConfigError(f"need n_steps >= 2, dt > 0, transient >= 0; got n_steps={self.n_steps}, "
                              f"dt={self.dt}, transient={self.transient}.")
        if self.noise < 0:
            raise ConfigError(f"noise is a fraction of each variable's std and must be >= 0, got {self.noise}.")
        if self.compression not in ("none", "gzip", "lzf"):
            raise ConfigError(f"compression {self.compression!r} is unknown; use none, gzip or lzf.")

    def split_sizes(self) -> dict[str, int]:
        sizes = {"train": self.n_train, "val": self.n_val, "test": self.n_test}
        return {k: v for k, v in sizes.items() if v > 0}


@dataclass
class _OdeConfig(_CommonConfig):
    """Options of the generators that integrate an ODE (and those of :class:`_CommonConfig`).

    Parameters
    ----------
    method : ``rk4`` (fixed step ``dt / substeps``) or a scipy ``solve_ivp`` method.
    substeps : rk4 steps per sample.
    rtol : relative (and absolute) tolerance of the scipy methods.
    """

    method: Literal["rk4", "RK45", "DOP853", "Radau", "LSODA"] = "rk4"
    substeps: int = 2
    rtol: float = 1e-10

    def _check_ode(self) -> None:
        self._check_common()
        if self.method not in METHODS:
            raise ConfigError(f"method {self.method!r} is unknown; use one of {METHODS}.")
        if self.substeps < 1 or not self.rtol > 0:
            raise ConfigError(f"substeps must be >= 1 and rtol > 0, got substeps={self.substeps}, rtol={self.rtol}.")


@dataclass
class Lorenz63Config(_OdeConfig):
    """Lorenz-63 trajectories (defaults: the GTF paper's sigma=10, rho=28, beta=8/3, dt=0.01).

    The other options are those of :class:`_OdeConfig`.

    Parameters
    ----------
    sigma : s in dx/dt = s (y - x).
    rho : r in dy/dt = x (r - z) - y.
    beta : b in dz/dt = x y - b z.
    """

    sigma: float = 10.0
    rho: float = 28.0
    beta: float = 8.0 / 3.0

    def __post_init__(self) -> None:
        self._check_ode()

    def build_system(self) -> Lorenz63:
        return Lorenz63(self.sigma, self.rho, self.beta)


@dataclass
class RoesslerConfig(_OdeConfig):
    """Roessler trajectories (defaults a=b=0.2, c=5.7; dt=0.08 as in the AL-RNN paper).

    The other options are those of :class:`_OdeConfig`.

    Parameters
    ----------
    a : a in dy/dt = x + a y.
    b : b in dz/dt = b + z (x - c).
    c : c in dz/dt = b + z (x - c).
    """

    dt: float = 0.08
    transient: float = 500.0
    substeps: int = 8
    a: float = 0.2
    b: float = 0.2
    c: float = 5.7

    def __post_init__(self) -> None:
        self._check_ode()

    def build_system(self) -> Roessler:
        return Roessler(self.a, self.b, self.c)


@dataclass
class Lorenz96Config(_OdeConfig):
    """Lorenz-96 trajectories on a ring of ``n`` sites with forcing ``forcing`` (defaults 10, 8).

    The other options are those of :class:`_OdeConfig`.

    Parameters
    ----------
    n : number of sites (state dimension).
    forcing : the constant forcing F.
    """

    n: int = 10
    forcing: float = 8.0

    def __post_init__(self) -> None:
        self._check_ode()
        if self.n < 4:
            raise ConfigError(f"Lorenz-96 needs n >= 4 sites, got {self.n}.")

    def build_system(self) -> Lorenz96:
        return Lorenz96(self.n, self.forcing)


@dataclass
class DystsConfig(_OdeConfig):
    """A flow of the dysts library (Gilpin 2021), e.g. ``--system Lorenz`` (needs ``pip install "dysts==0.95"``).

    The other options are those of :class:`_OdeConfig`.

    Parameters
    ----------
    system : the dysts class name (``Lorenz``, ``Rossler``, ``Chen``, ...).
    dt : sampling interval (default: 1/100 of the system's dominant period, from dysts' metadata).
    method : integrator, default scipy's adaptive ``RK45`` (dysts systems can be stiff); ``rk4``
        integrates all trajectories at once with fixed steps ``dt / substeps``.
    rtol : relative (and absolute) tolerance of the adaptive integrators.
    """

    system: str | None = None
    dt: float | None = None
    n_steps: int = 20_000
    method: Literal["rk4", "RK45", "DOP853", "Radau", "LSODA"] = "RK45"
    rtol: float = 1e-9
    transient: float = 50.0

    def __post_init__(self) -> None:
        if not self.system:
            raise ConfigError("choose the dysts flow with --system NAME (e.g. Lorenz, Rossler, Chen).")
        if self.dt is None:
            self.dt = self.build_system().default_dt()
        self._check_ode()

    def build_system(self) -> Any:
        from neurops.data.external.dysts_interop import DystsFlow

        return DystsFlow(str(self.system))


@dataclass
class KuramotoSivashinskyConfig(_CommonConfig):
    """Kuramoto-Sivashinsky ``u_t + u u_x + u_xx + u_xxxx = 0`` on a periodic domain (ETDRK4).

    The other options are those of :class:`_CommonConfig` (defaults dt = 0.25, 10^4 samples).

    Parameters
    ----------
    length : domain length L (22 is the standard chaotic case).
    n_points : grid points X.
    step : internal ETDRK4 time step (``dt`` must be a multiple of it).
    """

    n_steps: int = 10_000
    dt: float = 0.25
    transient: float = 250.0
    length: float = 22.0
    n_points: int = 64
    step: float = 0.05

    def __post_init__(self) -> None:
        self._check_common()
        if self.step <= 0 or abs(self.dt / self.step - round(self.dt / self.step)) > 1e-9:
            raise ConfigError(f"dt={self.dt} must be a positive multiple of the ETDRK4 step={self.step}.")
        if self.n_points < 8 or self.n_points % 2 or self.length <= 0:
            raise ConfigError(f"need an even n_points >= 8 and length > 0; got {self.n_points}, {self.length}.")


def _check_memory(name: str, config: _CommonConfig, dim: int) -> None:
    """Refuse a request whose trajectories do not fit in memory: these generators hold them all (float64) to take the
    statistics of the whole training split, then a second copy while they add noise, standardise and store them."""
    n = sum(config.split_sizes().values())
    need = 2 * 8 * n * config.n_steps * dim
    free = available_memory()
    if free is not None and need > free:
        raise ConfigError(f"{name}: {n} trajectories of {config.n_steps} steps x {dim} values are computed in memory, "
                          f"about {format_size(need)}, but {format_size(free)} is available; ask for fewer "
                          "trajectories (--n-train/--n-val/--n-test) or steps (--n-steps).")


def _split_rng(seed: int, split: str, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SPLIT_IDS[split], *key)))


def _postprocess(clean: dict[str, np.ndarray], config: _CommonConfig, scalar_stats: bool) -> tuple[
        dict[str, np.ndarray], dict[str, Any]]:
    """Add observation noise and standardise; returns the arrays and what was done (for the attrs)."""
    axes = (0, 1, 2) if scalar_stats else (0, 1)
    mean = clean["train"].mean(axis=axes)
    std = clean["train"].std(axis=axes)
    out = {}
    for split, arr in clean.items():
        if config.noise > 0 and (split != "test" or config.noise_test):
            noise = np.stack([_split_rng(config.seed, split, i, 1).normal(size=a.shape) for i, a in enumerate(arr)])
            arr = arr + config.noise * std * noise
        if config.standardize:
            arr = (arr - mean) / std
        out[split] = arr
    record = {"noise": config.noise, "noise_test": config.noise_test, "standardized": config.standardize,
              "standardization": {"mean": np.atleast_1d(mean).tolist(), "std": np.atleast_1d(std).tolist()}}
    return out, record


def _write(out: Path, name: str, dims: list[str], boundary: dict[str, str], coords: dict[str, np.ndarray],
           field: str, data: dict[str, np.ndarray], dt: float, parameters: dict[str, Any], config: Any,
           overwrite: bool) -> Path:
    n_steps = next(iter(data.values())).shape[1]
    with H5Writer(out, DatasetMeta(kind="trajectory", name=name, dims=dims, boundary=boundary, parameters=parameters,
                                   generator={"name": name, **dataclasses.asdict(config)}, seed=config.seed),
                  compression=None if config.compression == "none" else config.compression,
                  overwrite=overwrite) as writer:
        for split, arr in data.items():
            writer.add_split(split, coords=coords, states={field: arr.astype(np.float32)},
                             time=dt * np.arange(n_steps), attrs={"dt": dt})
    return Path(out)


def _generate_ode(name: str, config: _OdeConfig, out: str | Path, progress: bool, overwrite: bool) -> Path:
    system = config.build_system()
    _check_memory(name, config, system.dim)
    transient = int(round(config.transient / config.dt))
    splits = config.split_sizes()
    x0 = np.concatenate([system.initial_state(_split_rng(config.seed, split, i), 1)
                         for split, n in splits.items() for i in range(n)])
    total = transient + config.n_steps
    with progress_bar(total, name, "sample", progress) as bar:
        # all trajectories of all splits advance together (vectorised rk4)
        traj = integrate(system.field, x0, config.dt, config.n_steps, method=config.method,
                         substeps=config.substeps, transient=transient, rtol=config.rtol, atol=config.rtol,
                         progress=bar.update)
    ends = np.cumsum(list(splits.values()))
    clean = dict(zip(splits, np.split(traj, ends[:-1])))
    data, record = _postprocess(clean, config, scalar_stats=False)
    parameters = {**system.parameters(), "dt": config.dt, "integrator": config.method,
                  "substeps": config.substeps, "rtol": config.rtol, **record}
    if hasattr(system, "published"):  # dysts: the published lambda_max, spectrum, dimensions
        parameters["published"] = system.published()
    return _write(Path(out), name, ["component"], {"component": "none"}, {"component": np.arange(system.dim)},
                  "x", data, config.dt, parameters, config, overwrite)


@register_generator("lorenz63", Lorenz63Config)
def generate_lorenz63(config: Lorenz63Config, out: str | Path, *, workers: int = 2, progress: bool = True,
                      overwrite: bool = False) -> Path:
    """Lorenz-63 trajectories (dims ["component"], field x [N, T, 3]).

    Parameters
    ----------
    config : the generator options.
    out : output HDF5 file.
    workers : unused (the integrator is vectorised over trajectories).
    progress : show a progress bar.
    overwrite : replace an existing ``out``.
    """
    return _generate_ode("lorenz63", config, out, progress, overwrite)


@register_generator("rossler", RoesslerConfig)
def generate_rossler(config: RoesslerConfig, out: str | Path, *, workers: int = 2, progress: bool = True,
                     overwrite: bool = False) -> Path:
    """Roessler trajectories (dims ["component"], field x [N, T, 3]); arguments as for lorenz63."""
    return _generate_ode("rossler", config, out, progress, overwrite)


@register_generator("lorenz96", Lorenz96Config)
def generate_lorenz96(config: Lorenz96Config, out: str | Path, *, workers: int = 2, progress: bool = True,
                      overwrite: bool = False) -> Path:
    """Lorenz-96 trajectories (dims ["component"], field x [N, T, n]); arguments as for lorenz63."""
    return _generate_ode("lorenz96", config, out, progress, overwrite)


@register_generator("dysts", DystsConfig)
def generate_dysts(config: DystsConfig, out: str | Path, *, workers: int = 2, progress: bool = True,
                   overwrite: bool = False) -> Path:
    """A dysts flow (--system NAME; needs dysts==0.95) with its published Lyapunov spectrum (field x [N, T, D])."""
    return _generate_ode(f"dysts_{config.system}", config, out, progress, overwrite)


@register_generator("kuramoto_sivashinsky", KuramotoSivashinskyConfig)
def generate_kuramoto_sivashinsky(config: KuramotoSivashinskyConfig, out: str | Path, *, workers: int = 2,
                                  progress: bool = True, overwrite: bool = False) -> Path:
    """Kuramoto-Sivashinsky trajectories (dims ["x"], periodic, field u [N, T, X]); arguments as for
    lorenz63."""
    _check_memory("kuramoto_sivashinsky", config, config.n_points)
    solver = KuramotoSivashinsky(config.length, config.n_points, config.step)
    substeps = int(round(config.dt / config.step))
    transient = int(round(config.transient / config.dt))
    clean = {}
    splits = config.split_sizes()
    with progress_bar(len(splits), "kuramoto_sivashinsky", "split", progress) as bar:
        for split, n in splits.items():
            u0 = np.stack([0.1 * _split_rng(config.seed, split, i).normal(size=config.n_points) for i in range(n)])
            clean[split] = solver.solve(u0, config.n_steps, substeps=substeps, transient=transient)
            bar.update(1)
    data, record = _postprocess(clean, config, scalar_stats=True)
    parameters = {"length": config.length, "n_points": config.n_points, "dt": config.dt, "integrator": "etdrk4",
                  "step": config.step, **record}
    return _write(Path(out), "kuramoto_sivashinsky", ["x"], {"x": "periodic"}, {"x": solver.x}, "u", data,
                  config.dt, parameters, config, overwrite)


__all__ = ["DystsConfig", "KuramotoSivashinskyConfig", "Lorenz63Config", "Lorenz96Config", "RoesslerConfig",
           "generate_dysts", "generate_kuramoto_sivashinsky", "generate_lorenz63", "generate_lorenz96",
           "generate_rossler"]
