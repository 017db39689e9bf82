"""Tests of neurops.solvers.linear.stencil: matrix-free stencils."""

from __future__ import annotations

import torch

from neurops.solvers.linear.stencil import StencilOperator, star_offsets


def test_symmetry_error_detects_nonsymmetric_stencil():
    diag = torch.full((1, 4), 2.0)
    coeffs = torch.stack([torch.full((1, 4), -1.0), torch.full((1, 4), -0.5)], dim=1)
    op = StencilOperator(diag, star_offsets(1), coeffs, [False])
    assert op.symmetry_error() > 0.1
