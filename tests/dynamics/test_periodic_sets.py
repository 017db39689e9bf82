"""Continua of fixed points and k-periodic points (neurops/dynamics/periodic_sets.py) on hand-built models.

A region whose ``I - P`` is singular has no periodic point or a continuum of them; the analysis skipped such
regions and reported a PLRNN line attractor (Durstewitz 2017) as "0 fixed points".
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neurops.dynamics.analyze import analyze_model, format_analysis
from neurops.dynamics.periodic_sets import periodic_set
from neurops.dynamics.symbolic import Cycle, find_cycles, fixed_points
from neurops.models import build
from neurops.models.piecewise_linear import stack_members


def _plrnn(a: list[float], h: list[float]) -> torch.nn.Module:
    """``z' = diag(a) z + h`` (``W = 0``): the same affine map in all four regions ``z > 0``."""
    model = build("plrnn", obs_dim=2, latent_dim=2).double()
    with torch.no_grad():
        model.A.copy_(torch.tensor(a, dtype=torch.float64))
        model.W.zero_()
        model.h.copy_(torch.tensor(h, dtype=torch.float64))
    return model


def _by_region(cycles: list[Cycle]) -> dict[str, Cycle]:
    return {"".join(str(int(b)) for b in c.codes.ravel()): c for c in cycles}


@pytest.mark.parametrize("name, kwargs", [("plrnn", {}), ("alrnn", {"n_relu": 2}), ("dendplrnn", {"n_bases": 3}),
                                          ("shplrnn", {"hidden_dim": 6}), ("clipped_shplrnn", {"hidden_dim": 6})])
