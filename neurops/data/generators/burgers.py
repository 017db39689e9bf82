"""Viscous Burgers data in 1D on the periodic unit interval (the FNO Burgers setup).

``u_t + (u^2 / 2)_x = nu u_xx`` on ``[0, 1)``, periodic, with initial conditions from the
Gaussian random field ``N(0, sigma^2 (-Laplace + tau^2)^(-alpha))`` (FNO: ``625 (-Laplace + 25)^(-2)``,
i.e. ``alpha = 2``, ``tau = 5``, ``sigma = 25``) and ``nu = 0.1``. Solved pseudo-spectrally with
ETDRK4 (:class:`neurops.solvers.timestepping.pseudospectral.Burgers1D`) on the solver grid and subsampled to the
stored resolution.

``neurops data generate burgers --n-train 1000 --n-test 200 --out data/burgers.h5``

References
----------
.. [1] Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations",
   ICLR 2021, arXiv:2010.08895, section 5.1.
.. [2] A.-K. Kassam and L. N. Trefethen, "Fourth-order time-stepping for stiff PDEs",
   SIAM J. Sci. Comput. 26 (2005).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from neurops.data.generators.base import check_test_resolutions, register_generator
from neurops.data.generators.grf import check_grf_settings, gaussian_random_field
from neurops.data.generators.periodic import generate_periodic, split_sizes
from neurops.data.shards import Shard
from neurops.errors import ConfigError
from neurops.solvers.timestepping.pseudospectral import Burgers1D


@dataclass
class BurgersConfig:
    """Options of the ``burgers`` generator (each is a ``--kebab-case`` CLI option).

    Parameters
    ----------
    n_train : samples in the train split.
    n_val : samples in the val split (0: none).
    n_test : samples in the test split (0: none).
    resolution : stored grid points (must divide ``solver_resolution``).
    solver_resolution : grid points of the spectral solver.
    test_resolutions : extra ``test@R`` splits with the same test samples at resolution ``R``.
    nu : viscosity.
    t_final : end time.
    n_frames : stored frames, equally spaced on ``[0, t_final]`` (both ends included).
    layout : ``trajectory`` (``states/u`` [N, T, X]) or ``operator`` (``u0`` -> ``u(t_final)``).
    alpha : smoothness exponent of the initial-condition GRF ``sigma^2 (-Laplace + tau^2)^(-alpha)``.
    tau : inverse length scale of that GRF.
    sigma : amplitude of that GRF.
    dt : largest time step (shortened per sample to satisfy ``cfl``).
    cfl : Courant number of the explicit advection.
    batch_size : samples integrated together.
    seed : root seed.
    compression : ``none``, ``gzip`` or ``lzf``.
    """

    n_train: int = 1000
    n_val: int = 100
    n_test: int = 200
    resolution: int = 1024
    solver_resolution: int = 1024
    test_resolutions: tuple[int, ...] = ()
    nu: float = 0.1
    t_final: float = 1.0
    n_frames: int = 21
    layout: Literal["trajectory", "operator"] = "trajectory"
    alpha: float = 2.0
    tau: float = 5.0
    sigma: float = 25.0
    dt: float = 1e-3
    cfl: float = 0.5
    batch_size: int = 64
    seed: int = 0
    compression: Literal["none", "gzip", "lzf"] = "none"

    def __post_init__(self) -> None:
        if not self.nu > 0:
            raise ConfigError(f"nu must be > 0 (viscous Burgers), got {self.nu}.")
        if not self.t_final > 0:
            raise ConfigError(f"t_final must be > 0, got {self.t_final}.")
        if self.n_frames < 2:
            raise ConfigError(f"n_frames must be >= 2 (t = 0 and t = t_final), got {self.n_frames}.")
        check_grf_settings(self.alpha, self.tau, self.sigma, "the initial-condition GRF")
        self.test_resolutions = check_test_resolutions(self.resolution, self.test_resolutions, self.n_test)


@register_generator("burgers", BurgersConfig)
def generate_burgers(config: BurgersConfig, out: Path, *, workers: int = 2, progress: bool = True,
                     overwrite: bool = False, shard: Shard | None = None) -> Path:
    """Viscous Burgers 1D trajectories (periodic, GRF initial conditions, ETDRK4).

    Parameters
    ----------
    config : the :class:`BurgersConfig`.
    out : the HDF5 file to write (atomically; schema v1).
    workers : torch threads of the solver; the numbers do not depend on it.
    progress : show the progress (a bar on a terminal, lines in a log).
    overwrite : replace an existing ``out``.
    shard : write only this shard of the run (same samples, see :func:`generate_periodic`).

    Returns
    -------
    path : ``out``. Kind ``trajectory``: ``states/u`` [N, n_frames, X] and ``time`` [n_frames];
        kind ``operator`` (``layout="operator"``): ``inputs/u0`` [N, X] -> ``outputs/u`` [N, X]
        at ``t_final``. Splits ``train``, ``val``, ``test`` and ``test@R``; coordinates
        ``x = j / X`` (periodic, the end point excluded).
    """
    splits = split_sizes(config.n_train, config.n_val, config.n_test)
    time = np.linspace(0.0, config.t_final, config.n_frames)
    solver = Burgers1D(config.nu, dt=config.dt, cfl=config.cfl)
    n = config.solver_resolution

    def initial_condition(rng: np.random.Generator) -> np.ndarray:
        return gaussian_random_field((n,), rng, alpha=config.alpha, tau=config.tau, sigma=config.sigma,
                                     boundary="periodic")

    def solve(u0: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(solver.solve(u0.numpy(), time))

    parameters = {
        "equation": "u_t + (u^2/2)_x = nu u_xx on [0, 1), periodic",
        "nu": config.nu,
        "t_final": config.t_final,
        "initial_condition": {"type": "grf", "alpha": config.alpha, "tau": config.tau, "sigma": config.sigma},
        "solver": {"method": "pseudo-spectral ETDRK4, 2/3 dealiasing", "resolution": n, "dt": config.dt,
                   "cfl": config.cfl},
    }
    return generate_periodic(
        Path(out), name="burgers", dims=("x",), field="u", initial_condition=initial_condition, solve=solve,
        time=time, splits=splits, resolution=config.resolution, solver_resolution=n,
        test_resolutions=config.test_resolutions, layout=config.layout, seed=config.seed,
        batch_size=config.batch_size, device="cpu", parameters=parameters,
        generator={"name": "burgers", **dataclasses.asdict(config)}, compression=config.compression,
        overwrite=overwrite, workers=workers, progress=progress, shard=shard,
    )
