"""Surrogate posteriors against the reference posterior through the true PDE, on many Darcy inverse problems.

Problems: test samples of the 33 x 33 Darcy files of ``inverse_surrogates.py`` (lognormal and
piecewise coefficients), each observed at ``M`` interior grid nodes (25 and 100) with 25 dB
Gaussian noise; ``--problems`` per (coefficient, M) group, so 4 groups of 13 give 52 problems.
Observation points and noise are drawn from the problem's index (the same for every method).

Methods (``--methods``):

* ``reference``: the posterior in the data generator's GRF prior through the finite-difference
  Darcy solve (batched MG-PCG; generalised pCN around the Laplace approximation for lognormal
  coefficients; for piecewise ones block pCN (prior modes 0-4, 4-8, 8-16, 16-32, 32-128, 128-1088
  moved in turn, each block with its own step) with parallel tempering on the ladder
  1, 0.7, 0.5, 0.35, 0.25 and an annealed burn-in: ``--ref-blocks``, ``--ref-temperatures``,
  ``--ref-anneal``), all problems of a group in one batched solve per step;
* ``pde``: the sampler control: the reference's posterior (the true solve) sampled with the surrogate
  chains' options (``--steps``, ``--thin``, ``--temperatures``, ``--blocks``, ``--anneal``), so its gap
  to the reference is the shorter sampler's share of a surrogate row's gap (cache it with those rows);
* ``fno`` / ``mgno``: the same posterior through the trained surrogate (``inverse_surrogates.py``),
  without and with (``fno_me`` / ``mgno_me``) the surrogate's error statistics on the 200 validation
  pairs in the likelihood; plain pCN / gpCN unless ``--temperatures``, ``--blocks``, ``--anneal``
  give the surrogate chains the reference's scheme (cache those in their own ``--cache`` folder);
* ``dgno``: DGNO's latent posterior (pCN-Langevin, physics term, model-error term), one problem at
  a time.

Metrics per method, over all problems of a group: relative L2 of the posterior mean of ``a`` and
``u`` against the truth and against the reference mean; relative L2 error of the posterior standard
deviation field against the reference's, and the ratio of their means; coverage of the central 95 %
interval of ``a`` and ``u`` (fraction of grid nodes, pooled); CRPS of ``a`` and ``u``; sliced
2-Wasserstein distance of the draws of ``a`` to the reference draws (divided by the RMS reference
standard deviation, so 0 is identical and ~1 is one posterior width off); the posterior-predictive
chi^2/M through the true solver; R-hat and ESS; seconds per inversion and the speed-up over the
reference. Every method's posteriors are cached in ``benchmarks/work/inverse/posteriors``, so an
interrupted run resumes.

Run it in the background on a shared machine::

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks run inverse_posterior --methods reference
    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks run inverse_posterior --methods fno,fno_me,mgno,mgno_me,dgno
    python -m benchmarks run inverse_posterior --report        # tables from the cached posteriors
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.inverse_surrogates import INVERSE_DIR, checkpoint_path, problem_file
from benchmarks.runner import benchmark_parser, positive_int
from neurops.data.reader import read_meta, read_split
from neurops.inverse import (
    DarcyForward,
    InversionConfig,
    InversionWarning,
    SurrogateForward,
    effective_sample_size,
    estimate_model_error,
    invert_fields,
    invert_latent,
    load_surrogate,
    observations_from_file,
    prior_from_file,
    read_posterior,
    sliced_wasserstein,
    split_rhat,
    write_posterior,
)
from neurops.inverse.calibration import field_relative_l2
from neurops.utils.bench import clock, interleaved_times, markdown_table, save_results

POSTERIORS = INVERSE_DIR / "posteriors"
METHODS = ("reference", "pde", "fno", "fno_me", "mgno", "mgno_me", "dgno")
SNR_DB = 25.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = benchmark_parser(__doc__, quick=None)
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}")
    p.add_argument("--coefficients", default="lognormal,piecewise")
    p.add_argument("--n-obs", default="25,100", help="observation counts, one group each")
    p.add_argument("--problems", type=positive_int, default=13,
                   help="problems per (coefficient, observation count) group")
    p.add_argument("--chains", type=positive_int, default=4, help="chains per problem, from independent prior draws")
    p.add_argument("--ref-steps", default="lognormal=300+700,piecewise=800+2800",
                   help="burn-in+kept steps of the reference chains per coefficient")
    p.add_argument("--ref-thin", default="lognormal=5,piecewise=7")
    p.add_argument("--ref-temperatures", default="piecewise=0.7/0.5/0.35/0.25",
                   help="inverse temperatures below 1 of parallel tempering of the reference, per coefficient "
                        "('/'-separated; a coefficient not named: none)")
    p.add_argument("--ref-blocks", default="piecewise=4/8/16/32/128",
                   help="block edges of block pCN for the reference, per coefficient ('/'-separated prior-mode "
                        "indices; a coefficient not named: one block)")
    p.add_argument("--ref-anneal", default="piecewise=400",
                   help="annealed burn-in steps of the reference, per coefficient (a coefficient not named: 0)")
    p.add_argument("--steps", default="lognormal=100+300,piecewise=100+400",
                   help="burn-in+kept steps of the surrogate chains per coefficient")
    p.add_argument("--thin", default="lognormal=2,piecewise=2")
    p.add_argument("--temperatures", default="", help="as --ref-temperatures, for the surrogate chains")
    p.add_argument("--blocks", default="", help="as --ref-blocks, for the surrogate chains")
    p.add_argument("--anneal", default="", help="as --ref-anneal, for the surrogate chains")
    p.add_argument("--surrogate-laplace", type=positive_int, default=4,
                   help="Gauss-Newton steps of the Laplace reference through a surrogate (M Jacobian rows each)")
    p.add_argument("--dgno-steps", default="500+1500", help="burn-in+kept pCN-Langevin steps of DGNO (thin 5)")
    p.add_argument("--dgno-particles", type=positive_int, default=50, help="test functions of DGNO's physics term")
    p.add_argument("--report", action="store_true", help="only build the tables from the cached posteriors")
    p.add_argument("--figures", type=Path, default=None,
                   help="also draw the posterior of problem 0 with M=100 of every method and coefficient here")
    p.add_argument("--name", default="inverse_posterior")
    p.add_argument("--cache", type=Path, default=POSTERIORS, help="folder of the cached posterior files")
    p.add_argument("--threads", type=positive_int, default=1)
    return p.parse_args(argv)


def _per_coefficient(text: str) -> dict[str, str]:
    return dict(item.split("=") for item in text.split(",") if item)


def _sampler(args: argparse.Namespace, coefficient: str, prefix: str) -> dict[str, Any]:
    """Tempering ladder, pCN blocks and annealed burn-in of one coefficient from the ``{prefix}temperatures``,
    ``{prefix}blocks`` and ``{prefix}anneal`` options (``ref_`` for the reference, ``""`` for the surrogates)."""
    temps, blocks, anneal = (_per_coefficient(getattr(args, prefix + key)).get(coefficient)
                             for key in ("temperatures", "blocks", "anneal"))
    sampler: dict[str, Any] = {"temperatures": tuple(float(b) for b in temps.split("/")) if temps else None,
                               "blocks": tuple(int(e) for e in blocks.split("/")) if blocks else None,
                               "anneal": int(anneal or 0)}
    if sampler["blocks"]:
        sampler["sampler"] = "pcn"
    return sampler


def _config(args: argparse.Namespace, coefficient: str, method: str) -> InversionConfig:
    if method == "dgno":
        burn, kept = (int(v) for v in args.dgno_steps.split("+"))
        return InversionConfig(n_chains=args.chains, n_burn=burn, n_samples=kept, thin=5,
                               n_particles=args.dgno_particles, seed=0)
    reference = method == "reference"
    steps, thin = (args.ref_steps, args.ref_thin) if reference else (args.steps, args.thin)
    burn, kept = (int(v) for v in _per_coefficient(steps)[coefficient].split("+"))
    return InversionConfig(n_chains=args.chains, n_burn=burn, n_samples=kept,
                           thin=int(_per_coefficient(thin)[coefficient]), seed=0,
                           laplace_iterations=12 if reference else args.surrogate_laplace,
                           **_sampler(args, coefficient, "ref_" if reference else ""))


def _path(method: str, coefficient: str, n_obs: int, index: int, cache: Path = POSTERIORS) -> Path:
    return cache / f"{method}_{coefficient}_m{n_obs}_{index:03d}.h5"


def _observations(data: Path, n_obs: int, problems: int) -> list[Any]:
    return [observations_from_file(data, "test", i, n_obs=n_obs, snr_db=SNR_DB, seed=1000 * n_obs + i)
            for i in range(problems)]


def run_method(method: str, coefficient: str, n_obs: int, args: argparse.Namespace) -> None:
    """Invert every problem of a group with ``method`` and cache the posterior files."""
    data = problem_file(coefficient)
    todo = [i for i in range(args.problems) if not _path(method, coefficient, n_obs, i, args.cache).exists()]
    if not todo:
        return
    obs = _observations(data, n_obs, args.problems)
    prior = prior_from_file(data)
    pde = DarcyForward.from_generator(read_meta(data).generator)
    config = _config(args, coefficient, method)
    t0 = clock()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InversionWarning)  # recorded in every result's warnings
        if method in ("reference", "pde"):  # the true solve; "pde" with the surrogate chains' config
            results = invert_fields(prior, pde, [obs[i] for i in todo], config)
        elif method == "dgno":
            surrogate = load_surrogate(checkpoint_path("dgno", coefficient))
            val = read_split(data, "val")
            fwd = SurrogateForward(surrogate.forward, name="dgno")
            results = []
            for i in todo:
                error = estimate_model_error(fwd, val["inputs"]["a"], val["outputs"]["u"], obs[i].points)
                results.append(invert_latent(surrogate.dgno, obs[i], config, forcing=surrogate.meta["forcing"],
                                             error=error, check=pde, check_resolution=prior.resolution))
        else:
            name = method.removesuffix("_me")
            fwd = SurrogateForward(load_surrogate(checkpoint_path(name, coefficient)).forward, name=name)
            errors = None
            if method.endswith("_me"):
                val = read_split(data, "val")
                errors = [estimate_model_error(fwd, val["inputs"]["a"], val["outputs"]["u"], obs[i].points)
                          for i in todo]
            results = invert_fields(prior, fwd, [obs[i] for i in todo], config, errors=errors, check=pde)
    seconds = (clock() - t0) / len(todo)
    args.cache.mkdir(parents=True, exist_ok=True)
    for i, r in zip(todo, results):
        r.info["seconds_wall_per_inversion"] = seconds
        write_posterior(r, _path(method, coefficient, n_obs, i, args.cache),
                        name=f"{method} {coefficient} M={n_obs} #{i}",
                        overwrite=True)
    print(f"{method} {coefficient} M={n_obs}: {len(todo)} problems, {seconds:.1f} s per inversion", flush=True)


def forward_cost(coefficient: str, batch: int = 52, repeat: int = 7) -> dict[str, float]:
    """Wall-clock ms per sample of one batched ``a -> u`` evaluation: the true solve and every trained surrogate.

    One evaluation per MCMC step and chain is what every sampler here pays, so these ratios bound
    the speed-up a surrogate can give at equal steps. Interleaved rounds, the median of each.
    """
    data = problem_file(coefficient)
    a = torch.as_tensor(read_split(data, "val")["inputs"]["a"][:batch], dtype=torch.float64)
    fns = {"pde": DarcyForward.from_generator(read_meta(data).generator)}
    for name in ("fno", "mgno", "dgno"):
        if checkpoint_path(name, coefficient).exists():
            fns[name] = SurrogateForward(load_surrogate(checkpoint_path(name, coefficient)).forward, name=name)
    calls = {name: (lambda f=f: f(a)) for name, f in fns.items()}
    with torch.no_grad():
        for fn in calls.values():  # warm-up
            fn()
        times = interleaved_times(calls, repeat)
    return {name: 1e3 * float(np.median(t)) / batch for name, t in times.items()}


def _rel(x: np.ndarray, ref: np.ndarray) -> float:
    return field_relative_l2(x, ref)


def _steps_label(config: dict[str, Any]) -> str:
    """``burn+kept`` steps of a posterior's chains, with its tempering rungs, pCN blocks and annealed steps."""
    label = f"{config['n_burn']}+{config['n_samples']}"
    extras = [f"{len(config['temperatures']) + 1} T" if config.get("temperatures") else "",
              f"{len(config['blocks']) + 1} B" if config.get("blocks") else "",
              f"A {config['anneal']}" if config.get("anneal") else ""]
    return " ".join([label, *(e for e in extras if e)])


