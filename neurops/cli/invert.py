"""``neurops invert``: posterior of a coefficient field from sparse observations (DGNO).

Two modes of one command::

    # make an observation file from a labelled test sample
    neurops invert --make-obs --data darcy.h5 --split test --index 0 --n-obs 100 --snr-db 25 --out obs.h5
    # invert it with a trained DGNO checkpoint
    neurops invert --ckpt dgno.ckpt --obs obs.h5 --out post.h5
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from neurops.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "invert", help="infer a coefficient field from sparse noisy observations with a DGNO checkpoint",
        description="Invert observations (--ckpt, --obs, --out): MAP and MALA posterior samples in the latent "
        "space of a DGNO, written as mean/std fields of a and u. With --make-obs: write an observation file "
        "from a labelled sample (--data, --split, --index, --n-obs, --snr-db, --out).")
    p.add_argument("--out", required=True, type=Path, help="posterior file (or observation file with --make-obs)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--seed", type=int, default=0, help="seed of observation points/noise or of the sampler")
    inv = p.add_argument_group("inversion")
    inv.add_argument("--ckpt", type=Path, help="DGNO checkpoint written by GenerativeOperatorTask")
    inv.add_argument("--obs", type=Path, help="observation file (see docs/data-format.md)")
    inv.add_argument("--map-steps", type=int, default=500, help="Adam steps of the MAP stage")
    inv.add_argument("--map-lr", type=float, default=1e-2, help="Adam learning rate of the MAP stage")
    inv.add_argument("--chains", type=int, default=4, help="MALA chains")
    inv.add_argument("--burn", type=int, default=200, help="MALA burn-in steps per chain")
    inv.add_argument("--samples", type=int, default=200, help="MALA steps kept per chain (before thinning)")
    inv.add_argument("--thin", type=int, default=2, help="keep every THIN-th step")
    inv.add_argument("--physics-weight", type=float, default=1.0, help="weight of the weak PDE residual")
    inv.add_argument("--model-error", type=float, default=0.0,
                     help="relative error of the surrogate's u, added to the noise (e.g. its validation rel. L2)")
    inv.add_argument("--particles", type=int, default=100, help="test functions of the residual")
    inv.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    obs = p.add_argument_group("observations (--make-obs)")
    obs.add_argument("--make-obs", action="store_true", help="write observations of a labelled sample instead")
    obs.add_argument("--data", type=Path, help="labelled neurops file (kind operator)")
    obs.add_argument("--split", default="test", help="split of --data")
    obs.add_argument("--index", type=int, default=0, help="sample index in the split")
    obs.add_argument("--n-obs", type=int, default=100, help="number of observed grid nodes")
    obs.add_argument("--snr-db", type=float, default=25.0, help="signal-to-noise ratio of the noise, dB")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from neurops.inverse import (InversionConfig, invert, load_dgno, observations_from_file, read_observations,
                                 write_observations, write_posterior)

    if args.out.exists() and not args.overwrite:  # fail before any work
        raise FileExistsError(f"{args.out} already exists; pass --overwrite to replace it or choose another --out.")
    if args.make_obs:
        if args.data is None:
            raise ConfigError("--make-obs needs --data FILE (a labelled neurops file).")
        obs = observations_from_file(args.data, args.split, args.index, n_obs=args.n_obs, snr_db=args.snr_db,
                                     seed=args.seed)
        write_observations(obs, args.out, overwrite=args.overwrite)
        print(f"wrote {len(obs.values)} observations (noise std {obs.noise_std:.3g}) to {args.out}")
        return 0
    if args.ckpt is None or args.obs is None:
        raise ConfigError("inversion needs --ckpt CKPT and --obs OBS.h5 (or use --make-obs to create observations).")
    model, meta = load_dgno(args.ckpt, map_location=args.device)
    config = InversionConfig(map_steps=args.map_steps, map_lr=args.map_lr, n_chains=args.chains, n_burn=args.burn,
                             n_samples=args.samples, thin=args.thin, physics_weight=args.physics_weight,
                             model_error=args.model_error,
                             n_particles=args.particles, seed=args.seed)
    result = invert(model, read_observations(args.obs), config, forcing=meta.get("forcing"))
    write_posterior(result, args.out, overwrite=args.overwrite)
    summary = {"seconds": round(result.info["seconds_total"], 2), "acceptance": round(result.info["acceptance"], 3),
               **{k: round(v, 4) for k, v in result.metrics.items()}}
    print(f"wrote posterior to {args.out}: {json.dumps(summary)}")
    return 0
