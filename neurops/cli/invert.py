"""``neurops invert observe|pde|surrogate``: the posterior of a coefficient field from sparse noisy observations.

One subcommand per mode::

    # observations of a labelled test sample
    neurops invert observe --data darcy.h5 --split test --index 0 --n-obs 100 --snr-db 25 --out obs.h5
    # the reference posterior, through the true Darcy solve
    neurops invert pde --obs obs.h5 --out post_pde.h5
    # a surrogate posterior, through any operator checkpoint (FNO, MgNO, LSM, DGNO)
    neurops invert surrogate --obs obs.h5 --ckpt fno.ckpt --out post_fno.h5

The sampler's options are the fields of
:class:`~neurops.inverse.inversion.InversionConfig`.
"""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from pathlib import Path
from typing import Any, Literal

from neurops.cli import note
from neurops.cli.builder import Command, Group
from neurops.errors import ConfigError, OutputExistsError
from neurops.inverse.inversion import InversionConfig
from neurops.inverse.observations import observations_from_file
from neurops.utils.device import check_device
from neurops.utils.io import atomic_path, check_output_path, strict_json

#: InversionConfig fields under the names the command line keeps
SETTING_OPTIONS = {"n_chains": "chains", "n_burn": "burn", "n_samples": "samples", "n_predictive": "predictive",
                   "n_particles": "particles"}
#: settings of the physics term of a DGNO posterior (not options of ``invert pde``)
DGNO_SETTINGS = ("map_steps", "map_lr", "physics_weight", "n_particles", "radius", "n_quad_per_axis")


def _prior_overrides(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--prior is not valid JSON ({exc.msg}); write an object such as "
                          "'{\"coefficient\": \"lognormal\", \"tau\": 3}'.") from exc
    if not isinstance(value, dict):
        raise ConfigError(f"--prior must be a JSON object of prior settings, got {value!r}.")
    return value


def _prepare(obs: Path, out: Path, figure: Path | None, no_figure: bool, overwrite: bool, data: Path | None,
             ckpt: Path | None = None) -> tuple[Any, Path | None, str | None]:
    """The observations, the figure path and its format, all checked before any work: neither output may be an
    input (the observations, ``data``, ``ckpt``, the data file the observations come from) nor the other."""
    from neurops.inverse import read_observations
    from neurops.inverse.problem import data_file

    observations = read_observations(obs)
    inputs = [obs, data, ckpt, data_file(observations, data)]
    check_output_path(out, overwrite=overwrite, inputs=inputs, hdf5=True)
    if no_figure:
        return observations, None, None
    path = figure or out.with_suffix(".png")
    if path.absolute().resolve() == out.absolute().resolve():
        raise ConfigError(f"--figure {path} is also the posterior file (--out); give the figure its own path, "
                          f"e.g. --figure {out.with_suffix('.png')}.")
    check_output_path(path, overwrite=True, inputs=inputs)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"figure {path} already exists; pass --overwrite, --figure PATH or --no-figure.")
    from neurops.viz.posterior import check_figure

    return observations, path, check_figure(path, len(observations.dims))


def _same_problem(observations: Any, data: Path | None, forcing: float | None, overrides: dict | None,
                  model: Any = None, ckpt: Path | None = None) -> list[str]:
    """Refuse a data file (or a DGNO ``model``) of another problem than the observations' unless ``--forcing`` /
    ``--prior`` state it (:func:`~neurops.inverse.problem.check_problem`); return the notes to print where they do
    (printed once every check passed: no note before an error). What a DGNO's two-phase (Bernoulli) decoder outputs,
    a piecewise coefficient of its two values, no option changes."""
    from neurops.data.reader import read_meta
    from neurops.inverse.problem import PROBLEM_SETTINGS, check_problem, data_file

    stated = {"forcing": forcing, **{k: (overrides or {}).get(k) for k in PROBLEM_SETTINGS if k != "forcing"}}
    if model is not None:
        net = model.dgno
        decoder = {"coefficient": "piecewise", "a_low": net.a_low, "a_high": net.a_high} \
            if net.a_likelihood == "bernoulli" else {}
        notes = check_problem(observations, {**model.meta, **decoder}, f"the DGNO checkpoint {ckpt}",
                              "--ckpt with a DGNO trained on their problem", stated, fixed=decoder, note_stated=False)
    else:
        path, source = data_file(observations, data), observations.source.get("file")
        came = f" ({source})" if source else ""
        notes = check_problem(observations, read_meta(path).generator if path is not None else None,
                              f"the data file {path}", f"--data with the file they came from{came}", stated)
    return notes


