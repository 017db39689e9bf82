"""The report of ``neurops dsr evaluate`` (dynamics/evaluate.py); the protocol itself: tests/cli/test_dsr_cli.py."""

from __future__ import annotations

import numpy as np
import pytest

from neurops.dynamics.evaluate import EvaluationSettings, format_evaluation
from neurops.errors import ConfigError


def _stats(median: float, sem: float, n: int) -> dict:
    return {"mean": median, "sem": sem, "median": median, "mad": 0.0, "n": n}


def test_report_columns_stay_apart_when_cells_are_wide() -> None:
    """Wide cells (median (mean+-sem)) used to run into the next column: ``13.99 (14+-1.3e-15)0.7092``."""
    member = {"seed": 0, "state": "best", "d_stsp": 13.99, "d_h": 0.7092, "pe": 0.7156, "lambda_max": -0.2157,
              "summary": {"d_stsp": _stats(13.99, 1.3e-15, 3), "d_h": _stats(0.7092, 1.0e-4, 3),
                          "lambda_max": _stats(-0.2157, 1.7e-4, 2)},
              "verdict": {"collapsed to a fixed point": 3}, "spread": [1e-16, 2e-17], "data_spread": [0.84, 0.85]}
    res = {"data": "ecg.h5", "split": "test", "n_points": 5000, "dt": 1.0,
           "settings": {"n_bins": 20, "smoothing": 10.0, "warmup": 0.1, "orbit_length": 5000, "starts": 3,
                        "lyapunov_steps": 2000, "lyapunov_starts": 2, "pe_steps": 20},
           "models": [member, {**member, "seed": 5}],
           "summary": {k: _stats(1.0, 0.5, 2) for k in ("d_stsp", "d_h", "pe", "lambda_max")},
           "verdicts": {"collapsed to a fixed point": [0, 1]},
           "floor": {"d_stsp": 1.291, "d_h": 0.01819, "reference_split": "train", "lambda_max": None,
                     "lambda_max_source": None},
           "notes": []}
    lines = format_evaluation(res).splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == ["D_stsp", "D_H", "PE(20)", "lambda_max"])
    row = lines[header + 1]
    assert row.startswith("seed 0") and "13.99 (14+-1.3e-15)  0.7092 (0.709+-0.0001)  0.7156  -0.2157" in row
    # every cell of the table ends under the end of its header
    ends = [lines[header].index(h) + len(h) for h in ("D_stsp", "D_H", "PE(20)", "lambda_max")]
    for line in lines[header + 1:header + 3]:
        assert [line.index(c) + len(c) for c in ("(14+-1.3e-15)", "(0.709+-0.0001)", "0.7156",
                                                 "(-0.216+-0.00017)")] == ends
    assert "WARNING: collapsed to a fixed point: seed 0, seed 5" in lines
    assert not any(line.startswith("dominant periods") for line in lines)  # evaluations from before they existed


def test_report_shows_the_periods_of_data_and_models() -> None:
    member = {"d_stsp": 1.7, "d_h": 0.23, "pe": 0.003, "lambda_max": 0.009,
              "summary": {k: _stats(1.0, 0.0, 1) for k in ("d_stsp", "d_h", "lambda_max")},
              "verdict": {"bounded": 1}, "spread": [0.9], "data_spread": [0.83],
              "periods": [(229.4, 1.0), (114.7, 0.97)]}
    res = {"data": "ecg.h5", "split": "test", "n_points": 100_000, "dt": 1.0,
           "settings": {"n_bins": 30, "smoothing": 20.0, "warmup": 0.25, "orbit_length": None, "starts": 1,
                        "lyapunov_steps": 10_000, "lyapunov_starts": 1, "pe_steps": 20},
           "models": [member, {**member, "periods": []}],
           "summary": {k: _stats(1.0, 0.5, 2) for k in ("d_stsp", "d_h", "pe", "lambda_max")}, "verdicts": {},
           "floor": {"d_stsp": 0.29, "d_h": 0.06, "reference_split": "train", "lambda_max": None,
                     "lambda_max_source": None, "periods": [(684.9, 1.0), (229.4, 0.89)]},
           "notes": []}
    lines = format_evaluation(res).splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("dominant periods"))
    assert lines[first + 1].split(None, 1) == ["data", "684.9 (1), 229.4 (0.89)"]
    assert lines[first + 2].split(None, 2)[2] == "229.4 (1), 114.7 (0.97)"
    assert lines[first + 3].split(None, 2)[2] == "-"  # a collapsed or diverged orbit has no spectrum


