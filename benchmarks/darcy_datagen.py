"""Darcy data generation: neurops' generator against a plain per-sample scipy ``spsolve`` loop.

Both sides make the same samples (the same GRF draws, the same 5-point matrix from
:func:`neurops.solvers.pde.diffusion_fd.diffusion_matrix`) in one run, so the ratio measures
the solver, the process pool and the file writing, not the problem:

* ``spsolve loop``: ``for i: g = GRF; a = threshold(g); u = scipy.sparse.linalg.spsolve(A(a), 1)``
  in this process, nothing written;
* ``neurops, 1 worker`` / ``neurops, 2 workers``: ``generate_darcy`` end to end (GRF,
  ``solve_darcy``'s default path -- nested-dissection SuperLU on small grids, batched geometric
  multigrid PCG from ~9,000 interior nodes per sample -- residual check, HDF5 file written atomically).

Grids are node grids with the boundary: 65, 129, 257 nodes per axis (64^2, 128^2, 256^2
cells: the nearest sizes that nest, see ``datasets/darcy/README.md``), plus FNO's 421 in the
full run. Samples per second are the median of ``--repeat`` runs.

Usage::

    python -m benchmarks run darcy_datagen --quick     # about a minute
    python -m benchmarks run darcy_datagen             # a few minutes
"""

from __future__ import annotations

import os
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import scipy.sparse.linalg as spla

from benchmarks.runner import benchmark_parser, positive_int
from neurops.data.generators.darcy import DarcyConfig, darcy_coefficient, generate_darcy
from neurops.data.generators.grf import gaussian_random_field
from neurops.data.reader import read_split
from neurops.solvers.pde.diffusion_fd import diffusion_matrix, interior
from neurops.utils.bench import markdown_table, save_results, timed

FULL = {65: 64, 129: 32, 257: 12, 421: 6}
QUICK = {65: 16, 129: 8, 257: 4}


def spsolve_loop(config: DarcyConfig, n: int) -> np.ndarray:
    """The baseline: the same samples as ``generate_darcy``'s train split, solved one by one with spsolve."""
    r = config.resolution
    out = np.zeros((n, r, r))
    for i in range(n):
        rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(0, i)))
        a = darcy_coefficient(gaussian_random_field((r, r), rng, alpha=config.alpha, tau=config.tau), config)
        A = diffusion_matrix(a)
        interior(out[i])[...] = spla.spsolve(A, np.full(A.shape[0], config.forcing)).reshape(r - 2, r - 2)
    return out


def _median_time(fn, repeat: int) -> tuple[float, object]:
    runs = [timed(fn) for _ in range(repeat)]
    return float(np.median([t for t, _ in runs])), runs[-1][1]


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser(__doc__, quick="fewer samples and grids up to 257")
    parser.add_argument("--repeat", type=positive_int, default=3, help="runs per measurement (median)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    rows = []
    with tempfile.TemporaryDirectory(prefix="darcy_datagen_") as tmp:
        for r, n in sizes.items():
            config = DarcyConfig(n_train=n, n_val=0, n_test=0, resolution=r, seed=0)
            t_base, u_base = _median_time(partial(spsolve_loop, config, n), args.repeat)
            row = {"grid": f"{r}x{r}", "samples": n, "spsolve loop [samples/s]": n / t_base}
            for workers in (1, 2):
                path = Path(tmp) / f"d{r}_{workers}.h5"
                t, _ = _median_time(partial(generate_darcy, config, path, workers=workers, progress=False,
                                            overwrite=True), args.repeat)
                row[f"neurops {workers}w [samples/s]"] = n / t
                row[f"speed-up {workers}w"] = t_base / t
            u_ours = read_split(path, "train")["outputs"]["u"]
            row["max |u_ours - u_spsolve| / max|u|"] = float(np.abs(u_ours - u_base).max() / np.abs(u_base).max())
            rows.append(row)
            print(markdown_table([row]).splitlines()[-1], flush=True)
    table = markdown_table(rows)
    print("\n" + table)
    note = (
        "\n\nSame samples on both sides (same GRF draws and 5-point matrix, FNO piecewise 12/3, f = 1). "
        "`spsolve loop`: scipy `spsolve` per sample in one process, nothing written. `neurops Nw`: "
        "`generate_darcy` end to end with N worker processes (solve_darcy's default: SuperLU on small grids, "
        "multigrid PCG from ~9,000 interior nodes; residual <= 1e-10 checked; HDF5 written). "
        "Difference column: float32 storage. "
        f"Load average at the end: {os.getloadavg()[0]:.2f} (the CPU is shared).\n"
    )
    save_results("darcy_datagen_quick" if args.quick else "darcy_datagen", vars(args), rows, table + note,
                 args.results_dir)


if __name__ == "__main__":
    main()
