"""2D incompressible Navier-Stokes in vorticity form on the unit torus (the FNO setup).

``w_t + u . grad w = nu lap w + f``, ``div u = 0``, ``w = curl u`` on ``[0, 1)^2``, periodic, with
``f = 0.1 (sin 2 pi (x + y) + cos 2 pi (x + y))`` and initial vorticity from the Gaussian random
field of FNO, ``alpha = 2.5``, ``tau = 7`` and amplitude ``sqrt(2) 7^(3/2)`` (FNO's ``GaussianRF``).
Solved pseudo-spectrally with 2/3 dealiasing and Crank-Nicolson diffusion
(:class:`neurops.solvers.timestepping.pseudospectral.NavierStokes2D`) on the solver grid (FNO: 256^2) and
subsampled to the stored grid (64^2). FNO's data uses ``nu`` in {1e-3, 1e-4, 1e-5} with
``T`` = 50, 30, 20 and a record every time unit, the initial vorticity not among the frames.

``neurops data generate navier_stokes --nu 1e-3 --t-final 50 --out data/ns_1e-3.h5``

References
----------
.. [1] Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations",
   ICLR 2021, arXiv:2010.08895, section 5.3.
"""

from __future__ import annotations

import dataclasses
import math
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
from neurops.solvers.timestepping.pseudospectral import NavierStokes2D, fno_forcing

#: FNO's GaussianRF amplitude for the Navier-Stokes initial vorticity: sqrt(2) * tau^(alpha - 1), tau=7, alpha=2.5
FNO_NS_SIGMA = math.sqrt(2.0) * 7.0**1.5


@dataclass
class NavierStokesConfig:
    """Options of the ``navier_stokes`` generator (each is a ``--kebab-case`` CLI option).

    Parameters
    ----------
    n_train : samples in the train split.
    n_val : samples in the val split (0: none).
    n_test : samples in the test split (0: none).
    resolution : stored grid points per axis (must divide ``solver_resolution``).
    solver_resolution : grid points per axis of the spectral solver (FNO: 256).
    test_resolutions : extra ``test@R`` splits with the same test samples at resolution ``R``.
    nu : viscosity (FNO: 1e-3, 1e-4, 1e-5).
    t_final : end time (FNO: 50, 30, 20 for the three viscosities).
    record_dt : time between stored frames (FNO: 1).
    include_initial : also store the initial vorticity as frame ``t = 0`` (FNO keeps it apart,
        so its frame 0 is ``t = record_dt``).
    forcing_amplitude : the factor of ``sin 2 pi (x + y) + cos 2 pi (x + y)`` (0 for none).
    alpha : smoothness exponent of the initial-vorticity GRF ``sigma^2 (-Laplace + tau^2)^(-alpha)``.
    tau : inverse length scale of that GRF.
    sigma : amplitude of that GRF.
    dt : largest time step.
    scheme : ``heun`` (Crank-Nicolson + Heun, 2nd order) or ``euler`` (FNO's, 1st order).
    layout : ``trajectory`` (``states/w`` [N, T, X, Y]) or ``operator`` (``w0`` = w(0) -> ``w`` = w(t_final)).
    batch_size : samples integrated together.
    device : ``cpu`` or ``cuda``.
    seed : root seed.
    compression : ``none``, ``gzip`` or ``lzf``.
    """

    n_train: int = 1000
    n_val: int = 100
    n_test: int = 200
    resolution: int = 64
    solver_resolution: int = 256
    test_resolutions: tuple[int, ...] = ()
    nu: float = 1e-3
    t_final: float = 50.0
    record_dt: float = 1.0
    include_initial: bool = False
    forcing_amplitude: float = 0.1
    alpha: float = 2.5
    tau: float = 7.0
    sigma: float = FNO_NS_SIGMA
    dt: float = 1e-3
    scheme: Literal["heun", "euler"] = "heun"
    layout: Literal["trajectory", "operator"] = "trajectory"
    batch_size: int = 32
    device: str = "cpu"
    seed: int = 0
    compression: Literal["none", "gzip", "lzf"] = "none"

    def __post_init__(self) -> None:
        if not self.nu > 0:
            raise ConfigError(f"nu must be > 0, got {self.nu}.")
        if not 0 < self.record_dt <= self.t_final:
            raise ConfigError(f"need 0 < record_dt <= t_final, got record_dt={self.record_dt}, "
                              f"t_final={self.t_final}.")
        if not math.isclose(self.t_final / self.record_dt, round(self.t_final / self.record_dt), rel_tol=1e-9):
            raise ConfigError(f"t_final={self.t_final} is not a multiple of record_dt={self.record_dt}; "
                              "choose them so that the frames are equally spaced up to t_final.")
        check_grf_settings(self.alpha, self.tau, self.sigma, "the initial-vorticity GRF")
        self.test_resolutions = check_test_resolutions(self.resolution, self.test_resolutions, self.n_test)
        if not math.isfinite(self.forcing_amplitude):
            raise ConfigError(f"forcing_amplitude must be a finite number (0: no forcing), got "
                              f"{self.forcing_amplitude}.")

    def record_times(self) -> np.ndarray:
        """The stored times: ``record_dt, 2 record_dt, .., t_final``, and ``0`` first if ``include_initial``
        or the layout is ``operator`` (which maps ``w(0)`` to ``w(t_final)``)."""
        n = round(self.t_final / self.record_dt)
        first = 0 if self.include_initial or self.layout == "operator" else 1
        return np.arange(first, n + 1, dtype=np.float64) * self.record_dt


