"""The Darcy flow data set of the FNO paper: coefficient ``a`` -> solution ``u``.

Problem: ``-div(a grad u) = f`` on (0,1)^2, ``u = 0`` on the boundary, constant forcing
``f`` (FNO: 1). The coefficient comes from a Gaussian random field ``g`` with covariance
``sigma^2 (-Laplace + tau^2)^(-alpha)`` and Neumann (cosine) basis
(:mod:`neurops.data.generators.grf`; FNO: alpha = 2, tau = 3):

* ``coefficient="piecewise"``: ``a = a_high`` where ``g >= 0``, ``a_low`` elsewhere
  (FNO paper: 12 and 3; FNO's ``demo.m`` uses 12 and 4);
* ``coefficient="lognormal"``: ``a = exp(g)`` (smooth).

Each sample is solved once on a fine node grid of ``R_fine`` nodes per axis (second-order
5-point finite differences, :func:`neurops.solvers.pde.darcy.solve_darcy`) and stored at the
requested resolutions by subsampling every ``s``-th node, as FNO's data is (421 nodes ->
``(421 - 1) / s + 1`` = 211, 141, 106, 85, 61, 43, 29). Resolution ``R`` nests in
``R_fine`` exactly when ``(R - 1)`` divides ``(R_fine - 1)``; see :func:`fine_resolution_for`.

Randomness: sample ``i`` of split ``train``/``val``/``test`` draws from
``np.random.SeedSequence(seed, spawn_key=(split_id, i))``, so the file is the same for any
number of worker processes, and the test samples do not change with ``n_train``.

References
----------
.. [1] Z. Li, N. Kovachki, K. Azizzadenesheli, B. Liu, K. Bhattacharya, A. Stuart,
   A. Anandkumar, "Fourier Neural Operator for Parametric Partial Differential
   Equations", ICLR 2021, arXiv:2010.08895.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing as mp
import signal
import sys
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from neurops.data.generators.base import check_test_resolutions, register_generator
from neurops.data.generators.grf import check_grf_settings, gaussian_random_field, grf_default_sigma
from neurops.data.metadata import DatasetMeta
from neurops.data.progress import progress_bar
from neurops.data.shards import Shard
from neurops.data.writer import H5Writer
from neurops.errors import ConfigError
from neurops.solvers.linear.diffusion import FACE_MEANS
from neurops.solvers.pde.darcy import DARCY_METHODS, check_forcing, solve_darcy

#: split name -> the first spawn-key entry of its samples' seeds
SPLIT_IDS: dict[str, int] = {"train": 0, "val": 1, "test": 2}
#: "auto" fine grids may be at most this many times finer than the finest requested grid
MAX_AUTO_REFINEMENT = 8
_WRITE_BLOCK = 16


def _opt(default: Any, help: str) -> Any:  # noqa: A002 - argparse's name
    """A dataclass field whose ``help`` shows in ``neurops data generate darcy --help``."""
    return dataclasses.field(default=default, metadata={"help": help})


@dataclass
class DarcyConfig:
    """Configuration of the Darcy generator (every field is a ``neurops data generate darcy`` option).

    Parameters
    ----------
    n_train, n_val, n_test : samples per split (``n_val = -1``: ``max(1, n_train // 10)``;
        0 leaves the split out).
    resolution : nodes per axis of the train/val/test splits (boundary nodes included).
    test_resolutions : further resolutions of the SAME test samples, stored as ``test@R``.
    fine_resolution : nodes per axis of the grid the PDE is solved on; 0 chooses the
        smallest grid every resolution nests in, times ``fine_factor``.
    fine_factor : refinement of the automatic fine grid: ``R_fine - 1 = fine_factor *
        lcm(R_i - 1)``.
    coefficient : ``"piecewise"`` (two values) or ``"lognormal"`` (``exp(GRF)``).
    a_high, a_low : the two values of the piecewise coefficient (where GRF >= 0 / < 0).
    forcing : the constant right-hand side ``f``.
    alpha, tau : GRF covariance ``sigma^2 (-Laplace + tau^2)^(-alpha)``.
    sigma : GRF amplitude; 0 means the default ``tau^(alpha - 1)`` (FNO's scaling).
    face_mean : face averaging of ``a`` in the finite differences (``arithmetic`` as FNO,
        or ``harmonic``).
    solver : ``auto``, ``direct`` or ``amg`` (:func:`neurops.solvers.pde.darcy.solve_darcy`).
    rtol : required relative residual of every solve.
    seed : the one seed of the data set.
    compression : HDF5 compression: ``none``, ``gzip`` or ``lzf``.
    unlabelled : write kind ``input_only`` with the coefficient ``a`` only (no solves).
    """

    n_train: int = _opt(1000, "training samples (>= 1)")
    n_val: int = _opt(-1, "validation samples; -1: max(1, n_train // 10); 0: no val split")
    n_test: int = _opt(200, "test samples; 0: no test split")
    resolution: int = _opt(65, "nodes per axis of train/val/test, boundary included (e.g. 33, 65, 85, 129)")
    test_resolutions: tuple[int, ...] = _opt((), "more resolutions of the same test samples, stored as test@R")
    fine_resolution: int = _opt(0, "nodes per axis of the solve grid; 0: smallest grid all resolutions nest in")
    fine_factor: int = _opt(1, "automatic fine grid: R_fine - 1 = fine_factor * lcm(R - 1)")
    coefficient: Literal["piecewise", "lognormal"] = _opt("piecewise", "a_high/a_low thresholded GRF, or exp(GRF)")
    a_high: float = _opt(12.0, "piecewise coefficient where the GRF >= 0")
    a_low: float = _opt(3.0, "piecewise coefficient where the GRF < 0")
    forcing: float = _opt(1.0, "constant right-hand side f")
    alpha: float = _opt(2.0, "GRF smoothness exponent of (-Laplace + tau^2)^(-alpha)")
    tau: float = _opt(3.0, "GRF inverse length scale")
    sigma: float = _opt(0.0, "GRF amplitude; 0: tau^(alpha - 1) as FNO")
    face_mean: Literal["arithmetic", "harmonic"] = _opt("arithmetic", "face averaging of a (arithmetic as FNO)")
    solver: Literal["auto", "direct", "amg"] = _opt("auto", "sparse solver: SuperLU, AMG-PCG, or auto by size")
    rtol: float = _opt(1e-10, "required relative residual of every solve")
    seed: int = _opt(0, "seed of the whole data set")
    compression: Literal["none", "gzip", "lzf"] = _opt("none", "HDF5 compression")
    unlabelled: bool = _opt(False, "write kind input_only with the coefficient a only (no solves)")

    def __post_init__(self) -> None:
        if self.n_train < 1:
            raise ConfigError(f"n_train must be >= 1, got {self.n_train}; pass --n-train N with N >= 1.")
        if self.n_val < -1 or self.n_test < 0:
            raise ConfigError(f"n_val (>= 0, or -1 for 10% of n_train) and n_test (>= 0) are invalid: "
                              f"n_val={self.n_val}, n_test={self.n_test}.")
        self.test_resolutions = check_test_resolutions(self.resolution, self.test_resolutions, self.n_test)
        for name, choices in (("coefficient", ("piecewise", "lognormal")), ("face_mean", FACE_MEANS),
                              ("solver", DARCY_METHODS), ("compression", ("none", "gzip", "lzf"))):
            if getattr(self, name) not in choices:
                raise ConfigError(f"{name} {getattr(self, name)!r} is unknown; choose one of {list(choices)}.")
        if min((self.resolution, *self.test_resolutions)) < 3:
            raise ConfigError(f"resolutions must be >= 3 nodes per axis (boundary included), got "
                              f"{[self.resolution, *self.test_resolutions]}.")
        if self.coefficient == "piecewise" and not (self.a_high > 0 and self.a_low > 0):
            raise ConfigError(f"a_high and a_low must be > 0, got {self.a_high} and {self.a_low}.")
        check_grf_settings(self.alpha, self.tau, self.sigma)
        if self.fine_factor < 1 or self.fine_resolution < 0:
            raise ConfigError(f"fine_factor must be >= 1 and fine_resolution >= 0 (0 = automatic), got "
                              f"{self.fine_factor} and {self.fine_resolution}.")
        if not 0 < self.rtol < 1:
            raise ConfigError(f"rtol must be in (0, 1), got {self.rtol}.")
        check_forcing(self.forcing, "give e.g. --forcing 1")
        fine_resolution_for(self.all_resolutions, self.fine_resolution, self.fine_factor)  # nesting check

    @property
    def n_val_effective(self) -> int:
        """``n_val``, with -1 resolved to ``max(1, n_train // 10)``."""
        return max(1, self.n_train // 10) if self.n_val == -1 else self.n_val

    @property
    def all_resolutions(self) -> tuple[int, ...]:
        """The training resolution followed by the extra test resolutions (each once: the config checks them)."""
        return (self.resolution, *self.test_resolutions)

    @property
    def grf_sigma(self) -> float:
        """The GRF amplitude actually used."""
        return self.sigma if self.sigma > 0 else grf_default_sigma(self.alpha, self.tau, 2)

    @property
    def fine(self) -> int:
        """Nodes per axis of the grid the PDE is solved on."""
        return fine_resolution_for(self.all_resolutions, self.fine_resolution, self.fine_factor)


def _suggest(resolution: int) -> int:
    """The nearest ``2^k + 1`` node count (those all nest in each other)."""
    k = max(1, round(math.log2(max(resolution - 1, 1))))
    return 2**k + 1


def fine_resolution_for(resolutions: Sequence[int], fine_resolution: int = 0, fine_factor: int = 1) -> int:
    """The fine node grid from which every requested resolution is a subsample.

    A node grid of ``R`` nodes (boundary included) is every ``s``-th node of one with
    ``R_fine`` nodes iff ``(R_fine - 1) = s (R - 1)``. The automatic choice is
    ``R_fine = fine_factor * lcm(R_i - 1) + 1``.

    Parameters
    ----------
    resolutions : requested nodes per axis, e.g. ``(85, 141, 211)``.
    fine_resolution : a given fine grid (checked), or 0 for the automatic one.
    fine_factor : refinement of the automatic fine grid.

    Raises
    ------
    ConfigError : the resolutions do not nest (naming valid choices).

    Examples
    --------
    >>> fine_resolution_for([85, 141, 211])
    421
    >>> fine_resolution_for([33, 65], fine_factor=2)
    129
    """
    res = [int(r) for r in resolutions]
    if fine_resolution:
        bad = [r for r in res if (fine_resolution - 1) % (r - 1)]
        if bad:
            valid = [d + 1 for d in range(2, fine_resolution) if (fine_resolution - 1) % d == 0]
            raise ConfigError(
                f"resolution(s) {bad} are not subsamples of the fine grid of {fine_resolution} nodes: (R - 1) must "
                f"divide {fine_resolution - 1}. Valid resolutions for this fine grid: {valid}.")
        return int(fine_resolution)
    lcm = math.lcm(*(r - 1 for r in res))
    if lcm > MAX_AUTO_REFINEMENT * max(res):
        suggestion = sorted({_suggest(r) for r in res})
        raise ConfigError(
            f"resolutions {res} cannot be subsampled from one node grid of sensible size (the smallest would have "
            f"{lcm + 1} nodes per axis): (R - 1) of each must divide (R_fine - 1). Use nesting node counts such as "
            f"{suggestion} (2^k + 1, boundary included), or FNO's 421-node family 29, 43, 61, 85, 106, 141, 211.")
    return fine_factor * lcm + 1


def darcy_coefficient(g: np.ndarray, config: DarcyConfig) -> np.ndarray:
    """The coefficient ``a`` from a GRF sample ``g`` (any shape): thresholded or ``exp(g)``."""
    if config.coefficient == "piecewise":
        return np.where(g >= 0, config.a_high, config.a_low)
    return np.exp(g)


def darcy_coefficient_sample(config: DarcyConfig, split: str, index: int) -> np.ndarray:
    """Coefficient ``a`` [R_fine, R_fine] of sample ``index`` of ``split`` (its own seed, so it does
    not depend on the other samples, on the split sizes or on the number of workers)."""
    seed_seq = np.random.SeedSequence(config.seed, spawn_key=(SPLIT_IDS[split], int(index)))
    rng = np.random.default_rng(seed_seq)
    g = gaussian_random_field((config.fine,) * 2, rng, alpha=config.alpha, tau=config.tau,
                              sigma=config.grf_sigma, boundary="neumann")
    return darcy_coefficient(g, config)


def darcy_samples(config: DarcyConfig, split: str, indices: Sequence[int]) -> tuple[np.ndarray, np.ndarray | None]:
    """Samples ``indices`` of ``split`` on the fine grid, solved together in one batched call.

    Returns
    -------
    a, u : float64 [n, R_fine, R_fine] each (``u`` zero on the boundary; ``None`` if unlabelled).
    """
    a = np.stack([darcy_coefficient_sample(config, split, i) for i in indices])
    if config.unlabelled:
        return a, None
    return a, solve_darcy(a, config.forcing, rtol=config.rtol, method=config.solver, mean=config.face_mean)


def darcy_sample(config: DarcyConfig, split: str, index: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Sample ``index`` of ``split`` on the fine grid: ``(a, u)``, ``u = None`` if unlabelled.

    Returns
    -------
    a, u : float64 [R_fine, R_fine] each (``u`` zero on the boundary).
    """
    a, u = darcy_samples(config, split, [index])
    return a[0], None if u is None else u[0]


def _subsample(x: np.ndarray, fine: int, resolution: int) -> np.ndarray:
    s = (fine - 1) // (resolution - 1)
    return x[..., ::s, ::s]


#: samples solved together per task: one batched multigrid solve instead of one solve each. Fixed
#: (not derived from the worker count), so the file's contents do not depend on ``workers``.
_SOLVE_BLOCK = 8


def _work(task: tuple[DarcyConfig, str, tuple[int, ...], tuple[int, ...]]
          ) -> list[dict[int, tuple[np.ndarray, np.ndarray | None]]]:
    """One block of samples -> per sample, ``{resolution: (a, u)}`` in float32."""
    config, split, indices, resolutions = task
    a, u = darcy_samples(config, split, indices)
    fine = config.fine
    out = []
    for k in range(len(indices)):
        out.append({r: (_subsample(a[k], fine, r).astype(np.float32),
                        None if u is None else _subsample(u[k], fine, r).astype(np.float32)) for r in resolutions})
    return out


def _split_sizes(config: DarcyConfig) -> dict[str, int]:
    """Samples per split of the whole run (empty splits left out), in generation order."""
    sizes = {"train": config.n_train, "val": config.n_val_effective, "test": config.n_test}
    return {split: n for split, n in sizes.items() if n > 0}


def _resolutions(split: str, config: DarcyConfig) -> tuple[int, ...]:
    """The resolutions a split is stored at (the test samples at every test resolution)."""
    return config.all_resolutions if split == "test" else (config.resolution,)


def _pool(workers: int) -> ProcessPoolExecutor:
    method = "fork" if sys.platform.startswith("linux") else "spawn"  # fork: no re-import of torch per worker
    # a worker ignores Ctrl-C, which a terminal sends to every process of the command (an idle one printed a
    # KeyboardInterrupt traceback): the command stops the pool as on any early stop (_results)
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method), initializer=signal.signal,
                               initargs=(signal.SIGINT, signal.SIG_IGN))


def _results(tasks: list[Any], workers: int) -> Iterator[dict[int, tuple[np.ndarray, np.ndarray | None]]]:
    """Per sample, in task order: ``{resolution: (a, u)}``.

    With ``workers`` > 1 the blocks are solved in a process pool. A caller that stops early (an error, SIGTERM)
    cancels the blocks not yet started and waits for those being solved (one block per worker): the workers end on
    their own, and no signal reaches them. ``multiprocessing.Pool.terminate`` could hang instead: its result thread
    stops reading while a worker is still writing a solved block (megabytes) into the full result pipe under the
    queue's lock, and the pool then waits for that lock to send its own sentinel.
    """
    if workers <= 1:
        for task in tasks:
            yield from _work(task)
        return
    with _pool(workers) as pool:
        try:
            with warnings.catch_warnings():  # the workers are forked here (on 3.12+: fork of a threaded parent;
                warnings.simplefilter("ignore", DeprecationWarning)  # they use numpy and scipy only)
                blocks = pool.map(_work, tasks)
            for block in blocks:
                yield from block
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _split_name(split: str, resolution: int, config: DarcyConfig) -> str:
    return split if resolution == config.resolution else f"{split}@{resolution}"


def _meta(config: DarcyConfig, shard_record: dict[str, Any] | None) -> DatasetMeta:
    """The metadata of a Darcy file: the equation and its discretisation as parameters, the whole
    configuration as the generator."""
    parameters = {
        "equation": "-div(a grad u) = f on (0,1)^2, u = 0 on the boundary",
        "coefficient": config.coefficient, "a_high": config.a_high, "a_low": config.a_low,
        "forcing": config.forcing, "grf": {"alpha": config.alpha, "tau": config.tau, "sigma": config.grf_sigma,
                                          "basis": "neumann (cosine)"},
        "discretisation": "5-point second-order finite differences on the node grid",
        "face_mean": config.face_mean, "fine_resolution": config.fine, "storage": "subsampled from the fine grid",
    }
    return DatasetMeta(kind="input_only" if config.unlabelled else "operator", name="darcy", dims=("x", "y"),
                       boundary={"x": "dirichlet", "y": "dirichlet"}, parameters=parameters,
                       generator={"name": "darcy", **dataclasses.asdict(config)}, seed=config.seed,
                       shard=shard_record)


@register_generator("darcy", DarcyConfig)
def generate_darcy(config: DarcyConfig, out: str | Path, *, workers: int = 2, progress: bool = True,
                   overwrite: bool = False, shard: Shard | None = None) -> Path:
    """Darcy flow -div(a grad u) = f (FNO benchmark): GRF coefficient a -> pressure u.

    Parameters
    ----------
    config : the :class:`DarcyConfig`.
    out : the HDF5 file to write (atomically; schema v1, kind ``operator`` or ``input_only``).
    workers : worker processes (1: in this process); the contents do not depend on it.
    progress : show the progress (a bar on a terminal, lines in a log).
    overwrite : replace an existing ``out``.
    shard : write only this shard of the run: the same samples, in blocks of 8 solved together.

    Returns
    -------
    path : ``out``. Splits ``train``, ``val``, ``test`` at ``config.resolution`` and
        ``test@R`` for every extra test resolution; input field ``a`` [N, R, R], output field
        ``u`` [N, R, R]; coordinates ``x``, ``y`` = ``linspace(0, 1, R)``.

    References
    ----------
    .. [1] Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
       Equations", ICLR 2021, arXiv:2010.08895.
    """
    if not isinstance(config, DarcyConfig):
        raise TypeError(f"config must be a DarcyConfig, got {type(config).__name__}.")
    out = Path(out)
    shard = shard or Shard(0, 1)
    plan = [(split, r, _resolutions(split, config))
            for split, r in shard.samples(_split_sizes(config), _SOLVE_BLOCK).items()]
    tasks = [(config, split, tuple(range(i, min(i + _SOLVE_BLOCK, r.stop))), res)
             for split, r, res in plan for i in range(r.start, r.stop, _SOLVE_BLOCK)]
    n_samples = sum(len(r) for _, r, _ in plan)
    record = shard.record({_split_name(split, res, config): r for split, r, resolutions in plan for res in resolutions},
                          {_split_name(split, res, config): n for split, n in _split_sizes(config).items()
                           for res in _resolutions(split, config)})
    writer = H5Writer(out, _meta(config, record if shard.count > 1 else None),
                      compression=None if config.compression == "none" else config.compression, overwrite=overwrite)
    with writer as w:
        for split, r, resolutions in plan:
            for res in resolutions:
                coords = {"x": np.linspace(0.0, 1.0, res), "y": np.linspace(0.0, 1.0, res)}
                w.create_split(_split_name(split, res, config), len(r), coords=coords, inputs={"a": (res, res)},
                               outputs=None if config.unlabelled else {"u": (res, res)})
        results = _results(tasks, workers)
        bar = progress_bar(n_samples, "darcy", "sample", progress)
        try:
            for split, r, resolutions in plan:
                for start in range(0, len(r), _WRITE_BLOCK):
                    block = [next(results) for _ in range(min(_WRITE_BLOCK, len(r) - start))]
                    for res in resolutions:
                        a = np.stack([b[res][0] for b in block])
                        u = None if config.unlabelled else {"u": np.stack([b[res][1] for b in block])}
                        w.write(_split_name(split, res, config), start, inputs={"a": a}, outputs=u)
                    bar.update(len(block))
            next(results, None)  # past the last sample: the pool's workers end on their own
        finally:
            bar.close()
            results.close()  # on an error: cancels the blocks not yet solved and ends the pool
    return out
