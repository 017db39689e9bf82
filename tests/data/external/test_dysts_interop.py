"""Tests of the optional dysts interop (neurops/data/external/dysts_interop.py) and ``data generate dysts``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from neurops.cli import main
from neurops.data.generators import get_generator
from neurops.data.reader import read_attrs, read_split
from neurops.dynamics.evaluate import reference_lyapunov
from neurops.errors import ConfigError


def test_missing_dysts_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    from neurops.data.external.dysts_interop import dysts_system

    monkeypatch.setitem(sys.modules, "dysts", None)
    monkeypatch.setitem(sys.modules, "dysts.flows", None)
    with pytest.raises(ConfigError, match=r"dysts==0\.95"):
        dysts_system("Lorenz")
    assert main(["data", "generate", "dysts", "--system", "Lorenz", "--out", str(tmp_path / "l.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("neurops: error:") and "pip install" in err[0]
    assert not (tmp_path / "l.h5").exists()


def test_a_system_is_required() -> None:
    with pytest.raises(ConfigError, match="--system NAME"):
        get_generator("dysts").make_config()


def test_published_lambda_max_is_the_reference_of_a_dysts_file() -> None:
    attrs = {"name": "dysts_Lorenz", "parameters": {"dt": 0.01, "published": {"lambda_max": 0.8917}}}
    assert reference_lyapunov(np.zeros((10, 3)), attrs) == (0.8917, "published (dysts metadata)")
    assert reference_lyapunov(np.zeros((10, 3)), {"name": "ecg", "parameters": {}}) == (None, None)


def test_lorenz_from_dysts_has_three_splits_and_its_published_spectrum(tmp_path: Path) -> None:
    pytest.importorskip("dysts")
    out = tmp_path / "l.h5"
    assert main(["data", "generate", "dysts", "--system", "Lorenz", "--n-steps", "300", "--dt", "0.01",
                 "--transient", "5", "--method", "rk4", "--substeps", "4", "--standardize", "--no-progress",
                 "--out", str(out)]) == 0
    splits = {s: read_split(out, s)["states"]["x"] for s in ("train", "val", "test")}
    assert all(x.shape == (1, 300, 3) and np.isfinite(x).all() for x in splits.values())
    np.testing.assert_allclose(splits["train"][0].mean(axis=0), 0.0, atol=1e-5)  # standardised by train
    assert not np.allclose(splits["train"], splits["test"])  # independent trajectories
    attrs = read_attrs(out)
    published = attrs["parameters"]["published"]
    assert attrs["name"] == "dysts_Lorenz" and attrs["parameters"]["dt"] == pytest.approx(0.01)
    assert published["lambda_max"] == pytest.approx(0.89, abs=0.05) and len(published["lyapunov_spectrum"]) == 3
    # the flow's field is dysts' Lorenz: sigma (y - x), ...
    from neurops.data.external.dysts_interop import DystsFlow

    flow = DystsFlow("Lorenz")
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 20.0]])
    sigma, rho, beta = (flow.system.params[k] for k in ("sigma", "rho", "beta"))
    expected = np.stack([sigma * (x[:, 1] - x[:, 0]), x[:, 0] * (rho - x[:, 2]) - x[:, 1],
                         x[:, 0] * x[:, 1] - beta * x[:, 2]], axis=1)
    np.testing.assert_allclose(flow.field(x), expected)
    with pytest.raises(ConfigError, match="no flow 'Lorenx'. Did you mean Lorenz"):
        DystsFlow("Lorenx")
