"""Forward maps ``a -> u`` of an inverse problem: the true Darcy solve, or a trained surrogate.

Both take a batch of coefficients on the prior's node grid and return the solution on a node
grid of the unit square (the same grid, or a subsample of it for a surrogate trained at a coarser
resolution); :func:`observe` evaluates a solution at the observation points.

* :class:`DarcyForward` solves ``-div(a grad u) = f``, ``u = 0`` on the boundary, with the
  finite differences of the data generator (:func:`neurops.solvers.pde.darcy.solve_darcy`), all
  samples of a batch in one multigrid-preconditioned CG call
  (:func:`neurops.solvers.linear.differentiable.diffusion_solve`), differentiable by one adjoint solve.
* :class:`SurrogateForward` wraps any trained operator ``a -> u`` (FNO, MgNO, LSM, DGNO, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from neurops.errors import ConfigError, DataError
from neurops.physics.checks import check_tensor
from neurops.physics.weak_form import sample_field
from neurops.solvers.linear.differentiable import diffusion_solve
from neurops.solvers.linear.diffusion import FACE_MEANS
from neurops.solvers.pde.darcy import check_forcing

__all__ = ["DarcyForward", "SurrogateForward", "observe", "subsample"]

#: multigrid options of the batched solve: a small coarsest grid (the default's 400 unknowns make the
#: per-sample dense coarse inverse cost more than the solve itself on a 33^2 grid)
MULTIGRID_OPTIONS: dict[str, Any] = {"coarse_size": 49}


def subsample(field: torch.Tensor, resolution: int) -> torch.Tensor:
    """Every ``s``-th node of ``field : [B, *R_fine]`` so that ``resolution`` nodes per axis remain."""
    fine = field.shape[-1]
    if resolution == fine:
        return field
    if resolution < 2 or (fine - 1) % (resolution - 1):
        raise DataError(f"a grid of {resolution} nodes per axis is not a subsample of the prior's {fine} nodes: "
                        f"({resolution} - 1) must divide ({fine} - 1).")
    s = (fine - 1) // (resolution - 1)
    nd = field.ndim - 1
    return field[(slice(None),) + (slice(None, None, s),) * nd]


def observe(u: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Values of node-grid fields at points (multilinear interpolation on the unit cube).

    Parameters
    ----------
    u : [B, *R] fields on the node grid ``linspace(0, 1, R)`` per axis (a tensor or an array).
    points : [M, d] (shared) or [B, M, d] coordinates (a tensor or an array, on any device: moved to ``u``'s).

    Returns
    -------
    values : [B, M], on ``u``'s device
    """
    u = torch.as_tensor(u)
    if not u.is_floating_point():
        u = u.to(torch.float64)
    return sample_field(u[:, None], torch.as_tensor(points).to(device=u.device, dtype=u.dtype))[..., 0]


class DarcyForward:
    """``a -> u`` by the finite-difference Darcy solve (batched MG-PCG, adjoint gradients).

    Parameters
    ----------
    forcing : the constant right-hand side ``f``.
    mean : face averaging of ``a`` (as the generator: ``arithmetic`` or ``harmonic``).
    rtol : relative residual of every solve.
    dtype : precision of the solve (float64: the generator's).
    """

    def __init__(self, forcing: float = 1.0, mean: str = "arithmetic", rtol: float = 1e-8,
                 dtype: torch.dtype = torch.float64) -> None:
        if mean not in FACE_MEANS:
            raise ConfigError(f"face mean {mean!r} is unknown; use one of {list(FACE_MEANS)}.")
        if not 0 < rtol < 1:
            raise ConfigError(f"rtol must be in (0, 1), got {rtol}.")
        self.forcing = check_forcing(forcing, "pass the forcing the observed data were generated with (--forcing)")
        self.mean, self.rtol, self.dtype = mean, float(rtol), dtype

    @classmethod
    def from_generator(cls, generator: Mapping[str, Any], **overrides: Any) -> DarcyForward:
        """The solve of the Darcy generator a data file records (forcing, face mean)."""
        from neurops.inverse.prior import darcy_config

        config = darcy_config(generator)
        return cls(**{"forcing": config.forcing, "mean": config.face_mean, **overrides})

    def __call__(self, a: torch.Tensor) -> torch.Tensor:
        """``a : [B, *R]`` on the node grid of (0,1)^d -> ``u : [B, *R]`` (zero on the boundary), in ``a``'s dtype."""
        x = check_tensor(a, "DarcyForward: a", "[B, *R]").to(self.dtype)
        u = diffusion_solve(x, torch.full_like(x, self.forcing), mean=self.mean, rtol=self.rtol,
                            multigrid=MULTIGRID_OPTIONS)
        return u.to(a.dtype)

    def describe(self) -> dict[str, Any]:
        """What this forward map is (stored with a posterior)."""
        return {"forward": "pde", "forcing": self.forcing, "face_mean": self.mean, "rtol": self.rtol}


class SurrogateForward:
    """``a -> u`` by a trained operator evaluated on its own grid.

    Parameters
    ----------
    model : callable ``[B, 1, *R] -> [B, 1, *R]`` in physical units (e.g. an ``OperatorTask``,
        which normalises inside, or a DGNO).
    resolution : nodes per axis the model is evaluated at (a subsample of the prior's grid;
        ``None``: the prior's grid itself).
    name : what the model is (stored with a posterior).
    batch_size : at most this many samples per model call.
    """

    def __init__(self, model: Callable[[torch.Tensor], torch.Tensor], resolution: int | None = None,
                 name: str = "surrogate", batch_size: int = 256) -> None:
        if not callable(model):
            hint = (" (a Surrogate of load_surrogate: pass its .forward, SurrogateForward(surrogate.forward, "
                    "name=surrogate.name))" if callable(getattr(model, "forward", None)) else "")
            raise ConfigError(f"model must be callable, [B, 1, *R] -> [B, 1, *R], got {type(model).__name__}{hint}.")
        self.model, self.resolution, self.name, self.batch_size = model, resolution, name, int(batch_size)
        params = list(model.parameters()) if isinstance(model, torch.nn.Module) else []
        self.dtype = params[0].dtype if params else torch.float32
        self.device = params[0].device if params else torch.device("cpu")

    def __call__(self, a: torch.Tensor) -> torch.Tensor:
        """``a : [B, *R_prior]`` -> ``u : [B, *R_model]`` in ``a``'s dtype (differentiable)."""
        check_tensor(a, "SurrogateForward: a", "[B, *R]")
        x = subsample(a, self.resolution or a.shape[-1]).to(self.device, self.dtype)[:, None]
        u = torch.cat([self.model(part) for part in x.split(self.batch_size)])
        return u[:, 0].to(a.device, a.dtype)

    def describe(self) -> dict[str, Any]:
        """What this forward map is (stored with a posterior)."""
        return {"forward": "surrogate", "model": self.name, "resolution": self.resolution}
