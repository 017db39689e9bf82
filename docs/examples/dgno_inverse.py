"""End to end: train a DGNO on coefficient samples, observe a test solution, invert, plot.

Run from the repository root (a few minutes on a CPU with the defaults)::

    python docs/examples/dgno_inverse.py                     # trains a small DGNO first
    python docs/examples/dgno_inverse.py --ckpt my_dgno.ckpt --data my_test.h5

Writes, in ``--out`` (default ``runs/dgno_inverse``), ``obs.h5``, ``posterior.h5`` and ``posterior.png``, and,
when it trains the DGNO, its data ``coef.h5`` and ``test.h5`` and its checkpoint ``dgno.ckpt`` (to invert again
with that DGNO: ``--ckpt runs/dgno_inverse/dgno.ckpt --data runs/dgno_inverse/test.h5 --out <another folder>``).
A file of an earlier run stops the script before any work unless ``--overwrite``; every file is written whole or
not at all (an error, Ctrl-C or SIGTERM leaves none half-written). The figure
(:func:`neurops.viz.posterior.plot_posterior`) shows, for the coefficient ``a`` and the solution
``u``: the truth, the posterior mean, standard deviation, interval width and where the truth
leaves the interval (observation points on every panel), and the fit to the data through the
DGNO and through the true Darcy solver.
"""

from __future__ import annotations

import argparse
import math
import sys
from functools import partial
from pathlib import Path

import lightning as L
import torch

from neurops.cli import sigterm
from neurops.data.datamodule import GenerativeDataModule
from neurops.data.generators.darcy import DarcyConfig, generate_darcy
from neurops.data.reader import read_meta
from neurops.errors import NeuropsError, RunStopped
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
from neurops.utils.io import atomic_path, check_output_path
from neurops.utils.seeding import seed_everything
from neurops.viz.posterior import plot_posterior

PROG = "dgno_inverse.py"
DARCY = dict(resolution=29, coefficient="piecewise", a_high=10.0, a_low=5.0, forcing=10.0, fine_factor=4)
N_TEST = 10  # test samples of the data the script generates
TRAINED = ("coef.h5", "test.h5", "dgno.ckpt")  # what the script writes when it trains the DGNO ...
INVERTED = ("obs.h5", "posterior.h5", "posterior.png")  # ... and always


def make_data(out: Path, overwrite: bool) -> tuple[Path, Path]:
    """Coefficient-only training set and labelled test set."""
    coef = generate_darcy(DarcyConfig(n_train=400, n_val=0, n_test=0, unlabelled=True, seed=0, **DARCY),
                          out / "coef.h5", overwrite=overwrite)
    test = generate_darcy(DarcyConfig(n_train=1, n_val=0, n_test=N_TEST, seed=1, **DARCY), out / "test.h5",
                          overwrite=overwrite)
    return coef, test