def _config(settings: dict[str, Any]) -> InversionConfig:
    for name, low in (("n_chains", 2), ("thin", 1), ("n_burn", 0), ("n_samples", 0), ("n_predictive", 0),
                      ("n_particles", 0)):
        if name in settings and settings[name] < low:
            raise ConfigError(f"--{SETTING_OPTIONS.get(name, name)} must be >= {low}, got {settings[name]}.")
    thin = settings.get("thin", InversionConfig.thin)
    if settings.get("n_samples", 4 * thin) < 4 * thin:  # the config's own error names its fields, not the options
        smaller = ", or a smaller --thin" if thin > 1 else ""
        raise ConfigError(f"--samples must be at least 4 x --thin ({4 * thin}: 4 kept states per chain), got "
                          f"{settings['n_samples']}; pass --samples {4 * thin} or more{smaller}.")
    return InversionConfig(**settings)


def observe(path: Path, out: Path, overwrite: bool = False, **options: Any) -> int:
    """Write an observation file of a labelled sample (:func:`~neurops.inverse.observations.observations_from_file`).

    Parameters
    ----------
    out : the observation file to write.
    overwrite : replace ``out`` if it exists.
    """
    from neurops.inverse import write_observations

    check_output_path(out, overwrite=overwrite, inputs=[path], hdf5=True)  # fail before any work
    obs = observations_from_file(path, **options)
    write_observations(obs, out, overwrite=overwrite)
    print(f"wrote {len(obs.values)} observations (noise std {obs.noise_std:.3g}) to {out}")
    return 0


def pde(obs: Path, out: Path, data: Path | None = None, prior: str | None = None, forcing: float | None = None,
        figure: Path | None = None, no_figure: bool = False, overwrite: bool = False, **settings: Any) -> int:
    """Sample the posterior of the coefficient behind the observations through the true Darcy solve (the reference).

    Writes a posterior file (samples of a and u, summaries, diagnostics) and a figure, and warns when
    R-hat, the effective sample size or the posterior-predictive check fail.

    Parameters
    ----------
    obs : observation file (see docs/data-format.md).
    out : the posterior file to write.
    data : the problem's Darcy data file: its generator gives the prior and the true solver (default:
        the file the observations were made from).
    prior : JSON object overriding the prior of a (coefficient, alpha, tau, sigma, a_high, a_low,
        resolution, max_wavenumber); by default the data generator's GRF prior.
    forcing : right-hand side f of the true solver (default: the data generator's).
    figure : figure path (default: ``out`` with .png).
    no_figure : write no figure.
    overwrite : replace ``out`` (and the figure) if they exist.
    """
    config, overrides = _config(settings), _prior_overrides(prior)
    observations, path, fmt = _prepare(obs, out, figure, no_figure, overwrite, data)
    for line in _same_problem(observations, data, forcing, overrides):
        note(line)

    def invert() -> Any:
        from neurops.inverse import invert_fields
        from neurops.inverse.problem import problem_prior, true_solver

        solver = true_solver(observations, data, forcing)
        if solver is None:  # and the prior too, where it is unknown: both in one line, not one after the other
            prior_known = _optional_prior(observations, data, overrides) is not None
            raise ConfigError("invert pde needs the problem's forcing" + ("" if prior_known else " and prior of a")
                              + ": pass --data FILE (the Darcy data file the observations come from) or --forcing F"
                              + ("" if prior_known else " and --prior '{\"coefficient\": \"lognormal\", "
                                 "\"resolution\": 33, \"alpha\": 2, \"tau\": 3}'") + ".")
        return invert_fields(problem_prior(observations, data, overrides), solver, observations, config)[0]

    return _write(invert, obs, out, (path, fmt), overwrite)


