"""Shallow PLRNNs ``z' = A z + W1 phi(W2 z + h2) + h1`` (plain and clipped), with closed-form backward pieces.

``shplrnn`` has ``phi = relu``; ``clipped_shplrnn`` has ``relu(p + h2) - relu(p)``, bounded orbits if
``max|A| < 1`` (the GTF paper's default). Both are piecewise linear in ``z`` with a region per pattern of
active hidden units and the factored Jacobian ``J = diag(A) + W1 diag(d) W2``, which gives the hand-written
backward pass of forced rollouts (:mod:`neurops.dynamics.forced_rollout`) ``J^T a`` and the parameter
gradients without forming ``J``; without autograd the hidden layer is one clamp (:meth:`ShallowPLRNN._stepper`).

References
----------
.. [1] Hess, F., Monfared, Z., Brenner, M., Durstewitz, D. (2023). Generalized teacher
   forcing for learning chaotic dynamics. ICML 2023, PMLR 202, 13017-13049.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from neurops.errors import ModelError
from neurops.models.piecewise_linear import Observation, PiecewiseLinearRNN, _per_member
from neurops.models.pl_init import _uniform, talathi_vartak_init
from neurops.models.registry import register

__all__ = ["ClippedShallowPLRNN", "ShallowPLRNN"]


def _above(x: torch.Tensor, threshold: torch.Tensor | float, out: torch.Tensor | None = None) -> torch.Tensor:
    """``x > threshold`` as 0/1 in the dtype of ``x`` (written straight into a float tensor, ``out`` if given: a bool
    tensor and its conversion take ~4x longer on a CPU)."""
    return torch.gt(x, threshold, out=torch.empty_like(x) if out is None else out)


@register("shplrnn")
class ShallowPLRNN(PiecewiseLinearRNN):
    """Shallow PLRNN ``z' = A z + W1 relu(W2 z + h2) + h1`` with L hidden units.

    Region code: ``W2 z + h2 > 0`` (``R = L`` bits). ``J = diag(A) + W1 diag(d) W2``.
    Initialisation: ``A`` from Talathi-Vartak, ``W1 ~ U(+-1/sqrt(L))``,
    ``W2 ~ U(+-1/sqrt(M))``, ``h1 = h2 = 0``.

    Parameters
    ----------
    obs_dim, latent_dim, observation, input_dim, seed : see :class:`PiecewiseLinearRNN`.
    hidden_dim : L, width of the hidden ReLU layer.

    References
    ----------
    Hess et al. (2023), ICML, PMLR 202 (generalized teacher forcing).
    """

    clipped: bool = False

    def __init__(self, obs_dim: int, latent_dim: int, hidden_dim: int = 50, *,
                 observation: Observation = "identity", input_dim: int = 0, seed: int | None = 0) -> None:
        super().__init__(obs_dim, latent_dim, observation=observation, input_dim=input_dim, seed=seed)
        if hidden_dim < 1:
            raise ModelError(f"hidden_dim must be >= 1, got {hidden_dim}.")
        self.hidden_dim = hidden_dim
        g = self._generator
        a, _ = talathi_vartak_init(latent_dim, g)
        self.A = nn.Parameter(a)
        self.W1 = nn.Parameter(_uniform((latent_dim, hidden_dim), 1.0 / math.sqrt(hidden_dim), g))
        self.W2 = nn.Parameter(_uniform((hidden_dim, latent_dim), 1.0 / math.sqrt(latent_dim), g))
        self.h1 = nn.Parameter(torch.zeros(latent_dim))
        h2 = _uniform((hidden_dim,), 1.0 / math.sqrt(hidden_dim), g) if self.clipped else torch.zeros(hidden_dim)
        self.h2 = nn.Parameter(h2)

    @_per_member
    def latent_step(self, z: torch.Tensor) -> torch.Tensor:
        # W2^T contiguous, as _stepper has it: the faster layout of this narrow GEMM
        pre = z @ self.W2.mT.contiguous()
        hidden = torch.relu(pre + self._lift(self.h2))
        if self.clipped:
            hidden = hidden - torch.relu(pre)
        if z.ndim == 2:  # one fused op less per step of a rollout
            return torch.addmm(torch.addcmul(self.h1, self.A, z), hidden, self.W1.T)
        if self.members:  # the same for a batch of members: [R, B, M]
            return torch.baddbmm(torch.addcmul(self._lift(self.h1), self._lift(self.A), z), hidden, self.W1.mT)
        return self.A * z + hidden @ self.W1.T + self.h1

    def _stepper(self) -> Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]:
        # step's map (its values to rounding) on parameters looked up once, the hidden layer as ONE clamp
        # (_clamped_hidden_layer): 4 ops a step instead of 6-7
        members = self.members
        with torch.no_grad():
            low, high, w1, bias = self._clamped_hidden_layer()
        w2t, w1t, a = self.W2.detach().mT.contiguous(), w1.detach().mT, self._lift(self.A.detach())
        lo, h1, hi = self._lift(low), self._lift(bias), None if high is None else self._lift(high)
        c_t = self.C.detach().mT if self.input_dim else None
        matmul, matmul_add = (torch.bmm, torch.baddbmm) if members else (torch.mm, torch.addmm)
        work: dict[tuple[int, ...], torch.Tensor] = {}  # hidden-layer buffers, by state shape

        def step(z: torch.Tensor, s: torch.Tensor | None = None) -> torch.Tensor:
            if z.ndim != 2 + bool(members) or (s is None) != (c_t is None):
                return self.step(z, s)  # other shapes, and the errors, as step has them
            if z.shape not in work:  # fresh [R, B, L] tensors every step cost ~4x the arithmetic (page faults)
                work[z.shape] = z.new_empty(*z.shape[:-1], w2t.shape[-1])
            hidden = matmul(z, w2t, out=work[z.shape]).clamp_(lo, hi)
            z_next = matmul_add(torch.addcmul(h1, a, z), hidden, w1t)
            return z_next if c_t is None else z_next + matmul(s, c_t)

        return step

    def _clamped_hidden_layer(self) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor]:
        """The hidden layer as one clamp: ``W1 phi(p) + h1 = W1' clamp(p, lo, hi) + h1'`` with ``p = W2 z``.

        ``relu(p + h2) = clamp(p, -h2, inf) + h2``; the clipped ``relu(p + h2) - relu(p)`` is
        ``clamp(p, -h2, 0) + h2`` where ``h2 >= 0`` and ``-clamp(p, 0, -h2)`` where ``h2 < 0``: the signs go into
        ``W1' = W1 diag(sign)``, the constants into ``h1' = h1 + W1 const``. Returns ``lo : [*E, L]``, ``hi : [*E, L]``
        (``None``: unbounded), ``W1' : [*E, M, L]``, ``h1' : [*E, M]``.
        """
        h2: torch.Tensor = self.h2
        w1: torch.Tensor = self.W1
        lo: torch.Tensor
        hi: torch.Tensor | None
        if not self.clipped:
            lo, hi, const = -h2, None, h2
        else:
            up, zero = h2 >= 0, torch.zeros_like(h2)
            lo, hi, const = torch.where(up, -h2, zero), torch.where(up, zero, -h2), torch.where(up, h2, zero)
            w1 = w1 * torch.where(up, 1.0, -1.0).unsqueeze(-2)
        return lo, hi, w1, self.h1 + (self.W1 @ const.unsqueeze(-1)).squeeze(-1)

    @_per_member
    def region_code(self, z: torch.Tensor) -> torch.Tensor:
        pre = z @ self.W2.mT
        if self.clipped:
            return torch.cat([pre + self._lift(self.h2) > 0, pre > 0], dim=-1)
        return pre + self._lift(self.h2) > 0

    def region_planes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(G, g)`` with the region code ``G z + g > 0``: ``(W2, h2)``; clipped ``([W2; W2], [h2; 0])``."""
        if self.clipped:
            return torch.cat([self.W2, self.W2], dim=-2), torch.cat([self.h2, torch.zeros_like(self.h2)], dim=-1)
        return self.W2, self.h2

    @_per_member
    def linear_map(self, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = code.to(self.A.dtype)
        if self.clipped:
            d_on, d_off = d[..., : self.hidden_dim], d[..., self.hidden_dim:]
            slope = d_on - d_off
        else:
            d_on = slope = d
        return self._jacobian_of_slopes(slope), self._lift(self.h1) + (d_on * self._lift(self.h2)) @ self.W1.mT

    @_per_member
    def jacobian(self, z: torch.Tensor) -> torch.Tensor:
        return self._jacobian_of_slopes(self._slopes(z)[0])

    def _slopes(self, z: torch.Tensor, out: Sequence[torch.Tensor] = (), w2t: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Hidden-unit slopes ``d``, gates ``on = [W2 z + h2 > 0]`` and pre-activations ``W2 z`` (all
        ``[*E, n, L]``) at ``z : [*E, n, M]``, written into ``out = (d, on, pre)`` if given (``w2t``: ``W2^T``).

        ``J = diag(A) + W1 diag(d) W2``; ``d`` is 0 or 1 (``= on``), and -1, 0 or 1 for the
        clipped map (``d = on - [W2 z > 0]``). Straight from the pre-activations (no region code).
        """
        slope, on, pre = out or (None, None, None)
        pre = torch.matmul(z, self.W2.mT if w2t is None else w2t, out=pre)
        on = _above(pre, -self._lift(self.h2), on)  # = [pre + h2 > 0] exactly (a rounded sum keeps its sign)
        if not self.clipped:
            return on, on, pre
        off = _above(pre, 0, slope)
        return torch.sub(on, off, out=off), on, pre

    def _chunk_width(self) -> int:
        return self.hidden_dim  # no J: [n, L] arrays (8-step chunks for 8 ECG members, 65 for one: measured best)

    def _transposed_jacobians(self, z: torch.Tensor, batch: int, work: dict | None = None
                              ) -> tuple[Callable[..., torch.Tensor], tuple[torch.Tensor, ...]]:
        # J^T a = A a + W2^T u with u = d * (W1^T a) (the gradient of the pre-activations, kept for _step_vjp):
        # M L instead of the M^2 L a state of forming J. The [*E, n, L] arrays live in `work`, one set for all
        # chunks of a backward pass: fresh ones cost more than the arithmetic on them (page faults)
        e, work = len(self._member_shape), {} if work is None else work
        if "w2t" not in work:
            work["w2t"] = self.W2.mT.contiguous()  # [*E, M, L]: ~3x faster narrow GEMMs than the view of W2
            work["w1_a"] = z.new_empty(*z.shape[:e], batch, self.hidden_dim)
        if z.shape not in work:
            work[z.shape] = tuple(z.new_empty(*z.shape[:-1], self.hidden_dim) for _ in range(4))
        w1, w2t, w1_a, a_diag = self.W1, work["w2t"], work["w1_a"], self._lift(self.A)
        slope, on, pre = self._slopes(z, work[z.shape][:3], w2t)
        grad_pre = work[z.shape][3]
        slopes, grad_pres = slope.unflatten(e, (-1, batch)), grad_pre.unflatten(e, (-1, batch))  # [*E, t, B, L]

        def product(i: int, a: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
            u = torch.mul(torch.matmul(a, w1, out=w1_a), slopes.select(e, i), out=grad_pres.select(e, i))
            return torch.addcmul((w2t @ u.mT).mT, a_diag, a, out=out)

        return product, (slope, on, pre, grad_pre, w2t)

    def _step_vjp(self, z: torch.Tensor, s: torch.Tensor | None, cotangent: torch.Tensor,
                  data: tuple[torch.Tensor, ...], params: Sequence[torch.Tensor], wrt_inputs: bool,
                  into: list[torch.Tensor | None]) -> torch.Tensor | None:
        # closed form: GEMMs over the n states with the gradient of the pre-activations that the adjoint
        # recursion formed (u = d * (W1^T cot)); hidden = d * pre + on * h2 and O = cot^T on give
        # dW1 = cot^T (d * pre) + h2 O and dh2 = sum_i W1_il O_il. Overwrites pre (with d * pre).
        slope, on, pre, grad_pre, _ = data
        cot_t = cotangent.mT.contiguous()  # [*E, M, n]
        o_il, h2 = cot_t @ on, self._lift(self.h2)  # [*E, M, L]
        gemm_add = torch.Tensor.baddbmm_ if self.members else torch.Tensor.addmm_
        sums = {id(self.A): lambda: (cotangent * z).sum(-2), id(self.h1): lambda: cotangent.sum(-2),
                id(self.h2): lambda: (self.W1 * o_il).sum(-2)}
        for i, p in enumerate(params):  # accumulated in place (GEMMs straight into the chunks before)
            acc = into[i]
            if p is self.W1:
                d_pre = pre.mul_(slope)
                into[i] = (cot_t @ d_pre if acc is None else gemm_add(acc, cot_t, d_pre)).addcmul_(h2, o_il)
            elif p is self.W2:  # z^T u as the transpose of a contiguous [*E, M, L]: ~5x faster than u^T z
                into[i] = (z.mT @ grad_pre).mT if acc is None else gemm_add(acc.mT, z.mT, grad_pre).mT
            elif self.input_dim and p is self.C:
                into[i] = cot_t @ s if acc is None else gemm_add(acc, cot_t, s)
            elif id(p) in sums:
                into[i] = sums[id(p)]() if acc is None else acc.add_(sums[id(p)]())
        return cotangent @ self.C if wrt_inputs else None

    def _jacobian_of_slopes(self, slope: torch.Tensor) -> torch.Tensor:
        """``diag(A) + W1 diag(slope) W2 : [..., M, M]`` for hidden-unit slopes ``[..., L]`` (``[R, n, L]``)."""
        # W1 diag(s) W2 = s @ K with K[l, i*M + j] = W1[i, l] W2[l, j]: one GEMM for many states. K is built
        # as the transpose of a contiguous [M*M, L] array: GEMMs with a narrow right factor run ~2x faster so
        outer = (self.W1.unsqueeze(-2) * self.W2.mT.unsqueeze(-3)).flatten(-3, -2).mT  # [L, M*M] ([R, L, M*M])
        return self._diag_plus(self.A, (slope @ outer).unflatten(-1, (self.latent_dim, self.latent_dim)))

    def _recurrent_parts(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.A, self.W1, self.h1

    def _extra_weights(self) -> list[torch.Tensor]:
        return [self.W2, self.h2]


@register("clipped_shplrnn")
class ClippedShallowPLRNN(ShallowPLRNN):
    """Clipped shallow PLRNN ``z' = A z + W1 [relu(W2 z + h2) - relu(W2 z)] + h1``.

    The clipped hidden layer is bounded, so orbits stay bounded when ``max|A| < 1``.
    Region code: ``[W2 z + h2 > 0, W2 z > 0]`` (``R = 2L`` bits).
    Initialisation as :class:`ShallowPLRNN` except ``h2 ~ U(+-1/sqrt(L))``.

    References
    ----------
    Hess et al. (2023), ICML, PMLR 202 (generalized teacher forcing).
    """

    clipped = True
