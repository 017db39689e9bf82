"""Symbolic analysis of piecewise-linear (PWL) RNNs: regions, fixed points, cycles, graphs.

A PWL model (:class:`neurops.models.piecewise_linear.PiecewiseLinearRNN`) is affine inside each linear
subregion, ``F(z) = J_d z + c_d`` for the region with boolean code ``d``. That makes the
analysis exact:

* :func:`orbit_codes`, :func:`region_frequencies`: the regions an orbit visits and how often;
* :func:`fixed_points`: ``z* = (I - J_d)^{-1} c_d`` for every candidate region; *real* if
  ``z*`` lies in region ``d`` (else *virtual*), stable iff all ``|eig(J_d)| < 1``; where
  ``I - J_d`` is singular, a continuum of fixed points (a line attractor ...) or none
  (:mod:`neurops.dynamics.periodic_sets`);
* :func:`find_cycles`: k-cycles by a SCYFI-style self-consistency iteration: for a code
  sequence ``d_1..d_k`` solve the linear k-periodicity condition, recompute the codes of
  the candidate orbit, repeat until they agree, restart from new sequences;
* :func:`symbolic_graph`: nodes are regions, edges the observed transitions;
* :func:`topological_entropy`: ``log`` of the spectral radius of the transition graph, or
  the growth rate ``(1/L) log N(L)`` of the number of distinct symbol words.

References
----------
.. [1] Eisenmann, L., Monfared, Z., Goering, N., Durstewitz, D. (2023). Bifurcations and
   loss jumps in RNN training. NeurIPS 2023 (SCYFI).
.. [2] Brenner, M., Hemmer, C. J., Monfared, Z., Durstewitz, D. (2024). Almost-linear RNNs
   yield highly interpretable symbolic codes in dynamical systems reconstruction. NeurIPS 2024.
.. [3] Lind, D., Marcus, B. (1995). An Introduction to Symbolic Dynamics and Coding.
   Cambridge University Press (topological entropy of shifts of finite type, Thm. 4.3.3).
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from neurops.dynamics.periodic_sets import PeriodicSet, periodic_set
from neurops.errors import ConfigError, ModelError


@dataclass
class Cycle:
    """A fixed point (``period == 1``) or k-cycle of a PWL map, or a continuum of them.

    Attributes
    ----------
    points : [k, M] the states of the cycle (of a continuum: the orbit of one of its points, in its regions if real).
    codes : [k, R] bool region codes the map is evaluated with at each point.
    eigenvalues : [M] complex eigenvalues of the k-step Jacobian product.
    real : True if every point lies in its assumed region (always True for k > 1 results; a continuum: if the
        set meets its regions).
    continuum_dim : 0 for an isolated point or cycle; ``d >= 1`` for a continuum (``I - P`` singular), the
        dimension of its part in its regions (of the whole set if virtual): 1 a line of fixed points, e.g. a
        line attractor, 2 a plane ...
    directions : [k, M, d] orthonormal bases of the continuum's directions at each point (point ``i``'s set is
        ``points[i] + span(directions[i])``); None for isolated points.
    """

    points: np.ndarray
    codes: np.ndarray
    eigenvalues: np.ndarray
    real: bool = True
    continuum_dim: int = 0
    directions: np.ndarray | None = None

    @property
    def period(self) -> int:
        return int(self.points.shape[0])

    @property
    def stable(self) -> bool:
        """All ``|eig| < 1``: asymptotically stable (never a continuum, which is neutral along itself)."""
        return not self.continuum_dim and bool(np.max(np.abs(self.eigenvalues)) < 1.0)

    @property
    def transverse_eigenvalues(self) -> np.ndarray:
        """The eigenvalues across a continuum: all but the ``continuum_dim`` ones nearest 1 (its own directions)."""
        along = np.argsort(np.abs(self.eigenvalues - 1.0), kind="stable")[: self.continuum_dim]
        return np.delete(self.eigenvalues, along)

    @property
    def geometry(self) -> str:
        """``point`` (``cycle``), or ``line``, ``plane``, ``d-dimensional set`` for a continuum."""
        names = {0: "point" if self.period == 1 else "cycle", 1: "line", 2: "plane"}
        return names.get(self.continuum_dim, f"{self.continuum_dim}-dimensional set")

    @property
    def kind(self) -> str:
        """``stable``/``unstable`` node, focus or saddle, from the eigenvalues; a continuum: ``attracting``,
        ``repelling``, ``saddle`` or ``marginal`` (some ``|eig| = 1`` across it) line/plane, or ``neutral``
        if it fills the space (it is neutral along itself)."""
        if self.continuum_dim:
            mags = np.abs(self.transverse_eigenvalues)
            if not len(mags):
                return f"neutral {self.geometry}"
            if np.all(mags < 1 - 1e-9) or np.all(mags > 1 + 1e-9):
                return f"{'attracting' if mags[0] < 1 else 'repelling'} {self.geometry}"
            marginal = np.any(np.abs(mags - 1) <= 1e-9)
            return f"{'marginal' if marginal else 'saddle'} {self.geometry}"
        mags = np.abs(self.eigenvalues)
        complex_pair = bool(np.any(np.abs(self.eigenvalues.imag) > 1e-9))
        if np.all(mags < 1):
            return "stable focus" if complex_pair else "stable node"
        if np.all(mags > 1):
            return "unstable focus" if complex_pair else "unstable node"
        return "saddle focus" if complex_pair else "saddle"


@dataclass
class SymbolicGraph:
    """Transition graph between the linear subregions visited by an orbit.

    Attributes
    ----------
    codes : [K, R] bool, the distinct region codes (nodes), most visited first.
    visits : [K] relative visit frequencies (sum 1).
    counts : [K, K] transition counts ``i -> j`` between successive time steps (self-loops included).
    """

    codes: np.ndarray
    visits: np.ndarray
    counts: np.ndarray
    labels: list[str] = field(default_factory=list)

    @property
    def probabilities(self) -> np.ndarray:
        """[K, K] row-normalised transition probabilities."""
        rows = self.counts.sum(axis=1, keepdims=True)
        return self.counts / np.where(rows > 0, rows, 1)


def _double(model: nn.Module) -> nn.Module:
    """A float64 copy of the model on the CPU, where the analysis runs (small matrices, numpy results)."""
    return copy.deepcopy(model).double().cpu().eval()


def code_label(code: np.ndarray) -> str:
    """A region code as a bit string, e.g. ``"011"``."""
    return "".join("1" if b else "0" for b in np.asarray(code).ravel())


@torch.no_grad()
def orbit_codes(model: nn.Module, z0: torch.Tensor, n_steps: int, transient: int = 0) -> tuple[np.ndarray,
                                                                                                  np.ndarray]:
    """Run the autonomous latent map and return its orbit and region codes.

    Parameters
    ----------
    z0 : [M] initial latent state.

    Returns
    -------
    z : [n_steps, M] float64 orbit, codes : [n_steps, R] bool.
    """
    m = _double(model)
    z = torch.as_tensor(z0, dtype=torch.float64, device="cpu").reshape(1, -1)
    for _ in range(transient):
        z = m.latent_step(z)
    zs = torch.empty((n_steps, z.shape[1]), dtype=torch.float64)  # not a list of n_steps tensors (~1 kB each)
    for i in range(n_steps):
        zs[i] = z[0]
        z = m.latent_step(z)
    return zs.numpy(), m.region_code(zs).numpy()


def region_frequencies(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct region codes of a sequence and their relative frequencies, most frequent first.

    Parameters
    ----------
    codes : [T, R] bool.

    Returns
    -------
    unique : [K, R] bool, freq : [K] (sum 1).
    """
    unique, counts = np.unique(np.asarray(codes, dtype=bool), axis=0, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return unique[order], counts[order] / counts.sum()


@torch.no_grad()
def fixed_points(model: nn.Module, codes: np.ndarray | None = None, *, max_exhaustive_bits: int = 12,
                 include_virtual: bool = True) -> list[Cycle]:
    """All fixed points of the PWL map over the given (default: all) linear subregions.

    For each region code ``d``: ``z* = (I - J_d)^{-1} c_d``. ``z*`` is *real* if its own code
    is ``d``, *virtual* otherwise (it then shapes the flow in region ``d`` without being
    reached). Where ``I - J_d`` is singular the region has no fixed point (``(I - J_d) z = c_d``
    inconsistent) or a continuum of them (``continuum_dim >= 1``: e.g. a line attractor), real
    if it meets the region (a linear program), with a point of it and its directions.

    Parameters
    ----------
    model : PWL RNN.
    codes : [K, R] bool candidate regions; default all ``2^R`` codes (only if
        ``R <= max_exhaustive_bits``; otherwise pass codes, e.g. from :func:`region_frequencies`,
        or use :func:`find_cycles` with ``k=1``).
    include_virtual : also return virtual fixed points.

    Returns
    -------
    list of :class:`Cycle` with ``period == 1``; real ones first.

    References
    ----------
    Durstewitz (2017), PLoS Comput. Biol.; Brenner et al. (2024), NeurIPS.
    """
    m = _double(model)
    if codes is None:
        bits = m.code_size
        if bits > max_exhaustive_bits:
            raise ModelError(f"the model has 2^{bits} region codes, too many to enumerate (limit "
                             f"2^{max_exhaustive_bits}); pass codes= (e.g. the visited regions) or use "
                             "find_cycles(model, k=1).")
        codes = np.array(list(itertools.product((False, True), repeat=bits)), dtype=np.bool_).reshape(2**bits, bits)
    out = []
    for code in np.asarray(codes, dtype=bool):
        d = torch.as_tensor(code, device="cpu").unsqueeze(0)
        solved = periodic_set(m, d)
        if solved is None:  # I - J_d singular and (I - J_d) z = c_d inconsistent: no fixed point
            continue
        real = bool(torch.equal(m.region_code(solved.points), d)) if solved.real is None else solved.real
        if real or include_virtual:
            out.append(_cycle(solved, code[None], real))
    out.sort(key=lambda c: not c.real)
    return out


def _cycle(solved: PeriodicSet, codes: np.ndarray, real: bool) -> Cycle:
    dim = solved.directions.shape[-1]
    return Cycle(solved.points.numpy(), codes, np.linalg.eigvals(solved.prod.numpy()), real, dim,
                 solved.directions if dim else None)


def _minimal_period(points: np.ndarray, tol: float) -> int:
    k = len(points)
    for p in range(1, k):
        if k % p == 0 and np.allclose(points, np.roll(points, p, axis=0), atol=tol):
            return p
    return k


def _same_cycle(a: Cycle, b: Cycle, tol: float) -> bool:
    """One cycle up to a shift; continua: one code sequence up to a shift (it has one continuum)."""
    if a.continuum_dim or b.continuum_dim:
        return (a.continuum_dim == b.continuum_dim and a.codes.shape == b.codes.shape
                and any(np.array_equal(np.roll(a.codes, s, axis=0), b.codes) for s in range(len(a.codes))))
    tol = tol * max(1.0, float(np.abs(a.points).max()))
    return a.points.shape == b.points.shape and any(np.allclose(np.roll(a.points, s, axis=0), b.points, atol=tol)
                                                    for s in range(len(a.points)))


@torch.no_grad()
def find_cycles(model: nn.Module, k: int, *, n_restarts: int = 50, max_iter: int = 30, seed: int = 0,
                start_states: np.ndarray | None = None, tol: float = 1e-8) -> list[Cycle]:
    """Real k-cycles (k = 1: fixed points) of a PWL map by a SCYFI-style search.

    Each restart takes a start state (one of ``start_states``, else ``N(0, I)``), uses the
    codes of its first ``k`` iterates as the initial region sequence, and then iterates:
    solve the k-periodicity condition for that sequence, recompute the codes of the
    candidate orbit, stop when they agree (a real cycle) or after ``max_iter`` updates.
    A sequence with a continuum of k-periodic points (a neutral rotation ...) is a real cycle
    if the continuum meets its regions (``continuum_dim >= 1``, one point of it in ``points``).
    Only cycles of minimal period ``k`` are returned, each once.

    Parameters
    ----------
    model : PWL RNN.
    k : cycle length (>= 1).
    start_states : [S, M] latent states to seed restarts from (e.g. an orbit).
    tol : tolerance for comparing cycles.

    References
    ----------
    Eisenmann et al. (2023), NeurIPS (SCYFI).
    """
    if k < 1:
        raise ConfigError(f"cycle length k must be >= 1, got {k}.")
    m = _double(model)
    rng = np.random.default_rng(seed)
    found: list[Cycle] = []
    for _ in range(n_restarts):
        if start_states is not None and len(start_states):
            z = torch.as_tensor(start_states[rng.integers(len(start_states))], dtype=torch.float64, device="cpu")
        else:
            z = torch.as_tensor(rng.normal(size=m.latent_dim), device="cpu")
        seq = []
        for _ in range(k):
            seq.append(z)
            z = m.latent_step(z.unsqueeze(0))[0]
        codes = m.region_code(torch.stack(seq))
        for _ in range(max_iter):
            solved = periodic_set(m, codes)
            if solved is None:
                break
            new_codes = m.region_code(solved.points)
            if solved.real if solved.real is not None else torch.equal(new_codes, codes):
                cycle = _cycle(solved, codes.numpy(), True)
                if np.isfinite(cycle.points).all() and _minimal_period(cycle.points, tol) == k and not any(
                        _same_cycle(cycle, c, tol) for c in found):
                    found.append(cycle)
                break
            if torch.equal(new_codes, codes):  # a virtual continuum whose point has its codes (rounding)
                break
            codes = new_codes
    return found


def symbolic_graph(codes: np.ndarray) -> SymbolicGraph:
    """Transition graph of a region-code sequence ``codes : [T, R]``.

    Nodes are the distinct codes (most visited first); ``counts[i, j]`` counts the steps
    ``t`` with ``code_t = i`` and ``code_{t+1} = j`` (self-loops included).

    References
    ----------
    Brenner et al. (2024), NeurIPS (symbolic graphs of AL-RNNs).
    """
    codes = np.asarray(codes, dtype=bool)
    unique, visits = region_frequencies(codes)
    lookup = {code_label(c): i for i, c in enumerate(unique)}
    ids = np.array([lookup[code_label(c)] for c in codes])
    counts = np.zeros((len(unique), len(unique)), dtype=np.int64)
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    return SymbolicGraph(unique, visits, counts, [code_label(c) for c in unique])


def _collapse(ids: np.ndarray) -> np.ndarray:
    keep = np.concatenate([[True], ids[1:] != ids[:-1]])
    return ids[keep]


def topological_entropy(codes: np.ndarray, *, method: Literal["spectral", "words"] = "spectral",
                        word_length: int = 8, collapse_repeats: bool = True) -> float:
    """Topological-entropy estimate (nats per symbol) of a region-code sequence ``codes : [T, R]``.

    With ``collapse_repeats`` the sequence is first reduced to its changes of region (a
    symbol per visit, not per time step), so dwelling does not count as complexity.

    * ``spectral``: ``log rho(A)`` with ``A`` the 0/1 adjacency of observed transitions
      (the entropy of the shift of finite type the graph allows);
    * ``words``: ``(1/L) log N(L)``, ``N(L)`` the number of distinct words of length ``L``.

    References
    ----------
    Lind & Marcus (1995), Thm. 4.3.3.
    """
    codes = np.asarray(codes, dtype=bool)
    labels = [code_label(c) for c in codes]
    lookup = {lab: i for i, lab in enumerate(dict.fromkeys(labels))}
    ids = np.array([lookup[lab] for lab in labels])
    if collapse_repeats:
        ids = _collapse(ids)
    if method == "spectral":
        adj = np.zeros((len(lookup), len(lookup)))
        adj[ids[:-1], ids[1:]] = 1.0
        rho = float(np.max(np.abs(np.linalg.eigvals(adj)))) if len(ids) > 1 else 0.0
        return math.log(rho) if rho > 0 else 0.0
    if method == "words":
        if word_length < 1 or len(ids) < word_length:
            raise ConfigError(f"need 1 <= word_length <= {len(ids)} symbols, got {word_length}.")
        words = {tuple(ids[i:i + word_length]) for i in range(len(ids) - word_length + 1)}
        return math.log(len(words)) / word_length
    raise ConfigError(f"topological-entropy method {method!r} is unknown; use 'spectral' or 'words'.")


__all__ = ["Cycle", "SymbolicGraph", "code_label", "find_cycles", "fixed_points", "orbit_codes",
           "region_frequencies", "symbolic_graph", "topological_entropy"]
