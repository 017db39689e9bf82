"""How far back the GTF gradient reaches: the norm of ``d z~_T / d z~_{T-k}`` along forced rollouts of trained models.

Under generalized teacher forcing (Hess et al. 2023) a forced state is ``z~_t = (1 - a) F(z~_{t-1}) + a z_hat_t`` on
the forced units (``a = alpha`` times the forcing mask), so the loss at step ``T`` reaches the state ``k`` steps
earlier through ``prod_j diag(1 - a) J(z~_{T-j})``, which GTF keeps bounded by design. When its 2-norm has fallen
to ~1e-3 at lag ``k``, the gradient carries no memory beyond ``k`` steps: a window longer than that adds loss terms
(data per step), not longer time scales. This benchmark measures that product on windows of the training series,
for every member of the checkpoints given (at their best validation states), and reports its median over the
windows at each lag and the lag where the median first falls below ``1e-3`` ("reach"), next to ``(1 - alpha)^k``.

Run: ``python -m benchmarks run dsr_gtf_memory --ckpt RUN/checkpoints/last.ckpt --train ecg_5d_train.npy
[--alpha 0.3] [--seq-len 200] [--windows 64] [--name NAME]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from benchmarks.dsr_common import best_members
from benchmarks.runner import benchmark_parser, positive_int
from neurops.data.series_import import load_series
from neurops.dynamics.teacher_forcing import gtf_rollout, teacher_signals
from neurops.utils.bench import markdown_table, save_results

LAGS = (1, 5, 10, 20, 30, 50, 100)
REACH = 1e-3  # a gradient factor below this carries no memory


def gradient_factors(model: torch.nn.Module, windows: torch.Tensor, alpha: float) -> np.ndarray:
    """``[W, T - 1]``: the 2-norm of ``d z~_T / d z~_{T-k}``, ``k = 1..T-1``, along GTF rollouts of ``windows :
    [W, T+1, N]`` with forcing strength ``alpha`` (``z~_T`` the last forced state of each window)."""
    with torch.no_grad():
        _, z = gtf_rollout(model, windows, alpha)  # un-forced z_1..z_T: [W, T, M]
        a = alpha * model.forcing_mask().to(z.dtype)  # [M]
        z_tilde = z + a * (teacher_signals(model, windows)[:, 1:] - z)  # forced states z~_1..z~_T
        jac = model.jacobian(z_tilde.reshape(-1, z.shape[-1])).reshape(*z.shape, z.shape[-1])  # J(z~_t)
        step = (1 - a)[:, None] * jac  # d z~_{t+1} / d z~_t: [W, T, M, M]
        prod = torch.eye(z.shape[-1], dtype=z.dtype).expand(len(windows), -1, -1)
        norms = []
        for k in range(1, z.shape[1]):
            prod = prod @ step[:, -1 - k]  # d z~_T / d z~_{T-k}
            norms.append(torch.linalg.matrix_norm(prod, ord=2))
    return torch.stack(norms, dim=1).numpy()


def reach(median: np.ndarray) -> int | None:
    """The first lag ``k`` (1-based) at which the median factor falls below :data:`REACH`; None if it never does."""
    below = np.flatnonzero(median < REACH)
    return int(below[0]) + 1 if below.size else None


def _windows(series: np.ndarray, seq_len: int, n: int) -> torch.Tensor:
    """``n`` windows ``[n, seq_len + 1, N]`` spread evenly over ``series``."""
    starts = np.linspace(0, len(series) - seq_len - 1, n).astype(int)
    return torch.as_tensor(np.stack([series[s:s + seq_len + 1] for s in starts]))


def member_rows(ckpt: Path, windows: torch.Tensor, alpha: float | None) -> list[dict]:
    """One row per member of ``ckpt``: the median factor at each of :data:`LAGS` and the reach."""
    models, labels, hparams = best_members(ckpt)
    if alpha is None:
        if hparams.get("training") != "gtf" or hparams.get("alpha_end") is not None:
            how = (f"alpha annealed from {hparams['alpha']:g} to {hparams['alpha_end']:g}"
                   if hparams.get("training") == "gtf" else repr(hparams.get("training")))
            raise ValueError(f"{ckpt} was trained with {how}, not a fixed alpha; pass --alpha")
        alpha = float(hparams["alpha"])
    rows = []
    for label, model in zip(labels, models, strict=True):
        median = np.median(gradient_factors(model, windows, alpha), axis=0)
        rows.append({"model": label, "alpha": alpha, **{f"k={k}": float(median[k - 1]) for k in LAGS
                                                         if k <= len(median)}, "reach": reach(median)})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser(__doc__, quick=None)
    parser.add_argument("--ckpt", type=Path, nargs="+", required=True, help="checkpoints of DSR models (an ensemble: "
                        "every member at its best state)")
    parser.add_argument("--train", type=Path, required=True, help="training series, [T, N] .npy")
    parser.add_argument("--alpha", type=float, default=None, help="forcing strength (default: each checkpoint's own "
                        "fixed alpha)")
    parser.add_argument("--seq-len", type=positive_int, default=200, help="window length T~ (the GTF paper's 200)")
    parser.add_argument("--windows", type=positive_int, default=64, help="windows spread evenly over the series")
    parser.add_argument("--name", default="dsr_gtf_memory", help="results file name")
    args = parser.parse_args(argv)
    for path in (args.train, *args.ckpt):
        if not path.is_file():
            parser.error(f"no file at {path}; pass a [T, N] .npy series to --train and checkpoint files to --ckpt")
    if args.alpha is not None and not 0.0 <= args.alpha <= 1.0:
        parser.error(f"--alpha must lie in [0, 1], got {args.alpha}")
    series = load_series(args.train)  # a file that is no series: one line
    if series.ndim != 2 or not 1 < args.seq_len < len(series) or args.windows < 1:
        parser.error(f"--train must be a series [T, N] longer than --seq-len ({args.seq_len} > 1) and --windows "
                     f"at least 1; got {series.shape} and {args.windows}")
    windows = _windows(series, args.seq_len, args.windows)
    rows = []
    for ckpt in args.ckpt:
        try:
            rows += member_rows(ckpt, windows, args.alpha)
        except ValueError as err:
            parser.error(str(err))
    alphas = sorted({r["alpha"] for r in rows})
    rows += [{"model": f"(1 - alpha)^k, alpha = {a:g}", "alpha": a,
              **{f"k={k}": (1 - a) ** k for k in LAGS if k < args.seq_len},
              "reach": reach((1 - a) ** np.arange(1, args.seq_len))} for a in alphas]
    md = markdown_table(rows)
    notes = (f"\n\nMedian over {args.windows} windows of T~ = {args.seq_len} spread over `{args.train.name}` of the "
             "2-norm of d z~_T / d z~_(T-k) (the gradient's factor from the last forced state back k steps) along "
             f"each model's GTF rollout; reach: the first lag where it falls below {REACH:g} (None: not within the "
             "window). The last row is the forcing alone (a map whose Jacobians all have norm 1).\n")
    print(md + notes)
    save_results(args.name, vars(args), rows, md + notes, args.results_dir)


if __name__ == "__main__":
    main()