def compare(method: str, coefficient: str, n_obs: int, problems: int, cache: Path) -> dict[str, Any] | None:
    """Metrics of ``method`` on one group against the truth and the cached reference (None if missing)."""
    rows = []
    for i in range(problems):
        path, ref_path = _path(method, coefficient, n_obs, i, cache), _path("reference", coefficient, n_obs, i, cache)
        if not path.exists():
            return None
        r = read_posterior(path)
        ref = read_posterior(ref_path) if ref_path.exists() else None
        t = r.truth
        row = {"rel_l2_a": r.metrics["rel_l2_a"], "rel_l2_u": r.metrics["rel_l2_u"],
               "coverage_a": r.metrics["coverage_a"], "coverage_u": r.metrics["coverage_u"],
               "crps_a": r.metrics["crps_a"] / float(np.mean(np.abs(t["a"]))),
               "crps_u": r.metrics["crps_u"] / float(np.mean(np.abs(t["u"]))),
               "chi2": r.predictive.get("chi2_per_obs", np.nan), "passed": r.predictive.get("passed", False),
               "rhat_max": r.diagnostics["rhat_max"], "ess_min": r.diagnostics["ess_min"],
               "acceptance": r.diagnostics["acceptance"], "seconds": r.info["seconds"],
               "steps": _steps_label(r.info["config"]),
               "decoder_std": float(np.mean(r.summary["a_decoder_std"])) if "a_decoder_std" in r.summary else None}
        if ref is not None:
            ref_std = {k: ref.summary[f"{k}_std"] for k in ("a", "u")}
            row.update({
                "rel_l2_a_vs_ref": _rel(r.summary["a_mean"], ref.summary["a_mean"]),
                "rel_l2_u_vs_ref": _rel(r.summary["u_mean"], ref.summary["u_mean"]),
                "std_error_a": _rel(r.summary["a_std"], ref_std["a"]),
                "std_error_u": _rel(r.summary["u_std"], ref_std["u"]),
                "std_ratio_a": float(r.summary["a_std"].mean() / ref_std["a"].mean()),
                "std_ratio_u": float(r.summary["u_std"].mean() / ref_std["u"].mean()),
                "sw_a": sliced_wasserstein(r.samples["a"].reshape(len(r.samples["a"]), -1),
                                           ref.samples["a"].reshape(len(ref.samples["a"]), -1))
                / float(np.sqrt(np.mean(ref_std["a"] ** 2))),
                "ref_seconds": ref.info["seconds"]})
        rows.append(row)
    keys = [k for k in rows[0] if rows[0][k] is not None and k != "steps"]
    mean: dict[str, Any] = {k: float(np.nanmean([r[k] for r in rows])) for k in keys
                            if k not in ("rhat_max", "ess_min")}
    mean["steps"] = rows[0]["steps"]
    mean["rhat_max"] = float(np.median([r["rhat_max"] for r in rows]))
    mean["ess_min"] = float(np.median([r["ess_min"] for r in rows]))
    mean["passed"] = float(np.mean([r["passed"] for r in rows]))
    return {"method": method, "coefficient": coefficient, "n_obs": n_obs, "problems": problems, "mean": mean,
            "per_problem": rows}


