"""Lorenz-63: GTF-shPLRNN (M = 3) against plain BPTT and sparse teacher forcing, same budget, one run.

Data: the GTF paper's series (``lorenz63_noise0.05_train.npy`` with 5 % observation noise,
``lorenz63_test.npy`` clean, 10^5 x 3 each, dt = 0.01). The last 10 % of the training
series is held out for validation (checkpoint choice by the lowest D_stsp); the test
series is only used for the final evaluation (Hess et al. 2023 protocol: 1.25 T generated
steps from the first test point, the first 0.25 T dropped).

Targets (Hess et al. 2023 scale of training): D_stsp and D_H within 2x of the data's own
floor (test vs noisy train: 0.119 and 0.070) and lambda_max within 10 % of the data's
(0.906 per time unit). This CPU run is scaled down by ~100x in gradient steps; the table
reports what that reaches.

Run: ``python benchmarks/dsr_lorenz63.py [--quick] [--data-dir ../shared/data/dsr]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dsr_common import data_dir_argument, evaluate, import_npy, train
from neurops.metrics.dsr import hellinger_distance, state_space_divergence
from neurops.utils.bench import markdown_table, save_results

DT = 0.01
LAMBDA_LORENZ = 0.9056  # per time unit, literature (e.g. Sprott 2003, Chaos and Time-Series Analysis)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_dir_argument(parser)
    parser.add_argument("--quick", action="store_true", help="a few minutes: fewer epochs")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batches", type=int, default=None, help="batches per epoch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    epochs = args.epochs or (6 if args.quick else 250)
    batches = args.batches or (10 if args.quick else 50)
    seq_len, batch_size = 50, 32

    x_train = np.load(args.data_dir / "lorenz63_noise0.05_train.npy")
    x_test = np.load(args.data_dir / "lorenz63_test.npy")
    data = import_npy(args.data_dir / "lorenz63_noise0.05_train.npy", "lorenz63_gtf_train", DT)
    floor = {"d_stsp": state_space_divergence(x_test, x_train), "d_h": hellinger_distance(x_test, x_train)}

    model = {"model": "clipped_shplrnn", "model_kwargs": {"latent_dim": 3, "hidden_dim": 100}}
    common = {**model, "lr": 5e-3, "lr_end": 1e-4, "lambda_latent": 1e-5}
    methods = {
        "GTF (alpha = 0.2)": {**common, "training": "gtf", "alpha": 0.2},
        "aGTF (alpha estimated)": {**common, "training": "agtf", "alpha_method": "product_upper_bound",
                                   "alpha_rate": 0.02},
        "BPTT (alpha = 0)": {**common, "training": "bptt"},
        "STF (tau = 16)": {**common, "training": "stf", "tau": 16},
    }
    rows, raw = [], {}
    for i, (label, task) in enumerate(methods.items()):
        ckpt, seconds = train(f"l63_{i}", data, task, epochs=epochs, batches=batches, seq_len=seq_len,
                              batch_size=batch_size, val_every=max(1, epochs // 10), seed=args.seed)
        res = evaluate(ckpt, x_test, DT)
        raw[label] = {**res, "train_seconds": seconds, "checkpoint": str(ckpt)}
        rows.append({"method": label, "D_stsp": res["d_stsp"], "D_H": res["d_h"], "PE(20)": res["pe"],
                     "lambda_max": res["lambda_max"], "train s": seconds})
        print(rows[-1], flush=True)
    rows.append({"method": "data (test vs noisy train)", "D_stsp": floor["d_stsp"], "D_H": floor["d_h"],
                 "PE(20)": "-", "lambda_max": LAMBDA_LORENZ, "train s": "-"})
    table = markdown_table(rows, ["method", "D_stsp", "D_H", "PE(20)", "lambda_max", "train s"])
    steps = epochs * batches
    notes = (f"\n\nModel: clipped shPLRNN, M = 3, L = 100, identity observation. Budget per method: {epochs} epochs "
             f"x {batches} batches of {batch_size} windows of T~ = {seq_len} ({steps} RAdam steps, lr 5e-3 -> 1e-4 "
             "exponential), checkpoint with the lowest validation D_stsp. The paper trains 5000 x 50 steps with "
             "T~ = 200; T~ = 50 here keeps each step cheap on this CPU. "
             f"Targets: D_stsp <= {2 * floor['d_stsp']:.3g}, D_H <= {2 * floor['d_h']:.3g}, lambda_max within 10 % of "
             f"{LAMBDA_LORENZ} (1/time unit, dt = {DT}).\n")
    print(table + notes)
    save_results("dsr_lorenz63", {"epochs": epochs, "batches_per_epoch": batches, "seq_len": seq_len,
                                  "batch_size": batch_size,
                                  "floor": floor, "lambda_data": LAMBDA_LORENZ, "results": raw}, table + notes)


if __name__ == "__main__":
    main()
