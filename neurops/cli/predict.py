"""``neurops predict --ckpt CKPT --data FILE.h5 --out PRED.h5``."""

from __future__ import annotations

import argparse
from pathlib import Path

from neurops.inference import predict_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict with a trained operator checkpoint into an HDF5 file",
                       description="Run a checkpoint on every sample of a data file (any resolution) and write "
                       "the predictions as a neurops 'operator' file: inputs copied, outputs predicted.")
    p.add_argument("--ckpt", required=True, type=Path, help="checkpoint written by `neurops fit`")
    p.add_argument("--data", required=True, type=Path, help="neurops HDF5 file with the input fields")
    p.add_argument("--out", required=True, type=Path, help="output HDF5 file")
    p.add_argument("--splits", nargs="+", default=None, help="splits to predict (default: all)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    out = predict_file(args.ckpt, args.data, args.out, splits=args.splits, batch_size=args.batch_size,
                       overwrite=args.overwrite)
    print(f"wrote predictions to {out}")
    return 0
