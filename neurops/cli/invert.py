"""``neurops invert``: the posterior of a coefficient field from sparse noisy observations.

Two modes of one command::

    # observations of a labelled test sample
    neurops invert --make-obs --data darcy.h5 --split test --index 0 --n-obs 100 --snr-db 25 --out obs.h5
    # the reference posterior, through the true Darcy solve
    neurops invert --obs obs.h5 --forward pde --out post_pde.h5
    # a surrogate posterior, through any operator checkpoint (FNO, MgNO, LSM, DGNO)
    neurops invert --obs obs.h5 --ckpt fno.ckpt --out post_fno.h5
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from neurops.errors import ConfigError, OutputExistsError

SAMPLERS = ("auto", "pcn", "gpcn", "pcnl")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "invert", help="infer a coefficient field, with uncertainty, from sparse noisy observations",
        description="Sample the posterior of the coefficient a behind observations of u (--obs, --out): through "
        "the true Darcy solve (--forward pde, the reference) or through a trained operator (--ckpt: FNO, MgNO, LSM "
        "or DGNO). Writes a posterior file (samples of a and u, summaries, diagnostics) and a figure, and warns "
        "when R-hat, the effective sample size or the posterior-predictive check through the true solver fail. "
        "With --make-obs: write an observation file from a labelled sample instead.")
    p.add_argument("--out", required=True, type=Path, help="posterior file (or observation file with --make-obs)")
    p.add_argument("--overwrite", action="store_true", help="replace --out (and the figure) if they exist")
    p.add_argument("--seed", type=int, default=0, help="seed of observation points/noise, or of the chains")
    p.add_argument("--data", type=Path, help="the problem's Darcy data file: its generator gives the prior and the "
                   "true solver, its val split the surrogate's error statistics (default: the file the observations "
                   "were made from); with --make-obs the labelled file to observe")
    inv = p.add_argument_group("inversion")
    inv.add_argument("--obs", type=Path, help="observation file (see docs/data-format.md)")
    inv.add_argument("--ckpt", type=Path, help="operator checkpoint a -> u (FNO, MgNO, LSM, DGNO)")
    inv.add_argument("--forward", choices=("surrogate", "pde"), default=None,
                     help="the forward map: the checkpoint (default with --ckpt) or the true solver (pde)")
    inv.add_argument("--space", choices=("latent", "prior"), default=None,
                     help="for a DGNO: sample its latent space (default) or the prior's coefficients through it")
    inv.add_argument("--prior", default=None, help="JSON object overriding the prior of a (coefficient, alpha, tau, "
                     "sigma, a_high, a_low, resolution, max_wavenumber); by default the data generator's GRF prior")
    inv.add_argument("--forcing", type=float, default=None, help="right-hand side f of the true solver (default: the "
                     "data generator's)")
    inv.add_argument("--model-error", choices=("auto", "off"), default="auto",
                     help="add the surrogate's error statistics on validation pairs to the noise (auto: when the "
                     "data file has a val split)")
    inv.add_argument("--sampler", choices=SAMPLERS, default="auto",
                     help="auto: gpcn (Laplace-centred pCN) for a lognormal a, pcn for a piecewise a, pcnl for DGNO")
    inv.add_argument("--chains", type=int, default=4, help="chains, started from independent prior draws")
    inv.add_argument("--burn", type=int, default=1000, help="burn-in steps per chain")
    inv.add_argument("--samples", type=int, default=2000, help="steps per chain after burn-in")
    inv.add_argument("--thin", type=int, default=10, help="keep every THIN-th step")
    inv.add_argument("--predictive", type=int, default=100, help="posterior draws solved by the true PDE in the "
                     "posterior-predictive check")
    inv.add_argument("--figure", type=Path, default=None, help="figure path (default: --out with .png)")
    inv.add_argument("--no-figure", action="store_true", help="write no figure")
    inv.add_argument("--physics-weight", type=float, default=1.0, help="DGNO: weight of the weak PDE residual")
    inv.add_argument("--particles", type=int, default=100, help="DGNO: test functions of the residual")
    inv.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    obs = p.add_argument_group("observations (--make-obs)")
    obs.add_argument("--make-obs", action="store_true", help="write observations of a labelled sample instead")
    obs.add_argument("--split", default="test", help="split of --data")
    obs.add_argument("--index", type=int, default=0, help="sample index in the split")
    obs.add_argument("--n-obs", type=int, default=100, help="number of observed grid nodes")
    obs.add_argument("--snr-db", type=float, default=25.0, help="signal-to-noise ratio of the noise, dB")
    p.set_defaults(func=_run)


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


def _check_args(args: argparse.Namespace) -> Path | None:
    if args.out.exists() and not args.overwrite:  # fail before any work
        raise OutputExistsError(f"{args.out} already exists; pass --overwrite to replace it or choose another --out.")
    if args.make_obs:
        if args.data is None:
            raise ConfigError("--make-obs needs --data FILE (a labelled neurops file).")
        return None
    if args.obs is None:
        raise ConfigError("inversion needs --obs OBS.h5 (or use --make-obs to create observations).")
    if args.ckpt is None and args.forward != "pde":
        raise ConfigError("inversion needs --ckpt CKPT (a trained operator) or --forward pde (the true solver).")
    if args.forward == "pde" and args.ckpt is not None:
        raise ConfigError("--forward pde uses the true solver; drop --ckpt (or use --forward surrogate).")
    for name in ("chains", "thin", "burn", "samples", "predictive", "particles"):
        if getattr(args, name) < (2 if name == "chains" else 1 if name == "thin" else 0):
            raise ConfigError(f"--{name} must be >= {2 if name == 'chains' else 1 if name == 'thin' else 0}, got "
                              f"{getattr(args, name)}.")
    figure = None if args.no_figure else (args.figure or args.out.with_suffix(".png"))
    if figure is not None and figure.exists() and not args.overwrite:
        raise OutputExistsError(f"figure {figure} already exists; pass --overwrite, --figure PATH or --no-figure.")
    return figure


def _run(args: argparse.Namespace) -> int:
    figure = _check_args(args)
    from neurops.inverse import observations_from_file, write_observations

    if args.make_obs:
        obs = observations_from_file(args.data, args.split, args.index, n_obs=args.n_obs, snr_db=args.snr_db,
                                     seed=args.seed)
        write_observations(obs, args.out, overwrite=args.overwrite)
        print(f"wrote {len(obs.values)} observations (noise std {obs.noise_std:.3g}) to {args.out}")
        return 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _invert(args)
    from neurops.inverse import InversionWarning, write_posterior

    write_posterior(result, args.out, name=f"posterior of {args.obs.name}", overwrite=args.overwrite)
    if figure is not None:
        from neurops.viz.posterior import plot_posterior

        plot_posterior(result, figure)
    d, pc = result.diagnostics, result.predictive
    summary = {"sampler": result.method["sampler"], "seconds": round(result.info["seconds"], 2),
               "acceptance": round(d["acceptance"], 3), "rhat_max": round(d["rhat_max"], 3),
               "ess_min": round(d["ess_min"], 1)}
    if pc.get("checked"):
        summary["true_solver_chi2_per_obs"] = round(pc["chi2_per_obs"], 3)
    summary.update({k: round(v, 4) for k, v in result.metrics.items()})
    print(f"wrote posterior to {args.out}" + (f" and figure {figure}" if figure else "") + f": {json.dumps(summary)}")
    for w in caught:
        if issubclass(w.category, InversionWarning):
            print(f"neurops: warning: {w.message}", file=sys.stderr)
    return 0


def _invert(args: argparse.Namespace):
    from neurops.inverse import (InversionConfig, SurrogateForward, estimate_model_error, invert_fields,
                                 invert_latent, load_surrogate, read_observations)
    from neurops.inverse.problem import problem_prior, true_solver, validation_pairs

    obs = read_observations(args.obs)
    config = InversionConfig(sampler=args.sampler, n_chains=args.chains, n_burn=args.burn, n_samples=args.samples,
                             thin=args.thin, n_predictive=args.predictive, physics_weight=args.physics_weight,
                             n_particles=args.particles, seed=args.seed)
    overrides = _prior_overrides(args.prior)
    if args.forward == "pde":
        solver = true_solver(obs, args.data, args.forcing)
        if solver is None:
            raise ConfigError("--forward pde needs the problem's forcing: pass --data FILE or --forcing F.")
        return invert_fields(problem_prior(obs, args.data, overrides), solver, obs, config)[0]
    surrogate = load_surrogate(args.ckpt, map_location=args.device)
    pairs = validation_pairs(obs, args.data) if args.model_error == "auto" else None
    forcing = args.forcing if args.forcing is not None else surrogate.meta.get("forcing")
    check = true_solver(obs, args.data, forcing)
    if surrogate.dgno is not None and args.space != "prior":
        error = None
        if pairs is not None:
            error = estimate_model_error(SurrogateForward(surrogate.forward, name="dgno"), *pairs, obs.points)
        prior = _optional_prior(obs, args.data, overrides)
        return invert_latent(surrogate.dgno, obs, config, forcing=forcing if forcing is not None else 10.0,
                             error=error, check=check, check_resolution=prior.resolution if prior else None)
    prior = problem_prior(obs, args.data, overrides)
    forward = SurrogateForward(surrogate.forward, name=surrogate.name)
    error = estimate_model_error(forward, *pairs, obs.points) if pairs is not None else None
    return invert_fields(prior, forward, obs, config, errors=[error], check=check)[0]


def _optional_prior(obs, data, overrides):
    from neurops.inverse.problem import problem_prior

    try:
        return problem_prior(obs, data, overrides)
    except ConfigError:
        return None
