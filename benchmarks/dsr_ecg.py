"""ECG: GTF-shPLRNN (M = 5, L = 250, affine observation; fixed alpha = 0.3 and aGTF) and the STF AL-RNN on the
delay-embedded ECG.

Data: the GTF paper's ECG series (a measured human ECG, 5-D PECUZAL delay embedding,
``ecg_5d_train.npy`` / ``ecg_5d_test.npy``, 10^5 x 5 each, standardised). The last 10 % of
the training series is held out for validation; evaluation follows Hess et al. (2023) on
the whole test series: D_stsp (binning, 30 bins per dimension), D_H, PE(20); the data's
own floor is test vs train (D_stsp 0.295, D_H 0.060). The ECG's sampling interval is not
part of the files; lambda_max is reported per step.

Methods (``--methods``): ``gtf`` and ``agtf`` train the clipped shPLRNN of Hess et al. (2023) (their
defaults here are the shipped short-budget settings; the paper's are ``--lr 1e-3 --lr-end 1e-6 --seq-len 200
--batch-size 16``); ``alrnn`` trains the AL-RNN of Brenner et al. (2024) with sparse teacher forcing at that
paper's ECG settings (``settings/ecg.json`` of its code: M = 100, P = 2, identity observation, tau = 10,
16 windows of T~ = 50, lr 2e-3 -> 1e-5, Gaussian noise 0.01 on the windows; 4000 epochs of 50 batches);
``alrnn_gtf`` trains the same AL-RNN with GTF (``--alpha``) instead of sparse forcing.
A flag given on the command line overrides a method's default.

Seed studies: ``--seeds 0,1,2,3,4`` trains one model per seed in ONE run (an ensemble,
``DynamicsTask(seeds=...)``; member r trains as the single run with seed r would) and reports
every member at its best validation state, the medians over the seeds, and how many members'
orbits stayed bounded, collapsed to a fixed point or diverged.

Run: ``python -m benchmarks run dsr_ecg [--quick] [--seeds 0,1,2,3,4] [--data-dir ../shared/data/dsr]``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.dsr_common import (
    alpha_end_argument,
    check_alpha_end,
    check_run_folders,
    chosen_methods,
    data_dir_argument,
    evaluate,
    evaluate_members,
    forcing_words,
    import_npy,
    reference_series,
    run_folder_arguments,
    seed_list,
    seed_rows,
    train,
    verdict_counts,
)
from benchmarks.runner import benchmark_parser, positive_int
from neurops.metrics.dsr import hellinger_distance, state_space_divergence
from neurops.utils.bench import markdown_table, save_results

PAPER_STEPS = 5000 * 50  # the GTF paper's ECG budget: 5000 epochs of 50 batches
ALRNN_PAPER_STEPS = 4000 * 50  # the AL-RNN paper's ECG budget: 4000 epochs of 50 batches

# per-method defaults of the flags that default to None (a flag given on the command line wins)
GTF_DEFAULTS = {"lr": 5e-3, "lr_end": 1e-4, "seq_len": 100, "batch_size": 32, "input_noise": 0.0, "latent_dim": 5,
                "observation": "affine"}
ALRNN_DEFAULTS = {"lr": 2e-3, "lr_end": 1e-5, "seq_len": 50, "batch_size": 16, "input_noise": 0.01, "latent_dim": 100,
                  "observation": "identity"}


def _paper_budget(steps: int, paper_steps: int = PAPER_STEPS) -> str:
    """How a run's ``steps`` compare with the paper's budget (``paper_steps`` of 50-batch epochs), for the notes."""
    epochs = f"{paper_steps // 50} epochs x 50 batches"
    if steps == paper_steps:
        return f"the paper's budget ({epochs})"
    share = f"{steps / paper_steps:.2g}x" if steps > paper_steps else f"{100 * steps / paper_steps:.2g} % of"
    return f"{share} the paper's {epochs}"


def run_name(key: str, index: int, seeds: Sequence[int]) -> str:
    """Folder name (under ``benchmarks/work/runs``) of the run training method ``key``, the ``index``-th of
    ``--methods``, with ``seeds`` (one ensemble run when there are several)."""
    run = f"ecg_{key}" if key.startswith("alrnn") else f"ecg_{index}"  # (GTF runs keep their earlier names)
    return run if len(seeds) == 1 else f"{run}_s{'-'.join(map(str, seeds))}"


def _resolved(args: argparse.Namespace, defaults: dict[str, Any]) -> dict[str, Any]:
    """The settings of one method: the command line's where given, else the method's ``defaults``."""
    return {k: (getattr(args, k) if getattr(args, k) is not None else v) for k, v in defaults.items()}


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser(__doc__, quick="5 epochs of 10 batches")
    data_dir_argument(parser)
    parser.add_argument("--epochs", type=positive_int, default=None)
    parser.add_argument("--batches", type=positive_int, default=None)
    parser.add_argument("--methods", default="gtf,agtf",
                        help="comma-separated subset of gtf, agtf, alrnn (STF), alrnn_gtf to train")
    parser.add_argument("--name", default="dsr_ecg", help="results file name")
    run_folder_arguments(parser)
    parser.add_argument("--seeds", type=seed_list, default=[0],
                        help="comma-separated seeds; several train as one ensemble run")
    parser.add_argument("--lr", type=float, default=None,
                        help="start learning rate (GTF default 5e-3, the paper 1e-3; AL-RNN 2e-3)")
    parser.add_argument("--lr-end", type=float, default=None,
                        help="learning rate after the last epoch (GTF default 1e-4, the paper 1e-6; AL-RNN 1e-5)")
    parser.add_argument("--seq-len", type=positive_int, default=None,
                        help="window length T~ (GTF default 100, the paper 200; AL-RNN 50)")
    parser.add_argument("--batch-size", type=positive_int, default=None,
                        help="windows per batch (GTF default 32, the paper 16; AL-RNN 16)")
    parser.add_argument("--alpha", type=float, default=0.3, help="GTF forcing strength (the paper's ECG: 0.3)")
    alpha_end_argument(parser, "the paper's ECG")
    parser.add_argument("--lambda-latent", type=float, default=0.0,
                        help="latent regulariser weight (the paper's ECG script: 0; runs before 2026-12-04: 1e-5)")
    parser.add_argument("--lambda-obs", type=float, default=1e-7,
                        help="condition-number regulariser weight of B (the paper's ECG script: 1e-7; before: 0)")
    parser.add_argument("--input-noise", type=float, default=None,
                        help="std of Gaussian noise added to every training batch, in the series' standardised units "
                             "(DynamicsTask(input_noise); the GTF paper's ECG: none; the AL-RNN paper's: 0.01)")
    parser.add_argument("--observation", choices=("affine", "identity"), default=None,
                        help="observation model x = B z + b (the GTF paper's ECG: affine) or x = z (the AL-RNN's)")
    parser.add_argument("--hidden-dim", type=int, default=250, help="hidden units L (the paper's ECG: 250)")
    parser.add_argument("--latent-dim", type=int, default=None,
                        help="latent units M (the GTF paper's ECG: 5, the AL-RNN paper's: 100); with identity "
                             "observation the M - 5 extra units run free under forcing")
    parser.add_argument("--n-relu", type=int, default=2, help="AL-RNN: piecewise-linear units P (its paper's ECG: 2)")
    parser.add_argument("--tau", type=int, default=10,
                        help="AL-RNN: sparse forcing interval (its paper's ECG: 10)")
    parser.add_argument("--val-every", type=positive_int, default=None,
                        help="epochs between validations (default epochs/10)")
    parser.add_argument("--snapshots", action="store_true",
                        help="keep the weights at every validation (snapshots/) for dsr_checkpoint_criteria")
    args = parser.parse_args(argv)
    if not 0.0 <= args.alpha <= 1.0:
        parser.error(f"--alpha must lie in [0, 1] (the paper's ECG: 0.3), got {args.alpha:g}")
    if args.lambda_latent < 0 or args.lambda_obs < 0:
        parser.error(f"--lambda-latent and --lambda-obs must be >= 0, "
                     f"got {args.lambda_latent:g} and {args.lambda_obs:g}")
    if args.input_noise is not None and not (args.input_noise >= 0 and math.isfinite(args.input_noise)):
        parser.error(f"--input-noise must be a finite number >= 0 (the paper's ECG: 0), got {args.input_noise:g}")
    if args.hidden_dim < 1:
        parser.error(f"--hidden-dim must be >= 1 (the paper's ECG: 250), got {args.hidden_dim}")
    if args.latent_dim is not None and args.latent_dim < 5:
        parser.error(f"--latent-dim must be >= 5, the ECG's dimension (the paper's: 5), got {args.latent_dim}")
    alrnn = _resolved(args, ALRNN_DEFAULTS)
    if not 0 <= args.n_relu <= alrnn["latent_dim"] or args.tau < 1:
        parser.error(f"--n-relu must lie in [0, M = {alrnn['latent_dim']}] and --tau be >= 1 (the AL-RNN paper's "
                     f"ECG: 2 and 10), got {args.n_relu} and {args.tau}")
    epochs = args.epochs or (5 if args.quick else 100)
    batches = args.batches or (10 if args.quick else 50)

    gtf = _resolved(args, GTF_DEFAULTS)
    shplrnn = {"model": "clipped_shplrnn",
               "model_kwargs": {"latent_dim": gtf["latent_dim"], "hidden_dim": args.hidden_dim,
                                "observation": gtf["observation"]},
               "lambda_latent": args.lambda_latent, "lambda_obs": args.lambda_obs}
    paper_model = (gtf["observation"], args.hidden_dim, gtf["latent_dim"]) == ("affine", 250, 5)
    variant = "" if paper_model else (f", {gtf['observation']} observation, M = {gtf['latent_dim']}, "
                                      f"L = {args.hidden_dim}")
    variant += f", input noise {gtf['input_noise']:g}" if gtf["input_noise"] else ""
    forcing = forcing_words(args.alpha, args.alpha_end)
    al_paper = alrnn == ALRNN_DEFAULTS and (args.n_relu, args.tau) == (2, 10)
    al_model = {"model": "alrnn", "model_kwargs": {"latent_dim": alrnn["latent_dim"], "n_relu": args.n_relu,
                                                   "observation": alrnn["observation"]},
                "training": "stf", "tau": args.tau, "lambda_latent": 0.0, "lambda_obs": 0.0}
    # key: (label, DynamicsTask arguments, settings, the paper's steps, model words for the notes)
    all_methods = {
        "gtf": ("GTF (alpha = 0.3, the paper's ECG setting)" if not variant and (gtf["seq_len"], forcing) ==
                (200, "0.3") else f"GTF (alpha = {forcing}, windows of T~ = {gtf['seq_len']}{variant})",
                {**shplrnn, "training": "gtf", "alpha": args.alpha, "alpha_end": args.alpha_end}, gtf, PAPER_STEPS),
        "agtf": ("aGTF (alpha estimated)", {**shplrnn, "training": "agtf", "alpha_rate": 0.02}, gtf, PAPER_STEPS),
        "alrnn": ("STF AL-RNN (the AL-RNN paper's ECG setting)" if al_paper else
                  f"STF AL-RNN ({alrnn['observation']} observation, M = {alrnn['latent_dim']}, P = {args.n_relu}, "
                  f"tau = {args.tau}, windows of T~ = {alrnn['seq_len']}, input noise {alrnn['input_noise']:g})",
                  al_model, alrnn, ALRNN_PAPER_STEPS),
        "alrnn_gtf": (f"GTF AL-RNN (alpha = {forcing}, {alrnn['observation']} observation, M = "
                      f"{alrnn['latent_dim']}, P = {args.n_relu}, windows of T~ = {alrnn['seq_len']}, input noise "
                      f"{alrnn['input_noise']:g})", {**al_model, "training": "gtf", "alpha": args.alpha,
                                                               "alpha_end": args.alpha_end}, alrnn,
                      ALRNN_PAPER_STEPS),
    }
    methods = {k: all_methods[k] for k in chosen_methods(parser, args.methods, all_methods)}
    check_alpha_end(parser, args.alpha, args.alpha_end, args.methods, list(methods), ("gtf", "alrnn_gtf"))
    check_run_folders(parser, [run_name(key, i, args.seeds) for i, key in enumerate(methods)], args.resume,
                      args.overwrite)
    train_file, test_file = reference_series(parser, args.data_dir, "ecg_5d_train.npy", "ecg_5d_test.npy")
    x_train, x_test = np.load(train_file), np.load(test_file)
    data = import_npy(train_file, "ecg_gtf_train", 1.0)
    floor = {"d_stsp": state_space_divergence(x_test, x_train), "d_h": hellinger_distance(x_test, x_train)}
    seeds = args.seeds
    rows, raw, budgets = [], {}, []
    val_every = args.val_every or max(1, epochs // 10)
    for i, (key, (label, task, cfg, paper_steps)) in enumerate(methods.items()):
        task = {**task, "lr": cfg["lr"], "lr_end": cfg["lr_end"], "input_noise": cfg["input_noise"],
                "val_gen_length": 50_000}
        budget = {"epochs": epochs, "batches": batches, "seq_len": cfg["seq_len"], "batch_size": cfg["batch_size"],
                  "val_every": val_every, "resume": args.resume, "overwrite": args.overwrite,
                  "snapshots": args.snapshots}
        if len(seeds) == 1:
            ckpt, seconds = train(run_name(key, i, seeds), data, task, seed=seeds[0], **budget)
            runs = [evaluate(ckpt, x_test, 1.0)]
        else:  # one ensemble run; each member at its own best validation state
            ckpt, seconds = train(run_name(key, i, seeds), data, task, seeds=seeds, **budget)
            ckpt = ckpt.with_name("last.ckpt")
            runs = evaluate_members(ckpt, x_test, 1.0, "best")
        runs = [{**r, "train_seconds": seconds} for r in runs]
        raw[label] = {"seeds": seeds, "runs": runs, "verdicts": verdict_counts(runs), "train_seconds": seconds,
                      "checkpoint": str(ckpt), "settings": cfg}
        rows += seed_rows(label, seeds, runs)
        print(rows[-1], raw[label]["verdicts"], flush=True)
        model_words = (f"M = {cfg['latent_dim']}, L = {args.hidden_dim}; lambda_latent {args.lambda_latent:g}, "
                       f"lambda_obs {args.lambda_obs:g}" if not key.startswith("alrnn") else
                       f"M = {cfg['latent_dim']}, P = {args.n_relu}, "
                       + (f"tau = {args.tau}" if key == "alrnn" else f"alpha = {forcing}"))
        budgets.append(f"{label}: {epochs} epochs x {batches} batches of {cfg['batch_size']} windows of T~ = "
                       f"{cfg['seq_len']} ({epochs * batches} RAdam steps, lr {cfg['lr']:g} -> {cfg['lr_end']:g}; "
                       f"{cfg['observation']} observation, {model_words}"
                       + (f", Gaussian noise of std {cfg['input_noise']:g} on every training batch"
                          if cfg["input_noise"] else "") + "; " + _paper_budget(epochs * batches, paper_steps) + ")")
    rows.append({"method": "data (test vs train)", "D_stsp": floor["d_stsp"], "D_H": floor["d_h"], "PE(20)": "-",
                 "lambda_max": "-", "train s": "-"})
    table = markdown_table(rows)
    verdicts = "; ".join(f"{label}: " + ", ".join(f"{n} {v}" for v, n in r["verdicts"].items())
                         for label, r in raw.items())
    notes = ("\n\nBudget: " + "; ".join(budgets) + ". Checkpoint with the lowest "
             f"val/d_stsp (every {val_every} epochs, 5e4-step orbit against the training split). Seeds {seeds}"
             + (" (one ensemble run per method; train s is the whole run's)" if len(seeds) > 1 else "")
             + ("; train s counts only the part after the last --resume" if args.resume else "")
             + f". Orbits (majority over the starts): {verdicts}. lambda_max is per step (the ECG's sampling "
             f"interval is not in the files). Targets: D_stsp <= {2 * floor['d_stsp']:.3g}, D_H <= "
             f"{2 * floor['d_h']:.3g} (2x the data's floor).\n")
    print(table + notes)
    settings = {**vars(args), "epochs": epochs, "batches_per_epoch": batches}
    save_results(args.name, settings, rows, table + notes, args.results_dir, details={"floor": floor, "results": raw})


if __name__ == "__main__":
    main()
