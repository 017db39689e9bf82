"""End to end: train a DGNO on coefficient samples, observe a test solution, invert, plot.

Run from the repository root (a few minutes on a CPU with the defaults)::

    python docs/examples/dgno_inverse.py                     # trains a small DGNO first
    python docs/examples/dgno_inverse.py --ckpt my_dgno.ckpt --data my_test.h5

Writes ``runs/dgno_inverse/{obs.h5, posterior.h5, posterior.png}``. The figure shows, for the
coefficient ``a`` and the solution ``u``: the truth (with the observation points), the
posterior mean, the posterior standard deviation and the absolute error of the mean.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import lightning as L
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from neurops.data.generators.darcy import DarcyConfig, generate_darcy  # noqa: E402
from neurops.inverse import (InversionConfig, invert, load_dgno, observations_from_file,  # noqa: E402
                             write_observations, write_posterior)
from neurops.tasks.generative import GenerativeDataModule, GenerativeOperatorTask  # noqa: E402
from neurops.utils.seeding import seed_everything  # noqa: E402

OUT = Path("runs/dgno_inverse")
DARCY = dict(resolution=29, coefficient="piecewise", a_high=10.0, a_low=5.0, forcing=10.0, fine_factor=4)


def train_small_dgno(epochs: int) -> tuple[Path, Path]:
    """Coefficient-only training set, labelled test set and a briefly trained DGNO checkpoint."""
    coef = generate_darcy(DarcyConfig(n_train=400, n_val=0, n_test=0, unlabelled=True, seed=0, **DARCY),
                          OUT / "coef.h5", overwrite=True)
    test = generate_darcy(DarcyConfig(n_train=1, n_val=0, n_test=10, seed=1, **DARCY), OUT / "test.h5",
                          overwrite=True)
    seed_everything(0)
    task = GenerativeOperatorTask(model_kwargs=dict(latent_dim=128, width=100, depth=5), n_quad_per_axis=5,
                                  lr=1e-3, step_size=max(1, epochs // 2))
    trainer = L.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, default_root_dir=OUT)
    trainer.fit(task, GenerativeDataModule(coef, test, val_split=None))
    trainer.save_checkpoint(OUT / "dgno.ckpt")
    return OUT / "dgno.ckpt", test


def plot(result, obs, path: Path) -> None:
    fig, axes = plt.subplots(2, 4, figsize=(13, 6), constrained_layout=True)
    extent = (0, 1, 0, 1)
    for row, name in enumerate(("a", "u")):
        truth, mean, std = obs.truth[name], result.fields[f"{name}_mean"], result.fields[f"{name}_std"]
        panels = [(truth, f"true {name}"), (mean, f"posterior mean of {name}"), (std, f"posterior std of {name}"),
                  (abs(mean - truth), f"|mean - truth| of {name}")]
        for ax, (field, title) in zip(axes[row], panels):
            im = ax.imshow(field.T, origin="lower", extent=extent, cmap="viridis")
            ax.set_title(title)
            fig.colorbar(im, ax=ax, shrink=0.8)
        if name == "u":
            axes[row, 0].scatter(obs.points[:, 0], obs.points[:, 1], s=6, c="red", label="observed")
    m = result.metrics
    fig.suptitle(f"{len(obs.values)} observations, {obs.snr_db:g} dB: rel. L2 a {m['rel_l2_a']:.3f}, "
                 f"u {m['rel_l2_u']:.3f}; 95% coverage a {m['coverage_a']:.2f}, u {m['coverage_u']:.2f}")
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", type=Path, help="trained DGNO checkpoint (default: train a small one)")
    p.add_argument("--data", type=Path, help="labelled file with a 'test' split (needed with --ckpt)")
    p.add_argument("--index", type=int, default=0, help="test sample to observe")
    p.add_argument("--n-obs", type=int, default=100)
    p.add_argument("--snr-db", type=float, default=25.0)
    p.add_argument("--epochs", type=int, default=40, help="training epochs when no --ckpt is given")
    args = p.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    ckpt, data = (args.ckpt, args.data) if args.ckpt else train_small_dgno(args.epochs)

    # 1. observations of a test solution: 100 interior nodes, 25 dB noise
    obs = observations_from_file(data, "test", args.index, n_obs=args.n_obs, snr_db=args.snr_db, seed=0)
    write_observations(obs, OUT / "obs.h5", overwrite=True)
    # 2. MAP + MALA posterior in the latent space of the DGNO
    model, meta = load_dgno(ckpt)
    config = InversionConfig(map_steps=200, n_chains=4, n_burn=100, n_samples=150, thin=2, n_particles=50)
    result = invert(model, obs, config, forcing=meta.get("forcing"))
    write_posterior(result, OUT / "posterior.h5", overwrite=True)
    # 3. truth / mean / std / error
    plot(result, obs, OUT / "posterior.png")
    print({k: round(v, 4) for k, v in result.metrics.items()}, f"{result.info['seconds_total']:.1f} s")
    print(f"wrote {OUT / 'posterior.h5'} and {OUT / 'posterior.png'}")


if __name__ == "__main__":
    main()
