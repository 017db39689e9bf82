"""The Darcy generator's Gaussian random field prior, in whitened Karhunen-Loeve coordinates.

The coefficient behind a Darcy sample (:mod:`neurops.data.generators.darcy`) is a transform of a
Gaussian random field ``g`` with covariance ``sigma^2 (-Laplace + tau^2)^(-alpha)`` and Neumann
(cosine) eigenbasis (:mod:`neurops.data.generators.grf`)::

    g(x) = sum_k sqrt(mu_k) xi_k phi_k(x),   xi_k ~ N(0, 1) i.i.d.,
    a = exp(g)                               (lognormal)
    a = a_high if g >= 0 else a_low          (piecewise / level set)

so the prior of ``a`` is the standard normal ``N(0, I)`` on the coefficients ``xi`` (the constant
mode, whose eigenvalue is 0, is left out). Posterior samplers work in ``xi``: the pCN proposal of
Cotter et al. [1]_ keeps this prior invariant, so its acceptance rate does not degrade with the
number of modes. :meth:`GRFPrior.field` evaluates the expansion on the node grid exactly as
:func:`~neurops.data.generators.grf.gaussian_random_field` does (the same standard normals give
the same field), by one dense cosine transform per axis, differentiable and on any device.

References
----------
.. [1] S. L. Cotter, G. O. Roberts, A. M. Stuart, D. White, "MCMC methods for functions:
   modifying old algorithms to make them faster", Statistical Science 28(3), 424-446 (2013).
.. [2] M. Dunlop, M. Iglesias, A. M. Stuart, "Hierarchical Bayesian level set inversion",
   Statistics and Computing 27, 1555-1584 (2017) (level-set priors for piecewise coefficients).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import torch

from neurops.data.generators.grf import grf_default_sigma, grf_eigenvalues
from neurops.errors import ConfigError, DataError
from neurops.models.arguments import check_sizes
from neurops.physics.checks import check_tensor

__all__ = ["COEFFICIENTS", "GRFPrior", "prior_from_file"]

Coefficient = Literal["lognormal", "piecewise"]
COEFFICIENTS: tuple[str, ...] = ("lognormal", "piecewise")


@dataclasses.dataclass(frozen=True)
class GRFPrior:
    """Prior of a coefficient field ``a = T(g)``, ``g`` a Neumann GRF on ``(0, 1)^d`` (module doc).

    Parameters
    ----------
    resolution : nodes per axis of the prior's grid (``x = j / (resolution - 1)``); for data from
        the Darcy generator, its fine grid (the one the PDE was solved on).
    ndim : spatial dimension d.
    coefficient : ``"lognormal"`` (``a = exp(g)``) or ``"piecewise"`` (``a_high`` where ``g >= 0``).
    alpha, tau : covariance ``sigma^2 (-Laplace + tau^2)^(-alpha)``.
    sigma : amplitude; ``None`` gives the generator's default ``tau^(alpha - d/2)``.
    a_high, a_low : the two values of a piecewise coefficient.
    max_wavenumber : keep only modes with every ``k_i < max_wavenumber`` (``None``: all modes the
        grid resolves, as the generator does).
    """

    resolution: int
    ndim: int = 2
    coefficient: Coefficient = "lognormal"
    alpha: float = 2.0
    tau: float = 3.0
    sigma: float | None = None
    a_high: float = 12.0
    a_low: float = 3.0
    max_wavenumber: int | None = None

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # made directly, not only through from_dict
            _check_setting(f.name, getattr(self, f.name))
        if self.coefficient not in COEFFICIENTS:
            raise ConfigError(f"prior coefficient {self.coefficient!r} is unknown; use one of {list(COEFFICIENTS)}.")
        if not 1 <= int(self.ndim) <= 3 or int(self.resolution) < 3:
            raise ConfigError(f"a GRF prior needs 1-3 dimensions and >= 3 nodes per axis, got ndim={self.ndim}, "
                              f"resolution={self.resolution}.")
        if not (self.alpha > 0 and self.tau > 0 and (self.sigma is None or self.sigma > 0)):
            raise ConfigError(f"a GRF prior needs alpha > 0, tau > 0 and sigma > 0 (or None); got alpha={self.alpha}, "
                              f"tau={self.tau}, sigma={self.sigma}.")
        if self.coefficient == "piecewise" and not 0 < self.a_low < self.a_high:
            raise ConfigError(f"a piecewise prior needs 0 < a_low < a_high, got {self.a_low} and {self.a_high}.")
        if self.max_wavenumber is not None and not 1 <= self.max_wavenumber:
            raise ConfigError(f"max_wavenumber must be >= 1 (or None for all modes), got {self.max_wavenumber}.")

    # construction ---------------------------------------------------------------------
    @classmethod
    def from_generator(cls, generator: Mapping[str, Any], **overrides: Any) -> GRFPrior:
        """The prior of the Darcy generator whose configuration a data file records (attr ``generator``).

        ``overrides`` replace recorded values (``coefficient``, ``alpha``, ``tau``, ``sigma``,
        ``a_high``, ``a_low``, ``resolution``, ``max_wavenumber``).
        """
        config = darcy_config(generator)
        values: dict[str, Any] = {"resolution": config.fine, "ndim": 2, "coefficient": config.coefficient,
                                  "alpha": config.alpha, "tau": config.tau, "sigma": config.grf_sigma,
                                  "a_high": config.a_high, "a_low": config.a_low}
        return cls.from_dict({**values, **overrides})

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> GRFPrior:
        """A prior from a mapping of its fields (unknown keys are one clear error)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"unknown prior setting(s) {unknown}; known: {sorted(names)}.")
        if "resolution" not in values:
            raise ConfigError("a prior needs its grid: give 'resolution' (nodes per axis).")
        return cls(**dict(values))  # __post_init__ checks every setting

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict (``sigma`` resolved)."""
        return {**dataclasses.asdict(self), "sigma": self.amplitude}

    # the expansion -------------------------------------------------------------------
    @property
    def amplitude(self) -> float:
        """The ``sigma`` actually used."""
        return float(self.sigma) if self.sigma is not None else grf_default_sigma(self.alpha, self.tau, self.ndim)

    @property
    def shape(self) -> tuple[int, ...]:
        """The node grid ``(resolution,) * ndim``."""
        return (int(self.resolution),) * int(self.ndim)

    @functools.cached_property
    def modes(self) -> np.ndarray:
        """Flat indices (C order, on the ``shape`` mode grid) of the modes kept, by decreasing eigenvalue."""
        mu = self.eigenvalues_full
        keep = mu > 0
        if self.max_wavenumber is not None:
            ks = np.indices(self.shape)
            keep &= (ks < self.max_wavenumber).all(axis=0)
        flat = np.flatnonzero(keep.ravel())
        return flat[np.argsort(-mu.ravel()[flat], kind="stable")]

    @functools.cached_property
    def eigenvalues_full(self) -> np.ndarray:
        """``mu_k`` on the whole mode grid ``shape`` (0 for the constant mode)."""
        return grf_eigenvalues(self.shape, alpha=self.alpha, tau=self.tau, sigma=self.amplitude, boundary="neumann")

    @property
    def dim(self) -> int:
        """Number of coefficients ``xi`` (the dimension of the parameter space)."""
        return int(self.modes.size)

    @property
    def differentiable(self) -> bool:
        """Whether ``a`` is a differentiable function of ``xi`` (lognormal; a level set is not)."""
        return self.coefficient == "lognormal"

    def _basis(self, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return _basis(self, device, dtype)

    def field(self, xi: torch.Tensor) -> torch.Tensor:
        """The Gaussian field ``g`` on the node grid.

        Parameters
        ----------
        xi : [..., dim] whitened coefficients (float; their device and dtype are used).

        Returns
        -------
        g : [..., *shape]
        """
        if check_tensor(xi, "GRFPrior: xi", "[..., dim]").shape[-1] != self.dim:
            raise DataError(f"coefficients have {xi.shape[-1]} entries but the prior has {self.dim} modes.")
        cos, sqrt_mu, modes = self._basis(xi.device, xi.dtype)
        lead = xi.shape[:-1]
        z = xi.new_zeros((*lead, int(np.prod(self.shape))))
        z = z.index_copy(-1, modes, xi * sqrt_mu).reshape(*lead, *self.shape)
        nd = len(self.shape)
        for axis in range(nd):  # g = sum_k z_k prod_i cos_i(j_i, k_i): one transform per axis
            z = torch.movedim(torch.tensordot(z, cos, dims=([z.ndim - nd + axis], [1])), -1, z.ndim - nd + axis)
        return z

    def transform(self, g: torch.Tensor) -> torch.Tensor:
        """``a = T(g)``: ``exp(g)`` or the two-valued level set (``[...]`` -> ``[...]``)."""
        if self.coefficient == "lognormal":
            return torch.exp(g)
        return torch.where(g >= 0, torch.full_like(g, self.a_high), torch.full_like(g, self.a_low))

    def coefficient_field(self, xi: torch.Tensor) -> torch.Tensor:
        """``a = T(g(xi))``: ``[..., dim]`` -> ``[..., *shape]``."""
        return self.transform(self.field(xi))

    def sample(self, n: int, generator: torch.Generator | None = None, *, device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``n`` prior draws of the coefficients, ``[n, dim]``."""
        check_sizes("GRFPrior.sample", n=n, error=ConfigError)
        draw_on = generator.device if generator is not None else device
        return torch.randn((n, self.dim), generator=generator, dtype=dtype, device=draw_on).to(device)


