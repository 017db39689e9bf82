"""Batched Markov chain Monte Carlo for posteriors with a standard normal prior.

Every posterior here has the form ``p(x | y) ∝ exp(-Phi(x)) N(x; 0, I)`` in whitened
coordinates ``x`` (the Karhunen-Loeve coefficients of a Gaussian random field, or a latent code
scaled by its prior standard deviation), with ``Phi`` the negative log-likelihood. Chains are
arrays ``[P, C, n]``: ``P`` independent problems (each with its own step size) times ``C``
chains, all advanced together so that one batched forward evaluation serves every chain.

* :func:`pcn`, preconditioned Crank-Nicolson [1]_: ``x' = sqrt(1 - b^2) x + b w``,
  ``w ~ N(0, I)``, accepted with probability ``min(1, exp(Phi(x) - Phi(x')))``. The proposal
  keeps the prior invariant, so the acceptance rate does not degrade as the number of modes
  grows; it needs no gradient (level-set coefficients, non-differentiable solvers).
* :func:`pcnl`, its Langevin version (the pCN-Langevin / infinity-MALA of [1]_):
  ``x' = ((2 - d) x - 2 d grad Phi(x) + sqrt(8 d) w) / (2 + d)``, accepted by the
  Metropolis-Hastings ratio of the Gaussian proposal densities (prior-reversible for
  ``Phi = 0``).

The step (``b`` or ``d``) of each problem is adapted during burn-in by a Robbins-Monro
recursion on its logarithm towards a target acceptance rate (0.25 for pCN, 0.574 for the
Langevin proposal [2]_), then frozen, so the kept samples come from a fixed Markov kernel.

References
----------
.. [1] S. L. Cotter, G. O. Roberts, A. M. Stuart, D. White, "MCMC methods for functions:
   modifying old algorithms to make them faster", Statistical Science 28(3), 424-446 (2013).
.. [2] G. O. Roberts, J. S. Rosenthal, "Optimal scaling of discrete approximations to Langevin
   diffusions", J. R. Stat. Soc. B 60(1), 255-268 (1998).
.. [3] C. Andrieu, J. Thoms, "A tutorial on adaptive MCMC", Statistics and Computing 18,
   343-373 (2008) (stochastic-approximation step-size adaptation).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from neurops.errors import ConfigError
from neurops.inverse.reference import GaussianReference
from neurops.models.arguments import check_sizes
from neurops.physics.checks import check_tensor

__all__ = ["Chains", "GaussianReference", "map_estimate", "pcn", "pcnl"]

Potential = Callable[[torch.Tensor], torch.Tensor]
PotentialAndGrad = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]

#: largest Langevin step ``d`` (the proposal degenerates at 2)
_MAX_DELTA = 1.9
#: the factor of the inverse temperatures where annealed burn-in starts
_ANNEAL_FROM = 1e-2


@dataclass
class Chains:
    """Kept states of batched Markov chains.

    Attributes
    ----------
    samples : [P, C, S, n] states after burn-in and thinning (chain-major: ``samples[p, c]`` is
        chain ``c`` of problem ``p`` in step order).
    potential : [P, C, S] ``Phi`` of the kept states.
    acceptance : [P, C] acceptance rate of each chain after burn-in.
    step : [P] the frozen step size of each problem (``b`` for pCN, ``d`` for pCN-Langevin); ``[P, B]``, one
        per block, for block pCN (:func:`pcn` with ``blocks``).
    seconds : wall-clock time of the whole run.
    evaluations : forward evaluations per chain (burn-in included; every temperature rung counted).
    swap_rate : [P, K - 1] with parallel tempering: the fraction of proposed exchanges between rungs
        ``k`` and ``k + 1`` accepted after burn-in (None without).
    """

    samples: torch.Tensor
    potential: torch.Tensor
    acceptance: torch.Tensor
    step: torch.Tensor
    seconds: float
    evaluations: int
    swap_rate: torch.Tensor | None = None


def _check(x0: torch.Tensor, n_burn: int, n_samples: int, thin: int, step: float, target: float) -> None:
    check_sizes("MCMC", minimum=0, n_burn=n_burn, error=ConfigError)
    check_sizes("MCMC", n_samples=n_samples, thin=thin, error=ConfigError)
    if check_tensor(x0, "chain starts x0", "[P, C, n]").ndim != 3:
        raise ConfigError(f"chain starts must be [P, C, n] (problems, chains, coefficients), got {tuple(x0.shape)}.")
    if n_burn < 0 or n_samples < 1 or thin < 1 or n_samples < thin:
        raise ConfigError(f"need n_burn >= 0, n_samples >= thin >= 1; got n_burn={n_burn}, n_samples={n_samples}, "
                          f"thin={thin}.")
    if not step > 0 or not 0 < target < 1:
        raise ConfigError(f"need step > 0 and 0 < target_accept < 1, got {step} and {target}.")


def _adapt(log_step: torch.Tensor, accepted: torch.Tensor, target: float, t: int) -> torch.Tensor:
    """One Robbins-Monro update of ``log step`` ``[P, K]`` (problem, rung) from this step's acceptances ``[P, K C]``."""
    gain = 1.0 / (1.0 + t) ** 0.6
    rate = accepted.to(log_step.dtype).reshape(*log_step.shape, -1).mean(-1)
    return log_step + gain * (rate - target)


