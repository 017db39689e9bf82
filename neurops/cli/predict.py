"""``neurops predict --ckpt CKPT --data FILE.h5 --out PRED.h5``: :func:`neurops.inference.predict_file`."""

from __future__ import annotations

from typing import Any

from neurops.cli.builder import Command
from neurops.inference import predict_file


def _predict(**options: Any) -> int:
    print(f"wrote predictions to {predict_file(**options)}")
    return 0


COMMAND = Command(_predict, signature=[predict_file],
                  help="predict with a trained operator or rollout checkpoint into an HDF5 file")
