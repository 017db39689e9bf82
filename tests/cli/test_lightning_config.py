"""One line for the mistakes of `neurops fit|validate|test` that neurops/cli/lightning_config.py words: an invalid
YAML config, a value of the wrong type and a misspelled key of a nested class (the task's optimizer or schedule),
given on the command line or in a config file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from neurops.cli import main
from neurops.configs import resolve_config

FIT = ["fit", "--config", "darcy_fno", "--data.path", "none.h5"]  # the command line fails before the data are read
SEE = "; see `neurops fit --help`."
OPTIMIZER = ("unrecognized option --model.optimizer.weight_decai: torch.optim.AdamW has no option 'weight_decai'; "
             "did you mean --model.optimizer.weight_decay? Valid: ['amsgrad', 'betas', ")
SCHEDULE = ("unrecognized option --model.lr_scheduler.evrey: neurops.tasks.schedules.StepDecay has no option 'evrey'; "
            "did you mean --model.lr_scheduler.every? Valid: ['every', 'gamma']. See `neurops fit --help`.")


def _error_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.removesuffix("\n")


@pytest.mark.parametrize("args, line", [
    (["--model.optimizer.init_args.lr", "abc"], f"argument --model.optimizer.lr: invalid float value: 'abc'{SEE}"),
    (["--model.optimizer.init_args.lr", "nan"], f"argument --model.optimizer.lr: invalid float value: 'nan'{SEE}"),
    (["--model.optimizer.init_args.weight_decay", "x"],
     f"argument --model.optimizer.weight_decay: invalid float value: 'x'{SEE}"),
    (["--model.optimizer.init_args.weight_decai", "0.1"], OPTIMIZER),
    (["--model.lr_scheduler.init_args.evrey", "0.3"], SCHEDULE),
])
def test_a_wrong_optimizer_or_schedule_option_is_one_line(args, line, capsys):
    assert _error_line([*FIT, *args], capsys).startswith(f"neurops: error: neurops fit: {line}")


@pytest.mark.parametrize("section, old, new, line", [
    ("optimizer", "weight_decay", "weight_decai", OPTIMIZER),
    ("lr_scheduler", "every", "evrey", SCHEDULE),
])
def test_a_misspelled_optimizer_or_schedule_key_in_a_config_names_its_class(section, old, new, line, tmp_path,
                                                                            capsys):
    cfg = yaml.safe_load(resolve_config("darcy_fno").read_text())
    init_args = cfg["model"]["init_args"][section]["init_args"]
    init_args[new] = init_args.pop(old)
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert _error_line(["fit", "--config", str(path), "--data.path", "none.h5"], capsys).startswith(
        f"neurops: error: neurops fit: {line}")


def test_an_invalid_yaml_config_is_one_line_naming_the_file_and_place(tmp_path: Path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  init_args:\n    model_kwargs: {modes: [4, 4], width: [8\n")
    assert _error_line(["fit", "--config", "darcy_fno", "--config", str(bad)], capsys) == (
        f"neurops: error: {bad} line 3, column 42: while parsing a flow sequence, expected ',' or ']', but got "
        "'<stream end>' at line 4, column 1; fix the YAML.")
