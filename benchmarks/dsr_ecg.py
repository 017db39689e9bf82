"""ECG: GTF-shPLRNN (M = 5, L = 250, affine observation; fixed alpha = 0.3 and aGTF) on the delay-embedded ECG.

Data: the GTF paper's ECG series (a measured human ECG, 5-D PECUZAL delay embedding,
``ecg_5d_train.npy`` / ``ecg_5d_test.npy``, 10^5 x 5 each, standardised). The last 10 % of
the training series is held out for validation; evaluation follows Hess et al. (2023) on
the whole test series: D_stsp (binning, 30 bins per dimension), D_H, PE(20); the data's
own floor is test vs train (D_stsp 0.295, D_H 0.060). The ECG's sampling interval is not
part of the files; lambda_max is reported per step.

Seed studies: ``--seeds 0,1,2,3,4`` trains one model per seed in ONE run (an ensemble,
``DynamicsTask(seeds=...)``; member r trains as the single run with seed r would) and reports
every member at its best validation state, the medians over the seeds, and how many members'
orbits stayed bounded, collapsed to a fixed point or diverged.

Run: ``python -m benchmarks run dsr_ecg [--quick] [--seeds 0,1,2,3,4] [--data-dir ../shared/data/dsr]``.
"""

from __future__ import annotations

import math

import numpy as np

from benchmarks.dsr_common import (
    chosen_methods,
    data_dir_argument,
    evaluate,
    evaluate_members,
    import_npy,
    seed_list,
    seed_rows,
    train,
    verdict_counts,
)
from benchmarks.runner import benchmark_parser
from neurops.metrics.dsr import hellinger_distance, state_space_divergence
from neurops.utils.bench import markdown_table, save_results

PAPER_STEPS = 5000 * 50  # the GTF paper's ECG budget: 5000 epochs of 50 batches


