"""Optional interop with ``dysts`` (Gilpin 2021): its 130+ chaotic flows for the chaotic-system generators.

``neurops data generate dysts --system NAME ...`` (:func:`neurops.data.generators.chaotic.generate_dysts`)
integrates a dysts flow through :class:`DystsFlow`, the same interface as the package's
own systems (:mod:`neurops.systems`), and records the system's
published Lyapunov spectrum, dimensions and period from dysts' metadata, which
``neurops dsr evaluate`` shows next to a model's lambda_max.

``dysts`` is an optional extra (``pip install "neurops[dysts]"``, pinned to 0.95: version
0.96 hard-imports ``gluonts[arrow]`` and with it pandas, pyarrow and pydantic). Nothing
else in neurops imports it.

References
----------
.. [1] Gilpin, W. (2021). Chaos as an interpretable benchmark for forecasting and
   data-driven modelling. NeurIPS Datasets and Benchmarks.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from neurops.errors import ConfigError

DYSTS_PIN = "dysts==0.95"
#: metadata fields of a dysts system recorded as ``parameters["published"]`` of a generated file
PUBLISHED = {"maximum_lyapunov_estimated": "lambda_max", "lyapunov_spectrum_estimated": "lyapunov_spectrum",
             "kaplan_yorke_dimension": "kaplan_yorke_dimension", "correlation_dimension": "correlation_dimension",
             "period": "period"}


def _import_dysts() -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Numba not installed": dysts runs without it
            import dysts.flows as flows
    except ImportError:
        raise ConfigError(f"the dysts flows need the optional package dysts; install it with `pip install "
                          f"\"{DYSTS_PIN}\"` (or `pip install \"neurops[dysts]\"`). Version 0.96 pulls in "
                          "gluonts/pandas/pyarrow; 0.95 needs only numpy, scipy and tqdm.") from None
    return flows


def dysts_system(name: str) -> Any:
    """An instance of the dysts flow ``name`` (e.g. ``"Lorenz"``, ``"Rossler"``), with a clear error if unknown."""
    import difflib

    flows = _import_dysts()
    cls = getattr(flows, name, None)
    if cls is None or not isinstance(cls, type):
        known = sorted(n for n in dir(flows) if n[:1].isupper() and isinstance(getattr(flows, n), type))
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"dysts has no flow {name!r}.{hint} Some of its {len(known)} flows: {known[:12]} ...")
    return cls()


class DystsFlow:
    """A dysts flow behind the interface of the package's chaotic systems.

    ``field(x)`` (vectorised over leading axes), ``initial_state(rng, n)`` (dysts'
    initial condition, perturbed), ``parameters()``, ``dim`` and ``published()``.

    Parameters
    ----------
    name : the dysts class name.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.system = dysts_system(name)
        self.ic = np.asarray(self.system.ic, dtype=np.float64)
        self.dim = int(self.ic.shape[-1])

    def field(self, x: np.ndarray) -> np.ndarray:
        """``dx/dt : [..., D]`` at ``x : [..., D]`` (dysts' right-hand side; autonomous flows)."""
        flat = np.asarray(x, dtype=np.float64).reshape(-1, self.dim)
        out = np.asarray(self.system.rhs(flat, 0.0), dtype=np.float64)  # [D, B]
        return out.T.reshape(np.shape(x))

    def initial_state(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """[n, D]: dysts' stored initial condition plus a 1 % perturbation (scaled by its magnitude)."""
        scale = 0.01 * (np.abs(self.ic) + 1.0)
        return self.ic + scale * rng.normal(size=(n, self.dim))

    def parameters(self) -> dict[str, Any]:
        """The flow's parameters (JSON-ready) and its dysts name."""
        params = {k: np.asarray(v).tolist() for k, v in (getattr(self.system, "params", None) or {}).items()}
        return {"dysts_system": self.name, "dysts_parameters": params}

    def published(self) -> dict[str, Any]:
        """The system's published lambda_max, Lyapunov spectrum, dimensions and period (per time unit)."""
        record: dict[str, Any] = {"source": f"dysts metadata ({DYSTS_PIN})"}
        for attr, key in PUBLISHED.items():
            value = getattr(self.system, attr, None)
            if value is not None:
                record[key] = np.asarray(value, dtype=np.float64).tolist()
        return record

    def default_dt(self) -> float:
        """A sampling interval of 1/100 of the dominant period (dysts' ``pts_per_period=100``), else its ``dt``."""
        period = getattr(self.system, "period", None)
        return float(period) / 100.0 if period else float(self.system.dt)


__all__ = ["DYSTS_PIN", "DystsFlow", "dysts_system"]