def rhat_by_length(coefficient: str, n_obs: int, problems: int, cache: Path,
                   fractions: tuple[float, ...] = (0.25, 0.5, 1.0)) -> dict[str, list[float]] | None:
    """How the reference chains of a group converge: R-hat and ESS from the first part of every chain.

    For each fraction, the first ``fraction`` of every chain's kept draws gives the largest split
    R-hat and the smallest ESS over all non-constant grid values of ``a`` and ``u`` (Phi is not
    stored with the draws); medians over the group's problems (None if a posterior is missing), with
    the median swap rates of the tempering ladder and steps of the blocks.
    """
    rhat: list[list[float]] = [[] for _ in fractions]
    ess: list[list[float]] = [[] for _ in fractions]
    tuning: dict[str, list[list[float]]] = {"swap_rate": [], "block_steps": []}
    kept = 0
    for i in range(problems):
        path = _path("reference", coefficient, n_obs, i, cache)
        if not path.exists():
            return None
        r = read_posterior(path)
        C = int(r.samples["chain"].max()) + 1
        q = np.concatenate([r.samples[k].reshape(C, -1, int(np.prod(r.samples[k].shape[1:]))) for k in ("a", "u")],
                           axis=-1).astype(np.float64)
        kept = q.shape[1]
        for j, f in enumerate(fractions):
            part = q[:, : max(4, int(round(f * kept)))]  # split R-hat needs 4 draws per chain
            part = part[..., part.reshape(-1, part.shape[-1]).std(axis=0) > 0]
            rhat[j].append(float(split_rhat(part).max()))
            ess[j].append(float(effective_sample_size(part).min()))
        config = r.info["config"]
        for key, values in tuning.items():
            if key in r.diagnostics:
                values.append(r.diagnostics[key])
    steps = [int(config["n_burn"] + max(4, int(round(f * kept))) * config["thin"]) for f in fractions]
    return {"steps_per_chain": steps, "rhat_max_median": [float(np.median(v)) for v in rhat],
            "ess_min_median": [float(np.median(v)) for v in ess],
            **{f"{key}_median": np.median(v, axis=0).round(3).tolist() for key, v in tuning.items() if v}}


