"""Darcy finite-difference solve to a relative residual of 1e-8: our MG-PCG against pyamg and scipy.

One run, same matrices for everyone: the FNO Darcy problem ``-div(a grad u) = 1`` on (0,1)^2,
``u = 0`` on the boundary, ``a`` in {12, 3} from a thresholded Gaussian random field
(alpha = 2, tau = 3), arithmetic face means, 5-point finite differences on node grids of
``2^k + 1`` points per side (``"512^2"`` = 513 nodes, 511^2 unknowns).

Contenders, each timed with its setup (what a user pays per new coefficient field):

* ``mg-pcg``: :class:`neurops.solvers.linear.multigrid.Multigrid` (averaged coefficients, damped Jacobi
  2+2) + :func:`neurops.solvers.linear.cg.pcg`, float64;
* ``mg-pcg f32 cycle``: the same with the V-cycle in float32 (CG and the residual in float64);
* ``pyamg SA-PCG``: pyamg smoothed aggregation as a CG preconditioner (setup + solve);
* ``scipy spsolve``: SuperLU direct solve (skipped above ``--spsolve-max`` nodes per side).

Then a batch of 32 coefficient fields at 128^2: one batched MG-PCG call against a loop of
scipy ``spsolve`` (and a loop of pyamg). Every solution's true residual is checked <= 1e-8.
torch runs with ``--threads`` threads (default 1: scipy and pyamg are single-threaded).

Usage::

    python -m benchmarks run solvers_darcy --quick   # 128^2, 256^2, 512^2; about a minute
    python -m benchmarks run solvers_darcy           # adds 1024^2
"""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla
import torch

from benchmarks.runner import benchmark_parser, positive_int
from neurops.data.generators.darcy import DarcyConfig, darcy_coefficient
from neurops.data.generators.grf import gaussian_random_field
from neurops.solvers.linear.adapters import to_scipy
from neurops.solvers.linear.cg import pcg
from neurops.solvers.linear.diffusion import DiffusionOperator
from neurops.solvers.linear.multigrid import Multigrid
from neurops.utils.bench import markdown_table, save_results, timed

RTOL = 1e-8


def coefficients(nodes: int, count: int, seed: int) -> np.ndarray:
    """``count`` piecewise Darcy coefficients [count, nodes, nodes] as the Darcy generator draws them."""
    config = DarcyConfig(n_train=1, n_test=0, resolution=nodes)
    rng = np.random.default_rng(seed)
    return np.stack([darcy_coefficient(gaussian_random_field((nodes, nodes), rng, alpha=2.0, tau=3.0), config)
                     for _ in range(count)])


def best_of(fn, repeat: int):
    """Fewest seconds of ``repeat`` calls ``fn()``, and the last call's result."""
    runs = [timed(fn) for _ in range(repeat)]
    return min(t for t, _ in runs), runs[-1][1]


def ours(a: torch.Tensor, cycle_dtype: torch.dtype | None = None):
    op = DiffusionOperator.from_coefficient(a)
    b = torch.ones(a.shape[0], *op.shape, dtype=a.dtype)
    res = pcg(op, b, preconditioner=Multigrid(op, dtype=cycle_dtype), rtol=RTOL)
    return res


def relres(mat, x: np.ndarray) -> float:
    b = np.ones(mat.shape[0])
    return float(np.linalg.norm(b - mat @ x) / np.linalg.norm(b))


def single_field(nodes: int, repeat: int, spsolve_max: int, seed: int) -> dict:
    a = torch.as_tensor(coefficients(nodes, 1, seed))
    mat = to_scipy(DiffusionOperator.from_coefficient(a))[0]
    b = np.ones(mat.shape[0])
    row: dict = {"grid": f"{nodes - 1}^2", "nodes": nodes, "unknowns": mat.shape[0]}
    t, res = best_of(lambda: ours(a), repeat)
    row.update({"mg-pcg s": t, "mg-pcg its": res.max_iterations, "mg-pcg res": float(res.residual.max())})
    t, res = best_of(lambda: ours(a, torch.float32), repeat)
    row.update({"mg-pcg f32 s": t, "mg-pcg f32 its": res.max_iterations, "mg-pcg f32 res": float(res.residual.max())})

    def amg():
        import pyamg

        hist: list[float] = []
        ml = pyamg.smoothed_aggregation_solver(mat, symmetry="symmetric")
        x = ml.solve(b, tol=RTOL, accel="cg", maxiter=500, residuals=hist)
        return x, len(hist) - 1

    t, (x, its) = best_of(amg, repeat)
    row.update({"pyamg s": t, "pyamg its": its, "pyamg res": relres(mat, x)})
    if nodes <= spsolve_max:
        t, x = best_of(lambda: spla.spsolve(mat.tocsc(), b), repeat)
        row.update({"spsolve s": t, "spsolve res": relres(mat, x)})
    row["speedup vs pyamg"] = row["pyamg s"] / min(row["mg-pcg s"], row["mg-pcg f32 s"])
    return row