def surrogate(obs: Path, ckpt: Path, out: Path, data: Path | None = None,
              space: Literal["latent", "prior"] | None = None, prior: str | None = None, forcing: float | None = None,
              model_error: Literal["auto", "off"] = "auto", device: str = "cpu", figure: Path | None = None,
              no_figure: bool = False, overwrite: bool = False, **settings: Any) -> int:
    """Sample the posterior of the coefficient behind the observations through a trained operator.

    Any operator checkpoint a -> u (FNO, MgNO, LSM, DGNO). Writes a posterior file and a figure, and
    warns when R-hat, the effective sample size or the posterior-predictive check through the true
    solver fail.

    Parameters
    ----------
    obs : observation file (see docs/data-format.md).
    ckpt : operator checkpoint a -> u (FNO, MgNO, LSM, DGNO).
    out : the posterior file to write.
    data : the problem's Darcy data file: its generator gives the prior and the true solver, its val
        split the surrogate's error statistics (default: the file the observations were made from).
    space : for a DGNO: sample its latent space (default) or the prior's coefficients through it; other
        operators always sample the prior's coefficients.
    prior : JSON object overriding the prior of a (coefficient, alpha, tau, sigma, a_high, a_low,
        resolution, max_wavenumber); by default the data generator's GRF prior.
    forcing : right-hand side f of the true solver (default: the data generator's).
    model_error : add the surrogate's error statistics on validation pairs to the noise (auto: when
        the data file has a val split).
    device : torch device, e.g. cuda.
    figure : figure path (default: ``out`` with .png).
    no_figure : write no figure.
    overwrite : replace ``out`` (and the figure) if they exist.
    """
    config, overrides = _config(settings), _prior_overrides(prior)
    check_device(device)  # before any work: a device this machine lacks is one line
    observations, path, fmt = _prepare(obs, out, figure, no_figure, overwrite, data, ckpt)
    notes = _same_problem(observations, data, forcing, overrides)

    def invert() -> Any:
        from neurops.inverse import SurrogateForward, estimate_model_error, invert_fields, invert_latent, load_surrogate
        from neurops.inverse.problem import problem_prior, true_solver, validation_pairs

        model = load_surrogate(ckpt, map_location=device)
        if model.dgno is not None:
            notes.extend(_same_problem(observations, data, forcing, overrides, model, ckpt))
        else:
            _refuse_dgno_options(ckpt, model.name, space, settings)
        for line in notes:
            note(line)
        pairs = validation_pairs(observations, data) if model_error == "auto" else None
        if model_error == "auto" and pairs is None:  # auto found nothing to estimate the term on: say so
            from neurops.inverse.problem import data_file

            path = data_file(observations, data)
            why = (f"{path} has no val split of 2 or more pairs a -> u" if path is not None
                   else "no data file is known (pass --data FILE)")
            note(f"the posterior has no model-error term: {why}; --model-error off leaves it out without this note.")
        f = forcing if forcing is not None else model.meta.get("forcing")
        check = true_solver(observations, data, f)
        if model.dgno is not None and space != "prior":
            error = None
            if pairs is not None:
                error = estimate_model_error(SurrogateForward(model.forward, name="dgno"), *pairs, observations.points)
            grf = _optional_prior(observations, data, overrides)
            return invert_latent(model.dgno, observations, config, forcing=f if f is not None else 10.0,
                                 error=error, check=check, check_resolution=grf.resolution if grf else None)
        grf = problem_prior(observations, data, overrides)
        resolution = _model_resolution(ckpt, model.meta.get("train_resolution"), grf.shape,
                                       observations.grid_shape[0], pairs is not None)
        forward = SurrogateForward(model.forward, resolution=resolution, name=model.name)
        error = estimate_model_error(forward, *pairs, observations.points) if pairs is not None else None
        return invert_fields(grf, forward, observations, config, errors=[error], check=check)[0]

    return _write(invert, obs, out, (path, fmt), overwrite)


