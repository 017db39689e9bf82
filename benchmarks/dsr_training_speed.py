"""Training-step time of teacher-forced PWL RNNs: hand-written backward pass against autograd, in one run.

One step = a forced rollout over a batch of 16 windows, the MSE loss, the backward pass
and a RAdam update, on ``--threads`` CPU threads (the DSR benchmarks train on one). The
two backward paths of :func:`neurops.dynamics.forced_rollout.forced_rollout` give the
same gradients (``tests/dynamics/test_forced_rollout.py``); only the time differs:

* ``autograd``: autograd records every small operation of the time loop;
* ``fused`` (the default): the forward loop runs without autograd, the adjoint recursion
  takes ``J^T a`` in each model's closed form (shallow PLRNNs, and the unit-wise AL-RNN),
  and the parameter gradients are one batched vector-Jacobian product per chunk of steps.

Settings are those of the papers' experiments (Hess et al. 2023; Brenner et al. 2024):
GTF clipped shPLRNN on Lorenz-63 (M = 3, L = 100) and on the ECG (M = 5, L = 250, affine),
sparse teacher forcing of the AL-RNN on Lorenz-63 (M = 20, P = 2, tau = 16), and
GTF on a 16-dimensional series with T~ = 50 (the EEG setting, M = 16, L = 512), and
sparse teacher forcing of the AL-RNN on a 10-variable Lorenz-96 series (M = 100, P = 50,
T~ = 50, tau = 20) and on the ECG (M = 100, P = 2, T~ = 50, tau = 10: the AL-RNN paper's ECG
settings, ``settings/ecg.json`` of its code). The variants are timed interleaved (one step of each in turn); the
table gives medians and the path that the default (``fused=None``) picks.

A second table times seed studies: one training step of an ensemble of R members
(:func:`neurops.models.piecewise_linear.stack_members`: stacked parameters, one batched rollout, each
member its own windows) against one step of a single model, for the Lorenz-63 and ECG GTF
settings, both backward paths, interleaved in the same run. ``R x t_1 / t_R`` is how much
faster R seeds train in one process than one after the other.

A third table times what a seed study costs in wall time: a few real epochs of a
:class:`~neurops.tasks.dynamics.DynamicsTask` fit in a Lightning ``Trainer`` (the shared
Lorenz-63 and ECG series, ``--fit-batches`` batches an epoch, one validation every ``--fit-val-every``
epochs with the DSR benchmarks' protocol: a 10^4-point validation series and a 5 x 10^4-step orbit),
one model against an ensemble of R, alternated in one run, on 1 and on 2 threads. Validation (the
orbits and the metrics of every member) counts. The default, 3 epochs of 10 batches validated after
each, is a quick check dominated by validation; ``--fit-epochs 10 --fit-batches 50 --fit-val-every 10``
is the cadence of the DSR benchmarks' runs (one validation per 500 steps), so its ratio is what a
seed study costs in a real run.

    python -m benchmarks run dsr_training_speed [--quick] [--repeat 40] [--threads 1] [--members 8]
        [--only-ensembles] [--fit-rounds 3] [--fit-epochs 3] [--fit-batches 10] [--fit-val-every 1]
        [--data-dir DIR]
"""

from __future__ import annotations

import multiprocessing
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch

from benchmarks.dsr_common import data_dir_argument, import_npy, reference_series
from benchmarks.runner import benchmark_parser, positive_int
from neurops.data.datamodule import DynamicsDataModule
from neurops.dynamics.forced_rollout import fused_backward_pays
from neurops.dynamics.teacher_forcing import gtf_rollout, stf_rollout
from neurops.models import build
from neurops.models.piecewise_linear import stack_members
from neurops.tasks.dynamics import DynamicsTask
from neurops.utils.bench import clock, interleaved_times, markdown_table, save_results, timed

