import numpy as np
import pytest
from matplotlib.figure import Figure

from neurops.errors import ConfigError
from neurops.inverse.inversion import PosteriorResult
from neurops.viz.posterior import check_figure, figure_format, plot_posterior


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


def test_figure_is_written_in_the_format_its_suffix_names(tmp_path):
    assert plot_posterior(_result(), tmp_path / "post.pdf").read_bytes()[:5] == b"%PDF-"
    assert plot_posterior(_result(), tmp_path / "post.SVG").read_bytes().lstrip().startswith(b"<?xml")


@pytest.mark.parametrize("name, what", [("e.txt", "no '.txt' files"), ("e", "no file without a suffix naming its "
                                                                                 "format")])
def test_figure_of_a_format_matplotlib_does_not_write_is_refused(tmp_path, name, what):
    with pytest.raises(ConfigError) as err:
        plot_posterior(_result(), tmp_path / name)
    assert str(err.value) == (f"figure {tmp_path / name}: matplotlib writes {what}; name it e.png (or .pdf, .svg: "
                              f"{', '.join(sorted(Figure().canvas.get_supported_filetypes()))}).")
    assert list(tmp_path.iterdir()) == []


def test_figure_of_a_problem_that_is_not_2d_is_refused():
    assert figure_format("p.png") == "png"
    with pytest.raises(ConfigError, match="^the posterior figure is drawn for 2-D problems and these observations "
                       r"are 1-D; pass --no-figure \(the posterior file holds every result\).$"):
        check_figure("p.png", 1)


def test_a_result_without_what_the_figure_draws_is_refused(tmp_path):
    """A result without summary 'a_mean' or observations 'predicted' raised KeyError: 'a_mean' mid-figure."""
    from neurops.errors import DataError

    result = _result()
    del result.summary["a_mean"], result.observations["predicted"]
    with pytest.raises(DataError) as err:
        plot_posterior(result, tmp_path / "post.png")
    assert str(err.value) == ("plot_posterior draws a result of neurops.inverse (an inversion's, or "
                              "read_posterior(FILE)); this one has no summary 'a_mean', observations 'predicted'.")
    assert list(tmp_path.iterdir()) == []