def test_region_planes_are_the_region_codes(name: str, kwargs: dict) -> None:
    """The LP's half-spaces are each family's own: ``G z + g > 0`` is ``region_code(z)``, one model or an ensemble."""
    model = build(name, obs_dim=2, latent_dim=4, seed=3, **kwargs).double()
    if name == "shplrnn":  # its h2 starts at 0
        with torch.no_grad():
            model.h2.copy_(torch.linspace(-0.5, 0.5, 6))
    z = torch.randn(500, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    planes, offsets = model.region_planes()
    assert torch.equal(z @ planes.T + offsets > 0, model.region_code(z))
    ensemble = stack_members([model, build(name, obs_dim=2, latent_dim=4, seed=4, **kwargs).double()])
    planes, offsets = ensemble.region_planes()
    zz = z.expand(2, -1, -1)
    assert torch.equal(zz @ planes.mT + offsets.unsqueeze(-2) > 0, ensemble.region_code(zz))


def test_line_attractor_is_a_real_line_of_fixed_points() -> None:
    """A = diag[1, 0.5], W = 0, h = [0, 0.1]: every (z1, 0.2) is fixed; real in the regions with z2 > 0."""
    model = _plrnn([1.0, 0.5], [0.0, 0.1])
    found = _by_region(fixed_points(model))
    assert set(found) == {"00", "01", "10", "11"}
    assert {k for k, c in found.items() if c.real} == {"01", "11"}
    for cycle in found.values():
        assert cycle.continuum_dim == 1 and cycle.kind == "attracting line" and not cycle.stable
        assert cycle.directions is not None and cycle.directions[0, :, 0] == pytest.approx([1.0, 0.0])
        assert cycle.points[0, 1] == pytest.approx(0.2)
        assert sorted(cycle.eigenvalues.real) == pytest.approx([0.5, 1.0])
        assert cycle.transverse_eigenvalues == pytest.approx([0.5])
    # the points: in their regions, half the distance to the nearest boundary (0.2, to z2 = 0) from it
    assert found["01"].points[0] == pytest.approx([-0.1, 0.2]) and found["11"].points[0] == pytest.approx([0.1, 0.2])
    for code in ("01", "11"):
        line = torch.as_tensor(found[code].points[0] + np.outer([0.0, 0.5, 3.0], found[code].directions[0, :, 0]
                                                                * (1 if code == "11" else -1)))
        torch.testing.assert_close(model.latent_step(line), line)  # every point of it is fixed
        assert (model.region_code(line) == torch.tensor([code == "11", True])).all()
    assert found["00"].points[0] == pytest.approx([0.0, 0.2])  # virtual: the set's least-norm point
    assert set(_by_region(find_cycles(model, 1))) == {"01", "11"}  # the SCYFI search finds the same two
    assert set(_by_region(fixed_points(model, include_virtual=False))) == {"01", "11"}


def test_a_line_outside_its_regions_is_virtual() -> None:
    """h2 = -0.1: the line z2 = -0.2 lies outside the regions z2 > 0 (virtual there), inside z2 <= 0."""
    found = _by_region(fixed_points(_plrnn([1.0, 0.5], [0.0, -0.1])))
    assert {k: c.real for k, c in found.items()} == {"00": True, "10": True, "01": False, "11": False}
    assert all(c.continuum_dim == 1 for c in found.values())
    assert found["01"].points[0] == pytest.approx([0.0, -0.2]) and found["00"].points[0] == pytest.approx([-0.1, -0.2])


def test_an_inconsistent_singular_system_has_no_fixed_point() -> None:
    """A = diag[1, 0.5], h = [0.1, 0]: z1 drifts by 0.1 a step; I - J is singular and no point is fixed."""
    model = _plrnn([1.0, 0.5], [0.1, 0.0])
    assert fixed_points(model) == [] and find_cycles(model, 1) == []


def test_a_line_on_the_boundary_of_its_regions_is_real() -> None:
    """A = diag[0.5, 1], h = 0: the line z1 = 0 lies on the boundary of z1 > 0, in the regions with z1 <= 0."""
    found = _by_region(fixed_points(_plrnn([0.5, 1.0], [0.0, 0.0])))
    assert {k: c.real for k, c in found.items()} == {"00": True, "01": True, "10": False, "11": False}
    for code in ("00", "01"):
        cycle = found[code]
        assert cycle.continuum_dim == 1 and cycle.points[0, 0] == 0.0
        assert cycle.directions[0, :, 0] == pytest.approx([0.0, 1.0])
    assert found["00"].points[0, 1] < 0 < found["01"].points[0, 1]


def test_regions_that_pin_a_line_leave_one_real_point() -> None:
    """shPLRNN with hidden units z1 > 0 and -z1 > 0: the line z2 = 0.2 meets the region "both off" in (0, 0.2)."""
    model = build("shplrnn", obs_dim=2, latent_dim=2, hidden_dim=2).double()
    with torch.no_grad():
        model.A.copy_(torch.tensor([1.0, 0.5]))
        model.W1.zero_()
        model.W2.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
        model.h1.copy_(torch.tensor([0.0, 0.1]))
        model.h2.zero_()
    found = _by_region(fixed_points(model))
    assert {k: (c.real, c.continuum_dim) for k, c in found.items()} == {
        "00": (True, 0), "01": (True, 1), "10": (True, 1), "11": (False, 1)}
    assert found["00"].points[0] == pytest.approx([0.0, 0.2]) and found["00"].directions is None
    assert found["10"].points[0, 0] > 0 > found["01"].points[0, 0]


def test_shallow_plrnn_bent_line_attractor_uses_its_hidden_units_planes() -> None:
    """z' = diag[1, 0.5] z + [0, 1] relu(z1 + 0.5): fixed where z2 = 2 relu(z1 + 0.5), a line bent at z1 = -0.5."""
    model = build("shplrnn", obs_dim=2, latent_dim=2, hidden_dim=1).double()
    with torch.no_grad():
        model.A.copy_(torch.tensor([1.0, 0.5]))
        model.W1.copy_(torch.tensor([[0.0], [1.0]]))
        model.W2.copy_(torch.tensor([[1.0, 0.0]]))
        model.h1.zero_()
        model.h2.fill_(0.5)
    found = _by_region(fixed_points(model))
    assert all(c.real and c.continuum_dim == 1 for c in found.values())
    # off (z1 <= -0.5): z2 = 0 along e1; the point half of the margin cap 1 beyond the plane z1 = -0.5
    assert found["0"].points[0] == pytest.approx([-1.0, 0.0]) and found["0"].directions[0, :, 0] == pytest.approx(
        [1.0, 0.0])
    # on (z1 > -0.5): z2 = 2 z1 + 1 along (1, 2) / sqrt(5)
    assert found["1"].points[0] == pytest.approx([0.0, 1.0])
    assert found["1"].directions[0, :, 0] == pytest.approx(np.array([1.0, 2.0]) / np.sqrt(5))


def test_alrnn_line_in_its_linear_unit() -> None:
    """AL-RNN, M = 2, P = 1: z1 linear with A = 1 (a line along e1), the region is z2 > 0 only."""
    model = build("alrnn", obs_dim=2, latent_dim=2, n_relu=1).double()
    with torch.no_grad():
        model.A.copy_(torch.tensor([1.0, 0.5]))
        model.W.zero_()
        model.h.copy_(torch.tensor([0.0, 0.1]))
    found = _by_region(fixed_points(model))
    assert {k: (c.real, c.continuum_dim) for k, c in found.items()} == {"1": (True, 1), "0": (False, 1)}
    assert found["1"].points[0] == pytest.approx([0.0, 0.2])  # z1 free: no boundary to keep away from


def test_a_line_of_two_periodic_points() -> None:
    """A = diag[-1, 0.5], W = 0, h = [0, 0.1]: (z1, 0.2) -> (-z1, 0.2), a 2-cycle for every z1 != 0."""
    model = _plrnn([-1.0, 0.5], [0.0, 0.1])
    cycles = find_cycles(model, 2)
    assert len(cycles) == 1
    cycle = cycles[0]
    assert cycle.real and cycle.continuum_dim == 1 and cycle.kind == "attracting line" and not cycle.stable
    assert sorted(cycle.points[:, 0]) == pytest.approx([-0.1, 0.1]) and cycle.points[:, 1] == pytest.approx([0.2, 0.2])
    assert sorted(cycle.eigenvalues.real) == pytest.approx([0.25, 1.0])
    assert cycle.directions[:, :, 0] == pytest.approx(np.array([[1.0, 0.0], [1.0, 0.0]]))
    shifted = torch.as_tensor(cycle.points + 0.7 * np.sign(cycle.points[:, :1]) * [1.0, 0.0])  # further along
    torch.testing.assert_close(model.latent_step(shifted), shifted.flip(0))
    # the sequence "z1 <= 0 twice" meets its regions only in the fixed point (0, 0.2): no 2-cycle there
    pinned = periodic_set(model, torch.tensor([[False, True], [False, True]]))
    assert pinned is not None and pinned.real and pinned.directions.shape == (2, 2, 0)
    assert pinned.points.numpy() == pytest.approx(np.array([[0.0, 0.2], [0.0, 0.2]]))
    fps = fixed_points(model, include_virtual=False)  # the isolated fixed point, as before
    assert len(fps) == 1 and fps[0].continuum_dim == 0 and fps[0].points[0] == pytest.approx([0.0, 0.2])


def test_neutral_rotation_is_a_plane_of_four_periodic_points() -> None:
    """AL-RNN without ReLUs and a quarter turn: every point but the centre lies on a 4-cycle."""
    model = build("alrnn", obs_dim=2, latent_dim=2, n_relu=0).double()
    with torch.no_grad():
        model.A.zero_()
        model.W.copy_(torch.tensor([[0.0, -1.0], [1.0, 0.0]]))
        model.h.zero_()
    cycles = find_cycles(model, 4, n_restarts=10)
    assert len(cycles) == 1
    cycle = cycles[0]
    assert cycle.continuum_dim == 2 and cycle.kind == "neutral plane" and cycle.real
    assert np.linalg.norm(cycle.points, axis=1) == pytest.approx(np.ones(4))  # moved off the centre
    z = torch.as_tensor(cycle.points)
    torch.testing.assert_close(model.latent_step(z), z.roll(-1, 0))
    assert find_cycles(model, 2, n_restarts=10) == []  # P = -I: the centre only, of period 1
    centre = find_cycles(model, 1, n_restarts=10)
    assert len(centre) == 1 and centre[0].continuum_dim == 0 and centre[0].points[0] == pytest.approx([0.0, 0.0])


@pytest.mark.parametrize("eigenvalues, dim, kind", [([1.0, 0.5, 2.0], 1, "saddle line"),
                                                    ([1.0, 1.0, 0.5], 2, "attracting plane"),
                                                    ([1.0, 3.0], 1, "repelling line"),
                                                    ([1.0, 1.0, 0.5], 1, "marginal line"),
                                                    ([1.0, 1.0, 1.0], 3, "neutral 3-dimensional set")])
def test_kinds_of_continua(eigenvalues: list[float], dim: int, kind: str) -> None:
    m = len(eigenvalues)
    cycle = Cycle(np.zeros((1, m)), np.zeros((1, m), bool), np.array(eigenvalues, complex), True, dim,
                  np.eye(m)[None, :, :dim])
    assert cycle.kind == kind and not cycle.stable


def test_analysis_reports_a_line_attractor() -> None:
    model = _plrnn([1.0, 0.5], [0.0, 0.1])
    report = analyze_model(model, torch.tensor([0.3, -0.2], dtype=torch.float64), steps=400, max_period=2).report
    json.dumps(report)
    real = [fp for fp in report["fixed_points"] if fp["real"]]
    assert len(real) == 2 and all(fp["continuum_dim"] == 1 and fp["kind"] == "attracting line" for fp in real)
    assert all(fp["directions"][0] == pytest.approx([1.0, 0.0]) for fp in real)
    assert all(fp["observed_directions"][0] == pytest.approx([1.0, 0.0]) for fp in real)
    text = format_analysis({"model": "plrnn", **report, "figures": {}})
    assert "fixed points (2 real, 2 of them continua):" in text
    assert ("a line of fixed points (dimension 1) through z = [0.1, 0.2] along [1, 0]: real, attracting across it, "
            "neutral along it") in text
    two = analyze_model(_plrnn([-1.0, 0.5], [0.0, 0.1]), torch.tensor([0.3, 0.5], dtype=torch.float64), steps=400,
                        max_period=2).report
    assert [c["continuum_dim"] for c in two["cycles"]["2"]] == [1]
    assert "a line of 2-periodic points (dimension 1) through z = " in format_analysis(
        {"model": "plrnn", **two, "figures": {}})
