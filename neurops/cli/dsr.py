"""``neurops dsr fit|evaluate|analyze``: dynamical-systems reconstruction from the command line.

* ``neurops dsr fit ...`` is ``neurops fit ...``: it trains a :class:`~neurops.tasks.dynamics.DynamicsTask`
  from a LightningCLI config such as ``dsr_lorenz63`` (its callbacks keep ``best.ckpt``, the lowest
  ``val/d_stsp``, and ``last.ckpt``, the final state, in ``<run folder>/checkpoints``).
* ``neurops dsr evaluate --ckpt CKPT [CKPT ...] --data FILE.h5`` prints D_stsp, D_H, PE(20)
  and lambda_max of the models from several initial conditions, the orbits' verdict and
  the data's own values (:mod:`neurops.dynamics.evaluate`).
* ``neurops dsr analyze --ckpt CKPT [--data FILE.h5] [--out DIR]`` prints the regions,
  fixed points and cycles of the model and writes figures (attractor, power spectra,
  symbolic graph) and ``analysis.json`` (:mod:`neurops.cli.analysis`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from neurops.cli.analysis import analyze_checkpoint
from neurops.cli.builder import Command, Group
from neurops.dynamics.evaluate import EvaluationSettings, evaluate_checkpoints
from neurops.errors import ConfigError, OutputExistsError
from neurops.utils.io import check_output_path


# -- after fit -----------------------------------------------------------------------------------
def evaluate_hint(ckpt: str | Path, data: str | Path) -> str:
    """The command that evaluates ``ckpt`` on held-out data: the file's ``test`` split, never used in training."""
    from neurops.data.reader import list_splits

    if "test" in list_splits(data):
        return (f"evaluate it on the held-out test split (not seen in training or checkpoint selection): "
                f"neurops dsr evaluate --ckpt {ckpt} --data {data} --split test")
    return (f"{data} has no test split: evaluate on held-out data, e.g. neurops dsr evaluate --ckpt {ckpt} "
            "--data HELD_OUT.h5 --split test")


# -- evaluate -----------------------------------------------------------------------------------
def evaluate(ckpts: list[str], data: str, split: str = "test", reference_split: str | None = "train",
             member_state: Literal["best", "final"] = "best", json: Path | None = None, overwrite: bool = False,
             **settings: Any) -> int:
    """Print (and with ``json`` write) the evaluation of :func:`~neurops.dynamics.evaluate.evaluate_checkpoints`.

    Parameters
    ----------
    json : also write the numbers to this JSON file.
    overwrite : replace an existing ``json`` file.
    """
    from neurops.dynamics.evaluate import format_evaluation, write_json

    if json and Path(json).is_dir():  # refuse before the work, not after
        raise ConfigError(f"--json {json} is a folder; give a file name (e.g. {Path(json) / 'eval.json'}).")
    if json and Path(json).exists() and not overwrite:
        raise OutputExistsError(f"{json} already exists; pass --overwrite to replace it or choose another file.")
    if json:  # never one of the files read, even with --overwrite
        check_output_path(json, overwrite=True, inputs=[data, *ckpts])
    res = evaluate_checkpoints(ckpts, data, split=split, reference_split=reference_split,
                               settings=EvaluationSettings(**settings), member_state=member_state)
    print(format_evaluation(res))
    if json:
        write_json(res, json, overwrite=overwrite)
    return 0


# -- analyze ------------------------------------------------------------------------------------
def _analyze(**options: Any) -> int:
    from neurops.dynamics.analyze import format_analysis

    print(format_analysis(analyze_checkpoint(**options)))
    return 0


COMMAND = Group(
    "dynamical-systems reconstruction (fit / evaluate / analyze)",
    {"evaluate": Command(evaluate, signature=[evaluate_checkpoints, EvaluationSettings, evaluate],
                         skip=["settings"], rename={"ckpts": "ckpt", "n_bins": "bins"},
                         types={"ckpts": list[Path]},
                         help="D_stsp, D_H, PE(n), lambda_max and the orbit's verdict of checkpoints",
                         description="Evaluate DSR checkpoints on a held-out split: several initial conditions, "
                         "the data's own values, the orbits' spread and a verdict (bounded, collapsed to a fixed "
                         "point, diverged). Several checkpoints (the members of a seed study) get a summary over "
                         "the models. Metric defaults are the papers'."),
     "analyze": Command(_analyze, signature=[analyze_checkpoint],
                        help="regions, fixed points, cycles and figures of a checkpoint")},
    description="Train PLRNN-family models on time series and analyse them. `neurops dsr fit ARGS` is "
                "`neurops fit ARGS` (e.g. --config dsr_lorenz63).")


__all__ = ["COMMAND", "evaluate", "evaluate_hint"]