def _model_resolution(ckpt: Path, trained: Any, shape: tuple[int, ...], observed: int,
                      model_error: bool) -> int | None:
    """The grid the operator runs on: the one it was trained on where that is a subsample of the prior's ``shape``
    and holds the observations' grid (None: the prior's own grid); else the prior's grid, zero-shot, with a note."""
    trained = tuple(trained) if trained is not None else None
    if trained is None or trained == shape:
        return None
    t, fine = trained[0], shape[0]
    if len(trained) == len(shape) and len(set(trained)) == 1 and t > 1 and not (fine - 1) % (t - 1) \
            and not (t - 1) % (observed - 1):
        return t
    error = ("its model-error term is estimated on that grid" if model_error
             else "with --model-error off nothing accounts for its error there")
    note(f"{ckpt} was trained on a {' x '.join(map(str, trained))} grid and runs on the prior's "
         f"{' x '.join(map(str, shape))} grid (zero-shot); {error}.")
    return None


def _refuse_dgno_options(ckpt: Path, name: str, space: str | None, settings: dict[str, Any]) -> None:
    """Options only a DGNO checkpoint uses, given for another operator: refused, not silently ignored."""
    from neurops.inverse import InversionConfig

    defaults = InversionConfig()
    given = (["space"] if space == "latent" else []) + [
        n for n in DGNO_SETTINGS if n in settings and settings[n] != getattr(defaults, n)]
    if given:
        flags = ", ".join("--" + SETTING_OPTIONS.get(n, n).replace("_", "-") for n in given)
        apply, them = ("applies", "it") if len(given) == 1 else ("apply", "them")
        raise ConfigError(f"{flags} only {apply} to a DGNO checkpoint, and {ckpt} holds a {name}, which is sampled "
                          f"through the prior's coefficients: drop {them}.")


def _write(invert: Any, obs: Path, out: Path, figure: tuple[Path | None, str | None], overwrite: bool) -> int:
    """Run ``invert()``, write its posterior and figure (both or neither: the figure goes to a temporary file
    renamed once the posterior is written) and print the summary and the inversion's warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = invert()
    from neurops.inverse import InversionWarning, write_posterior

    path, fmt = figure
    with contextlib.ExitStack() as stack:
        if path is not None:
            from neurops.viz.posterior import plot_posterior

            plot_posterior(result, stack.enter_context(atomic_path(path, overwrite=overwrite)), fmt=fmt)
        write_posterior(result, out, name=f"posterior of {obs.name}", overwrite=overwrite)
    d, pc = result.diagnostics, result.predictive
    summary = {"sampler": result.method["sampler"], "seconds": round(result.info["seconds"], 2),
               "acceptance": round(d["acceptance"], 3), "rhat_max": round(d["rhat_max"], 3),
               "ess_min": round(d["ess_min"], 1)}
    if pc.get("checked"):
        summary["true_solver_chi2_per_obs"] = round(pc["chi2_per_obs"], 3)
    summary.update({k: round(v, 4) for k, v in result.metrics.items()})
    print(f"wrote posterior to {out}" + (f" and figure {path}" if path else "") + f": {strict_json(summary)}")
    for w in caught:
        if issubclass(w.category, InversionWarning):
            print(f"neurops: warning: {w.message}", file=sys.stderr)
    return 0


def _optional_prior(obs, data, overrides):
    from neurops.inverse.problem import problem_prior

    try:
        return problem_prior(obs, data, overrides)
    except ConfigError:
        return None


COMMAND = Group(
    "infer a coefficient field, with uncertainty, from sparse noisy observations",
    {"observe": Command(observe, signature=[observations_from_file, observe], rename={"path": "data"},
                        skip=["input_field", "output_field"],
                        help="write observations of a labelled sample (the input of an inversion)",
                        description="Write an observation file: noisy values of the output field of one "
                        "labelled sample at random grid nodes."),
     "pde": Command(pde, signature=[pde, InversionConfig], rename=SETTING_OPTIONS, skip=DGNO_SETTINGS,
                    help="the reference posterior, through the true Darcy solve"),
     "surrogate": Command(surrogate, signature=[surrogate, InversionConfig], rename=SETTING_OPTIONS,
                          help="a posterior through a trained operator checkpoint (FNO, MgNO, LSM, DGNO)")},
    description="Sample the posterior of the coefficient a behind observations of u: through the true Darcy "
                "solve (pde, the reference) or through a trained operator (surrogate). `observe` writes an "
                "observation file from a labelled sample.",
    retired={"--forward": "MODE"})
