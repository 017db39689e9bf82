"""Train the surrogates of the inverse-problem benchmark (``inverse_posterior.py``) and save their checkpoints.

Problems (33 x 33 node grid, the Darcy generator's defaults otherwise: GRF alpha 2, tau 3, f = 1):

* ``lognormal``: ``a = exp(g)``;
* ``piecewise``: ``a = 12`` where ``g >= 0``, ``3`` elsewhere.

Each problem gets one labelled file: ``--n-train`` pairs to train on, ``--n-val`` validation pairs
(the surrogates' error statistics for the model-error likelihood), and ``--n-test`` test pairs
whose solutions the inverse problems observe. Models, all trained through the neurops tasks and a
Lightning ``Trainer`` (the path ``neurops fit`` runs), then saved as ordinary checkpoints that
``neurops invert surrogate`` takes:

* ``fno``: FNO of the FNO paper (12 modes, width 32, 4 layers) with the quickstart's training
  (``darcy_fno_quickstart``: AdamW 3e-3, one-cycle schedule, relative L2 loss, batch 20);
* ``mgno``: MgNO's Darcy preset, relative H1 loss, AdamW 5e-4, one-cycle schedule, batch 8;
* ``dgno``: DGNO on the coefficients alone (the weak-form residual as physics), the shipped
  configs' settings (smooth: CNN encoder, Gaussian decoder; piecewise: MLP encoder, Bernoulli
  decoder, mixed form).

Every model is trained for a fixed wall-clock budget's worth of epochs on one CPU thread
(``--epochs``), and its test relative L2 error of ``u`` is recorded in
``benchmarks/results/inverse_surrogates.json``. A checkpoint that exists is not replaced (``inverse_posterior``
reads it and caches posteriors from it) unless ``--overwrite`` is given. Run it in the background, e.g.::

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks run inverse_surrogates --models fno --coefficients lognormal
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import torch

from benchmarks.common import WORK_DIR, darcy_file, n_parameters
from benchmarks.lightning_runs import EpochTimer
from benchmarks.runner import benchmark_parser, positive_int
from neurops.data.datamodule import GenerativeDataModule, OperatorDataModule
from neurops.tasks.generative import GenerativeOperatorTask
from neurops.tasks.operator import OperatorTask
from neurops.tasks.schedules import OneCycle
from neurops.utils.bench import save_results, timed
from neurops.utils.io import atomic_path
from neurops.utils.seeding import seed_everything

INVERSE_DIR = WORK_DIR / "inverse"
RESOLUTION = 33
#: training settings per model: epochs and batch size, sized for a 2-core machine shared by five jobs, where a
#: background job at nice 19 gets a tenth to a half of a core (CPU cost on one thread: FNO 9 ms, MgNO 12 ms and
#: DGNO 2.5-2.8 ms per training sample and epoch). FNO uses the quickstart's one-cycle schedule: 12 epochs gave
#: 1.70 % test rel. L2 (piecewise), 20 epochs (--epochs 20) 0.43 % (lognormal); DGNO 10 epochs 18.0 / 22.5 %
#: (lognormal / piecewise), 40 epochs (--epochs 40) 8.8 / 13.7 %; the papers' schedules (500 epochs;
#: DGNO 1000-2000) need a GPU.
SETTINGS: dict[str, dict[str, Any]] = {
    "fno": {"epochs": 12, "batch_size": 20},
    "mgno": {"epochs": 8, "batch_size": 8},
    "dgno": {"epochs": 10, "batch_size": 50},
}


def problem_file(coefficient: str, n_train: int = 1000, n_val: int = 200, n_test: int = 100, seed: int = 0) -> Path:
    """The labelled 33 x 33 Darcy file of a problem (generated once into ``benchmarks/work``)."""
    return darcy_file(n_train, n_test, RESOLUTION, coefficient=coefficient, seed=seed, n_val=n_val)


def checkpoint_path(model: str, coefficient: str) -> Path:
    """Where the trained surrogate of a problem is saved."""
    return INVERSE_DIR / f"{model}_{coefficient}.ckpt"


def make_task(model: str, coefficient: str, epochs: int) -> L.LightningModule:
    """The task of a model, with the shipped configs' hyperparameters (schedules relative to ``epochs``)."""
    if model == "fno":
        return OperatorTask("fno", {"modes": [12, 12], "width": 32, "n_layers": 4, "grid_embedding": True,
                                    "padding": 0.0}, loss="rel_l2",
                            optimizer=partial(torch.optim.AdamW, lr=3e-3, weight_decay=1e-4),
                            lr_scheduler=OneCycle(pct_start=0.1))
    if model == "mgno":
        return OperatorTask("mgno", {"preset": "darcy", "boundary": "dirichlet"}, loss="rel_h1_fourier",
                            optimizer=partial(torch.optim.AdamW, lr=5e-4, weight_decay=1e-4),
                            lr_scheduler=OneCycle(pct_start=0.2, div_factor=2.0, final_div_factor=100.0))
    if model == "dgno":  # dgno_forward.py's CPU settings: a higher rate halved once, 5 x 5 quadrature per particle
        common = {"resolution": [RESOLUTION, RESOLUTION], "latent_dim": 128, "width": 100, "depth": 5,
                  "activation": "tanh_sin", "dirichlet": "sin"}
        sched = {"optimizer": partial(torch.optim.AdamW, lr=1e-3, weight_decay=1e-4),
                 "lr_scheduler": partial(torch.optim.lr_scheduler.StepLR, step_size=max(1, epochs // 2), gamma=0.5)}
        if coefficient == "lognormal":
            kwargs = {**common, "encoder": "cnn", "encoder_channels": [64, 64, 64], "encoder_hidden": [256, 128],
                      "a_likelihood": "gaussian", "a_low": 0.2, "a_high": 5.0, "mixed_form": False}
            return GenerativeOperatorTask(model_kwargs=kwargs, forcing=1.0, a_interpolation="linear", w_data=0.25,
                                          w_pde=1.0, n_particles=100, n_quad_per_axis=5, top_k=250, **sched)
        kwargs = {**common, "encoder": "mlp", "encoder_hidden": [512, 256], "a_likelihood": "bernoulli",
                  "a_low": 3.0, "a_high": 12.0, "mixed_form": True}
        return GenerativeOperatorTask(model_kwargs=kwargs, forcing=1.0, a_interpolation="nearest", w_data=1.0,
                                      w_pde=1.0, n_particles=100, n_quad_per_axis=5, **sched)
    raise SystemExit(f"unknown model {model!r}; use fno, mgno or dgno.")


def train(model: str, coefficient: str, epochs: int, batch_size: int, seed: int, data: Path) -> dict[str, Any]:
    """Train one surrogate, save its checkpoint, return its test errors and timings."""
    seed_everything(seed)
    task = make_task(model, coefficient, epochs)
    if model == "dgno":
        dm = GenerativeDataModule(data, data, batch_size=batch_size, val_split="val")
    else:
        dm = OperatorDataModule(data, batch_size=batch_size, num_workers=0, val_split="val")
    timer = EpochTimer()
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[timer],
                        num_sanity_val_steps=0, check_val_every_n_epoch=max(1, epochs // 10))
    seconds, _ = timed(lambda: trainer.fit(task, dm))
    path = checkpoint_path(model, coefficient)
    with atomic_path(path) as tmp:  # a crash or kill while it is written leaves no truncated checkpoint
        trainer.save_checkpoint(tmp)
    tests = {}
    for r in trainer.test(task, dm, verbose=False):
        tests.update({k: float(v) for k, v in r.items()})
    return {"model": model, "coefficient": coefficient, "epochs": epochs, "batch_size": batch_size,
            "params": n_parameters(task.net), "train_seconds": seconds,
            "seconds_per_epoch": sorted(timer.times)[len(timer.times) // 2] if timer.times else None,
            "test": tests, "checkpoint": str(path), "data": str(data)}


def main(argv: list[str] | None = None) -> int:
    p = benchmark_parser(__doc__, quick=None)
    p.add_argument("--models", default="fno,mgno,dgno")
    p.add_argument("--coefficients", default="lognormal,piecewise")
    p.add_argument("--epochs", type=positive_int, default=None, help="override every model's epochs")
    p.add_argument("--n-train", type=positive_int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=positive_int, default=1)
    p.add_argument("--overwrite", action="store_true", help="retrain and replace checkpoints that exist")
    args = p.parse_args(argv)
    kept = [str(checkpoint_path(m, c)) for c in args.coefficients.split(",") for m in args.models.split(",")
            if checkpoint_path(m, c).exists()]
    if kept and not args.overwrite:  # before any work: a short trial run would replace a long-trained surrogate
        raise SystemExit(f"inverse_surrogates: {', '.join(kept)} exist (inverse_posterior reads them, and its cached "
                         "posteriors came from them); pass --overwrite to retrain them, or move them away.")
    torch.set_num_threads(args.threads)
    results_path = args.results_dir / "inverse_surrogates.json"
    for coefficient in args.coefficients.split(","):
        data = problem_file(coefficient, n_train=args.n_train)
        for model in args.models.split(","):
            s = SETTINGS[model]
            row = train(model, coefficient, args.epochs or s["epochs"], s["batch_size"], args.seed, data)
            print(json.dumps(row), flush=True)
            # re-read: another process may have added its rows meanwhile
            rows = json.loads(results_path.read_text())["rows"] if results_path.exists() else []
            rows = [r for r in rows if (r["model"], r["coefficient"]) != (model, coefficient)] + [row]
            table = "\n".join(f"| {r['model']} | {r['coefficient']} | {r['epochs']} | {r['params']} | "
                              f"{r['train_seconds']:.0f} | "
                              + ", ".join(f"{k} {v:.4f}" for k, v in r["test"].items() if "rel_l2" in k) + " |"
                              for r in rows)
            save_results("inverse_surrogates", vars(args), rows,
                         "| model | coefficient | epochs | params | train s | test |\n|---|---|---|---|---|---|\n"
                         + table + "\n", args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
