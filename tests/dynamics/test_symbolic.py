"""Tests of the symbolic analysis of PWL RNNs (neurops/dynamics/symbolic.py) on hand-built models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neurops.dynamics.symbolic import (
    find_cycles,
    fixed_points,
    orbit_codes,
    region_frequencies,
    symbolic_graph,
    topological_entropy,
)
from neurops.errors import ModelError
from neurops.metrics.dsr import model_lyapunov_max
from neurops.models import build


def _alrnn_1d(a: float, w: float, h: float) -> torch.nn.Module:
    """``z' = a z + w relu(z) + h``: slope ``a`` for z <= 0 and ``a + w`` for z > 0."""
    model = build("alrnn", obs_dim=1, latent_dim=1, n_relu=1, seed=0).double()
    with torch.no_grad():
        model.A.fill_(a)
        model.W.fill_(w)
        model.h.fill_(h)
    return model


def test_fixed_points_real_virtual_and_stability() -> None:
    model = _alrnn_1d(0.2, -2.2, 1.0)  # z > 0: z' = -2 z + 1 ; z <= 0: z' = 0.2 z + 1
    fps = fixed_points(model)
    assert len(fps) == 2
    real, virtual = fps
    assert real.real and real.points[0, 0] == pytest.approx(1 / 3) and real.codes.tolist() == [[True]]
    assert real.eigenvalues[0] == pytest.approx(-2.0) and not real.stable and real.kind == "unstable node"
    assert not virtual.real and virtual.points[0, 0] == pytest.approx(1.25)  # lies in z > 0, not z <= 0
    assert virtual.stable
    assert len(fixed_points(model, include_virtual=False)) == 1


def test_two_cycle_found_and_attracting() -> None:
    model = _alrnn_1d(0.2, -2.2, 1.0)
    cycles = find_cycles(model, 2, n_restarts=20)
    assert len(cycles) == 1
    points = sorted(cycles[0].points[:, 0])
    assert points == pytest.approx([-1 / 1.4, 1.2 / 1.4])
    assert np.prod(cycles[0].eigenvalues) == pytest.approx(-0.4) and cycles[0].stable
    # the orbit converges to it: two regions, visited alternately, entropy 0
    _, codes = orbit_codes(model, torch.tensor([0.3]), 200, transient=100)
    unique, freq = region_frequencies(codes)
    assert len(unique) == 2 and freq == pytest.approx([0.5, 0.5])
    graph = symbolic_graph(codes)
    assert np.all(np.diag(graph.counts) == 0) and graph.probabilities[0, 1] == 1.0
    assert topological_entropy(codes) == pytest.approx(0.0, abs=1e-9)


def test_tent_map_cycles_and_lyapunov_exponent() -> None:
    model = _alrnn_1d(2.0, -4.0, 1.0)  # the tent map on [-1, 1]: full shift on two symbols
    assert len(find_cycles(model, 1, n_restarts=30)) == 2
    assert len(find_cycles(model, 2, n_restarts=60)) == 1  # (2^2 - 2) / 2
    three = find_cycles(model, 3, n_restarts=200)
    assert len(three) == 2  # (2^3 - 2) / 3
    for cycle in three:
        z = torch.as_tensor(cycle.points[0:1])
        for _ in range(3):
            z = model.latent_step(z)
        assert z.item() == pytest.approx(cycle.points[0, 0])
    lam = model_lyapunov_max(model, np.array([0.123]), n_steps=200, transient=0)
    assert lam == pytest.approx(math.log(2.0))


def test_plrnn_fixed_points_are_exact_and_codes_consistent() -> None:
    model = build("plrnn", obs_dim=2, latent_dim=2, seed=0).double()
    with torch.no_grad():
        model.A.copy_(torch.tensor([0.5, 0.5]))
        model.W.copy_(torch.tensor([[0.0, 0.2], [-0.3, 0.0]]))
        model.h.copy_(torch.tensor([1.0, -1.0]))
    fps = fixed_points(model)
    assert len(fps) == 4
    for fp in fps:
        z = torch.as_tensor(fp.points)
        j, c = model.linear_map(torch.as_tensor(fp.codes))
        torch.testing.assert_close((j @ z.unsqueeze(-1)).squeeze(-1) + c, z)  # fixed point of the region's map
        assert fp.real == bool(torch.equal(model.region_code(z), torch.as_tensor(fp.codes)))
        if fp.real:
            torch.testing.assert_close(model.latent_step(z), z)
    real = [fp for fp in fps if fp.real]
    # by hand: z1 > 0, z2 < 0 -> z1 = 0.5 z1 + 1 = 2, z2 = 0.5 z2 - 0.3 * 2 - 1 = -3.2
    assert len(real) == 1 and real[0].points[0] == pytest.approx([2.0, -3.2])


def test_scyfi_fixed_points_match_exhaustive_search() -> None:
    model = build("shplrnn", obs_dim=2, latent_dim=2, hidden_dim=4, seed=4).double()
    with torch.no_grad():
        model.W1.mul_(4.0)
        model.h1.copy_(torch.tensor([0.1, -0.1]))
        model.h2.copy_(torch.tensor([0.3, -0.2, 0.5, -0.4]))
    exhaustive = fixed_points(model, include_virtual=False)
    searched = find_cycles(model, 1, n_restarts=200, seed=1)
    key = sorted(tuple(np.round(c.points[0], 6)) for c in exhaustive)
    assert key == sorted(tuple(np.round(c.points[0], 6)) for c in searched)
    assert len(key) == 3


def test_topological_entropy_of_full_shift() -> None:
    codes = np.random.default_rng(0).integers(0, 2, (20_000, 1)).astype(bool)
    assert topological_entropy(codes, collapse_repeats=False) == pytest.approx(math.log(2))
    assert topological_entropy(codes, method="words", word_length=8, collapse_repeats=False) == pytest.approx(
        math.log(2), rel=1e-6)
    with pytest.raises(ValueError, match="method"):
        topological_entropy(codes, method="kolmogorov")


def test_too_many_regions_to_enumerate() -> None:
    model = build("shplrnn", obs_dim=2, latent_dim=2, hidden_dim=20, seed=0)
    with pytest.raises(ModelError, match="find_cycles"):
        fixed_points(model)
    with pytest.raises(ValueError, match="k must be"):
        find_cycles(model, 0)


def test_a_model_without_relu_units_has_one_region() -> None:
    """An AL-RNN with n_relu=0 (a linear model, 0-bit codes) crashed `dsr analyze`: 'cannot reshape array of size 0'."""
    model = build("alrnn", obs_dim=2, latent_dim=2, n_relu=0)
    with torch.no_grad():
        model.A.zero_()
        model.W.copy_(torch.tensor([[0.5, 0.0], [0.0, 0.25]]))
        model.h.copy_(torch.tensor([1.0, 1.5]))
    fps = fixed_points(model)
    assert len(fps) == 1 and fps[0].codes[0].shape == (0,) and fps[0].real
    np.testing.assert_allclose(fps[0].points[0], [2.0, 2.0])