def test_report_says_when_a_bounded_orbit_has_no_spectral_peak() -> None:
    """A bounded orbit whose periodogram has no significant peak printed ``-``, which the report reserves for a
    collapsed or diverged orbit; it says that no period stands out of the noise."""
    member = {"d_stsp": 4.1, "d_h": 0.07, "pe": 0.2, "lambda_max": -0.03,
              "summary": {k: _stats(1.0, 0.0, 1) for k in ("d_stsp", "d_h", "lambda_max")},
              "verdict": {"bounded": 1}, "spread": [1.5], "data_spread": [1.45], "periods": [],
              "per_start": {"verdict": ["bounded"]}}
    collapsed = {**member, "verdict": {"collapsed to a fixed point": 1},
                 "per_start": {"verdict": ["collapsed to a fixed point"]}}
    res = {"data": "vdp.h5", "split": "test", "n_points": 1200, "dt": 0.05,
           "settings": {"n_bins": 30, "smoothing": 10.0, "warmup": 0.25, "orbit_length": None, "starts": 1,
                        "lyapunov_steps": 200, "lyapunov_starts": 1, "pe_steps": 20},
           "models": [member, collapsed],
           "summary": {k: _stats(1.0, 0.5, 2) for k in ("d_stsp", "d_h", "pe", "lambda_max")}, "verdicts": {},
           "floor": {"d_stsp": 0.2, "d_h": 0.01, "reference_split": "train", "lambda_max": None,
                     "lambda_max_source": None, "periods": [(150.0, 1.0)]},
           "notes": []}
    lines = format_evaluation(res).splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("dominant periods"))
    assert lines[first + 2].split(None, 2)[2] == ("no significant period (no peak stands out of the noise background: "
                                                  "a noise-like spectrum)")
    assert lines[first + 3].split(None, 2)[2] == "-"


def test_spectrum_smoothing_shrinks_for_short_series() -> None:
    from neurops.dynamics.evaluate import spectrum_smoothing

    assert spectrum_smoothing(100_000) == 20.0  # the papers' 20 bins of 50 001
    assert spectrum_smoothing(1000) == 501 * 0.01  # 20 > 2 % of 501 bins: 1 % of them
    assert spectrum_smoothing(72) == 0.5  # 37 bins: the least smoothing
    assert spectrum_smoothing(100_000, 5.0) == 5.0


def test_settings_refuse_a_single_bin() -> None:
    """--bins 1 put every point of data and orbit in one bin: D_stsp 0 for a collapsed model."""
    with pytest.raises(ConfigError, match=r"n_bins=1: .* use --bins >= 2"):
        EvaluationSettings(n_bins=1)


def test_settings_refuse_a_negative_or_nan_smoothing() -> None:
    import pytest

    from neurops.dynamics.evaluate import EvaluationSettings
    from neurops.errors import ConfigError

    for smoothing in (-1.0, float("nan")):  # NaN passed the old `< 0` test and failed later, in the metric
        with pytest.raises(ConfigError, match=rf"^smoothing={smoothing}: the spectral smoothing is a width in "
                                              r"frequency bins; use smoothing >= 0 \(0: none\)\.$"):
            EvaluationSettings(smoothing=smoothing)
    assert EvaluationSettings(smoothing=0.0).smoothing == 0.0


def test_report_names_the_gaussian_mixture_above_five_dimensions() -> None:
    """A 10-variable series' D_stsp is the Gaussian-mixture estimate; the header said '30 bins per dimension'."""
    member = {"d_stsp": 2.17, "d_h": 0.39, "pe": 0.94, "lambda_max": -2.7,
              "summary": {k: _stats(1.0, 0.0, 1) for k in ("d_stsp", "d_h", "lambda_max")},
              "verdict": {"bounded": 1}, "spread": [0.9] * 10, "data_spread": [1.0] * 10}
    settings = {"n_bins": 30, "smoothing": 20.0, "warmup": 0.25, "orbit_length": None, "starts": 1,
                "lyapunov_steps": 100, "lyapunov_starts": 1, "pe_steps": 20}
    res = {"data": "l96.h5", "split": "test", "n_points": 5000, "n_variables": 10, "dt": 0.01, "settings": settings,
           "models": [member], "summary": {}, "verdicts": {},
           "floor": {"d_stsp": 0.28, "d_h": 0.04, "reference_split": "train", "lambda_max": None,
                     "lambda_max_source": None}, "notes": []}
    header = format_evaluation(res).splitlines()[0]
    assert "D_stsp by a Gaussian mixture of variance 1 (10 dimensions; binning up to 5)," in header
    assert "bins per dimension" not in header
    header = format_evaluation({**res, "n_variables": 5}).splitlines()[0]
    assert "D_stsp with 30 bins per dimension," in header
    res.pop("n_variables")  # an evaluation JSON from before the field existed
    assert "D_stsp with 30 bins per dimension," in format_evaluation(res).splitlines()[0]


