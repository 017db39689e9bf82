"""Star-stencil kernels of the multigrid solver: which path runs (torch or Triton).

The torch path is the reference: :meth:`~neurops.solvers.linear.stencil.StencilOperator.apply` /
``residual`` and the smoothers of :class:`~neurops.solvers.linear.multigrid.Multigrid`. The ``triton``
path (:mod:`neurops.kernels.stencil_triton`) computes the same in one pass per output field, for
star stencils (3-, 5-, 7-point) in float32/float64 when no gradient flows through the operator;
other stencils (Galerkin coarse operators: 3^d points) always take the torch path. ``"auto"``
takes the Triton path for CUDA tensors when Triton is installed; ``NEUROPS_STENCIL_PATH=torch``
or ``=triton`` forces a path (``triton`` on CPU tensors needs Triton's interpreter).
"""

from __future__ import annotations

import torch

from neurops.errors import ConfigError
from neurops.kernels.backend import INTERPRETER, path_from_environment, triton_available
from neurops.registry import Registry

#: the paths of the star-stencil kernels, by name (``NEUROPS_STENCIL_PATH``)
PATHS: Registry[str] = Registry("stencil path", ConfigError)
PATHS.add("torch", "the reference: StencilOperator and the multigrid smoothers in torch")
PATHS.add("triton", "one Triton kernel pass per output field (star stencils, no gradient)")
PATH_VARIABLE = "NEUROPS_STENCIL_PATH"
DTYPES = (torch.float32, torch.float64)


def _unsupported(u: torch.Tensor) -> str | None:
    if u.dtype not in DTYPES:
        return f"dtype {u.dtype} (it takes float32 and float64)"
    if u.device.type == "cpu" and not INTERPRETER:
        return "CPU tensors without Triton's interpreter (TRITON_INTERPRET=1 before importing Triton)"
    if u.device.type not in ("cpu", "cuda"):
        return f"tensors on {u.device}"
    if not triton_available():
        return "this installation: Triton is missing (pip install 'neurops[gpu]')"
    return None


def select_stencil_path(u: torch.Tensor, star: bool, differentiable: bool) -> str:
    """``"triton"`` or ``"torch"`` for applying a stencil (``star``: a (2d+1)-point one) to ``u``.

    ``differentiable``: a gradient must flow through the operator or ``u`` (the Triton path has no
    backward), which keeps the torch path under ``"auto"``.
    """
    name = path_from_environment(PATH_VARIABLE, PATHS)
    if not star:
        return "torch"
    if name == "auto":
        return "triton" if u.is_cuda and not differentiable and _unsupported(u) is None else "torch"
    if name == "triton":
        reason = "gradients (it has no backward pass)" if differentiable else _unsupported(u)
        if reason is not None:
            raise ConfigError(f"{PATH_VARIABLE}=triton: the Triton stencil kernel cannot take {reason}; unset it "
                              f"or set it to 'torch'.")
    return name


def star_stencil(mode: str, diag: torch.Tensor, coeffs: torch.Tensor, periodic: tuple[bool, ...], u: torch.Tensor,
                 f: torch.Tensor | None = None, **options: float) -> torch.Tensor:
    """The Triton star-stencil kernel (:func:`neurops.kernels.stencil_triton.star_stencil`), imported on first use."""
    from neurops.kernels.stencil_triton import star_stencil as run

    return run(mode, diag, coeffs, periodic, u, f, **options)
