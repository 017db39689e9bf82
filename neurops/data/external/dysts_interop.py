"""Optional interop with ``dysts`` (Gilpin 2021): its 130+ chaotic flows as neurops trajectory files.

``dysts`` is an optional extra (``pip install "neurops[dysts]"``, pinned to 0.95: version
0.96 hard-imports ``gluonts[arrow]`` and with it pandas, pyarrow and pydantic). Nothing
here is imported by the rest of neurops.

Notes on dysts (0.95): a system's stored ``dt`` overrides the ``dt`` argument of
``make_trajectory``; we set ``model.dt`` instead. Trajectories are integrated with
``pts_per_period`` samples per dominant period when ``resample=True``.

References
----------
.. [1] Gilpin, W. (2021). Chaos as an interpretable benchmark for forecasting and
   data-driven modelling. NeurIPS Datasets and Benchmarks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from neurops.data.writer import H5Writer
from neurops.errors import ConfigError

DYSTS_PIN = "dysts==0.95"


def _import_dysts() -> Any:
    try:
        import dysts.flows as flows
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"dysts is not installed; install the optional extra with `pip install \"{DYSTS_PIN}\"` "
                          "(or `pip install \"neurops[dysts]\"`). Version 0.96 pulls in gluonts/pandas/pyarrow; "
                          "0.95 needs only numpy, scipy and tqdm.") from exc
    return flows


def dysts_system(name: str) -> Any:
    """An instance of the dysts flow ``name`` (e.g. ``"Lorenz"``, ``"Rossler"``), with a clear error if unknown."""
    flows = _import_dysts()
    cls = getattr(flows, name, None)
    if cls is None or not isinstance(cls, type):
        known = sorted(n for n in dir(flows) if n[:1].isupper())
        raise ConfigError(f"dysts has no flow {name!r}; some available: {known[:20]} ...")
    return cls()


def dysts_to_h5(name: str, out: str | os.PathLike, *, n_steps: int = 10_000, dt: float | None = None,
                n_trajectories: int = 1, standardize: bool = False, method: str = "RK45", rtol: float = 1e-9,
                seed: int = 0, overwrite: bool = False) -> Path:
    """Integrate the dysts flow ``name`` and write it as a neurops trajectory file (split ``train``).

    Parameters
    ----------
    name : dysts class name.
    out : output HDF5 file.
    n_steps : samples per trajectory.
    dt : sampling interval (default: the system's stored ``dt``).
    n_trajectories : independent trajectories from perturbed initial conditions.
    standardize : z-score every variable.
    method, rtol : scipy ``solve_ivp`` method and tolerance (dysts defaults to Radau at 1e-12,
        slow without numba).
    seed : seed of the initial-condition perturbations.

    Returns
    -------
    The path written (field ``x`` of shape ``[n_trajectories, n_steps, D]``, dims ``["component"]``).
    """
    system = dysts_system(name)
    if dt is not None:
        system.dt = dt
    rng = np.random.default_rng(seed)
    base_ic = np.asarray(system.ic, dtype=np.float64)
    trajs = []
    for _ in range(n_trajectories):
        system.ic = base_ic + 1e-3 * rng.normal(size=base_ic.shape)
        traj = system.make_trajectory(n_steps, resample=False, method=method, rtol=rtol, atol=rtol)
        trajs.append(np.asarray(traj, dtype=np.float64))
    x = np.stack(trajs)
    mean, std = x.mean(axis=(0, 1)), x.std(axis=(0, 1))
    if standardize:
        x = (x - mean) / std
    dysts_params = {k: np.asarray(v).tolist() for k, v in (getattr(system, "params", None) or {}).items()}
    params = {"dt": float(system.dt), "dysts_parameters": dysts_params,
              "standardized": standardize, "standardization": {"mean": mean.tolist(), "std": std.tolist()}}
    with H5Writer(out, kind="trajectory", name=f"dysts_{name}", dims=["component"], parameters=params,
                  generator={"name": "dysts", "system": name, "n_steps": n_steps, "seed": seed,
                             "n_trajectories": n_trajectories}, seed=seed, overwrite=overwrite) as writer:
        writer.add_split("train", coords={"component": np.arange(x.shape[-1])}, states={"x": x},
                         time=float(system.dt) * np.arange(n_steps))
    return Path(out)


__all__ = ["DYSTS_PIN", "dysts_system", "dysts_to_h5"]
