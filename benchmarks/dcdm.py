"""Deep conjugate direction method against CG and multigrid-preconditioned CG, to a residual of 1e-6.

One run. Problems (node grids of ``2^k + 1`` points per side, ``u = 0`` on the boundary):

* ``poisson``: ``-Laplace u = 1`` (``a = 1``);
* ``darcy``: ``-div(a grad u) = 1`` with ``a`` in {12, 3} from a thresholded GRF (the Darcy
  generator's coefficient); every test uses a coefficient the network never saw.

Networks (:class:`neurops.models.dcdm.DCDMNet`, width 16) are trained without labels, as in
the paper, through the package's one training path (:class:`neurops.tasks.dcdm.DCDMTask` with
:class:`neurops.data.datamodule.DCDMDataModule` in a Lightning ``Trainer``), on ONE matrix per
resolution (right-hand sides from its Ritz vectors): the paper's network on the matrix it then
solves, at every training grid (64^2 and 128^2 with ``--quick``, also 256^2 without; 16^3 in
3-D). Each network is then applied unchanged to the larger grids
too -- the paper's "trained at a smaller grid, applied to a larger one"; there the Darcy
coefficient is a new one. For Darcy a second, coefficient-conditioned network (our extension:
it also sees the operator's normalised stencil, since a CNN that sees only the residual is
translation-equivariant and cannot represent the inverse of a spatially varying coefficient)
is trained on four coefficient fields no test uses. Reported per case: iterations and seconds
to ``||b - A x|| <= 1e-6 ||b||`` for CG, MG-PCG and DCDM (the training time is reported
separately).

Usage::

    python -m benchmarks run dcdm --quick   # 2-D 64^2..256^2 and 3-D 32^3, short training (a few minutes)
    python -m benchmarks run dcdm           # longer training, adds 64^3
    python -m benchmarks run dcdm --quick --dims 3 --problems poisson --grids3 33 65 --name dcdm_3d
"""

from __future__ import annotations

from functools import partial

import lightning as L
import numpy as np
import torch

from benchmarks.runner import benchmark_parser, positive_int
from neurops.data.datamodule import DCDMDataModule
from neurops.data.generators.darcy import DarcyConfig, darcy_coefficient
from neurops.data.generators.grf import gaussian_random_field
from neurops.models.dcdm import DCDMNet
from neurops.solvers.learned.dcdm import dcdm_solve
from neurops.solvers.linear.cg import pcg
from neurops.solvers.linear.diffusion import DiffusionOperator
from neurops.solvers.linear.multigrid import Multigrid
from neurops.tasks.dcdm import DCDMTask
from neurops.utils.bench import markdown_table, save_results, timed

RTOL = 1e-6


def coefficient(problem: str, nodes: int, dim: int, seed: int) -> torch.Tensor:
    """The coefficient field [1, *nodes] of a problem."""
    shape = (nodes,) * dim
    if problem == "poisson":
        return torch.ones(1, *shape, dtype=torch.float64)
    g = gaussian_random_field(shape, np.random.default_rng(seed), alpha=2.0, tau=3.0)
    return torch.as_tensor(darcy_coefficient(g, DarcyConfig(n_train=1, n_test=0)))[None]


def operator(problem: str, nodes: int, dim: int, seed: int) -> DiffusionOperator:
    return DiffusionOperator.from_coefficient(coefficient(problem, nodes, dim, seed))


def compare(problem: str, nodes: int, dim: int, net: DCDMNet, trained_at: str, seed: int, maxiter: int) -> dict:
    op = operator(problem, nodes, dim, seed)
    b = torch.ones(1, *op.shape, dtype=torch.float64)
    row: dict = {"problem": problem, "network": "conditioned" if net.condition_channels else "paper",
                 "grid": f"{nodes - 1}^{dim}", "unknowns": op.numel, "net trained at": trained_at}
    t, res = timed(lambda: pcg(op, b, rtol=RTOL, maxiter=20 * maxiter, check=False))
    row.update({"cg its": res.max_iterations, "cg s": t, "cg ok": bool(res.converged.all())})
    t, res = timed(lambda: pcg(op, b, rtol=RTOL, preconditioner=Multigrid(op), check=False))
    row.update({"mg-pcg its": res.max_iterations, "mg-pcg s": t, "mg-pcg ok": bool(res.converged.all())})
    with torch.no_grad():
        t, res = timed(lambda: dcdm_solve(op, b, net, rtol=RTOL, maxiter=maxiter, check=False))
    row.update({"dcdm its": res.max_iterations, "dcdm s": t, "dcdm ok": bool(res.converged.all()),
                "dcdm res": float(res.residual.max())})
    return row


