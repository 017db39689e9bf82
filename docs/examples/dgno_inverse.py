"""End to end: train a DGNO on coefficient samples, observe a test solution, invert, plot.

Run from the repository root (a few minutes on a CPU with the defaults)::

    python docs/examples/dgno_inverse.py                     # trains a small DGNO first
    python docs/examples/dgno_inverse.py --ckpt my_dgno.ckpt --data my_test.h5

Writes ``runs/dgno_inverse/{obs.h5, posterior.h5, posterior.png}``. The figure
(:func:`neurops.viz.posterior.plot_posterior`) shows, for the coefficient ``a`` and the solution
``u``: the truth, the posterior mean, standard deviation, interval width and where the truth
leaves the interval (observation points on every panel), and the fit to the data through the
DGNO and through the true Darcy solver.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import lightning as L
import torch

from neurops.data.datamodule import GenerativeDataModule
from neurops.data.generators.darcy import DarcyConfig, generate_darcy
from neurops.data.reader import read_meta
from neurops.inverse import (
    DarcyForward,
    InversionConfig,
    invert_latent,
    load_surrogate,
    observations_from_file,
    prior_from_file,
    write_observations,
    write_posterior,
)
from neurops.tasks.generative import GenerativeOperatorTask
from neurops.tasks.schedules import StepDecay
from neurops.utils.seeding import seed_everything
from neurops.viz.posterior import plot_posterior

OUT = Path("runs/dgno_inverse")
DARCY = dict(resolution=29, coefficient="piecewise", a_high=10.0, a_low=5.0, forcing=10.0, fine_factor=4)


def train_small_dgno(epochs: int) -> tuple[Path, Path]:
    """Coefficient-only training set, labelled test set and a briefly trained DGNO checkpoint."""
    coef = generate_darcy(DarcyConfig(n_train=400, n_val=0, n_test=0, unlabelled=True, seed=0, **DARCY),
                          OUT / "coef.h5", overwrite=True)
    test = generate_darcy(DarcyConfig(n_train=1, n_val=0, n_test=10, seed=1, **DARCY), OUT / "test.h5",
                          overwrite=True)
    seed_everything(0)
    task = GenerativeOperatorTask(model_kwargs=dict(latent_dim=128, width=100, depth=5), n_quad_per_axis=5,
                                  optimizer=partial(torch.optim.AdamW, lr=1e-3, weight_decay=1e-4),
                                  lr_scheduler=StepDecay(every=0.5, gamma=0.5))
    trainer = L.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, default_root_dir=OUT)
    trainer.fit(task, GenerativeDataModule(coef, test, val_split=None))
    trainer.save_checkpoint(OUT / "dgno.ckpt")
    return OUT / "dgno.ckpt", test


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", type=Path, help="trained DGNO checkpoint (default: train a small one)")
    p.add_argument("--data", type=Path, help="labelled file with a 'test' split (needed with --ckpt)")
    p.add_argument("--index", type=int, default=0, help="test sample to observe")
    p.add_argument("--n-obs", type=int, default=100)
    p.add_argument("--snr-db", type=float, default=25.0)
    p.add_argument("--epochs", type=int, default=40, help="training epochs when no --ckpt is given")
    args = p.parse_args()
    if args.ckpt and not args.data:
        p.error("--ckpt needs --data, the labelled file whose test split is observed (and whose generator gives "
                "the true solver)")
    if args.ckpt and load_surrogate(args.ckpt).dgno is None:  # before anything is written
        p.error(f"{args.ckpt} holds no DGNO; invert it with `neurops invert surrogate --ckpt {args.ckpt}`")
    OUT.mkdir(parents=True, exist_ok=True)
    ckpt, data = (args.ckpt, args.data) if args.ckpt else train_small_dgno(args.epochs)
    dgno = load_surrogate(ckpt)

    # 1. observations of a test solution: 100 interior nodes, 25 dB noise
    obs = observations_from_file(data, "test", args.index, n_obs=args.n_obs, snr_db=args.snr_db, seed=0)
    write_observations(obs, OUT / "obs.h5", overwrite=True)
    # 2. MAP + pCN-Langevin chains (from prior draws) in the latent space of the DGNO, with the
    #    posterior-predictive check through the true Darcy solver of the data
    check = DarcyForward.from_generator(read_meta(data).generator)
    config = InversionConfig(n_chains=4, n_burn=300, n_samples=600, thin=3, n_particles=50)
    fine = prior_from_file(data).resolution  # the data were solved on this grid: the check solves there too
    result = invert_latent(dgno.dgno, obs, config, forcing=dgno.meta["forcing"], check=check, check_resolution=fine)
    write_posterior(result, OUT / "posterior.h5", overwrite=True)
    # 3. truth / mean / std / interval / fit to the data
    plot_posterior(result, OUT / "posterior.png")
    print({k: round(v, 4) for k, v in {**result.metrics, **result.diagnostics}.items()},
          f"{result.info['seconds']:.1f} s", *result.warnings, sep="\n")
    print(f"wrote {OUT / 'posterior.h5'} and {OUT / 'posterior.png'}")


if __name__ == "__main__":
    main()