def train_small_dgno(coef: Path, test: Path, out: Path, epochs: int, overwrite: bool) -> Path:
    """A briefly trained DGNO checkpoint."""
    seed_everything(0)
    task = GenerativeOperatorTask(model_kwargs=dict(latent_dim=128, width=100, depth=5), n_quad_per_axis=5,
                                  optimizer=partial(torch.optim.AdamW, lr=1e-3, weight_decay=1e-4),
                                  lr_scheduler=StepDecay(every=0.5, gamma=0.5))
    trainer = L.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, default_root_dir=out)
    trainer.fit(task, GenerativeDataModule(coef, test, val_split=None))
    with atomic_path(out / "dgno.ckpt", overwrite=overwrite) as tmp:
        trainer.save_checkpoint(tmp)
    return out / "dgno.ckpt"


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below {minimum}; give a whole number >= {minimum}")
        return value
    return parse


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options, checked before any work: nothing of an earlier run is replaced without ``--overwrite``."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", type=Path, help="trained DGNO checkpoint (default: train a small one)")
    p.add_argument("--data", type=Path, help="labelled file with a 'test' split (needed with --ckpt)")
    p.add_argument("--index", type=_count(0), default=0, help="test sample to observe")
    p.add_argument("--n-obs", type=_count(1), default=100, help="observed grid nodes")
    p.add_argument("--snr-db", type=_finite, default=25.0, help="signal-to-noise ratio of the observations")
    p.add_argument("--epochs", type=_count(1), default=40, help="training epochs when no --ckpt is given")
    p.add_argument("--out", type=Path, default=Path("runs/dgno_inverse"), help="folder of the outputs "
                   "(default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier run in --out "
                   "(without it, such a file stops the script before any work)")
    args = p.parse_args(argv)
    if args.ckpt and not args.data:
        p.error("--ckpt needs --data, the labelled file whose test split is observed (and whose generator gives "
                "the true solver)")
    if not args.ckpt and args.index >= N_TEST:
        p.error(f"--index {args.index}: the test split the script generates has {N_TEST} samples (0 to "
                f"{N_TEST - 1})")
    outputs = [args.out / name for name in (INVERTED if args.ckpt else (*TRAINED, *INVERTED))]
    kept = [str(path) for path in outputs if path.exists()]
    if kept and not args.overwrite:
        p.error(f"{', '.join(kept)} exist{'s' if len(kept) == 1 else ''} (an earlier run); pass --overwrite to "
                "replace them, another --out folder, or move them away")
    try:
        for path in outputs:  # a folder in the way, a folder that cannot be written, an output that is an input
            check_output_path(path, overwrite=True, inputs=(args.ckpt, args.data))
        if args.ckpt and load_surrogate(args.ckpt).dgno is None:
            p.error(f"{args.ckpt} holds no DGNO; invert it with `neurops invert surrogate --ckpt {args.ckpt}`")
    except NeuropsError as exc:
        p.error(str(exc))
    return args


def run(args: argparse.Namespace) -> None:
    out = args.out
    # 1. observations of a test solution: 100 interior nodes, 25 dB noise (before anything is written or trained)
    observe = partial(observations_from_file, split="test", index=args.index, n_obs=args.n_obs, snr_db=args.snr_db,
                      seed=0)
    if args.ckpt:
        data, obs, ckpt = args.data, observe(args.data), args.ckpt
        out.mkdir(parents=True, exist_ok=True)
    else:
        out.mkdir(parents=True, exist_ok=True)
        coef, data = make_data(out, args.overwrite)
        obs = observe(data)
        ckpt = train_small_dgno(coef, data, out, args.epochs, args.overwrite)
    dgno = load_surrogate(ckpt)
    write_observations(obs, out / "obs.h5", overwrite=args.overwrite)
    # 2. MAP + pCN-Langevin chains (from prior draws) in the latent space of the DGNO, with the
    #    posterior-predictive check through the true Darcy solver of the data
    check = DarcyForward.from_generator(read_meta(data).generator)
    config = InversionConfig(n_chains=4, n_burn=300, n_samples=600, thin=3, n_particles=50)
    fine = prior_from_file(data).resolution  # the data were solved on this grid: the check solves there too
    result = invert_latent(dgno.dgno, obs, config, forcing=dgno.meta["forcing"], check=check, check_resolution=fine)
    write_posterior(result, out / "posterior.h5", overwrite=args.overwrite)
    # 3. truth / mean / std / interval / fit to the data
    plot_posterior(result, out / "posterior.png")
    print({k: round(v, 4) for k, v in {**result.metrics, **result.diagnostics}.items()},
          f"{result.info['seconds']:.1f} s", *result.warnings, sep="\n")
    print(f"wrote {out / 'posterior.h5'} and {out / 'posterior.png'}")


def main(argv: list[str] | None = None) -> int:
    """Run the example; an error, Ctrl-C or SIGTERM is one line (exit status 2, 130, 143) and leaves no half-written
    file (each is written to a temporary file first, then renamed)."""
    args = parse_args(argv)
    try:
        with sigterm.reported([PROG]):  # Ctrl-C and SIGTERM: one line, also while Lightning trains
            run(args)
    except RunStopped as stop:
        by = "Ctrl-C (SIGINT)" if stop.exit_status == sigterm.EXIT_SIGINT else "SIGTERM"
        print(f"{PROG}: stopped by {by} (exit status {stop.exit_status}); the files in {args.out} are whole (none is "
              "half-written); run it again with --overwrite to replace them", file=sys.stderr)
        return stop.exit_status
    except NeuropsError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
