"""AL-RNN on Lorenz-63 (P = 2) and Roessler (P = 1): linear subregions used and fixed points vs the true system.

Brenner et al. (NeurIPS 2024) find that AL-RNNs trained with sparse teacher forcing use
the topologically minimal number of linear subregions: 3 for Lorenz-63 (P = 2) and 2 for
Roessler (P = 1), with fixed points placed like the true system's. This script generates
both data sets with the package's generators (standardised), trains an AL-RNN (M = 20)
on each with STF, and reports in one run

* the number of subregions the free-running model orbit visits (all, and those with at
  least 1 % of the time),
* its real fixed points (exhaustive over the 2^P regions) against the true system's
  fixed points, in the standardised coordinates of the data, with their stability,
* D_stsp, D_H and lambda_max on a held-out test trajectory.

Seed studies: ``--seeds 0,1,2,3,4`` trains one AL-RNN per seed in ONE run per system (an
ensemble, ``DynamicsTask(seeds=...)``) and reports every member (at its best validation state)
and how many of them use the topologically minimal number of subregions.

Run: ``python -m benchmarks run dsr_alrnn [--quick] [--seeds 0,1,2,3,4] [--systems lorenz63]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from benchmarks.dsr_common import WORK_DIR, check_run_folders, run_folder_arguments, seed_list, train
from benchmarks.runner import benchmark_parser, positive_int
from neurops.checkpoints import load
from neurops.data.generators import get_generator
from neurops.data.reader import read_meta, read_split
from neurops.dynamics.symbolic import code_label, fixed_points, orbit_codes, region_frequencies
from neurops.metrics.dsr import data_lyapunov_max, evaluate_reconstruction
from neurops.systems import Lorenz63, Roessler
from neurops.utils.bench import markdown_table, save_results

LR, LR_END, BATCH_SIZE, VAL_EVERY = 5e-3, 1e-5, 16, 10
# the AL-RNN paper's settings per system: P, tau, T~ (noise 0.05, M = 20)
SYSTEMS = {
    "lorenz63": {"system": Lorenz63(), "n_relu": 2, "tau": 16, "seq_len": 200, "dt": 0.01, "minimal": 3},
    "rossler": {"system": Roessler(), "n_relu": 1, "tau": 8, "seq_len": 300, "dt": 0.08, "minimal": 2},
}


def _kind(jacobian: np.ndarray) -> str:
    ev = np.linalg.eigvals(jacobian)
    unstable = int((ev.real > 0).sum())
    focus = bool(np.any(np.abs(ev.imag) > 1e-9))
    return f"{'saddle' if 0 < unstable < 3 else ('unstable' if unstable == 3 else 'stable')}{' focus' if focus else ''}"


def run_name(name: str, seeds: list[int]) -> str:
    """Folder name (under ``benchmarks/work/runs``) of the run training on system ``name`` with ``seeds`` (one
    ensemble run when there are several)."""
    return f"alrnn_{name}" if len(seeds) == 1 else f"alrnn_{name}_s{'-'.join(map(str, seeds))}"


def run_system(name: str, spec: dict, n_steps: int, epochs: int, batches: int, seeds: list[int],
               resume: bool = False, overwrite: bool = False) -> list[dict]:
    """Generate the system's data (seed ``seeds[0]``), train one AL-RNN per seed (one ensemble run when there are
    several) and analyse each at its best validation state; one result per seed."""
    gen = get_generator(name)
    path = WORK_DIR / f"{name}_alrnn.h5"
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    if not (resume and path.is_file()):  # a resumed run keeps its data
        gen.fn(gen.make_config(n_steps=n_steps, dt=spec["dt"], standardize=True, seed=seeds[0]), path,
               progress=False, overwrite=True)
    task = {"model": "alrnn", "model_kwargs": {"latent_dim": 20, "n_relu": spec["n_relu"]}, "training": "stf",
            "tau": spec["tau"], "input_noise": 0.05, "lr": LR, "lr_end": LR_END, "val_gen_length": 50_000}
    budget = {"epochs": epochs, "batches": batches, "seq_len": spec["seq_len"], "batch_size": BATCH_SIZE,
              "val_every": min(VAL_EVERY, epochs), "resume": resume, "overwrite": overwrite}
    if len(seeds) == 1:
        ckpt, seconds = train(run_name(name, seeds), path, task, seed=seeds[0], **budget)
        models = [load(ckpt, "dynamics")[1].net]
    else:
        ckpt, seconds = train(run_name(name, seeds), path, task, seeds=seeds, **budget)
        models = load(ckpt.with_name("last.ckpt"), "dynamics")[1].member_models("best")
    return [{"seed": seed, **analyze_member(name, spec, path, model.double()), "train_seconds": seconds}
            for seed, model in zip(seeds, models)]


def analyze_member(name: str, spec: dict, path: Path, model: torch.nn.Module) -> dict:
    """Subregions visited, real fixed points against the true system's, and the DSR metrics of one model."""
    attrs = read_meta(path).attrs()  # the root attributes, validated
    stats = attrs["parameters"]["standardization"]
    mean, std = np.asarray(stats["mean"]), np.asarray(stats["std"])
    x_test = read_split(path, "test")["states"]["x"][0].astype(np.float64)
    metrics = evaluate_reconstruction(model, x_test, dt=spec["dt"], lyapunov_steps=20_000)
    with torch.no_grad():
        z0 = model.infer_latent(torch.as_tensor(x_test[:1]))[0]
    _, codes = orbit_codes(model, z0, 20_000, transient=2000)
    unique, freq = region_frequencies(codes)
    model_fps = [fp for fp in fixed_points(model) if fp.real]
    with torch.no_grad():
        model_obs = [model.observe(torch.as_tensor(fp.points[0])).numpy() for fp in model_fps]
    system = spec["system"]
    true_std = (system.fixed_points() - mean) / std
    matches = []
    for tp, tfp in zip(true_std, system.fixed_points()):
        dists = [float(np.linalg.norm(tp - m)) for m in model_obs]
        j = int(np.argmin(dists)) if dists else -1
        matches.append({"true_fixed_point": np.round(tp, 3).tolist(), "true_kind": _kind(system.jacobian(tfp)),
                        "nearest_model_fp": None if j < 0 else np.round(model_obs[j], 3).tolist(),
                        "distance": None if j < 0 else dists[j], "model_kind": None if j < 0 else model_fps[j].kind})
    return {
        "system": name, "P": spec["n_relu"], "minimal_regions": spec["minimal"],
        "regions_visited": len(unique), "regions_visited_1pct": int((freq >= 0.01).sum()),
        "region_frequencies": {code_label(c): float(f) for c, f in zip(unique, freq)},
        "real_fixed_points": len(model_fps), "fixed_point_matches": matches,
        "lambda_max_model": metrics["lambda_max"], "lambda_max_data": data_lyapunov_max(x_test, attrs),
        "d_stsp": metrics["d_stsp"], "d_h": metrics["d_h"], "pe20": metrics["pe"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = benchmark_parser(__doc__, quick="5 epochs of 10 batches, 10 000-step series")
    parser.add_argument("--epochs", type=positive_int, default=None, help="epochs for Roessler")
    parser.add_argument("--lorenz-epochs", type=positive_int, default=None, help="epochs for Lorenz-63 (harder: more)")
    parser.add_argument("--batches", type=positive_int, default=None)
    parser.add_argument("--n-steps", type=positive_int, default=None, help="samples per generated trajectory")
    parser.add_argument("--seeds", type=seed_list, default=[0],
                        help="comma-separated seeds; several train as one ensemble run per system")
    parser.add_argument("--systems", nargs="+", choices=list(SYSTEMS), default=list(SYSTEMS),
                        help="systems to train (default: all)")
    parser.add_argument("--name", default="dsr_alrnn", help="results file name")
    run_folder_arguments(parser)
    args = parser.parse_args(argv)
    epochs = args.epochs or (5 if args.quick else 150)
    batches = args.batches or (10 if args.quick else 50)
    n_steps = args.n_steps or (10_000 if args.quick else 50_000)
    lorenz_epochs = args.lorenz_epochs or (5 if args.quick else 300)
    budget = {"lorenz63": lorenz_epochs, "rossler": epochs}
    seeds = args.seeds
    systems = {name: spec for name, spec in SYSTEMS.items() if name in args.systems}
    check_run_folders(parser, [run_name(name, seeds) for name in systems], args.resume, args.overwrite)
    results = [r for name, spec in systems.items() for r in run_system(name, spec, n_steps, budget[name], batches,
                                                                           seeds, args.resume, args.overwrite)]
    rows = [{"system": r["system"], "seed": r["seed"], "P": r["P"], "regions (minimal)": r["minimal_regions"],
             "regions visited": r["regions_visited"], "regions >= 1 %": r["regions_visited_1pct"],
             "real FPs (true)": f"{r['real_fixed_points']} ({len(r['fixed_point_matches'])})",
             "max FP distance": max((m["distance"] for m in r["fixed_point_matches"]
                                     if m["distance"] is not None), default=float("nan")),
             "D_stsp": r["d_stsp"], "D_H": r["d_h"], "lambda_max model": r["lambda_max_model"],
             "lambda_max data": r["lambda_max_data"], "train s": r["train_seconds"]} for r in results]
    table = markdown_table(rows)
    minimal = {name: sum(r["regions_visited_1pct"] == r["minimal_regions"] for r in results if r["system"] == name)
               for name in systems}
    summary = "\n\nMembers using the topologically minimal number of subregions (>= 1 % of the time): " + ", ".join(
        f"{name} {minimal[name]} of {len(seeds)}" for name in systems) + "."
    table += summary
    fp_lines = ["", "Fixed points (standardised data coordinates; nearest real model fixed point):", ""]
    fp_rows = [{"system": r["system"], "seed": r["seed"], "true": m["true_fixed_point"], "true kind": m["true_kind"],
                "model": m["nearest_model_fp"], "model kind": m["model_kind"], "distance": m["distance"]}
               for r in results for m in r["fixed_point_matches"]]
    notes = (f"\n\nAL-RNN M = 20, STF (tau 16 / 8), Gaussian input noise 0.05, RAdam lr {LR:g} -> {LR_END:g}; "
             + " / ".join(f"{budget[n]} ({n})" for n in systems) + f" epochs x {batches} batches of {BATCH_SIZE} "
             "windows of T~ = 200 / 300 (the paper's T~; it trains 2000 (Lorenz-63) / 3000 (Roessler) epochs); "
             f"data: {n_steps} samples per split, standardised, from neurops' generators, seed {seeds[0]}; model "
             f"seeds {seeds}" + (" (one ensemble run per system)" if len(seeds) > 1 else "") + ". "
             f"Checkpoint: lowest val/d_stsp (every {VAL_EVERY} epochs, 5e4-step orbit against the training split). "
             "Regions counted on a 20 000-step model orbit after 2000 transient steps.\n")
    md = table + "\n" + "\n".join(fp_lines) + markdown_table(fp_rows) + notes
    print(md)
    settings = {**vars(args), "epochs_per_system": budget, "batches_per_epoch": batches, "n_steps": n_steps}
    save_results(args.name, settings, rows, md, args.results_dir,
                 details={"minimal_members": minimal, "results": results, "fixed_points": fp_rows})


if __name__ == "__main__":
    main()