def _paper_budget(steps: int) -> str:
    """How a run's ``steps`` compare with the paper's budget, for the notes."""
    if steps == PAPER_STEPS:
        return "the paper's budget (5000 epochs x 50 batches)"
    share = f"{steps / PAPER_STEPS:.2g}x" if steps > PAPER_STEPS else f"{100 * steps / PAPER_STEPS:.2g} % of"
    return f"{share} the paper's 5000 epochs x 50 batches"


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser(__doc__, quick="5 epochs of 10 batches")
    data_dir_argument(parser)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batches", type=int, default=None)
    parser.add_argument("--methods", default="gtf,agtf", help="comma-separated subset to train")
    parser.add_argument("--name", default="dsr_ecg", help="results file name")
    parser.add_argument("--resume", action="store_true",
                        help="continue interrupted runs of the same settings from their last.ckpt")
    parser.add_argument("--seeds", type=seed_list, default=[0],
                        help="comma-separated seeds; several train as one ensemble run")
    parser.add_argument("--lr", type=float, default=5e-3, help="start learning rate (the paper: 1e-3)")
    parser.add_argument("--lr-end", type=float, default=1e-4, help="learning rate after the last epoch (paper: 1e-6)")
    parser.add_argument("--seq-len", type=int, default=100, help="window length T~ (the paper: 200)")
    parser.add_argument("--batch-size", type=int, default=32, help="windows per batch (the paper: 16)")
    parser.add_argument("--alpha", type=float, default=0.3, help="GTF forcing strength (the paper's ECG: 0.3)")
    parser.add_argument("--lambda-latent", type=float, default=0.0,
                        help="latent regulariser weight (the paper's ECG script: 0; runs before 2026-12-04: 1e-5)")
    parser.add_argument("--lambda-obs", type=float, default=1e-7,
                        help="condition-number regulariser weight of B (the paper's ECG script: 1e-7; before: 0)")
    parser.add_argument("--input-noise", type=float, default=0.0,
                        help="std of Gaussian noise added to every training batch, in the series' standardised units "
                             "(DynamicsTask(input_noise); the GTF paper's ECG: none)")
    parser.add_argument("--observation", choices=("affine", "identity"), default="affine",
                        help="observation model x = B z + b (the paper's ECG: affine) or x = z")
    parser.add_argument("--hidden-dim", type=int, default=250, help="hidden units L (the paper's ECG: 250)")
    parser.add_argument("--latent-dim", type=int, default=5,
                        help="latent units M (the paper's ECG: 5); with identity observation the M - 5 extra units "
                             "run free under forcing")
    parser.add_argument("--val-every", type=int, default=None, help="epochs between validations (default epochs/10)")
    parser.add_argument("--snapshots", action="store_true",
                        help="keep the weights at every validation (snapshots/) for dsr_checkpoint_criteria")
    args = parser.parse_args(argv)
    if not 0.0 <= args.alpha <= 1.0:
        parser.error(f"--alpha must lie in [0, 1] (the paper's ECG: 0.3), got {args.alpha:g}")
    if args.lambda_latent < 0 or args.lambda_obs < 0:
        parser.error(f"--lambda-latent and --lambda-obs must be >= 0, "
                     f"got {args.lambda_latent:g} and {args.lambda_obs:g}")
    if not (args.input_noise >= 0 and math.isfinite(args.input_noise)):
        parser.error(f"--input-noise must be a finite number >= 0 (the paper's ECG: 0), got {args.input_noise:g}")
    if args.hidden_dim < 1:
        parser.error(f"--hidden-dim must be >= 1 (the paper's ECG: 250), got {args.hidden_dim}")
    if args.latent_dim < 5:
        parser.error(f"--latent-dim must be >= 5, the ECG's dimension (the paper's: 5), got {args.latent_dim}")
    epochs = args.epochs or (5 if args.quick else 100)
    batches = args.batches or (10 if args.quick else 50)
    seq_len, batch_size = args.seq_len, args.batch_size

    x_train = np.load(args.data_dir / "ecg_5d_train.npy")
    x_test = np.load(args.data_dir / "ecg_5d_test.npy")
    data = import_npy(args.data_dir / "ecg_5d_train.npy", "ecg_gtf_train", 1.0)
    floor = {"d_stsp": state_space_divergence(x_test, x_train), "d_h": hellinger_distance(x_test, x_train)}
    model = {"model": "clipped_shplrnn",
             "model_kwargs": {"latent_dim": args.latent_dim, "hidden_dim": args.hidden_dim,
                              "observation": args.observation},
             "lr": args.lr, "lr_end": args.lr_end, "lambda_latent": args.lambda_latent, "lambda_obs": args.lambda_obs,
             "input_noise": args.input_noise, "val_gen_length": 50_000}
    paper_model = (args.observation, args.hidden_dim, args.latent_dim) == ("affine", 250, 5)
    variant = "" if paper_model else f", {args.observation} observation, M = {args.latent_dim}, L = {args.hidden_dim}"
    variant += f", input noise {args.input_noise:g}" if args.input_noise else ""
    all_methods = {
        "gtf": ("GTF (alpha = 0.3, the paper's ECG setting)" if not variant and (seq_len, args.alpha) == (200, 0.3)
                else f"GTF (alpha = {args.alpha:g}, windows of T~ = {seq_len}{variant})",
                {**model, "training": "gtf", "alpha": args.alpha}),
        "agtf": ("aGTF (alpha estimated)", {**model, "training": "agtf", "alpha_rate": 0.02}),
    }
    methods = dict(all_methods[k] for k in chosen_methods(parser, args.methods, all_methods))
    seeds = args.seeds
    rows, raw = [], {}
    val_every = args.val_every or max(1, epochs // 10)
    for i, (label, task) in enumerate(methods.items()):
        budget = {"epochs": epochs, "batches": batches, "seq_len": seq_len, "batch_size": batch_size,
                  "val_every": val_every, "resume": args.resume, "snapshots": args.snapshots}
        if len(seeds) == 1:
            ckpt, seconds = train(f"ecg_{i}", data, task, seed=seeds[0], **budget)
            runs = [evaluate(ckpt, x_test, 1.0)]
        else:  # one ensemble run; each member at its own best validation state
            ckpt, seconds = train(f"ecg_{i}_s{'-'.join(map(str, seeds))}", data, task, seeds=seeds, **budget)
            ckpt = ckpt.with_name("last.ckpt")
            runs = evaluate_members(ckpt, x_test, 1.0, "best")
        runs = [{**r, "train_seconds": seconds} for r in runs]
        raw[label] = {"seeds": seeds, "runs": runs, "verdicts": verdict_counts(runs), "train_seconds": seconds,
                      "checkpoint": str(ckpt)}
        rows += seed_rows(label, seeds, runs)
        print(rows[-1], raw[label]["verdicts"], flush=True)
    rows.append({"method": "data (test vs train)", "D_stsp": floor["d_stsp"], "D_H": floor["d_h"], "PE(20)": "-",
                 "lambda_max": "-", "train s": "-"})
    table = markdown_table(rows)
    verdicts = "; ".join(f"{label}: " + ", ".join(f"{n} {v}" for v, n in r["verdicts"].items())
                         for label, r in raw.items())
    notes = (f"\n\nBudget: {epochs} epochs x {batches} batches of {batch_size} windows of T~ = {seq_len} "
             f"({epochs * batches} RAdam steps, lr {args.lr:g} -> {args.lr_end:g}; {args.observation} observation, "
             f"M = {args.latent_dim}, L = {args.hidden_dim}; "
             f"lambda_latent {args.lambda_latent:g}, lambda_obs {args.lambda_obs:g}"
             + (f", Gaussian noise of std {args.input_noise:g} on every training batch" if args.input_noise else "")
             + "), checkpoint with the lowest "
             f"val/d_stsp (every {val_every} epochs, 5e4-step orbit against the training split); "
             + _paper_budget(epochs * batches) + f". Seeds {seeds}"
             + (" (one ensemble run per method; train s is the whole run's)" if len(seeds) > 1 else "")
             + ("; train s counts only the part after the last --resume" if args.resume else "")
             + f". Orbits (majority over the starts): {verdicts}. lambda_max is per step (the ECG's sampling "
             f"interval is not in the files). Targets: D_stsp <= {2 * floor['d_stsp']:.3g}, D_H <= "
             f"{2 * floor['d_h']:.3g} (2x the data's floor).\n")
    print(table + notes)
    settings = {**vars(args), "epochs": epochs, "batches_per_epoch": batches, "seq_len": seq_len,
                "batch_size": batch_size}
    save_results(args.name, settings, rows, table + notes, args.results_dir, details={"floor": floor, "results": raw})


if __name__ == "__main__":
    main()
