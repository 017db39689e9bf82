"""Atomic writes: temporary files of killed writers are found and removed by the next write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from neurops.errors import ConfigError
from neurops.utils.io import (
    atomic_path,
    check_hdf5_name,
    check_output_folder,
    check_output_path,
    remove_stale_temporaries,
    temporary_owner,
)

WRITER = """
import sys, time
from neurops.utils.io import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_bytes(b"x" * 100_000)
    print(tmp, flush=True)
    time.sleep(60)
"""


def test_success_renames_and_failure_leaves_nothing(tmp_path):
    target = tmp_path / "out.bin"
    with atomic_path(target) as tmp:
        assert temporary_owner(tmp) == ("out.bin", temporary_owner(tmp)[1], os.getpid())
        tmp.write_bytes(b"done")
    assert target.read_bytes() == b"done"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash")
    assert target.read_bytes() == b"done" and sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_directory_and_existing_output_are_refused_before_writing(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"), atomic_path(tmp_path, overwrite=True):
        pass
    (tmp_path / "a.h5").write_text("keep")
    with pytest.raises(FileExistsError, match="--overwrite"), atomic_path(tmp_path / "a.h5", overwrite=False):
        pass
    assert (tmp_path / "a.h5").read_text() == "keep"


def test_an_output_folder_may_exist_or_not_but_not_be_a_file(tmp_path):
    assert check_output_folder(tmp_path / "new", "x writes figures") == tmp_path / "new"
    assert not (tmp_path / "new").exists()  # created by the command when it writes, not here
    assert check_output_folder(tmp_path, "x writes figures") == tmp_path
    (tmp_path / "f.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"--out .*f.txt is a file; x writes figures: give a folder path"):
        check_output_folder(tmp_path / "f.txt", "x writes figures")
    assert (tmp_path / "f.txt").read_text() == "mine"


def test_an_output_that_is_an_input_is_refused_even_with_overwrite(tmp_path):
    data = tmp_path / "data.h5"
    data.write_bytes(b"data")
    (tmp_path / "link.h5").symlink_to(data)
    for out in (data, tmp_path / "link.h5", tmp_path / "sub" / ".." / "data.h5"):
        with pytest.raises(ConfigError, match="also an input"):
            check_output_path(out, overwrite=True, inputs=[None, tmp_path / "other.h5", data])
    assert check_output_path(tmp_path / "new.h5", overwrite=False, inputs=[data]) == tmp_path / "new.h5"
    assert data.read_bytes() == b"data"


def test_an_output_whose_folder_cannot_be_written_is_refused_before_any_work(tmp_path, monkeypatch):
    # `--out obs.h5/post.h5` used to pass the checks and end, after all the work, with "[Errno 17] File exists"
    (tmp_path / "obs.h5").write_text("mine")
    for out in (tmp_path / "obs.h5" / "post.h5", tmp_path / "obs.h5" / "sub" / "post.h5"):
        with pytest.raises(ConfigError, match=rf"output {out} cannot be written: {tmp_path / 'obs.h5'} is a file, "
                                              "not a folder; choose another output path"):
            check_output_path(out, overwrite=True, hdf5=True)
    assert (tmp_path / "obs.h5").read_text() == "mine"
    writable = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: writable(p, mode) and Path(p) != tmp_path)
    with pytest.raises(ConfigError, match=f"may not write in the folder {tmp_path};"):
        check_output_path(tmp_path / "new" / "post.h5", overwrite=False)
    monkeypatch.undo()
    assert check_output_path(tmp_path / "new" / "post.h5", overwrite=False) == tmp_path / "new" / "post.h5"


def test_sigkilled_writer_leaves_a_temporary_file_that_the_next_write_removes(tmp_path):
    target = tmp_path / "data.h5"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    tmp = Path(proc.stdout.readline().strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert tmp.exists() and not target.exists() and temporary_owner(tmp)[2] == proc.pid
    live = tmp_path / f".data.h5.{temporary_owner(tmp)[1]}.{os.getpid()}.0123abcd.tmp"
    live.write_bytes(b"a write in progress in this very process")
    other_target = tmp_path / ".data.h5.h.1.00000000.tmp.tmp"  # not a temporary file of data.h5
    other_target.write_bytes(b"")
    with atomic_path(target) as new_tmp:
        assert not tmp.exists()  # the killed writer's file is gone
        new_tmp.write_bytes(b"ok")
    assert target.read_bytes() == b"ok" and live.exists() and other_target.exists()
    assert remove_stale_temporaries(target) == []


def test_temporary_names_are_recognised():
    assert temporary_owner(".x.h5.node-1.123.deadbeef.tmp") == ("x.h5", "node-1", 123)
    assert temporary_owner("x.h5") is None and temporary_owner(".x.h5.tmp") is None


def test_hdf5_outputs_must_be_named_like_hdf5_files(tmp_path) -> None:
    for name in ("a.h5", "a.HDF5", "a.hdf", "a.he5", "dir.v2/a.h5"):
        assert check_hdf5_name(tmp_path / name) == tmp_path / name
    for name, said in (("a.txt", "ends in '.txt'"), ("a", "has no suffix"), ("a.h5.bak", "ends in '.bak'")):
        with pytest.raises(ConfigError, match=f"{said}, but this command writes an HDF5 file; name it "):
            check_hdf5_name(tmp_path / name)
    with pytest.raises(ConfigError, match="name it a.h5"):
        check_output_path(tmp_path / "a.txt", overwrite=False, hdf5=True)
    assert check_output_path(tmp_path / "a.txt", overwrite=False) == tmp_path / "a.txt"  # other outputs: any name


def test_an_output_inside_an_input_folder_of_data_files_is_refused(tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "p0.h5").write_bytes(b"data")
    for out in (shards / "pred.h5", tmp_path / "sub" / ".." / "shards" / "pred.hdf5"):
        with pytest.raises(ConfigError) as err:
            check_output_path(out, overwrite=False, inputs=[shards, shards / "p0.h5"], hdf5=True)
        assert str(err.value) == (
            f"output {out} is inside the input folder {shards}, which this command reads as one data set (its *.h5 / "
            f"*.hdf5 files): the output would join that data set; write it outside the folder (e.g. "
            f"{tmp_path / out.name}).")
    # beside the folder, below it, or a file the folder reader skips (hidden, not *.h5 / *.hdf5): accepted
    for out in (tmp_path / "pred.h5", shards / "sub" / "pred.h5", shards / ".pred.h5", shards / "notes.txt"):
        assert check_output_path(out, overwrite=False, inputs=[shards]) == out
    assert sorted(p.name for p in shards.iterdir()) == ["p0.h5"]


def test_strict_json_writes_non_finite_numbers_as_null() -> None:
    import json
    import math

    import numpy as np

    from neurops.utils.io import strict_json

    def refuse(name: str) -> None:
        raise ValueError(f"non-standard JSON constant {name}")

    value = {"a": math.inf, "b": [1.5, float("nan"), {"c": -math.inf}], "d": (np.float32(np.inf), np.float64(2.0)),
             "e": np.array([1.0, np.nan]), "f": 3, "g": True, "h": None, "i": "inf"}
    text = strict_json(value, indent=2)
    assert json.loads(text, parse_constant=refuse) == {"a": None, "b": [1.5, None, {"c": None}], "d": [None, 2.0],
                                                       "e": [1.0, None], "f": 3, "g": True, "h": None, "i": "inf"}
    with pytest.raises(ValueError, match="Infinity"):  # what json.dumps wrote before
        json.loads(json.dumps(value["a"]), parse_constant=refuse)


def test_strict_json_lists_its_non_finite_numbers_and_restore_nonfinite_puts_them_back() -> None:
    import json
    import math

    import numpy as np

    from neurops.utils.io import restore_nonfinite, strict_json

    value = {"a": math.inf, "b": [1.5, float("nan"), {"c": -math.inf, "n": None}], 2: np.array([np.inf, 1.0])}
    found: list = []
    text = strict_json(value, found)
    assert json.loads(text) == {"a": None, "b": [1.5, None, {"c": None, "n": None}], "2": [None, 1.0]}
    assert found == [[["a"], "inf"], [["b", 1], "nan"], [["b", 2, "c"], "-inf"], [["2", 0], "inf"]]
    back = restore_nonfinite(json.loads(text), json.loads(strict_json(found)))
    assert json.dumps(back) == json.dumps({"a": math.inf, "b": [1.5, math.nan, {"c": -math.inf, "n": None}],
                                           "2": [math.inf, 1.0]})
    top: list = []
    assert strict_json(math.nan, top) == "null" and math.isnan(restore_nonfinite(None, top))
    for bad in ([["b", 0], "inf"], [["x"], "inf"], [["a"], "Infinity"], "ab"):
        with pytest.raises(ValueError):
            restore_nonfinite(json.loads(text), [bad])
