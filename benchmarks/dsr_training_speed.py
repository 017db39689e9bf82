"""Training-step time of teacher-forced PWL RNNs: hand-written backward pass against autograd, in one run.

One step = a forced rollout over a batch of 16 windows, the MSE loss, the backward pass
and a RAdam update, on ``--threads`` CPU threads (the DSR benchmarks train on one). The
two backward paths of :func:`neurops.dynamics.forced_rollout.forced_rollout` give the
same gradients (``tests/dynamics/test_forced_rollout.py``); only the time differs:

* ``autograd``: autograd records every small operation of the time loop;
* ``fused`` (the default): the forward loop runs without autograd, the adjoint recursion
  uses the models' region Jacobians, and the parameter gradients are one batched
  vector-Jacobian product per chunk of steps.

Settings are those of the papers' experiments (Hess et al. 2023; Brenner et al. 2024):
GTF clipped shPLRNN on Lorenz-63 (M = 3, L = 100) and on the ECG (M = 5, L = 250, affine),
sparse teacher forcing of the AL-RNN on Lorenz-63 (M = 20, P = 2, tau = 16), and
GTF on a 16-dimensional series with T~ = 50 (the EEG setting, M = 16, L = 512), and
sparse teacher forcing of the AL-RNN on a 10-variable Lorenz-96 series (M = 100, P = 50,
T~ = 50, tau = 20). The variants are timed interleaved (one step of each in turn); the
table gives medians and the path that the default (``fused=None``) picks.

A second table times seed studies: one training step of an ensemble of R members
(:func:`neurops.models.piecewise_linear.stack_members`: stacked parameters, one batched rollout, each
member its own windows) against one step of a single model, for the Lorenz-63 and ECG GTF
settings, both backward paths, interleaved in the same run. ``R x t_1 / t_R`` is how much
faster R seeds train in one process than one after the other.

    python -m benchmarks run dsr_training_speed [--quick] [--repeat 40] [--threads 1] [--members 8] [--only-ensembles]
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import torch

from benchmarks.runner import benchmark_parser
from neurops.dynamics.forced_rollout import fused_backward_pays
from neurops.dynamics.teacher_forcing import gtf_rollout, stf_rollout
from neurops.models import build
from neurops.models.piecewise_linear import stack_members
from neurops.utils.bench import interleaved_times, markdown_table, save_results

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


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser(__doc__, quick="8 timing rounds instead of 40")
    parser.add_argument("--repeat", type=int, default=None, help="timing rounds (default 40, quick 8)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--name", default="dsr_training_speed", help="results file name")
    parser.add_argument("--members", type=int, default=8, help="ensemble size R of the seed-study table")
    parser.add_argument("--only-ensembles", action="store_true", help="time the seed-study table only")
    args = parser.parse_args(argv)
    repeat = args.repeat or (8 if args.quick else 40)
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
    markdown = (table + notes + "\n" if rows else "") + ens_table + ens_notes
    print(markdown)
    save_results(args.name, {**vars(args), "repeat": repeat}, rows + ens_rows, markdown, args.results_dir,
                 details={"results": raw, "ensembles": ens_raw})


if __name__ == "__main__":
    main()