def _block_masks(blocks: Sequence[int] | None, like: torch.Tensor) -> torch.Tensor | None:
    """``[B, n]`` 0/1 masks of the coordinate blocks ``[0, e_1), [e_1, e_2), ..., [e_last, n)`` (None: one block)."""
    if not blocks:
        return None
    n = like.shape[-1]
    edges = [0, *(int(e) for e in blocks), n]
    if any(not lo < hi for lo, hi in zip(edges, edges[1:])):
        raise ConfigError(f"blocks must be increasing coefficient indices strictly between 0 and {n} (the edges of "
                          f"consecutive blocks), got {list(blocks)}.")
    masks = torch.zeros(len(edges) - 1, n, dtype=like.dtype, device=like.device)
    for j, (lo, hi) in enumerate(zip(edges, edges[1:])):
        masks[j, lo:hi] = 1
    return masks


def _run(propose: Callable, x0: torch.Tensor, state0: tuple, n_burn: int, n_samples: int, thin: int,
         step: float, target: float, max_step: float, generator: torch.Generator | None, rungs: int = 1,
         exchange: Callable | None = None, masks: torch.Tensor | None = None,
         schedule: Callable[[int], None] | None = None, restart: int = 0) -> Chains:
    """Advance ``[P, K C, n]`` chains (``K = rungs`` temperature rungs of ``C`` chains, rung-major); keep rung 0.

    With ``masks`` ``[B, n]``, step ``t`` moves only the coordinates of block ``t mod B``, with that
    block's own step (adapted from that block's acceptances). ``schedule(t)`` is called before step
    ``t``; the step adaptation starts afresh (full gain) at step ``restart``.
    """
    t0 = time.perf_counter()
    P, KC, n = x0.shape
    C = KC // rungs
    B = 1 if masks is None else masks.shape[0]
    x, state = x0.clone(), state0
    log_step = torch.full((P, rungs, B), math.log(min(step, max_step)), dtype=torch.float64, device=x.device)
    kept, kept_phi = [], []
    accepts = torch.zeros(P, C, dtype=torch.float64, device=x.device)
    for t in range(n_burn + n_samples):
        j = t % B
        if schedule is not None:
            schedule(t)
        s = log_step[..., j].exp().clamp(max=max_step).to(x.dtype).repeat_interleave(C, dim=1)[..., None]
        x, state, accepted = propose(x, state, s if masks is None else s * masks[j], generator)
        if exchange is not None:
            x, state = exchange(x, state, t, generator)
        if t < n_burn:
            log_step[..., j] = _adapt(log_step[..., j], accepted, target, (t - restart if t >= restart else t) // B)
        else:
            accepts += accepted[:, :C].to(accepts.dtype)
            if (t - n_burn + 1) % thin == 0:
                kept.append(x[:, :C].clone())
                kept_phi.append(state[0][:, :C].clone())
    final = log_step[:, 0].exp().clamp(max=max_step)
    return Chains(torch.stack(kept, dim=2), torch.stack(kept_phi, dim=2), accepts / n_samples,
                  final[:, 0] if masks is None else final, time.perf_counter() - t0,
                  (n_burn + n_samples + 1) * rungs)


def _normal(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    # drawn on the generator's device, then moved: a CPU generator gives the same chains on every device
    draw_on = generator.device if generator is not None else like.device
    return torch.randn(like.shape, generator=generator, dtype=like.dtype, device=draw_on).to(like.device)


def _uniform_log(shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    draw_on = generator.device if generator is not None else like.device
    return torch.rand(shape, generator=generator, dtype=torch.float64, device=draw_on).log().to(like.device)


def _pcn_setup(x0: torch.Tensor, n_burn: int, reference: GaussianReference | None,
               temperatures: Sequence[float] | None, blocks: Sequence[int] | None,
               anneal: int) -> tuple[GaussianReference, list[float], torch.Tensor | None]:
    """The checked reference, inverse temperatures and block masks of :func:`pcn` (one ConfigError for bad ones)."""
    masks = _block_masks(blocks, x0)
    if not 0 <= anneal <= n_burn:
        raise ConfigError(f"anneal must be between 0 and n_burn ({n_burn}) steps, got {anneal}.")
    if masks is not None and reference is not None and reference.basis.shape[-1] > 0:
        raise ConfigError("blocks move coordinates of the prior's basis independently; they need the prior as the "
                          "reference (plain pCN), not a fitted Gaussian.")
    ref = reference or GaussianReference.prior(x0.shape[0], x0.shape[2], dtype=x0.dtype, device=x0.device)
    if ref.mean.shape != (x0.shape[0], x0.shape[2]):
        raise ConfigError(f"the reference Gaussian is for {tuple(ref.mean.shape)} (problems, coefficients), the "
                          f"chains are {tuple(x0.shape)}.")
    betas = [1.0] if temperatures is None else [float(b) for b in temperatures]
    if betas[0] != 1.0 or any(not 0 < b1 < b0 for b0, b1 in zip(betas, betas[1:])):
        raise ConfigError(f"temperatures must be inverse temperatures 1 = beta_0 > beta_1 > ... > 0, got {betas}.")
    return ref, betas, masks


def pcn(potential: Potential, x0: torch.Tensor, *, n_burn: int, n_samples: int, thin: int = 1, step: float = 0.1,
        target_accept: float = 0.25, reference: GaussianReference | None = None,
        temperatures: Sequence[float] | None = None, blocks: Sequence[int] | None = None, anneal: int = 0,
        generator: torch.Generator | None = None) -> Chains:
    """Preconditioned Crank-Nicolson chains for ``exp(-Phi(x)) N(x; 0, I)`` (module doc).

    With a ``reference`` Gaussian ``N(m, G)`` the proposal is the generalised pCN of Rudolf &
    Sprungk [2]_, ``x' = m + sqrt(1 - b^2) (x - m) + b G^(1/2) w``, accepted with probability
    ``min(1, exp(Psi(x) - Psi(x')))``, ``Psi = Phi - log N(x; 0, I) + log N(x; m, G)``; the plain
    prior (``reference=None``) gives the pCN of Cotter et al. [1]_.

    Parameters
    ----------
    potential : ``Phi : [P, C, n] -> [P, C]`` (no gradient needed).
    x0 : [P, C, n] chain starts (e.g. prior draws: dispersed starts make R-hat meaningful).
    n_burn : burn-in steps (step size adapted, states discarded).
    n_samples, thin : steps after burn-in; every ``thin``-th state is kept.
    step : initial ``b`` in (0, 1].
    target_accept : acceptance rate the burn-in adapts ``b`` to.
    reference : the Gaussian the proposal keeps invariant (default: the prior).
    temperatures : inverse temperatures ``1 = beta_0 > beta_1 > ... > 0`` of parallel tempering
        [3]_ (default: none). Every chain gets a companion at each ``beta_k`` targeting
        ``exp(-beta_k Phi(x)) N(x; 0, I)`` (from the same start, with its own adapted step);
        after every move, neighbouring rungs (even pairs, then odd pairs on alternate steps)
        exchange states with probability
        ``min(1, exp((beta_k - beta_k+1) (Phi(x_k) - Phi(x_k+1))))``, so states found by the
        flatter, freely moving hot chains reach the posterior chains. Costs ``K`` evaluations per
        step; only the ``beta = 1`` chains are kept.
    blocks : edges ``e_1 < e_2 < ...`` that split the coefficients into consecutive blocks
        ``[0, e_1), [e_1, e_2), ..., [e_last, n)`` (default: one block). Step ``t`` moves only block
        ``t mod B``, by pCN on its coordinates with its own step ``b_j`` adapted to the target
        acceptance from its own moves (pCN within Gibbs, a systematic scan; each move keeps the
        posterior invariant because the prior's coordinates are independent). With coefficients
        ordered by decreasing prior variance, the data-constrained leading modes take small steps
        while the weakly informed tail takes steps near 1 and mixes in few moves; one step of
        plain pCN makes every mode as slow as the most constrained one (its move ``b`` per mode and
        step) [4]_. Only with the prior as reference.
    anneal : the first ``anneal`` burn-in steps target ``exp(-f_t beta_k Phi(x)) N(x; 0, I)`` with
        ``f_t`` rising geometrically from ``1e-2`` to 1 (simulated annealing from the prior
        draws [5]_: a start far in the tails, where ``Phi`` is in the thousands, first moves almost
        freely under the prior and settles into the data-supported region as ``f_t`` grows, rather
        than descending by steps sized for the posterior); the step adaptation then starts afresh.
        Default 0 (none). Only the burn-in is annealed: the kept states follow the fixed kernel.
    generator : torch generator (same seed, same chains).

    Returns
    -------
    Chains

    References
    ----------
    .. [1] S. L. Cotter et al., Statistical Science 28(3), 424-446 (2013), section 4.2.
    .. [2] D. Rudolf, B. Sprungk, "On a generalization of the preconditioned Crank-Nicolson
       Metropolis algorithm", Foundations of Computational Mathematics 18, 309-343 (2018).
    .. [3] C. J. Geyer, "Markov chain Monte Carlo maximum likelihood", Computing Science and
       Statistics 23, 156-163 (1991); D. J. Earl, M. W. Deem, "Parallel tempering: theory,
       applications, and new perspectives", Phys. Chem. Chem. Phys. 7, 3910-3916 (2005).
    .. [4] K. J. H. Law, "Proposals which speed up function-space MCMC", Journal of Computational
       and Applied Mathematics 262, 127-138 (2014) (mode-dependent pCN steps).
    .. [5] S. Kirkpatrick, C. D. Gelatt, M. P. Vecchi, "Optimization by simulated annealing",
       Science 220, 671-680 (1983); R. M. Neal, "Annealed importance sampling", Statistics and
       Computing 11, 125-139 (2001).
    """
    _check(x0, n_burn, n_samples, thin, step, target_accept)
    ref, betas, masks = _pcn_setup(x0, n_burn, reference, temperatures, blocks, anneal)
    K, C = len(betas), x0.shape[1]
    base = torch.as_tensor(betas, dtype=x0.dtype, device=x0.device).repeat_interleave(C)  # [K C], rung-major
    beta = base * (_ANNEAL_FROM if anneal else 1.0)
    m = ref.mean[:, None]

    def psi(x, phi):
        return beta * phi - ref.log_ratio(x)

    def schedule(t):
        if t <= anneal:
            beta.copy_(base * _ANNEAL_FROM ** (1 - t / anneal))

    swaps = torch.zeros(x0.shape[0], max(K - 1, 0), 2, dtype=torch.float64, device=x0.device)  # accepted, tried

    def exchange(x, state, t, gen):
        phi = state[0]
        log_u = _uniform_log((phi.shape[0], K // 2 * C + C), x, gen)
        perm = torch.arange(K * C, device=x.device).expand(phi.shape[0], -1).clone()
        for j, k in enumerate(range(t % 2, K - 1, 2)):
            lo, hi = torch.arange(k * C, (k + 1) * C, device=x.device), torch.arange((k + 1) * C, (k + 2) * C,
                                                                                     device=x.device)
            log_alpha = ((beta[k * C] - beta[(k + 1) * C]) * (phi[:, lo] - phi[:, hi])).to(torch.float64)
            swap = log_u[:, j * C:(j + 1) * C] < log_alpha
            if t >= n_burn:
                swaps[:, k, 0] += swap.sum(1).to(swaps.dtype)
                swaps[:, k, 1] += C
            perm[:, lo], perm[:, hi] = torch.where(swap, hi, lo), torch.where(swap, lo, hi)
        x = torch.gather(x, 1, perm[..., None].expand_as(x))
        phi = torch.gather(phi, 1, perm)
        return x, (phi, psi(x, phi))

    def propose(x, state, b, gen):
        phi, psi_x = state
        if anneal:  # the temperature moved since psi_x was computed
            psi_x = psi(x, phi)
        prop = m + torch.sqrt(1 - b * b) * (x - m) + b * ref.scale(_normal(x, gen))
        phi_prop = potential(prop)
        psi_prop = psi(prop, phi_prop)
        log_alpha = torch.nan_to_num((psi_x - psi_prop).to(torch.float64), nan=-math.inf)
        accept = _uniform_log(phi.shape, x, gen) < log_alpha
        keep = lambda new, old: torch.where(accept, new, old)  # noqa: E731
        return torch.where(accept[..., None], prop, x), (keep(phi_prop, phi), keep(psi_prop, psi_x)), accept

    with torch.no_grad():
        x_all = x0.repeat(1, K, 1)
        phi0 = potential(x_all)
        chains = _run(propose, x_all, (phi0, psi(x_all, phi0)), n_burn, n_samples, thin, step, target_accept, 1.0,
                      generator, rungs=K, exchange=exchange if K > 1 else None, masks=masks,
                      schedule=schedule if anneal else None, restart=anneal)
    if K > 1:
        chains.swap_rate = swaps[..., 0] / swaps[..., 1].clamp(min=1)
    return chains


def pcnl(potential_and_grad: PotentialAndGrad, x0: torch.Tensor, *, n_burn: int, n_samples: int, thin: int = 1,
         step: float = 0.1, target_accept: float = 0.574, generator: torch.Generator | None = None) -> Chains:
    """pCN-Langevin chains for ``exp(-Phi(x)) N(x; 0, I)``: gradient-informed, prior-reversible proposals.

    Parameters
    ----------
    potential_and_grad : ``x : [P, C, n] -> (Phi : [P, C], grad Phi : [P, C, n])``.
    x0, n_burn, n_samples, thin, generator : as :func:`pcn`.
    step : initial ``d`` in (0, 2).
    target_accept : acceptance rate the burn-in adapts ``d`` to (0.574, optimal for Langevin proposals).

    Returns
    -------
    Chains

    References
    ----------
    .. [1] S. L. Cotter et al., Statistical Science 28(3), 424-446 (2013), section 4.3.
    """
    _check(x0, n_burn, n_samples, thin, step, target_accept)

    def log_q(to, frm, grad_frm, d):  # log density of proposing `to` from `frm`, up to a constant shared by both
        mean = ((2 - d) * frm - 2 * d * grad_frm) / (2 + d)
        return -((to - mean) ** 2).sum(-1) * (2 + d[..., 0]) ** 2 / (16 * d[..., 0])

    def propose(x, state, d, gen):
        phi, grad = state
        prop = ((2 - d) * x - 2 * d * grad + torch.sqrt(8 * d) * _normal(x, gen)) / (2 + d)
        phi_prop, grad_prop = potential_and_grad(prop)
        log_target = lambda z, p: -p - 0.5 * (z * z).sum(-1)  # noqa: E731
        log_alpha = (log_target(prop, phi_prop) + log_q(x, prop, grad_prop, d)
                     - log_target(x, phi) - log_q(prop, x, grad, d))
        log_alpha = torch.nan_to_num(log_alpha.to(torch.float64), nan=-math.inf)
        accept = _uniform_log(phi.shape, x, gen) < log_alpha
        return (torch.where(accept[..., None], prop, x),
                (torch.where(accept, phi_prop, phi), torch.where(accept[..., None], grad_prop, grad)), accept)

    return _run(propose, x0, potential_and_grad(x0), n_burn, n_samples, thin, min(step, _MAX_DELTA), target_accept,
                _MAX_DELTA, generator)


def map_estimate(potential_and_grad: PotentialAndGrad, x0: torch.Tensor, *, steps: int = 300,
                 lr: float = 0.05) -> tuple[torch.Tensor, list[float]]:
    """Minimise ``Phi(x) + |x|^2 / 2`` (the negative log posterior) by Adam from ``x0``, with a step decay at half way.

    Adam's update is written out here (Kingma & Ba, 2015, default moments 0.9 / 0.999): it needs
    no optimizer object, whose construction imports torch's compiler stack (seconds on a CPU).

    Parameters
    ----------
    potential_and_grad : as :func:`pcnl` (on ``[P, C, n]``; every start is optimised independently).
    x0 : [P, C, n] starting points.
    steps, lr : Adam iterations and learning rate (divided by 3 after half the steps).

    Returns
    -------
    x : [P, C, n] the optimised points.
    history : the summed negative log posterior before every step.
    """
    if steps < 0:
        raise ConfigError(f"MAP steps must be >= 0, got {steps}.")
    x = check_tensor(x0, "map_estimate: x0", "[P, C, n]").detach().clone()
    m, v = torch.zeros_like(x), torch.zeros_like(x)
    history = []
    for t in range(1, steps + 1):
        phi, grad = potential_and_grad(x)
        history.append(float((phi + 0.5 * (x**2).sum(-1)).sum()))
        g = grad + x
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        rate = lr if t <= max(1, steps // 2) else lr * 0.3
        x = x - rate * (m / (1 - 0.9**t)) / ((v / (1 - 0.999**t)).sqrt() + 1e-8)
    return x, history