# name: (model, model kwargs, observed variables, window length T~, forcing)
SETTINGS = {
    "Lorenz-63, GTF shPLRNN (M 3, L 100)": ("clipped_shplrnn", {"latent_dim": 3, "hidden_dim": 100}, 3, 200,
                                           ("gtf", 0.1)),
    "ECG, GTF shPLRNN (M 5, L 250, affine)": ("clipped_shplrnn", {"latent_dim": 5, "hidden_dim": 250,
                                                                 "observation": "affine"}, 5, 200, ("gtf", 0.3)),
    "Lorenz-63, STF AL-RNN (M 20, P 2)": ("alrnn", {"latent_dim": 20, "n_relu": 2}, 3, 200, ("stf", 16)),
    "EEG-like, GTF shPLRNN (M 16, L 512, T~ 50)": ("clipped_shplrnn", {"latent_dim": 16, "hidden_dim": 512}, 16,
                                                  50, ("gtf", 0.1)),
    "Lorenz-96, STF AL-RNN (M 100, P 50, T~ 50)": ("alrnn", {"latent_dim": 100, "n_relu": 50}, 10, 50, ("stf", 20)),
    "ECG, STF AL-RNN (M 100, P 2, T~ 50)": ("alrnn", {"latent_dim": 100, "n_relu": 2}, 5, 50, ("stf", 10)),
}


def build_model(setting: tuple) -> torch.nn.Module:
    name, kwargs, n_obs = setting[:3]
    return build(name, obs_dim=n_obs, seed=0, **kwargs)


def make_step(setting: tuple, fused: bool | None, batch: int = 16, members: int = 0) -> Callable[[], None]:
    """One training step (rollout, loss, backward, RAdam) of ``setting`` with the chosen backward path.

    ``members = R > 0`` trains an ensemble of R models (seeds 0..R-1), each on its own windows;
    the loss is the sum of the members' MSEs, so each member gets its own gradient.
    """
    name, kwargs, n_obs, seq_len, (forcing, value) = setting
    model = build_model(setting)
    if members:
        model = stack_members([build(name, obs_dim=n_obs, seed=r, **kwargs) for r in range(members)])
    opt = torch.optim.RAdam(model.parameters(), lr=1e-3)
    shape = (members, batch, seq_len + 1, n_obs) if members else (batch, seq_len + 1, n_obs)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        if forcing == "gtf":
            pred = gtf_rollout(model, x, value, fused=fused)[0]
        else:
            pred = stf_rollout(model, x, value, fused=fused)[0]
        squared = (pred - x[..., 1:, :]).pow(2)
        (squared.flatten(-3).mean(-1).sum() if members else squared.mean()).backward()
        opt.step()

    return step


ENSEMBLE_SETTINGS = ("Lorenz-63, GTF shPLRNN (M 3, L 100)", "ECG, GTF shPLRNN (M 5, L 250, affine)")


def ensemble_rows(members: int, repeat: int) -> tuple[list[dict], dict]:
    """Step times of one model (its default path) and of an ensemble of ``members`` (both paths), interleaved."""
    rows, raw = [], {}
    for label in ENSEMBLE_SETTINGS:
        setting = SETTINGS[label]
        fused, auto = f"R={members} fused", f"R={members} autograd"
        steps = {"one model": make_step(setting, fused=None), fused: make_step(setting, True, members=members),
                 auto: make_step(setting, False, members=members)}
        for fn in steps.values():  # warm-up
            fn()
        times = interleaved_times(steps, repeat)
        med = {k: statistics.median(v) for k, v in times.items()}
        best = min(med[fused], med[auto])
        raw[label] = {"median_s": med, "min_s": {k: min(v) for k, v in times.items()}}
        rows.append({"setting": label, "one model ms": 1e3 * med["one model"], f"{fused} ms": 1e3 * med[fused],
                     f"{auto} ms": 1e3 * med[auto], "ensemble / one": best / med["one model"],
                     "seeds per unit time": members * med["one model"] / best})
        print(rows[-1], flush=True)
    return rows, raw


# name: (series file, dt, DynamicsTask arguments) of the DSR benchmarks' settings (dsr_lorenz63, dsr_ecg)
FIT_SETTINGS = {
    "Lorenz-63, GTF shPLRNN (M 3, L 100)": ("lorenz63_noise0.05_train.npy", 0.01, {
        "model": "clipped_shplrnn", "model_kwargs": {"latent_dim": 3, "hidden_dim": 100}, "alpha": 0.1}),
    "ECG, GTF shPLRNN (M 5, L 250, affine)": ("ecg_5d_train.npy", 1.0, {
        "model": "clipped_shplrnn", "model_kwargs": {"latent_dim": 5, "hidden_dim": 250, "observation": "affine"},
        "alpha": 0.3}),
}