@register_generator("navier_stokes", NavierStokesConfig)
def generate_navier_stokes(config: NavierStokesConfig, out: Path, *, workers: int = 2,
                           progress: bool = True, overwrite: bool = False, shard: Shard | None = None) -> Path:
    """2D Navier-Stokes vorticity trajectories on the unit torus (the FNO setup).

    Parameters
    ----------
    config : the :class:`NavierStokesConfig`.
    out : the HDF5 file to write (atomically; schema v1).
    workers : torch threads of the solver; the numbers do not depend on it.
    progress : show the progress (a bar on a terminal, lines in a log).
    overwrite : replace an existing ``out``.
    shard : write only this shard of the run (same samples, see :func:`generate_periodic`).

    Returns
    -------
    path : ``out``. Kind ``trajectory``: ``states/w`` [N, T, X, Y] and ``time`` [T]
        (:meth:`NavierStokesConfig.record_times`); kind ``operator``: ``inputs/w0`` [N, X, Y]
        -> ``outputs/w`` [N, X, Y] at ``t_final``. Splits ``train``, ``val``, ``test`` and
        ``test@R``; coordinates ``x = i / X``, ``y = j / Y``.
    """
    splits = split_sizes(config.n_train, config.n_val, config.n_test)
    n = config.solver_resolution
    forcing = fno_forcing(n, amplitude=config.forcing_amplitude) if config.forcing_amplitude else None
    solver = NavierStokes2D(config.nu, forcing=forcing, dt=config.dt, scheme=config.scheme)
    time = config.record_times()

    def initial_condition(rng: np.random.Generator) -> np.ndarray:
        return gaussian_random_field((n, n), rng, alpha=config.alpha, tau=config.tau, sigma=config.sigma,
                                     boundary="periodic")

    def solve(w0: torch.Tensor) -> torch.Tensor:
        return solver.solve(w0, time)

    parameters = {
        "equation": "w_t + u.grad w = nu lap w + f, div u = 0, on the unit torus",
        "nu": config.nu,
        "forcing": f"{config.forcing_amplitude} (sin 2pi(x+y) + cos 2pi(x+y))",
        "t_final": config.t_final,
        "record_dt": config.record_dt,
        "initial_condition": {"type": "grf", "alpha": config.alpha, "tau": config.tau, "sigma": config.sigma},
        "solver": {"method": f"pseudo-spectral, 2/3 dealiasing, Crank-Nicolson + {config.scheme}",
                   "resolution": n, "dt": config.dt},
    }
    return generate_periodic(
        Path(out), name="navier_stokes", dims=("x", "y"), field="w",
        initial_condition=initial_condition, solve=solve, time=time, splits=splits,
        resolution=config.resolution, solver_resolution=n, test_resolutions=config.test_resolutions,
        layout=config.layout, seed=config.seed, batch_size=config.batch_size, device=config.device,
        parameters=parameters, generator={"name": "navier_stokes", **dataclasses.asdict(config)},
        compression=config.compression, overwrite=overwrite, workers=workers, progress=progress, shard=shard,
    )
