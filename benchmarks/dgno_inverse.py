"""Inverse Darcy problem with a trained DGNO: sparse noisy observations of u -> a, with uncertainty.

For test samples of the piecewise Darcy problem (a in {5, 10}, f = 10, 29 x 29), ``N`` grid
nodes (100 and 25) of ``u`` are observed with 25 dB Gaussian noise; :func:`neurops.inverse.invert`
finds the MAP latent code and draws MALA posterior samples. Reported per ``N``, averaged over
the test samples: relative L2 error of the posterior mean (and of the MAP) for ``a`` and ``u``,
the fraction of grid points whose true value lies in the posterior's 95% band (calibration),
MALA's acceptance rate and seconds per inversion.

The DGNO paper [1]_ reports, on piecewise Darcy with 100 observations at 25 dB, relative L2 about
0.10-0.13 for ``a`` and 0.01-0.03 for ``u`` (MAP-type estimate, model trained 1000 epochs on
10,000 coefficient samples on a GPU).

The checkpoint comes from ``benchmarks/dgno_forward.py`` (``--ckpt``; by default the one that
script saves). ``--quick``: few test samples and short chains on the CPU. Paper-scale (GPU)::

    python benchmarks/dgno_forward.py --problems piecewise --models dgno --accelerator gpu
    python benchmarks/dgno_inverse.py --ckpt benchmarks/work/dgno_ckpt/dgno_piecewise.ckpt --device cuda

References
----------
.. [1] Y. Zang, P.-S. Koutsourelakis, "DGenNO: a novel physics-aware neural operator for
   solving forward and inverse PDE problems based on deep, generative probabilistic
   modeling", J. Comput. Phys. 538, 114137 (2025), arXiv:2502.06250.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import WORK_DIR
from dgno_forward import SIZES, data_files

from neurops.inverse import InversionConfig, invert, load_dgno, observations_from_file
from neurops.utils.bench import (
    RESULTS_DIR,
    markdown_table,
    save_results,
)

PAPER = {100: {"rel L2 a": "0.104-0.127", "rel L2 u": "0.011-0.027"}, 25: {"rel L2 a": "-", "rel L2 u": "-"}}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="CPU-sized run (a few minutes)")
    p.add_argument("--ckpt", type=Path, default=None, help="DGNO checkpoint (default: from dgno_forward.py)")
    p.add_argument("--n-obs", default="100,25", help="comma-separated observation counts")
    p.add_argument("--snr-db", type=float, default=25.0)
    p.add_argument("--model-errors", default="0,auto",
                   help="comma-separated relative surrogate errors added to the noise; 'auto' = the DGNO test "
                   "rel. L2 from the forward benchmark's results")
    p.add_argument("--n-cases", type=int, default=None, help="test samples to invert (quick 3, full 20)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default=None)
    return p.parse_args(argv)


def forward_error(quick: bool) -> float | None:
    """DGNO's piecewise test rel. L2 from ``dgno_forward[_quick].json`` (None if absent)."""
    path = RESULTS_DIR / f"dgno_forward{'_quick' if quick else ''}.json"
    if not path.is_file():
        return None
    rows = json.loads(path.read_text())["rows"]
    errs = [r["rel L2 @29"] for r in rows if r["problem"] == "piecewise" and r["model"] == "dgno"]
    return float(errs[0]) if errs else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    size = "quick" if args.quick else "full"
    ckpt = args.ckpt or WORK_DIR / "dgno_ckpt" / f"dgno_piecewise{'_quick' if args.quick else ''}.ckpt"
    if not ckpt.is_file():
        raise SystemExit(f"no checkpoint at {ckpt}; run `python benchmarks/dgno_forward.py "
                         f"{'--quick ' if args.quick else ''}--problems piecewise --models dgno` first or pass --ckpt.")
    model, meta = load_dgno(ckpt, map_location=args.device)
    _, lab, _ = data_files("piecewise", SIZES[size], 0)
    n_cases = args.n_cases or (3 if args.quick else 20)
    cfg = (InversionConfig(map_steps=200, n_chains=4, n_burn=80, n_samples=120, thin=2, n_particles=50,
                           n_quad_per_axis=5, seed=args.seed)
           if args.quick else InversionConfig(map_steps=500, n_chains=8, n_burn=500, n_samples=1000, thin=5,
                                              seed=args.seed))
    model_errors = []
    for item in args.model_errors.split(","):
        value = forward_error(args.quick) if item == "auto" else float(item)
        if value is not None:
            model_errors.append(value)
    rows, records = [], []
    for model_error, n_obs in ((e, int(n)) for e in model_errors for n in args.n_obs.split(",")):
        cfg.model_error = model_error
        per_case = []
        for i in range(n_cases):
            obs = observations_from_file(lab, "test", i, n_obs=n_obs, snr_db=args.snr_db, seed=1000 + i)
            res = invert(model, obs, cfg, forcing=meta.get("forcing"))
            per_case.append({**res.metrics, "seconds": res.info["seconds_total"], "acceptance": res.info["acceptance"]})
            print(n_obs, model_error, i, {k: round(v, 4) for k, v in per_case[-1].items()}, flush=True)
        mean = {k: float(np.mean([c[k] for c in per_case])) for k in per_case[0]}
        rows.append({"N obs": n_obs, "SNR dB": args.snr_db, "model error": round(model_error, 4), "cases": n_cases,
                     "rel L2 a (mean)": mean["rel_l2_a"], "rel L2 a (MAP)": mean["rel_l2_a_map"],
                     "rel L2 u (mean)": mean["rel_l2_u"], "rel L2 u (MAP)": mean["rel_l2_u_map"],
                     "95% coverage a": mean["coverage_a"], "95% coverage u": mean["coverage_u"],
                     "acceptance": mean["acceptance"], "s / inversion": mean["seconds"],
                     "paper a": PAPER.get(n_obs, {}).get("rel L2 a", "-"),
                     "paper u": PAPER.get(n_obs, {}).get("rel L2 u", "-")})
        records.append({"n_obs": n_obs, "model_error": model_error, "cases": per_case, "mean": mean})
    table = markdown_table(rows)
    print(table)
    note = (f"Checkpoint: {ckpt.name} (trained by dgno_forward.py{' --quick' if args.quick else ''}). "
            f"Inversion: MAP ({cfg.map_steps} Adam steps) then {cfg.n_chains} MALA chains x "
            f"({cfg.n_burn} burn-in + {cfg.n_samples} steps, thin {cfg.thin}); coverage = fraction of grid "
            "points with |truth - mean| <= 1.96 std. 'model error': relative surrogate error added to the noise "
            "variance (0: observation noise only; otherwise DGNO's forward test rel. L2).")
    save_results(args.name or f"dgno_inverse{'_quick' if args.quick else ''}",
                 {"rows": records, "config": {**cfg.__dict__, "model_error": model_errors}, "checkpoint": str(ckpt)}, table + "\n\n" + note + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
