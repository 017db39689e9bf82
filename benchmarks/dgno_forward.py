"""DGNO without labels vs supervised MultiONet and FNO, on piecewise and smooth Darcy (one run).

Problems (DGNO paper [1]_ settings, data from ``neurops data generate darcy``):

* ``piecewise``: ``a`` in {5, 10} from a thresholded GRF, ``f = 10``, 29 x 29 grid;
* ``smooth``: ``a = exp(GRF)`` (lognormal), ``f = 10``, 29 x 29 grid.

Models (all trained through neurops tasks, same seed, in this process):

* ``dgno``: :class:`GenerativeOperatorTask` on **coefficient samples only** (weak residual +
  reconstruction of ``a``), never sees a solution;
* ``multionet``: :class:`OperatorTask` with the supervised MultiONet on labelled pairs;
* ``fno``: :class:`OperatorTask` with our FNO on the same labelled pairs.

All are tested on labelled 29 x 29 samples and on the same samples at 57 x 57 (``test@57``).
The paper reports (1000 labels for the supervised models, 1000 epochs for DGNO on a GPU) a
relative L2 of about 0.02 (piecewise) and 0.008 (smooth) for DGNO.

``--quick`` is a CPU-sized run of a few minutes: far fewer samples and steps, smaller networks;
its numbers show the pipeline works and how the methods compare at that budget, not the
paper's accuracy. A DGNO checkpoint that exists in ``--save-ckpt`` is not replaced unless ``--overwrite``
(the command stops before any work). Paper-scale command (GPU)::

    python -m benchmarks run dgno_forward --accelerator gpu

References
----------
.. [1] Y. Zang, P.-S. Koutsourelakis, "DGenNO: a novel physics-aware neural operator for
   solving forward and inverse PDE problems based on deep, generative probabilistic
   modeling", J. Comput. Phys. 538, 114137 (2025), arXiv:2502.06250.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import WORK_DIR, darcy_file
from benchmarks.lightning_runs import fit_and_test
from benchmarks.runner import benchmark_parser
from neurops.data.datamodule import GenerativeDataModule, OperatorDataModule
from neurops.data.reader import read_split
from neurops.tasks.generative import GenerativeOperatorTask
from neurops.tasks.operator import OperatorTask
from neurops.utils.bench import markdown_table, save_results
from neurops.utils.io import atomic_path

PAPER = {"piecewise": 0.0207, "smooth": 0.0077}

# sizes: (unlabelled, labelled train, test, dgno epochs, supervised epochs per model, batch); in the quick
# run the cheap supervised MultiONet gets more epochs, so that no model gets more wall-clock time than DGNO
SIZES = {"quick": (400, 200, 50, 40, {"multionet": 200, "fno": 60}, 25),
         "full": (10000, 1000, 200, 1000, {"multionet": 500, "fno": 500}, 25)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = benchmark_parser(__doc__, quick="CPU-sized run (a few minutes)")
    p.add_argument("--problems", default="piecewise,smooth", help="comma-separated subset of piecewise,smooth")
    p.add_argument("--models", default="dgno,multionet,fno", help="comma-separated subset of dgno,multionet,fno")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--accelerator", default="auto")
    p.add_argument("--save-ckpt", type=Path, default=WORK_DIR / "dgno_ckpt",
                   help="folder for the trained DGNO checkpoints (e.g. for `neurops invert surrogate --ckpt`)")
    p.add_argument("--overwrite", action="store_true", help="retrain and replace DGNO checkpoints that exist")
    p.add_argument("--name", default=None, help="results name (default dgno_forward[_quick])")
    args = p.parse_args(argv)
    kept = [str(checkpoint_path(args.save_ckpt, problem, args.quick)) for problem in args.problems.split(",")
            if "dgno" in args.models.split(",") and checkpoint_path(args.save_ckpt, problem, args.quick).exists()]
    if kept and not args.overwrite:  # before any work: a rerun (another --seed) would replace a long-trained DGNO
        p.error(f"{', '.join(kept)} exist{'s' if len(kept) == 1 else ''}; pass --overwrite to retrain "
                f"{'them' if len(kept) > 1 else 'it'}, another --save-ckpt folder, or move "
                f"{'them' if len(kept) > 1 else 'it'} away")
    return args


def checkpoint_path(folder: Path, problem: str, quick: bool) -> Path:
    """Where the trained DGNO of ``problem`` is saved (``--save-ckpt`` folder; the quick run's apart)."""
    return folder / f"dgno_{problem}{'_quick' if quick else ''}.ckpt"


def data_files(problem: str, sizes: tuple[int, ...], seed: int) -> tuple[Path, Path, tuple[float, float]]:
    """Coefficient-only training file, labelled file, and the range of ``a``."""
    n_unlab, n_lab, n_test = sizes[:3]
    common = dict(resolution=29, forcing=10.0, seed=seed, fine_factor=4)
    if problem == "piecewise":
        common.update(coefficient="piecewise", a_high=10.0, a_low=5.0)
    else:
        common.update(coefficient="lognormal")
    coef = darcy_file(n_unlab, 0, unlabelled=True, n_val=0, **common)
    lab = darcy_file(n_lab, n_test, test_resolutions=(57,), n_val=0, **common)
    a = read_split(coef, "train")["inputs"]["a"]
    a_range = (5.0, 10.0) if problem == "piecewise" else (float(a.min()), float(a.max()))
    return coef, lab, a_range


def dgno_task(problem: str, a_range: tuple[float, float], quick: bool) -> GenerativeOperatorTask:
    """Paper settings (piecewise: MLP encoder, Bernoulli, mixed form; smooth: CNN, Gaussian, top-k)."""
    net = dict(latent_dim=128, width=100, depth=5)
    if problem == "piecewise":
        kw = dict(encoder="mlp", encoder_hidden=[512, 256], a_likelihood="bernoulli", a_low=5.0, a_high=10.0,
                  mixed_form=True)
        task = dict(a_interpolation="nearest", w_data=1.0, w_pde=1.0, n_quad_per_axis=5 if quick else 7, top_k=0)
    else:
        kw = dict(encoder="cnn", encoder_channels=[64, 64, 64], encoder_hidden=[256, 128], a_likelihood="gaussian",
                  a_low=a_range[0], a_high=a_range[1], mixed_form=False)
        task = dict(a_interpolation="linear", w_data=0.25, w_pde=1.0, n_quad_per_axis=5 if quick else 9,
                    top_k=250 if quick else 1000)
    # quick: a higher rate halved once (the paper halves every epochs/5 over 1000 epochs)
    sched = dict(optimizer=partial(torch.optim.AdamW, lr=1e-3, weight_decay=1e-4),
                 lr_scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=SIZES["quick"][3] // 2, gamma=0.5)
                 ) if quick else {}
    return GenerativeOperatorTask(model_kwargs={**net, **kw}, forcing=10.0, n_particles=100, **sched, **task)


def supervised_task(model: str, quick: bool) -> OperatorTask:
    if model == "fno":
        kw: dict[str, Any] = dict(modes=[12, 12], width=32 if quick else 64, n_layers=4)
    else:
        kw = dict(resolution=[29, 29], latent_dim=128, width=64 if quick else 100, depth=4 if quick else 5,
                  encoder_hidden=[512, 256], dirichlet="none")  # outputs are normalised: no hard zero BC
    return OperatorTask(model=model, model_kwargs=kw)  # AdamW lr 1e-3, one cycle


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = SIZES["quick" if args.quick else "full"]
    n_unlab, n_lab, n_test, dgno_epochs, sup_epochs, batch = sizes
    rows, records = [], []
    for problem in args.problems.split(","):
        coef, lab, a_range = data_files(problem, sizes, args.seed)
        for model in args.models.split(","):
            if model == "dgno":
                dm = GenerativeDataModule(coef, lab, batch_size=batch, val_split=None)
                out = fit_and_test(partial(dgno_task, problem, a_range, args.quick), dm, epochs=dgno_epochs,
                                   seed=args.seed, accelerator=args.accelerator)
                args.save_ckpt.mkdir(parents=True, exist_ok=True)
                ckpt = checkpoint_path(args.save_ckpt, problem, args.quick)
                with atomic_path(ckpt) as tmp:  # a crash or kill while it is written leaves no truncated checkpoint
                    out["task"].trainer.save_checkpoint(tmp)
                labels, n_samples, epochs = 0, n_unlab, dgno_epochs
            else:
                dm = OperatorDataModule(lab, batch_size=batch, val_split=None)
                out = fit_and_test(partial(supervised_task, model, args.quick), dm, epochs=sup_epochs[model],
                                   seed=args.seed, accelerator=args.accelerator)
                labels, n_samples, epochs = n_lab, n_lab, sup_epochs[model]
            test = out["test"]
            row = {"problem": problem, "model": model, "labels": labels, "train samples": n_samples,
                   "epochs": epochs, "params": out["params"], "train s": round(out["train_seconds"], 1),
                   "rel L2 @29": test.get("test/rel_l2@29"), "rel L2 @57": test.get("test/rel_l2@57"),
                   "paper DGNO": PAPER[problem] if model == "dgno" else ""}
            print(row, flush=True)
            rows.append(row)
            records.append({**row, "epoch_seconds": out["epoch_seconds"], "test": test})
    table = markdown_table(rows)
    print(table)
    name = args.name or ("dgno_forward_quick" if args.quick else "dgno_forward")
    note = ("DGNO trains on coefficient samples only (no solutions); MultiONet and FNO on labelled pairs. "
            "Test: relative L2 of u on labelled samples at 29x29 and the same samples at 57x57. "
            f"Paper (DGNO, GPU, 1000 epochs): {PAPER}.")
    settings = {**vars(args), "sizes": dict(zip(
        ["unlabelled", "labelled", "test", "dgno_epochs", "supervised_epochs", "batch"], sizes))}
    save_results(name, settings, records, table + "\n\n" + note + "\n", args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