def batched(nodes: int, count: int, seed: int, repeat: int) -> dict:
    a = torch.as_tensor(coefficients(nodes, count, seed))
    mats = to_scipy(DiffusionOperator.from_coefficient(a))
    b = np.ones(mats[0].shape[0])
    t_ours, res = best_of(lambda: ours(a), repeat)
    t_ours32, res32 = best_of(lambda: ours(a, torch.float32), repeat)
    t_sp, xs = best_of(lambda: [spla.spsolve(m.tocsc(), b) for m in mats], repeat)

    def amg_loop():
        import pyamg

        return [pyamg.smoothed_aggregation_solver(m, symmetry="symmetric").solve(b, tol=RTOL, accel="cg")
                for m in mats]

    t_amg, xa = best_of(amg_loop, 1)
    worst = max(max(relres(m, x) for m, x in zip(mats, xs)), max(relres(m, x) for m, x in zip(mats, xa)))
    assert worst <= RTOL * 1.01 and float(res.residual.max()) <= RTOL and float(res32.residual.max()) <= RTOL
    return {"grid": f"{nodes - 1}^2", "fields": count, "mg-pcg batched s": t_ours, "mg-pcg f32 batched s": t_ours32,
            "spsolve loop s": t_sp, "pyamg loop s": t_amg, "max its": res.max_iterations,
            "speedup vs spsolve loop": t_sp / min(t_ours, t_ours32)}


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser(__doc__, quick="128^2..512^2 only (about a minute)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="torch threads (scipy/pyamg are single-threaded)")
    parser.add_argument("--repeat", type=positive_int, default=2, help="best of N timings (1 at 1024^2)")
    parser.add_argument("--spsolve-max", type=int, default=1025, help="largest grid (nodes) for spsolve")
    parser.add_argument("--batch", type=positive_int, default=32, help="coefficient fields in the batched comparison")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float64)
    sizes = [129, 257, 513] if args.quick else [129, 257, 513, 1025]
    rows = []
    for nodes in sizes:
        rows.append(single_field(nodes, 1 if nodes > 600 else args.repeat, args.spsolve_max, args.seed))
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
    for r in rows:
        for key in ("mg-pcg res", "mg-pcg f32 res", "pyamg res", "spsolve res"):
            if key in r:
                assert r[key] <= RTOL * 1.01, (r["grid"], key, r[key])
    scaling = {}
    if len(rows) >= 2:
        scaling = {"mg-pcg time ratio per 4x unknowns": [rows[i + 1]["mg-pcg s"] / rows[i]["mg-pcg s"]
                                                         for i in range(len(rows) - 1)],
                   "pyamg time ratio per 4x unknowns": [rows[i + 1]["pyamg s"] / rows[i]["pyamg s"]
                                                        for i in range(len(rows) - 1)]}
    batch = batched(129, args.batch, args.seed + 1, args.repeat)
    print(batch, flush=True)
    cols = ["grid", "unknowns", "mg-pcg s", "mg-pcg its", "mg-pcg f32 s", "pyamg s", "pyamg its", "spsolve s",
            "speedup vs pyamg"]
    md = (f"Darcy (a in {{12, 3}}, f = 1), relative residual <= {RTOL:g}, one field, setup + solve, "
          f"torch threads = {args.threads}.\n\n" + markdown_table(rows, cols)
          + "\n\nTime ratio for 4x the unknowns (next grid / this grid): mg-pcg "
          + ", ".join(f"{v:.2f}" for v in scaling.get("mg-pcg time ratio per 4x unknowns", []))
          + "; pyamg " + ", ".join(f"{v:.2f}" for v in scaling.get("pyamg time ratio per 4x unknowns", []))
          + f"\n\nBatched: {args.batch} coefficient fields at 128^2.\n\n"
          + markdown_table([batch], ["grid", "fields", "mg-pcg batched s", "mg-pcg f32 batched s", "spsolve loop s",
                                     "pyamg loop s", "max its", "speedup vs spsolve loop"]))
    print(md)
    save_results("solvers_darcy", {**vars(args), "rtol": RTOL}, rows, md, args.results_dir,
                 details={"scaling": scaling, "batched": batch})


if __name__ == "__main__":
    main()
