"""``neurops dsr fit|evaluate|analyze``: dynamical-systems reconstruction from the command line.

* ``neurops dsr fit ...`` is ``neurops fit ...``: it trains a :class:`~neurops.tasks.dynamics.DynamicsTask`
  from a LightningCLI config such as ``dsr_lorenz63`` (its callbacks keep ``best.ckpt``, the lowest
  ``val/d_stsp``, and ``last.ckpt``, the final state, in ``<run folder>/checkpoints``).
* ``neurops dsr evaluate --ckpt CKPT [CKPT ...] --data FILE.h5`` prints D_stsp, D_H, PE(20)
  and lambda_max of the models from several initial conditions, the orbits' verdict and
  the data's own values (:mod:`neurops.dynamics.evaluate`).
* ``neurops dsr analyze --ckpt CKPT [--data FILE.h5] [--out DIR]`` prints the regions,
  fixed points and cycles of the model and writes figures (attractor, power spectra,
  symbolic graph) and ``analysis.json`` (:mod:`neurops.dynamics.analyze`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from neurops.dynamics.evaluate import EvaluationSettings
from neurops.errors import OutputExistsError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``neurops dsr ...`` to the top-level subparsers."""
    dsr = sub.add_parser("dsr", help="dynamical-systems reconstruction (fit / evaluate / analyze)",
                         description="Train PLRNN-family models on time series and analyse them.")
    dsr_sub = dsr.add_subparsers(dest="dsr_command", metavar="ACTION")

    # `neurops dsr fit ARGS` runs `neurops fit ARGS` (see neurops.cli.main); listed here for the help
    dsr_sub.add_parser("fit", help="the same as `neurops fit` (e.g. --config dsr_lorenz63)", add_help=False)

    ev = dsr_sub.add_parser("evaluate", help="D_stsp, D_H, PE(n), lambda_max and the orbit's verdict of checkpoints",
                            description="Evaluate DSR checkpoints on a held-out split: several initial conditions, "
                            "the data's own values, the orbits' spread and a verdict (bounded, collapsed to a fixed "
                            "point, diverged). Several checkpoints (the members of a seed study) get a summary over "
                            "the models. Metric defaults are the papers'.",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ev.add_argument("--ckpt", required=True, nargs="+", help="checkpoint(s) written by `neurops fit` (DynamicsTask)")
    ev.add_argument("--data", required=True, help="trajectory HDF5 file")
    ev.add_argument("--split", default="test", help="held-out split to evaluate on")
    ev.add_argument("--reference-split", default="train", help="split the data's own floor is measured against")
    defaults = EvaluationSettings()
    ev.add_argument("--max-length", type=int, default=defaults.max_length, help="use at most this many test points")
    ev.add_argument("--starts", type=int, default=defaults.starts, help="initial conditions of the generated orbits")
    ev.add_argument("--orbit-length", type=int, default=None, help="orbit points after the warm-up (default: T)")
    ev.add_argument("--warmup", type=float, default=defaults.warmup, help="warm-up dropped, as a fraction of T")
    ev.add_argument("--bins", type=int, default=defaults.n_bins, help="D_stsp bins per dimension")
    ev.add_argument("--smoothing", type=float, default=defaults.smoothing,
                    help="D_H Gaussian smoothing of the spectra, in frequency bins")
    ev.add_argument("--pe-steps", type=int, default=defaults.pe_steps, help="prediction horizon n of PE(n)")
    ev.add_argument("--lyapunov-steps", type=int, default=defaults.lyapunov_steps, help="QR steps per orbit")
    ev.add_argument("--lyapunov-starts", type=int, default=defaults.lyapunov_starts,
                    help="orbits lambda_max is averaged over")
    ev.add_argument("--seed", type=int, default=defaults.seed)
    ev.add_argument("--member-state", choices=("best", "final"), default="best",
                    help="members of an ensemble checkpoint at their own best validation state or their final state")
    ev.add_argument("--json", help="also write the numbers to this JSON file")
    ev.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    ev.set_defaults(func=_evaluate)

    an = dsr_sub.add_parser("analyze", help="regions, fixed points, cycles and figures of a checkpoint")
    an.add_argument("--ckpt", required=True, help="checkpoint written by `neurops fit` (DynamicsTask)")
    an.add_argument("--data", help="trajectory HDF5 file (for the start state and data figures)")
    an.add_argument("--split", default="test")
    an.add_argument("--out", help="folder for figures and analysis.json (default: next to the checkpoint)")
    an.add_argument("--steps", type=int, default=20_000, help="length of the model orbit analysed")
    an.add_argument("--max-period", type=int, default=4, help="search cycles up to this period")
    an.add_argument("--seed", type=int, default=0)
    an.add_argument("--member", type=int, default=None, help="member of an ensemble checkpoint (index)")
    an.add_argument("--member-state", choices=("best", "final"), default="best",
                    help="the member at its best validation state or its final state")
    an.set_defaults(func=_analyze)


# -- after fit -----------------------------------------------------------------------------------
def evaluate_hint(ckpt: str | Path, data: str | Path) -> str:
    """The command that evaluates ``ckpt`` on held-out data: the file's ``test`` split, never used in training."""
    from neurops.data.reader import list_splits

    if "test" in list_splits(data):
        return (f"evaluate it on the held-out test split (not seen in training or checkpoint selection): "
                f"neurops dsr evaluate --ckpt {ckpt} --data {data} --split test")
    return (f"{data} has no test split: evaluate on held-out data, e.g. neurops dsr evaluate --ckpt {ckpt} "
            "--data HELD_OUT.h5 --split test")


# -- evaluate -----------------------------------------------------------------------------------
def _evaluate(args: argparse.Namespace) -> int:
    from neurops.dynamics.evaluate import evaluate_checkpoints, format_evaluation, write_json

    if args.json and Path(args.json).exists() and not args.overwrite:  # refuse before the work, not after
        raise OutputExistsError(f"{args.json} already exists; pass --overwrite to replace it or choose another file.")
    settings = EvaluationSettings(n_bins=args.bins, smoothing=args.smoothing, warmup=args.warmup,
                                  orbit_length=args.orbit_length, starts=args.starts,
                                  lyapunov_steps=args.lyapunov_steps, lyapunov_starts=args.lyapunov_starts,
                                  pe_steps=args.pe_steps, max_length=args.max_length, seed=args.seed)
    res = evaluate_checkpoints(args.ckpt, args.data, split=args.split, reference_split=args.reference_split,
                               settings=settings, member_state=args.member_state)
    print(format_evaluation(res))
    if args.json:
        write_json(res, args.json, overwrite=args.overwrite)
    return 0


# -- analyze ------------------------------------------------------------------------------------
def _analyze(args: argparse.Namespace) -> int:
    from neurops.dynamics.analyze import analyze_checkpoint, format_analysis

    rep = analyze_checkpoint(args.ckpt, data=args.data, split=args.split, out=args.out, steps=args.steps,
                             max_period=args.max_period, seed=args.seed, member=args.member,
                             member_state=args.member_state)
    print(format_analysis(rep))
    return 0


__all__ = ["evaluate_hint", "register"]