class _Losses(L.Callback):
    """The training loss of every step."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.values.append(float(outputs["loss"]))


def train(problem: str, nodes: int, dim: int, steps: int, seed: int, num_ritz: int,
          matrices: int = 0, matrix_seed: int = 0) -> tuple[DCDMNet, dict]:
    """The paper's network on the one matrix of ``matrix_seed`` (``matrices=0``), or the coefficient-conditioned
    extension on ``matrices`` training matrices no test uses."""
    torch.manual_seed(seed)
    kwargs = dict(dim=dim, width=16, fine_blocks=2, coarse_blocks=6, condition_channels=2 * dim if matrices else 0)
    task = DCDMTask("dcdm", kwargs, optimizer=partial(torch.optim.Adam, lr=1e-3))
    if matrices:
        a = torch.cat([coefficient(problem, nodes, dim, 10_000 + seed + i) for i in range(matrices)])
    else:
        a = coefficient(problem, nodes, dim, matrix_seed)
    dm = DCDMDataModule(a, n_matrices=len(a), num_ritz=num_ritz, num_rhs=2000, batch_size=10, steps_per_epoch=steps,
                        seed=seed)
    losses = _Losses()
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[losses])
    train_seconds, _ = timed(lambda: trainer.fit(task, dm))
    info = {"problem": problem, "network": "conditioned" if matrices else "paper", "matrices": max(1, matrices),
            "dim": dim, "train grid": f"{nodes - 1}^{dim}", "steps": steps,
            "ritz vectors": dm.ritz_count, "train s": train_seconds,
            "loss first 10": float(np.mean(losses.values[:10])), "loss last 10": float(np.mean(losses.values[-10:]))}
    print(info, flush=True)
    return task.net.eval(), info


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser(__doc__, quick="short training, no 64^3 (a few minutes)")
    parser.add_argument("--threads", type=positive_int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--maxiter", type=positive_int, default=300, help="DCDM iteration cap")
    parser.add_argument("--problems", nargs="+", default=["poisson", "darcy"], choices=["poisson", "darcy"])
    parser.add_argument("--dims", nargs="+", type=int, default=[2, 3], choices=[2, 3])
    parser.add_argument("--train-grids", nargs="+", type=int, default=None,
                        help="2-D node counts to train at (default 65 129; full: 65 129 257)")
    parser.add_argument("--grids3", nargs="+", type=int, default=None, help="3-D node counts (default 33; full: 33 65)")
    parser.add_argument("--name", default="dcdm", help="results file name")
    parser.add_argument("--steps2", type=int, default=0, help="training steps, 2-D paper network (0: default)")
    parser.add_argument("--steps-cond", type=int, default=0, help="training steps, conditioned network (0: default)")
    parser.add_argument("--steps3", type=int, default=0, help="training steps, 3-D network (0: default)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    steps2, steps_cond, steps3 = (500, 1000, 200) if args.quick else (2000, 4000, 1000)
    steps2, steps_cond, steps3 = args.steps2 or steps2, args.steps_cond or steps_cond, args.steps3 or steps3
    ritz = 400 if args.quick else 1000
    grids2 = [65, 129, 257]
    train_grids2 = args.train_grids or ([65, 129] if args.quick else grids2)
    grids3 = args.grids3 or ([33] if args.quick else [33, 65])
    rows, training = [], []

    def run(problem: str, dim: int, matrices: int, steps: int, train_nodes: int, test_grids: list[int]) -> None:
        net, info = train(problem, train_nodes, dim, steps, args.seed, ritz, matrices,
                          matrix_seed=args.seed + train_nodes)
        training.append(info)
        for nodes in [n for n in test_grids if n >= train_nodes]:
            rows.append(compare(problem, nodes, dim, net, f"{train_nodes - 1}^{dim}", args.seed + nodes,
                                maxiter=args.maxiter))
            print(rows[-1], flush=True)

    if 2 in args.dims:
        setups = [(p, 0) for p in args.problems] + ([("darcy", 4)] if "darcy" in args.problems else [])
        for problem, matrices in setups:  # (problem, conditioned on N matrices; 0: the paper's network)
            for train_nodes in train_grids2:
                run(problem, 2, matrices, steps_cond if matrices else steps2, train_nodes, grids2)
    if 3 in args.dims:
        for problem in args.problems:
            run(problem, 3, 0, steps3, 17, grids3)
    cols = ["problem", "network", "grid", "net trained at", "cg its", "cg s", "mg-pcg its", "mg-pcg s", "dcdm its",
            "dcdm s", "dcdm ok", "dcdm res"]
    md = (f"Iterations and seconds to a relative residual of {RTOL:g} (f = 1, u = 0 on the boundary), torch threads = "
          f"{args.threads}; DCDM networks trained on the grid named, then applied unchanged to it and larger "
          f"grids.\n\n"
          + markdown_table(rows, cols) + "\n\nTraining (unsupervised, Ritz-vector right-hand sides; the paper's "
          "network on the matrix it solves at that grid, the conditioned one on four other coefficients):\n\n"
          + markdown_table(training, ["problem", "network", "matrices", "train grid", "steps", "ritz vectors",
                                      "train s", "loss first 10", "loss last 10"]))
    print(md)
    save_results(args.name, {**vars(args), "rtol": RTOL}, rows, md, args.results_dir, details={"training": training})


if __name__ == "__main__":
    main()
