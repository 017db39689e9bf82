"""Tests of the optional dysts interop (neurops/data/external/dysts_interop.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from neurops.data.external.dysts_interop import dysts_system, dysts_to_h5
from neurops.data.reader import read_attrs, read_split
from neurops.errors import ConfigError


def test_missing_dysts_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dysts", None)
    monkeypatch.setitem(sys.modules, "dysts.flows", None)
    with pytest.raises(ImportError, match=r"dysts==0\.95"):
        dysts_system("Lorenz")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_lorenz_from_dysts(tmp_path: Path) -> None:
    pytest.importorskip("dysts")
    out = dysts_to_h5("Lorenz", tmp_path / "l.h5", n_steps=200, dt=0.01, n_trajectories=2, standardize=True)
    x = read_split(out, "train")["states"]["x"]
    assert x.shape == (2, 200, 3) and np.isfinite(x).all()
    np.testing.assert_allclose(x.mean(axis=(0, 1)), 0.0, atol=1e-5)
    assert read_attrs(out)["parameters"]["dt"] == pytest.approx(0.01)
    with pytest.raises(ConfigError, match="no flow"):
        dysts_system("NotAFlow")