#: settings whose values are whole numbers (the others but ``coefficient`` are real numbers)
_INTEGER_SETTINGS = ("resolution", "ndim", "max_wavenumber")
#: an example value of each numeric setting, for the messages
_EXAMPLES = {"resolution": 17, "ndim": 2, "max_wavenumber": 8, "alpha": 2, "tau": 3, "sigma": 1, "a_high": 12,
             "a_low": 3}


def _check_setting(key: str, value: Any) -> None:
    """Refuse a prior setting of the wrong type (a string, a boolean, a fraction where a count goes): one line
    naming the key, its value and the type wanted; ``sigma`` and ``max_wavenumber`` may be None."""
    if key == "coefficient" or (value is None and key in ("sigma", "max_wavenumber")):
        return
    integer = key in _INTEGER_SETTINGS
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kinds) or not np.isfinite(value):
        wanted = "a whole number" if integer else "a finite number"
        raise ConfigError(f"prior setting {key!r} must be {wanted}, got {value!r} ({type(value).__name__}); "
                          f"give e.g. --prior '{{\"{key}\": {_EXAMPLES.get(key, 3)}}}'.")


@functools.lru_cache(maxsize=16)
def _basis(prior: GRFPrior, device: torch.device,
           dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-axis cosine matrix ``[node j, mode k]``, ``sqrt(mu)`` of the kept modes and their flat indices."""
    n = int(prior.resolution)
    k = np.arange(n)
    scale = np.where(k == 0, 1.0, np.sqrt(2.0))
    cos = scale[None, :] * np.cos(np.pi * np.outer(np.arange(n), k) / (n - 1))
    sqrt_mu = np.sqrt(prior.eigenvalues_full.ravel()[prior.modes])
    as_t = lambda x, dt=dtype: torch.as_tensor(x, dtype=dt, device=device)  # noqa: E731
    return as_t(cos), as_t(sqrt_mu), as_t(prior.modes, torch.long)


def darcy_config(generator: Mapping[str, Any]) -> Any:
    """The :class:`~neurops.data.generators.darcy.DarcyConfig` a file's ``generator`` record describes."""
    from neurops.data.generators.darcy import DarcyConfig

    if not isinstance(generator, Mapping) or generator.get("name") != "darcy":
        record = generator if isinstance(generator, Mapping) else {}
        name = record.get("name") or (f"the converter {record['converter']}" if record.get("converter") else None)
        raise DataError(f"the data's generator is {name!r}, not 'darcy': its prior is unknown; describe the prior "
                        f"yourself (--prior '{{\"coefficient\": \"lognormal\", \"resolution\": 33, ...}}').")
    fields = {f.name for f in dataclasses.fields(DarcyConfig)}
    try:
        return DarcyConfig(**{k: v for k, v in generator.items() if k in fields})
    except (TypeError, ConfigError) as exc:
        raise DataError(f"the data's Darcy generator record is unusable ({exc}).") from exc


def prior_from_file(path: str | os.PathLike, **overrides: Any) -> GRFPrior:
    """The prior of the Darcy generator that wrote a neurops data file (its ``generator`` attribute)."""
    from neurops.inverse.observations import data_meta

    return GRFPrior.from_generator(dict(data_meta(path).generator), **overrides)