def test_bins_on_data_of_more_than_five_dimensions_get_a_note() -> None:
    import numpy as np

    from neurops.dynamics.evaluate import EvaluationSettings, metric_notes

    x = np.random.default_rng(0).standard_normal((2000, 6))
    assert metric_notes(x, EvaluationSettings()) == []
    assert metric_notes(x, EvaluationSettings(n_bins=10)) == [
        "D_stsp: --bins 10 has no effect on 6-dimensional data: above 5 dimensions D_stsp is the Gaussian-mixture "
        "estimate (Brenner et al. 2022), which has no bins."]
    five = metric_notes(x[:, :5], EvaluationSettings(n_bins=10))  # binned: the bins are used, and too many here
    assert len(five) == 1 and five[0].startswith("D_stsp: the 2000 test points fill 1648 of 10^5 bins")


def test_a_constant_test_variable_gets_a_note() -> None:
    """A series with a constant column made every model 'diverged' (spread '-') without a word why."""
    from neurops.dynamics.evaluate import metric_notes

    t = np.arange(2000) * 0.05
    x = np.stack([np.sin(t), np.cos(t), np.ones_like(t)], axis=1)
    notes = metric_notes(x, EvaluationSettings(n_bins=10, smoothing=5.0))
    assert notes == ["variables [2] are constant in the test series: the verdict measures an orbit's deviation and "
                     "spread in them against the other variables' largest (the data's own are 0) and D_stsp has no "
                     "spread to compare; drop them from the data (neurops data import-series) and train again."]


def test_more_starts_than_test_points_are_said() -> None:
    """--starts 100 on a 60-point test split printed 'from 100 initial conditions' and used 60."""
    from neurops.dynamics.evaluate import metric_notes

    x = np.stack([np.sin(np.arange(60) * 0.3), np.cos(np.arange(60) * 0.3)], axis=1)
    notes = metric_notes(x, EvaluationSettings(n_bins=2, smoothing=0.5, starts=100, pe_steps=5))
    assert notes == ["--starts 100 asks for more initial conditions than the 60 test points: each point is one, 60 "
                     "in all."]
    member = {"d_stsp": 1.0, "d_h": 0.1, "pe": 0.1, "lambda_max": 0.0, "verdict": {"bounded": 60},
              "summary": {k: _stats(1.0, 0.0, 60) for k in ("d_stsp", "d_h", "lambda_max")}, "spread": [0.7, 0.7],
              "data_spread": [0.7, 0.7], "per_start": {"start": list(range(60)), "verdict": ["bounded"] * 60}}
    res = {"data": "short.h5", "split": "test", "n_points": 60, "dt": 0.05,
           "settings": {"n_bins": 2, "smoothing": 0.5, "warmup": 0.25, "orbit_length": None, "starts": 100,
                        "lyapunov_steps": 100, "lyapunov_starts": 1, "pe_steps": 5},
           "models": [member], "summary": {}, "verdicts": {},
           "floor": {"d_stsp": 0.2, "d_h": 0.01, "reference_split": "train", "lambda_max": None,
                     "lambda_max_source": None}, "notes": notes}
    assert "warm-up steps from 60 initial conditions;" in format_evaluation(res).splitlines()[0]