class _ValidationClock(L.Callback):
    """Seconds rank zero spends in validation epochs (in shared memory: forked DDP processes add to it too)."""

    def __init__(self) -> None:
        self.seconds, self._start = multiprocessing.get_context("fork").Value("d", 0.0), 0.0

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = clock()

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            self.seconds.value += clock() - self._start


def fit_seconds(data: Path, task: dict[str, Any], seeds: list[int] | None, epochs: int, batches: int,
                threads: int, val_every: int, processes: int = 1) -> tuple[float, float]:
    """Wall seconds of ``trainer.fit`` (``epochs`` epochs of ``batches`` batches of 16 windows of T~ = 200, one
    validation every ``val_every`` epochs) and the part spent validating, on ``threads`` threads; with
    ``processes > 1`` in that many DDP processes of ``threads`` threads each (``ddp_fork``: the children start
    without importing anything, as in a script's own process), an ensemble's members spread over them."""
    torch.set_num_threads(threads)
    L.seed_everything(0, verbose=False)
    dm = DynamicsDataModule(data, seq_len=200, batch_size=16, batches_per_epoch=batches, val_length=10_000)
    model = DynamicsTask(**task, seeds=seeds, lambda_latent=1e-5, val_gen_length=50_000)
    validating = _ValidationClock()
    parallel: dict[str, Any] = {"strategy": "ddp_fork", "devices": processes} if processes > 1 else {}
    with tempfile.TemporaryDirectory() as tmp:
        trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_progress_bar=False,
                            enable_model_summary=False, enable_checkpointing=False, num_sanity_val_steps=0,
                            check_val_every_n_epoch=val_every, default_root_dir=tmp, callbacks=[validating],
                            **parallel)
        seconds, _ = timed(lambda: trainer.fit(model, datamodule=dm))
        return seconds, validating.seconds.value


