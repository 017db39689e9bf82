import numpy as np
import pytest

from neurops.inverse.inversion import PosteriorResult
from neurops.viz.posterior import plot_posterior


def _result(truth=True):
    x = np.linspace(0, 1, 9)
    rng = np.random.default_rng(0)
    summary = {}
    for name in ("a", "u"):
        mean = rng.random((9, 9))
        summary.update({f"{name}_mean": mean, f"{name}_std": 0.1 + 0 * mean, f"{name}_lower": mean - 0.2,
                        f"{name}_upper": mean + 0.2, f"{name}_median": mean, f"{name}_map": mean})
    obs = {"points": rng.random((6, 2)), "values": rng.random(6), "predicted": rng.random(6),
           "predicted_true": rng.random(6)}
    t = {"a": summary["a_mean"] + 0.3, "u": summary["u_mean"]} if truth else {}
    return PosteriorResult({"x": x, "y": x}, summary, {}, obs,
                           {"rhat_max": 1.01, "rhat_median": 1.0, "ess_min": 300, "ess_median": 500,
                            "acceptance": 0.3, "n_chains": 4, "n_kept": 100},
                           {"checked": True, "chi2_per_obs": 1.1, "lower": 0.4, "upper": 1.9},
                           {"coverage_a": 0.0}, {"sampler": "pcn", "forward": {"forward": "pde"}},
                           warnings=["R-hat 1.2 > 1.05"], truth=t, noise_std=0.05)


@pytest.mark.parametrize("truth", [True, False])
def test_posterior_figure_is_written(tmp_path, truth):
    path = plot_posterior(_result(truth), tmp_path / "post.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000
    assert [p.name for p in tmp_path.iterdir()] == ["post.png"]  # written atomically, nothing left over