def test_members_of_several_ensemble_checkpoints_are_told_apart() -> None:
    """best.ckpt and last.ckpt of one seed study printed two rows 'seed 0' and 'WARNING: ...: seed 1, seed 1'."""
    def member(ckpt: str, seed: int, verdict: str) -> dict:
        return {"checkpoint": ckpt, "seed": seed, "member": seed, "state": "best", "d_stsp": 1.0, "d_h": 0.1,
                "pe": 0.1, "lambda_max": 0.0, "verdict": {verdict: 1}, "spread": [0.7], "data_spread": [0.7],
                "summary": {k: _stats(1.0, 0.0, 1) for k in ("d_stsp", "d_h", "lambda_max")}}

    res = {"data": "vdp.h5", "split": "test", "n_points": 1200, "dt": 0.05,
           "settings": {"n_bins": 30, "smoothing": 5.0, "warmup": 0.25, "orbit_length": None, "starts": 1,
                        "lyapunov_steps": 100, "lyapunov_starts": 1, "pe_steps": 20},
           "models": [member("runs/a/best.ckpt", 0, "bounded"), member("runs/a/best.ckpt", 1, "diverged"),
                      member("runs/a/last.ckpt", 0, "bounded"), member("runs/a/last.ckpt", 1, "diverged")],
           "summary": {k: _stats(1.0, 0.5, 4) for k in ("d_stsp", "d_h", "pe", "lambda_max")},
           "verdicts": {"bounded": [0, 2], "diverged": [1, 3]},
           "floor": {"d_stsp": 0.2, "d_h": 0.01, "reference_split": "train", "lambda_max": None,
                     "lambda_max_source": None}, "notes": []}
    lines = format_evaluation(res).splitlines()
    assert "WARNING: diverged: best.ckpt seed 1, last.ckpt seed 1" in lines
    assert [line.split("  ")[0] for line in lines if line.startswith(("best.ckpt", "last.ckpt"))][:4] == [
        "best.ckpt seed 0", "best.ckpt seed 1", "last.ckpt seed 0", "last.ckpt seed 1"]
    for m in res["models"][2:]:
        m["checkpoint"] = m["checkpoint"].replace("a/last", "b/best")  # the same file name in two runs: the paths
    assert "WARNING: diverged: runs/a/best.ckpt seed 1, runs/b/best.ckpt seed 1" in format_evaluation(res).splitlines()


def test_write_json_is_strict_json_with_null_for_non_finite_numbers(tmp_path) -> None:
    """A diverged orbit's D_stsp (inf) or an undefined spread (NaN) was written as bare Infinity / NaN."""
    import json

    from neurops.dynamics.evaluate import write_json

    def refuse(name: str) -> None:
        raise ValueError(f"non-standard JSON constant {name}")

    res = {"models": [{"d_stsp": float("inf"), "spread": [float("nan"), np.float64(0.5)], "verdict": "diverged"}],
           "summary": {"d_h": {"mean": np.float32(np.nan), "n": 0}}}
    path = write_json(res, tmp_path / "eval.json")
    assert json.loads(path.read_text(), parse_constant=refuse) == {
        "models": [{"d_stsp": None, "spread": [None, 0.5], "verdict": "diverged"}],
        "summary": {"d_h": {"mean": None, "n": 0}}}


def test_the_data_lambda_max_of_a_short_series_says_it_has_not_settled(tmp_path) -> None:
    """--max-length 100 on Lorenz-63 (dt 0.01) printed the data's lambda_max as 0.097 ('true system, along the
    data'; the system's is 0.906) without a word: one time unit is far too short for the estimate along it."""
    from neurops.data.generators import get_generator
    from neurops.data.reader import read_meta
    from neurops.dynamics.evaluate import _data_floor, read_series

    spec = get_generator("lorenz63")
    path = spec.fn(spec.make_config(n_train=1, n_val=1, n_test=1, n_steps=3000, standardize=True),
                   tmp_path / "l63.h5", progress=False)
    attrs, settings = read_meta(path).attrs(), EvaluationSettings()
    for length, unsettled in ((100, True), (3000, False)):
        notes: list[str] = []
        floor = _data_floor(path, read_series(path, "test", length), attrs, "test", None, settings, notes)
        assert floor["lambda_max_source"] == "true system, along the data"
        if unsettled:
            start = f"the data's lambda_max along its 100 test points, {floor['lambda_max']:.3g}, has not settled "
            assert len(notes) == 1 and notes[0].startswith(start + "(its halves give ")
            assert notes[0].endswith("); use a longer series (--max-length).")
        else:
            assert notes == [] and 0.7 < floor["lambda_max"] < 1.1


def test_a_checkpoint_given_twice_is_refused(tmp_path) -> None:
    """`--ckpt best.ckpt best.ckpt` evaluated its models twice and counted them twice in the summary over the models
    (a median over 6 'models' of 3, a smaller sem), under the same row names; it is refused before any work."""
    from neurops.dynamics.evaluate import evaluate_checkpoints

    ckpt = tmp_path / "best.ckpt"
    with pytest.raises(ConfigError, match=r"^checkpoints \[.*'\] are given twice \(their models would count twice\); "
                                          r"give each once\.$") as err:
        evaluate_checkpoints([ckpt, tmp_path / "last.ckpt", tmp_path / ".." / tmp_path.name / "best.ckpt"],
                             tmp_path / "data.h5")
    assert str(err.value).startswith(f"checkpoints ['{tmp_path / '..' / tmp_path.name / 'best.ckpt'}']")