def fit_rows(data_dir: Path, members: int, rounds: int, epochs: int, batches: int, val_every: int
             ) -> tuple[list[dict], dict]:
    """Fit wall times of one model and of R members on 1 and 2 threads, and of R members spread over 2 DDP
    processes of 1 thread, alternated over ``rounds`` rounds."""
    rows, raw = [], {}
    for label, (series, dt, task) in FIT_SETTINGS.items():
        data = import_npy(data_dir / series, f"speed_{series.split('_')[0]}", dt=dt)
        # (members, threads per process, processes)
        runs = {(r, t, 1): [] for t in (1, 2) for r in (1, members)} | {(members, 1, 2): []}
        for _ in range(rounds):
            for (r, threads, processes), times in runs.items():
                times.append(fit_seconds(data, task, None if r == 1 else list(range(r)), epochs, batches, threads,
                                         val_every, processes))
        med = {k: (statistics.median(v[0] for v in times), statistics.median(v[1] for v in times))
               for k, times in runs.items()}
        raw[label] = {f"R={r}, {t} thread(s), {p} process(es)": {"fit_s": [v[0] for v in times],
                                                                 "validation_s": [v[1] for v in times]}
                      for (r, t, p), times in runs.items()}
        row: dict[str, Any] = {"setting": label}
        for t in (1, 2):
            one, ens = med[(1, t, 1)], med[(members, t, 1)]
            row |= {f"one model s ({t}T)": one[0], f"R={members} s ({t}T)": ens[0],
                    f"ensemble / one ({t}T)": ens[0] / one[0], f"validation s, one / R={members} ({t}T)":
                    f"{one[1]:.3g} / {ens[1]:.3g}"}
        spread, fastest_one = med[(members, 1, 2)], min(med[(1, 1, 1)][0], med[(1, 2, 1)][0])
        row |= {f"R={members} s (2 DDP x 1T)": spread[0], "ensemble (2 DDP) / fastest one": spread[0] / fastest_one,
                f"validation s, R={members} (2 DDP)": spread[1]}
        rows.append(row)
        print(row, flush=True)
    return rows, raw


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser(__doc__, quick="8 timing rounds instead of 40")
    parser.add_argument("--repeat", type=positive_int, default=None, help="timing rounds (default 40, quick 8)")
    parser.add_argument("--threads", type=positive_int, default=1)
    parser.add_argument("--name", default="dsr_training_speed", help="results file name")
    parser.add_argument("--members", type=positive_int, default=8, help="ensemble size R of the seed-study table")
    parser.add_argument("--only-ensembles", action="store_true", help="time the seed-study tables only")
    parser.add_argument("--fit-rounds", type=int, default=None, help="rounds of the fit table (default 3, quick 0: "
                        "0 skips it)")
    parser.add_argument("--fit-epochs", type=int, default=3, help="epochs of each timed fit")
    parser.add_argument("--fit-batches", type=int, default=10, help="batches per epoch of each timed fit")
    parser.add_argument("--fit-val-every", type=int, default=1,
                        help="epochs between validations of each timed fit (the DSR benchmarks: 10 epochs of 50 "
                             "batches)")
    data_dir_argument(parser)
    args = parser.parse_args(argv)
    if min(args.fit_epochs, args.fit_batches, args.fit_val_every) < 1:
        parser.error("--fit-epochs, --fit-batches and --fit-val-every must be >= 1")
    repeat = args.repeat or (8 if args.quick else 40)
    fit_rounds = args.fit_rounds if args.fit_rounds is not None else (0 if args.quick else 3)
    fit_table, fit_raw = [], {}
    if fit_rounds:
        reference_series(parser, args.data_dir, *(series for series, _, _ in FIT_SETTINGS.values()))
        fit_table, fit_raw = fit_rows(args.data_dir, args.members, fit_rounds, args.fit_epochs, args.fit_batches,
                                      args.fit_val_every)
    torch.set_num_threads(args.threads)

    ens_rows, ens_raw = ensemble_rows(args.members, repeat)
    ens_table = markdown_table(ens_rows, floatfmt=".3g")
    ens_notes = (f"\n\nSeed studies: one training step of one model (default backward path) and of an ensemble of "
                 f"R = {args.members} members (stacked parameters, one batched rollout, each member its own 16 "
                 f"windows), median of {repeat} interleaved rounds on {args.threads} thread(s). 'ensemble / one' is "
                 "the ensemble's step time (faster path) over one model's; 'seeds per unit time' = R / that.\n")
    rows, raw = [], {}
    for label, setting in ({} if args.only_ensembles else SETTINGS).items():
        steps = {"autograd": make_step(setting, fused=False), "fused": make_step(setting, fused=True)}
        for fn in steps.values():  # warm-up
            fn()
        times = interleaved_times(steps, repeat)
        med = {k: statistics.median(v) for k, v in times.items()}
        raw[label] = {"median_s": med, "min_s": {k: min(v) for k, v in times.items()}}
        picks = "fused" if fused_backward_pays(build_model(setting)) else "autograd"
        raw[label]["default_picks"] = picks
        rows.append({"setting": label, "autograd ms": 1e3 * med["autograd"], "fused ms": 1e3 * med["fused"],
                     "speed-up": med["autograd"] / med["fused"], "default": picks})
        print(rows[-1], flush=True)

    table = markdown_table(rows, ["setting", "autograd ms", "fused ms", "speed-up", "default"], floatfmt=".3g")
    notes = (f"\n\nOne training step (forced rollout over 16 windows, MSE, backward, RAdam), median of {repeat} "
             f"interleaved rounds on {args.threads} thread(s). Both paths give the same gradients.\n")
    fit_notes = (f"\n\nSeed studies in wall time: `trainer.fit` of a DynamicsTask, {args.fit_epochs} epochs of "
                 f"{args.fit_batches} batches (16 windows of T~ = 200 per member) with one validation every "
                 f"{args.fit_val_every} epoch(s) (a "
                 "10^4-point validation series, a 5 x 10^4-step orbit per member, D_stsp and D_H of every member), "
                 f"one model against R = {args.members}, median of {fit_rounds} alternated rounds on 1 and 2 threads "
                 f"(1T, 2T), and R = {args.members} spread over 2 DDP processes of 1 thread each (2 DDP: "
                 "`strategy='ddp_fork'`, each process trains and validates its own members; the time includes "
                 "starting the processes); 'fastest one' is the faster of one model's 1T and 2T fits; 'validation "
                 "s' is the part of the fit spent validating (rank zero's, for 2 DDP).\n")
    markdown = ((table + notes + "\n" if rows else "") + ens_table + ens_notes
                + ("\n" + markdown_table(fit_table, floatfmt=".3g") + fit_notes if fit_table else ""))
    print(markdown)
    save_results(args.name, {**vars(args), "repeat": repeat, "fit_rounds": fit_rounds}, rows + ens_rows + fit_table,
                 markdown, args.results_dir, details={"results": raw, "ensembles": ens_raw, "fits": fit_raw})


if __name__ == "__main__":
    main()
