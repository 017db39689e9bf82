"""Bad inputs on the command line: exit status 2, ONE ``neurops: error:`` line naming the cause,
no traceback, and no file changed or left behind.

Each case is ``(id, make, argv, cause)``: ``make(tmp_path)`` writes the files the case needs,
``argv`` is the command line with ``{tmp}`` standing for ``tmp_path``, and ``cause`` is a word
the error line must contain.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from neurops.cli import main
from tests.conftest import write_operator_file


def _good(tmp: Path) -> None:
    write_operator_file(tmp / "good.h5", {"train": (4, 8), "test": (2, 8)})


def _truncated(tmp: Path) -> None:
    _good(tmp)
    (tmp / "cut.h5").write_bytes((tmp / "good.h5").read_bytes()[:3000])


def _temporary(tmp: Path) -> None:
    _good(tmp)
    (tmp / ".good.h5.node1.999999.0a1b2c3d.tmp").write_bytes((tmp / "good.h5").read_bytes()[:3000])


def _text(tmp: Path) -> None:
    (tmp / "notes.h5").write_text("not data")
    (tmp / "notes.mat").write_text("name,value\na,1\n")


def _tensor(tmp: Path) -> None:
    import torch

    torch.save(torch.zeros(3, 4, 4), tmp / "fields.pt")


def _shards(tmp: Path) -> None:
    from neurops.data.generators import get_generator
    from neurops.data.shards import Shard

    spec = get_generator("darcy")
    config = spec.make_config(n_train=24, n_val=0, n_test=0, resolution=5, seed=0)
    for i in (0, 2):
        spec.generate(config, tmp / "parts" / f"p{i}.h5", workers=1, progress=False, shard=Shard(i, 3))


def _complex_field(tmp: Path) -> None:
    _good(tmp)
    with h5py.File(tmp / "good.h5", "a") as f:
        u = f["train/outputs/u"][()]
        del f["train/outputs/u"]
        f["train/outputs/u"] = u.astype(np.complex64)


def _outside_storage(tmp: Path) -> None:
    _good(tmp)
    (tmp / "secret.bin").write_bytes(np.full(4 * 8 * 8, 7.0, np.float32).tobytes())
    with h5py.File(tmp / "good.h5", "a") as f:
        del f["train/inputs/a"]
        f.create_dataset("train/inputs/a", shape=(4, 8, 8), dtype=np.float32,
                         external=[(str(tmp / "secret.bin"), 0, 4 * 8 * 8 * 4)])


def _outside_link(tmp: Path) -> None:
    _good(tmp)
    with h5py.File(tmp / "good.h5", "a") as f:
        f["leak"] = h5py.ExternalLink("/etc/hostname", "/")


CASES = [
    ("check-truncated", _truncated, ["data", "check", "{tmp}/cut.h5"], "truncated"),
    ("info-truncated", _truncated, ["data", "info", "{tmp}/cut.h5"], "truncated"),
    ("check-temporary-file", _temporary, ["data", "check", "{tmp}/.good.h5.node1.999999.0a1b2c3d.tmp"],
     "interrupted write"),
    ("info-not-hdf5", _text, ["data", "info", "{tmp}/notes.h5"], "not an HDF5 file"),
    ("check-missing", _good, ["data", "check", "{tmp}/nope.h5"], "does not exist"),
    ("info-complex-field", _complex_field, ["data", "info", "{tmp}/good.h5"], "complex64"),
    ("info-external-link", _outside_link, ["data", "info", "{tmp}/good.h5"], "external link"),
    ("predict-external-storage", _outside_storage,
     ["predict", "--ckpt", "{tmp}/none.ckpt", "--data", "{tmp}/good.h5", "--out", "{tmp}/p.h5"], "external storage"),
    ("predict-truncated-data", _truncated,
     ["predict", "--ckpt", "{tmp}/none.ckpt", "--data", "{tmp}/cut.h5", "--out", "{tmp}/p.h5"], "truncated"),
    ("generate-negative-seed", None, ["data", "generate", "darcy", "--seed", "-1", "--out", "{tmp}/d.h5"], "seed"),
    ("generate-out-is-directory", None,
     ["data", "generate", "darcy", "--n-train", "2", "--out", "{tmp}", "--overwrite"], "directory"),
    ("generate-shard-out-of-range", None, ["data", "generate", "darcy", "--shard", "2/2", "--out", "{tmp}/d.h5"],
     "0 <= I < N"),
    ("generate-shard-not-i-of-n", None, ["data", "generate", "darcy", "--shard", "half", "--out", "{tmp}/d.h5"],
     "I/N"),
    ("generate-shard-unsupported", None,
     ["data", "generate", "lorenz63", "--shard", "0/2", "--out", "{tmp}/l.h5"], "cannot write shards"),
    ("merge-incomplete-shards", _shards, ["data", "merge", "{tmp}/parts", "--out", "{tmp}/parts/all.h5"],
     "missing"),
    ("merge-outside-the-folder", _shards,
     ["data", "merge", "{tmp}/parts/p0.h5", "--out", "{tmp}/elsewhere/all.h5"], "--copy"),
    ("convert-text-as-mat", _text,
     ["data", "convert", "{tmp}/notes.mat", "--from", "fno-mat", "--out", "{tmp}/d.h5"], "MATLAB"),
    ("convert-tensor-as-mat", _tensor,
     ["data", "convert", "{tmp}/fields.pt", "--from", "fno-mat", "--out", "{tmp}/d.h5"], "--from arrays"),
]


def _listing(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case_id, make, argv, cause", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_error_line(case_id, make, argv, cause, tmp_path, capsys):
    if make is not None:
        make(tmp_path)
    before = _listing(tmp_path)
    capsys.readouterr()
    status = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2, err
    assert len(lines) == 1 and lines[0].startswith("neurops: error:"), err
    assert cause in lines[0] and "Traceback" not in err
    assert _listing(tmp_path) == before
