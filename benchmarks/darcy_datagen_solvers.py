"""Darcy data generation before and after the multigrid switch, in one run.

``generate_darcy`` end to end (GRF, solve, residual check, HDF5 written) with the Darcy
solver forced to its previous default at these sizes, ``solver="direct"`` (SuperLU after a
nested-dissection ordering), against ``solver="auto"``, which now solves with batched
geometric-multigrid PCG from 9,000 interior nodes on
(:func:`neurops.solvers.pde.darcy.solve_darcy`). Same samples, same seeds; samples per second
(best of ``--repeat``), and the largest difference between the two files' solutions.

Usage::

    python -m benchmarks run darcy_datagen_solvers --quick   # 65, 129, 257 nodes per side
    python -m benchmarks run darcy_datagen_solvers           # adds 421 (FNO's fine grid)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from benchmarks.runner import benchmark_parser, positive_int
from neurops.data.generators.darcy import DarcyConfig, generate_darcy
from neurops.data.reader import read_split
from neurops.utils.bench import markdown_table, save_results, timed

QUICK = {65: 16, 129: 8, 257: 4}
FULL = {65: 32, 129: 16, 257: 8, 421: 4}


def rate(config: DarcyConfig, path: Path, workers: int, repeat: int) -> float:
    best = min(timed(lambda: generate_darcy(config, path, workers=workers, progress=False, overwrite=True))[0]
               for _ in range(repeat))
    return config.n_train / best


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser(__doc__, quick="65, 129 and 257 nodes per side")
    parser.add_argument("--repeat", type=positive_int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="darcy_solvers_") as tmp:
        for nodes, n in (QUICK if args.quick else FULL).items():
            row: dict = {"grid": f"{nodes}x{nodes}", "samples": n}
            for workers in args.workers:
                for solver in ("direct", "auto"):
                    config = DarcyConfig(n_train=n, n_val=0, n_test=0, resolution=nodes, seed=0, solver=solver)
                    row[f"{solver} {workers}w [samples/s]"] = rate(config, Path(tmp) / f"{solver}{workers}.h5",
                                                                   workers, args.repeat)
                row[f"speed-up {workers}w"] = (row[f"auto {workers}w [samples/s]"]
                                               / row[f"direct {workers}w [samples/s]"])
            w = args.workers[-1]
            u_direct = read_split(Path(tmp) / f"direct{w}.h5", "train")["outputs"]["u"]
            u_auto = read_split(Path(tmp) / f"auto{w}.h5", "train")["outputs"]["u"]
            row["max |u_auto - u_direct| / max|u|"] = float(np.abs(u_auto - u_direct).max() / np.abs(u_direct).max())
            rows.append(row)
            print(row, flush=True)
    md = ("`generate_darcy` samples per second, `solver=\"direct\"` (the previous default at these sizes) against "
          "`solver=\"auto\"` (multigrid PCG from 9,000 interior nodes), same samples, residual <= 1e-10.\n\n"
          + markdown_table(rows))
    print(md)
    save_results("darcy_datagen_solvers", vars(args), rows, md, args.results_dir)


if __name__ == "__main__":
    main()