def report(args: argparse.Namespace) -> None:
    records = []
    for coefficient in args.coefficients.split(","):
        for n_obs in (int(m) for m in args.n_obs.split(",")):
            for method in METHODS:
                rec = compare(method, coefficient, n_obs, args.problems, args.cache)
                if rec is not None:
                    records.append(rec)
    rows = []
    for rec in records:
        m = rec["mean"]
        def fmt(key: str, digits: int = 3, m: dict[str, Any] = m) -> Any:
            if key not in m or np.isnan(m[key]):
                return "-"
            return round(m[key], digits) if np.isfinite(m[key]) else "inf"

        speed = m["ref_seconds"] / m["seconds"] if "ref_seconds" in m and rec["method"] != "reference" else None
        rows.append({"coef.": rec["coefficient"], "M": rec["n_obs"], "method": rec["method"], "steps": m["steps"],
                     "L2 a / u vs truth": f"{fmt('rel_l2_a')} / {fmt('rel_l2_u')}",
                     "L2 a / u vs ref. mean": f"{fmt('rel_l2_a_vs_ref')} / {fmt('rel_l2_u_vs_ref')}",
                     "std err a / u": f"{fmt('std_error_a')} / {fmt('std_error_u')}",
                     "std ratio a / u": f"{fmt('std_ratio_a', 2)} / {fmt('std_ratio_u', 2)}",
                     "cover a / u": f"{fmt('coverage_a', 2)} / {fmt('coverage_u', 2)}",
                     "CRPS a / u": f"{fmt('crps_a')} / {fmt('crps_u', 4)}",
                     "SW a": fmt("sw_a", 2), "chi2/M": fmt("chi2", 2), "pass": fmt("passed", 2),
                     "R-hat": fmt("rhat_max", 3), "ESS": fmt("ess_min", 0),
                     "s / inv.": fmt("seconds", 1), "speed-up": round(speed, 2) if speed else "-"})
    table = markdown_table(rows)
    curves = {f"{c} M={m}": curve for c in args.coefficients.split(",") for m in (int(v) for v in args.n_obs.split(","))
              if (curve := rhat_by_length(c, m, args.problems, args.cache)) is not None}
    if curves:
        table += ("\n\nReference chains by length (steps per chain, burn-in included: median over problems of the "
                  "largest R-hat / smallest ESS over the grid values of a and u, from the first part of each chain): "
                  + "; ".join(f"{name}: " + ", ".join(f"{s} steps {r:.3f} / {e:.0f}" for s, r, e in
                                                      zip(c["steps_per_chain"], c["rhat_max_median"],
                                                          c["ess_min_median"]))
                              for name, c in curves.items()) + ".")
        tuned = [f"{name}: swap rates {c['swap_rate_median']}, block steps {c['block_steps_median']}"
                 for name, c in curves.items() if "swap_rate_median" in c and "block_steps_median" in c]
        if tuned:
            table += " Reference sampler, medians over problems: " + "; ".join(tuned) + "."
    costs = {c: forward_cost(c) for c in args.coefficients.split(",")}
    cost_line = "; ".join(f"{c}: " + ", ".join(f"{k} {v:.2f}" for k, v in cost.items()) for c, cost in costs.items())
    table += (f"\n\nForward evaluation, ms per sample (batch 52, {args.threads} thread, interleaved medians): "
              f"{cost_line}.\n")
    print(table)
    if args.figures is not None:
        from neurops.viz.posterior import plot_posterior

        args.figures.mkdir(parents=True, exist_ok=True)
        for rec in records:
            path = _path(rec["method"], rec["coefficient"], 100, 0, args.cache)
            if rec["n_obs"] == 100 and path.exists():
                plot_posterior(read_posterior(path), args.figures / f"{rec['method']}_{rec['coefficient']}.png",
                               title=f"{rec['method']}: {rec['coefficient']} coefficient, 100 observations, 25 dB")
    note = ("Means over the problems of each group (R-hat: median over problems of the largest R-hat over all grid "
            "values of a and u and Phi; ESS: median of the smallest ESS). 'vs ref.': against the reference "
            "posterior through the true PDE. std err: relative L2 error of the posterior std field against the "
            "reference's; std ratio: mean std / reference mean std. cover: fraction of grid nodes whose truth lies "
            "in the central 95 % interval. CRPS divided by the mean |truth|. SW a: sliced 2-Wasserstein distance of "
            "the draws of a to the reference draws, divided by the RMS reference std. chi2/M: posterior-predictive "
            "check through the true solver (pass: fraction of problems inside the 99 % band of chi2_M/M). s / inv.: "
            "seconds per inversion (problems of a group inverted together, except DGNO). steps: burn-in + kept "
            f"steps per chain ('5 T': 5 tempering rungs, '6 B': 6 pCN blocks, 'A 400': 400 annealed burn-in "
            f"steps); {args.chains} chains from independent prior draws.")
    save_results(args.name, vars(args), rows, table + "\n\n" + note + "\n", args.results_dir,
                 details={"records": records, "forward_ms_per_sample": costs, "reference_by_length": curves})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if not args.report:
        for method in args.methods.split(","):
            if method not in METHODS:
                raise SystemExit(f"unknown method {method!r}; use {', '.join(METHODS)}")
            for coefficient in args.coefficients.split(","):
                for n_obs in (int(m) for m in args.n_obs.split(",")):
                    run_method(method, coefficient, n_obs, args)
    report(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
