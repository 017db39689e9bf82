"""Bad inputs on the command line: exit status 2, ONE ``neurops: error:`` line naming the cause,
no traceback, and no file changed or left behind.

Each case is ``(id, make, argv, cause)``: ``make(tmp_path)`` writes the files the case needs,
``argv`` is the command line with ``{tmp}`` standing for ``tmp_path``, and ``cause`` is a word
the error line must contain.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from neurops.cli import main
from tests.conftest import write_observation_file, write_operator_file


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


def _array_pair(tmp: Path) -> None:
    np.save(tmp / "a.npy", np.ones((3, 4, 4), np.float32))
    np.save(tmp / "u.npy", np.ones((3, 4, 4), np.float32))


def _shards(tmp: Path) -> None:
    from neurops.data.generators import get_generator
    from neurops.data.shards import Shard

    spec = get_generator("darcy")
    config = spec.make_config(n_train=24, n_val=0, n_test=0, resolution=5, seed=0)
    for i in (0, 2):
        spec.generate(config, tmp / "parts" / f"p{i}.h5", workers=1, progress=False, shard=Shard(i, 3))


def _edited(edit: Callable[[h5py.File], None]) -> Callable[[Path], None]:
    """A maker writing ``good.h5`` and then changing it with ``edit(file)``."""

    def make(tmp: Path) -> None:
        _good(tmp)
        with h5py.File(tmp / "good.h5", "a") as f:
            edit(f)

    return make


def _replace(f: h5py.File, name: str, values: np.ndarray, **kwargs) -> None:
    del f[name]
    f.create_dataset(name, data=values, **kwargs)


def _retyped(dtype: type) -> Callable[[Path], None]:
    return _edited(lambda f: _replace(f, "train/outputs/u", f["train/outputs/u"][()].astype(dtype)))


def _no_samples(f: h5py.File) -> None:
    for name in ("train/inputs/a", "train/outputs/u"):
        _replace(f, name, np.zeros((0, *f[name].shape[1:]), np.float32))


def _external_storage(f: h5py.File) -> None:
    shape = f["train/outputs/u"].shape
    del f["train/outputs/u"]
    f.create_dataset("train/outputs/u", shape=shape, dtype=np.float32,
                     external=[("/etc/hostname", 0, h5py.h5f.UNLIMITED)])


def _outside_storage(tmp: Path) -> None:
    """``good.h5`` whose train inputs are stored in the raw file ``secret.bin`` (HDF5 external storage)."""
    _good(tmp)
    (tmp / "secret.bin").write_bytes(np.full(4 * 8 * 8, 7.0, np.float32).tobytes())
    with h5py.File(tmp / "good.h5", "a") as f:
        del f["train/inputs/a"]
        f.create_dataset("train/inputs/a", shape=(4, 8, 8), dtype=np.float32,
                         external=[(str(tmp / "secret.bin"), 0, 4 * 8 * 8 * 4)])


def _virtual(source: str) -> Callable[[Path], None]:
    """``good.h5`` with its train outputs a virtual data set reading ``source`` (a path as HDF5 stores it)."""

    def edit(f: h5py.File) -> None:
        layout = h5py.VirtualLayout(shape=(4, 8, 8), dtype=np.float32)
        layout[:] = h5py.VirtualSource(source, "u", shape=(4, 8, 8))
        del f["train/outputs/u"]
        f.create_virtual_dataset("train/outputs/u", layout)

    return _edited(edit)


def _one_point_grid(tmp: Path) -> None:
    _good(tmp)
    with h5py.File(tmp / "good.h5", "a") as f:
        for split in ("train", "test"):
            g = f[split]
            for name in ("inputs/a", "outputs/u"):
                _replace(f, f"{split}/{name}", g[name][:, :1, :1])
            for dim in ("x", "y"):
                _replace(f, f"{split}/coords/{dim}", g[f"coords/{dim}"][:1])
            g.attrs["resolution"] = [1, 1]


def _observations(**changes) -> Callable[[Path], None]:
    """A maker writing a hand-made observation file ``obs.h5`` (9x9 unit square) with ``changes``."""
    return lambda tmp: write_observation_file(tmp / "obs.h5", n=9, **{"values": np.array([0.01, 0.02]), **changes})


def _truncated_observations(tmp: Path) -> None:
    data = write_observation_file(tmp / "whole.h5").read_bytes()
    (tmp / "obs.h5").write_bytes(data[: len(data) // 2])


def _series(text: str) -> Callable[[Path], None]:
    return lambda tmp: (tmp / "series.csv").write_text(text)


def _trajectory(tmp: Path) -> None:
    """A measured series imported as a trajectory file ``series.h5`` (train / val / test blocks)."""
    from neurops.data.series_import import import_series

    t = np.arange(300) * 0.05
    np.save(tmp / "series.npy", np.stack([np.sin(t), np.cos(t)], axis=1))
    import_series(tmp / "series.npy", dt=0.05, out=tmp / "series.h5")


def _notes(tmp: Path) -> None:
    (tmp / "notes.json").write_text('{"mine": true}')


class _Evil:
    """Unpickling this runs a shell command that leaves a file behind (a malicious checkpoint)."""

    def __reduce__(self):
        return os.system, ("touch pwned",)


def _checkpoints(tmp: Path) -> None:
    """``good.h5``, a real operator and a DSR checkpoint, and checkpoints no one should load."""
    from tests.test_checkpoints import TASKS, save

    _good(tmp)
    torch.manual_seed(0)
    real = save(TASKS["operator"](), tmp / "fno.ckpt").read_bytes()
    save(TASKS["dynamics"](), tmp / "dsr.ckpt")
    (tmp / "notes.ckpt").write_text("my notes\n")
    (tmp / "cut.ckpt").write_bytes(real[: len(real) // 2])
    torch.save({"state_dict": {}, "hyper_parameters": {"model": _Evil()}}, tmp / "evil.ckpt")
    with open(tmp / "evil.pkl", "wb") as f:
        pickle.dump({"state_dict": _Evil()}, f)


def _no_val(tmp: Path) -> None:
    write_operator_file(tmp / "good.h5", {"train": (4, 8), "test": (2, 8)})


_complex_field = _retyped(np.complex64)
_outside_link = _edited(lambda f: f.__setitem__("leak", h5py.ExternalLink("/etc/hostname", "/")))


#: a small fit of the shipped FNO config (the data and the mistake are added by each case)
FIT = ["fit", "--config", "darcy_fno", "--trainer.max_epochs", "1", "--model.init_args.model_kwargs.modes", "[3, 3]",
       "--model.init_args.model_kwargs.width", "4"]

#: an inversion through the true solver of the observations in obs.h5
INVERT = ["invert", "pde", "--obs", "{tmp}/obs.h5", "--forcing", "1", "--out", "{tmp}/p.h5"]

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
     ["data", "convert", "fno-mat", "{tmp}/notes.mat", "--out", "{tmp}/d.h5"], "MATLAB"),
    ("convert-tensor-as-mat", _tensor,
     ["data", "convert", "fno-mat", "{tmp}/fields.pt", "--out", "{tmp}/d.h5"],
     "neurops data convert arrays"),
    # files that break the schema: every reader validates what it opens
    ("info-int32-field", _retyped(np.int32), ["data", "info", "{tmp}/good.h5"], "int32"),
    ("info-float16-field", _retyped(np.float16), ["data", "info", "{tmp}/good.h5"], "float16"),
    ("info-no-samples", _edited(_no_samples), ["data", "info", "{tmp}/good.h5"], "no samples"),
    ("info-no-dims", _edited(lambda f: f.attrs.__delitem__("dims")), ["data", "info", "{tmp}/good.h5"], "dims"),
    ("info-future-schema", _edited(lambda f: f.attrs.__setitem__("schema_version", 99)),
     ["data", "info", "{tmp}/good.h5"], "schema version 99"),
    ("info-missing-output-field", _edited(lambda f: f.__delitem__("train/outputs/u")),
     ["data", "info", "{tmp}/good.h5"], "no fields"),
    ("info-sample-count-mismatch", _edited(lambda f: _replace(f, "train/outputs/u", f["train/outputs/u"][:3])),
     ["data", "info", "{tmp}/good.h5"], "different sample counts"),
    ("info-one-point-grid", _one_point_grid, ["data", "info", "{tmp}/good.h5"], "fewer than 2 points"),
    ("info-external-storage", _edited(_external_storage), ["data", "info", "{tmp}/good.h5"], "external storage"),
    ("info-virtual-source-absolute", _virtual("/etc/hostname"), ["data", "info", "{tmp}/good.h5"], "absolute path"),
    ("info-virtual-source-outside", _virtual("../elsewhere/src.h5"), ["data", "info", "{tmp}/good.h5"],
     "outside the data set's folder"),
    ("predict-external-link", _outside_link,
     ["predict", "--ckpt", "{tmp}/none.ckpt", "--data", "{tmp}/good.h5", "--out", "{tmp}/p.h5"], "external link"),
    ("predict-virtual-source-outside", _virtual("../elsewhere/src.h5"),
     ["predict", "--ckpt", "{tmp}/none.ckpt", "--data", "{tmp}/good.h5", "--out", "{tmp}/p.h5"], "outside"),
    # nothing a user wrote is lost: an output never replaces an input, an existing output needs --overwrite
    ("predict-out-is-the-data", _good,
     ["predict", "--ckpt", "{tmp}/none.ckpt", "--data", "{tmp}/good.h5", "--out", "{tmp}/good.h5", "--overwrite"],
     "also an input"),
    ("convert-out-is-the-source", _tensor,
     ["data", "convert", "arrays", "{tmp}/fields.pt", "--out", "{tmp}/fields.pt", "--overwrite"],
     "also an input"),
    ("convert-stride-leaves-one-point", _array_pair,
     ["data", "convert", "arrays", "{tmp}/a.npy", "--outputs", "{tmp}/u.npy", "--space-stride", "4", "--out",
      "{tmp}/d.h5", "--no-progress"],
     "at least 2 points per axis"),
    ("merge-out-is-a-source", _shards,
     ["data", "merge", "{tmp}/parts/p0.h5", "--out", "{tmp}/parts/p0.h5", "--overwrite"], "also an input"),
    ("generate-workers-zero", None,  # used to be taken as 1 without a word
     ["data", "generate", "darcy", "--n-train", "2", "--workers", "0", "--out", "{tmp}/d.h5"],
     "workers must be a whole number >= 1"),
    ("generate-existing-out", _good, ["data", "generate", "darcy", "--n-train", "2", "--out", "{tmp}/good.h5"],
     "already exists"),
    ("predict-split-twice", _good,  # used to fail inside the writer: "split 'test' was already created"
     ["predict", "--ckpt", "{tmp}/none.ckpt", "--data", "{tmp}/good.h5", "--out", "{tmp}/p.h5", "--splits", "test",
      "test"], "names ['test'] more than once"),
    ("predict-batch-size-zero", _good,
     ["predict", "--ckpt", "{tmp}/none.ckpt", "--data", "{tmp}/good.h5", "--out", "{tmp}/p.h5", "--batch-size", "0"],
     "batch_size"),
    ("predict-missing-checkpoint", _good,
     ["predict", "--ckpt", "{tmp}/none.ckpt", "--data", "{tmp}/good.h5", "--out", "{tmp}/p.h5"], "does not exist"),
    # command-line mistakes: one line, with the closest valid option
    ("misspelled-option", _good, ["data", "merge", "{tmp}/good.h5", "--out", "{tmp}/m.h5", "--cpy"],
     "did you mean --copy"),
    ("unknown-command", None, ["dat", "check", "x.h5"], "invalid choice"),
    ("unknown-generator", None, ["data", "generate", "darcyy", "--out", "{tmp}/d.h5"], "invalid choice"),
    ("generate-bad-choice", None,
     ["data", "generate", "darcy", "--coefficient", "checkerboard", "--out", "{tmp}/d.h5"], "checkerboard"),
    ("generate-zero-samples", None, ["data", "generate", "darcy", "--n-train", "0", "--out", "{tmp}/d.h5"],
     "n_train"),
    ("missing-required-option", None, ["data", "convert", "arrays", "{tmp}/x.npy"], "required: --out"),
    ("convert-format-not-named", None, ["data", "convert", "{tmp}/x.npy", "--out", "{tmp}/d.h5"],
     "Choose from arrays"),
    # the retired spellings of the subcommands: one line naming the subcommand form
    ("convert-retired-from", None, ["data", "convert", "{tmp}/x.npy", "--from", "arrays", "--out", "{tmp}/d.h5"],
     "--from is gone; use `neurops data convert FORMAT ...` with FORMAT one of"),
    ("convert-retired-from-equals", None, ["data", "convert", "--from=arrays", "{tmp}/x.npy", "--out", "{tmp}/d.h5"],
     "--from is gone"),
    ("invert-retired-forward", None, ["invert", "--obs", "{tmp}/o.h5", "--forward", "pde", "--out", "{tmp}/p.h5"],
     "--forward is gone; use `neurops invert MODE ...` with MODE one of observe, pde, surrogate"),
    ("not-a-number", None, ["data", "generate", "darcy", "--n-train", "many", "--out", "{tmp}/d.h5"],
     "invalid int value"),
    ("convert-option-of-another-format", _tensor,
     ["data", "convert", "fno-mat", "{tmp}/fields.pt", "--fields", "u", "--out", "{tmp}/d.h5"],
     "has no option"),
    ("info-a-directory", None, ["data", "info", "{tmp}"], "directory"),
    ("predict-missing-data", _good,
     ["predict", "--ckpt", "{tmp}/none.ckpt", "--data", "{tmp}/none.h5", "--out", "{tmp}/p.h5"], "does not exist"),
    ("predict-out-is-a-directory", _good,
     ["predict", "--ckpt", "{tmp}/none.ckpt", "--data", "{tmp}/good.h5", "--out", "{tmp}"], "directory"),
    ("convert-missing-source", None,
     ["data", "convert", "fno-mat", "{tmp}/none.mat", "--out", "{tmp}/d.h5"], "does not exist"),
    ("generate-one-point-grid", None, ["data", "generate", "darcy", "--resolution", "1", "--out", "{tmp}/d.h5"],
     "resolution"),
    ("quickstart-unknown-option", None, ["quickstart", "--epohcs", "3"], "did you mean --epochs"),
    # measured series: one line for a CSV neurops cannot read as a series [T, N]
    ("import-series-text", _series("t,x\n0,1.5\n1,abc\n"),
     ["data", "import-series", "{tmp}/series.csv", "--dt", "0.1", "--out", "{tmp}/s.h5"], "not a number"),
    ("import-series-ragged", _series("1,2\n3\n4,5\n"),
     ["data", "import-series", "{tmp}/series.csv", "--dt", "0.1", "--out", "{tmp}/s.h5"], "values but line"),
    ("import-series-empty", _series(""),
     ["data", "import-series", "{tmp}/series.csv", "--dt", "0.1", "--out", "{tmp}/s.h5"], "no data rows"),
    ("import-series-missing", None,
     ["data", "import-series", "{tmp}/none.csv", "--dt", "0.1", "--out", "{tmp}/s.h5"], "does not exist"),
    ("import-series-no-dt", _series("1,2\n3,4\n"),
     ["data", "import-series", "{tmp}/series.csv", "--out", "{tmp}/s.h5"], "--dt"),
    # DSR evaluation
    ("dsr-evaluate-existing-json", _notes,
     ["dsr", "evaluate", "--ckpt", "{tmp}/none.ckpt", "--data", "{tmp}/d.h5", "--json", "{tmp}/notes.json"],
     "already exists"),
    ("dsr-evaluate-missing-checkpoint", _trajectory,
     ["dsr", "evaluate", "--ckpt", "{tmp}/none.ckpt", "--data", "{tmp}/series.h5"], "does not exist"),
    ("dsr-evaluate-missing-split", _trajectory,
     ["dsr", "evaluate", "--ckpt", "{tmp}/none.ckpt", "--data", "{tmp}/series.h5", "--split", "tset"], "tset"),
    ("dsr-evaluate-operator-data", _good, ["dsr", "evaluate", "--ckpt", "{tmp}/none.ckpt", "--data", "{tmp}/good.h5"],
     "trajectory file"),
    # inverse problems: observation files and options
    ("invert-obs-not-hdf5", _series("x,y,value\n"),
     ["invert", "pde", "--obs", "{tmp}/series.csv", "--forcing", "1", "--out", "{tmp}/p.h5"],
     "not an HDF5 file"),
    ("invert-obs-is-operator-data", _good,
     ["invert", "pde", "--obs", "{tmp}/good.h5", "--forcing", "1", "--out", "{tmp}/p.h5"],
     "not an observation file"),
    ("invert-obs-truncated", _truncated_observations, INVERT, "HDF5"),
    ("invert-obs-missing", None, INVERT, "does not exist"),
    ("invert-obs-dims-not-json", _observations(dims="[x, y"), INVERT, "not valid JSON"),
    ("invert-obs-unknown-dim", _observations(dims='["x", "z"]'), INVERT, "coords/z"),
    ("invert-obs-no-noise-std", _observations(noise_std=None), INVERT, "noise_std"),
    ("invert-obs-text-values", _observations(values=np.array([b"1", b"2"])), INVERT, "must be numbers"),
    ("invert-obs-outside-domain", _observations(points=np.array([[5.0, -3.0], [0.5, 0.5]])), INVERT,
     "outside the domain"),
    ("invert-no-obs", None, ["invert", "pde", "--out", "{tmp}/p.h5"], "--obs"),
    ("invert-posterior-named-txt", _observations(),
     ["invert", "pde", "--obs", "{tmp}/obs.h5", "--forcing", "1", "--out", "{tmp}/p.txt"], "name it p.h5"),
    ("invert-observe-output-is-its-input", _good,
     ["invert", "observe", "--data", "{tmp}/good.h5", "--n-obs", "4", "--out", "{tmp}/good.h5", "--overwrite"],
     "also an input"),
    ("invert-no-forward-map", _observations(), ["invert", "surrogate", "--obs", "{tmp}/obs.h5", "--out",
                                                "{tmp}/p.h5"], "--ckpt"),
    ("invert-prior-not-json", _observations(),
     ["invert", "pde", "--obs", "{tmp}/obs.h5", "--prior", "{bad", "--out", "{tmp}/p.h5"],
     "--prior is not valid JSON"),
    ("invert-unknown-prior-setting", _observations(),
     ["invert", "pde", "--obs", "{tmp}/obs.h5", "--forcing", "1", "--prior",
      '{"resolution": 9, "tua": 3}', "--out", "{tmp}/p.h5"],
     "unknown prior setting"),
    ("invert-one-chain", _observations(),
     ["invert", "pde", "--obs", "{tmp}/obs.h5", "--chains", "1", "--out", "{tmp}/p.h5"],
     "--chains must be >= 2"),
    ("invert-missing-checkpoint", _observations(),
     ["invert", "surrogate", "--obs", "{tmp}/obs.h5", "--ckpt", "{tmp}/none.ckpt", "--out", "{tmp}/p.h5"],
     "does not exist"),
    ("invert-existing-out", _observations(),
     ["invert", "pde", "--obs", "{tmp}/obs.h5", "--forcing", "1", "--out", "{tmp}/obs.h5"],
     "output {tmp}/obs.h5 is also an input of this command"),
    ("make-obs-without-data", None, ["invert", "observe", "--out", "{tmp}/o.h5"], "required: --data"),
    ("make-obs-too-many-points", _good,
     ["invert", "observe", "--data", "{tmp}/good.h5", "--n-obs", "500", "--out", "{tmp}/o.h5"],
     "n_obs must be between"),
    # neurops fit|validate|test: data and config mistakes are one line, not a jsonargparse traceback
    ("fit-missing-data", None, [*FIT, "--data.init_args.path", "{tmp}/none.h5"], "does not exist"),
    ("fit-not-hdf5", _text, [*FIT, "--data.init_args.path", "{tmp}/notes.h5"], "not an HDF5 file"),
    ("fit-truncated-data", _truncated, [*FIT, "--data.init_args.path", "{tmp}/cut.h5"], "truncated"),
    ("fit-future-schema", _edited(lambda f: f.attrs.__setitem__("schema_version", 99)),
     [*FIT, "--data.init_args.path", "{tmp}/good.h5"], "schema version 99"),
    ("fit-missing-output-field", _edited(lambda f: f.__delitem__("train/outputs/u")),
     [*FIT, "--data.init_args.path", "{tmp}/good.h5"], "no fields"),
    ("fit-sample-count-mismatch", _edited(lambda f: _replace(f, "train/outputs/u", f["train/outputs/u"][:3])),
     [*FIT, "--data.init_args.path", "{tmp}/good.h5"], "different sample counts"),
    ("fit-int32-field", _retyped(np.int32), [*FIT, "--data.init_args.path", "{tmp}/good.h5"], "int32"),
    ("fit-no-val-split", _no_val, [*FIT, "--data.init_args.path", "{tmp}/good.h5"], "val_split null"),
    ("fit-no-train-split", _edited(lambda f: f.__delitem__("train")), [*FIT, "--data.init_args.path",
                                                                      "{tmp}/good.h5"], "train"),
    ("fit-external-link", _outside_link, [*FIT, "--data.init_args.path", "{tmp}/good.h5"], "external link"),
    ("fit-too-many-modes", _good, ["fit", "--config", "darcy_fno", "--data.init_args.path", "{tmp}/good.h5",
                                   "--data.init_args.val_split", "null"], "at most [4, 5] Fourier modes"),
    ("fit-misspelled-trainer-option", _good, [*FIT, "--data.init_args.path", "{tmp}/good.h5", "--trainer.max_epocs",
                                              "2"], "did you mean --trainer.max_epochs"),
    ("fit-misspelled-task-option", _good, [*FIT, "--data.init_args.path", "{tmp}/good.h5", "--model.init_args.los",
                                           "rel_h1"], "did you mean --model.loss"),
    ("fit-not-a-number", _good, [*FIT, "--data.init_args.path", "{tmp}/good.h5", "--data.init_args.batch_size",
                                 "many"], "argument --data.batch_size: invalid int value: 'many'"),
    ("fit-negative-epochs", _good, [*FIT, "--data.init_args.path", "{tmp}/good.h5", "--trainer.max_epochs", "-3"],
     "max_epochs"),
    ("fit-batch-size-zero", _good, [*FIT, "--data.init_args.path", "{tmp}/good.h5", "--data.init_args.batch_size",
                                    "0"], "batch_size"),
    ("fit-negative-learning-rate", _good, [*FIT, "--data.init_args.path", "{tmp}/good.h5", "--data.init_args.val_split",
                                           "null", "--model.init_args.optimizer.init_args.lr", "-0.1"],
     "learning rate"),
    ("fit-unknown-config", None, ["fit", "--config", "darcy_fnoo"], "shipped config"),
    ("validate-no-val-split", _no_val, ["validate", "--config", "darcy_fno", "--data.init_args.path",
                                        "{tmp}/good.h5"], "val_split null"),
    # checkpoints: unreadable, malicious, or of another kind, for every command that reads one
    ("predict-text-checkpoint", _checkpoints,
     ["predict", "--ckpt", "{tmp}/notes.ckpt", "--data", "{tmp}/good.h5", "--out", "{tmp}/p.h5"], "checkpoint"),
    ("predict-truncated-checkpoint", _checkpoints,
     ["predict", "--ckpt", "{tmp}/cut.ckpt", "--data", "{tmp}/good.h5", "--out", "{tmp}/p.h5"], "truncated"),
    ("predict-malicious-checkpoint", _checkpoints,
     ["predict", "--ckpt", "{tmp}/evil.ckpt", "--data", "{tmp}/good.h5", "--out", "{tmp}/p.h5"], "refuses"),
    ("predict-malicious-pickle", _checkpoints,
     ["predict", "--ckpt", "{tmp}/evil.pkl", "--data", "{tmp}/good.h5", "--out", "{tmp}/p.h5"], "checkpoint"),
    ("predict-dsr-checkpoint", _checkpoints,
     ["predict", "--ckpt", "{tmp}/dsr.ckpt", "--data", "{tmp}/good.h5", "--out", "{tmp}/p.h5"], "dsr evaluate"),
    ("test-malicious-checkpoint", _checkpoints,
     ["test", "--config", "darcy_fno", "--data.init_args.path", "{tmp}/good.h5", "--ckpt_path", "{tmp}/evil.ckpt"],
     "refuses"),
    ("test-text-checkpoint", _checkpoints,
     ["test", "--config", "darcy_fno", "--data.init_args.path", "{tmp}/good.h5", "--ckpt_path", "{tmp}/notes.ckpt"],
     "checkpoint"),
    ("test-dsr-checkpoint", _checkpoints,
     ["test", "--config", "darcy_fno", "--data.init_args.path", "{tmp}/good.h5", "--ckpt_path", "{tmp}/dsr.ckpt"],
     "dynamics checkpoint"),
    ("dsr-evaluate-operator-checkpoint", lambda tmp: (_checkpoints(tmp), _trajectory(tmp)),
     ["dsr", "evaluate", "--ckpt", "{tmp}/fno.ckpt", "--data", "{tmp}/series.h5"], "operator checkpoint"),
    ("dsr-evaluate-malicious-checkpoint", lambda tmp: (_checkpoints(tmp), _trajectory(tmp)),
     ["dsr", "evaluate", "--ckpt", "{tmp}/evil.ckpt", "--data", "{tmp}/series.h5"], "refuses"),
    ("dsr-analyze-operator-checkpoint", _checkpoints, ["dsr", "analyze", "--ckpt", "{tmp}/fno.ckpt"],
     "operator checkpoint"),
    ("dsr-analyze-malicious-checkpoint", _checkpoints, ["dsr", "analyze", "--ckpt", "{tmp}/evil.ckpt"], "refuses"),
    ("dsr-analyze-operator-data", _checkpoints,
     ["dsr", "analyze", "--ckpt", "{tmp}/dsr.ckpt", "--data", "{tmp}/good.h5", "--out", "{tmp}/analysis"],
     "trajectory file"),
    # neurops writes HDF5: an output named otherwise is refused, not filled with HDF5 under a misleading name
    ("predict-output-named-txt", _checkpoints,
     ["predict", "--ckpt", "{tmp}/fno.ckpt", "--data", "{tmp}/good.h5", "--out", "{tmp}/pred.txt"],
     "output {tmp}/pred.txt ends in '.txt', but this command writes an HDF5 file; name it pred.h5"),
    ("generate-output-without-suffix", None, ["data", "generate", "lorenz63", "--n-steps", "50", "--out", "{tmp}/l63"],
     "has no suffix, but this command writes an HDF5 file; name it l63.h5"),
    ("import-series-output-named-csv", lambda tmp: np.save(tmp / "s.npy", np.ones((100, 2))),
     ["data", "import-series", "{tmp}/s.npy", "--dt", "1", "--out", "{tmp}/s.csv"], "ends in '.csv'"),
    ("merge-output-named-nc", _good, ["data", "merge", "{tmp}/good.h5", "--out", "{tmp}/m.nc"], "name it m.h5"),
    ("invert-malicious-checkpoint", lambda tmp: (_checkpoints(tmp), _observations()(tmp)),
     ["invert", "surrogate", "--obs", "{tmp}/obs.h5", "--ckpt", "{tmp}/evil.ckpt", "--out", "{tmp}/p.h5"],
     "refuses"),
]


def _listing(root: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder under ``root``."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


@pytest.mark.usefixtures("lightning_logs_to_capsys")
@pytest.mark.parametrize("case_id, make, argv, cause", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_error_line(case_id, make, argv, cause, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # what a command writes next to the user (runs/, logs) is seen too
    if make is not None:
        make(tmp_path)
    before = _listing(tmp_path)
    capsys.readouterr()
    status = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2, err
    assert len(lines) == 1 and lines[0].startswith("neurops: error:"), err
    assert cause.replace("{tmp}", str(tmp_path)) in lines[0] and "Traceback" not in err
    assert _listing(tmp_path) == before
