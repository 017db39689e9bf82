"""jsonargparse's reports worded as one line, the same for every command."""

from __future__ import annotations

import pytest

from neurops.cli.argument_errors import one_line
from neurops.cli.builder import Command, parser_for
from tests.cli.test_builder import solve

# jsonargparse's reports, as it words them for a union-typed option and for an option of a configured class
UNION = """Parser key "trainer.max_epochs":
  Does not validate against any of the Union subtypes
  Subtypes: [<class 'int'>, <class 'NoneType'>]
  Errors:
    - Expected a <class 'int'>
    - Expected a <class 'NoneType'>
  Given value type: <class 'str'>
  Given value: x"""
NESTED = """Parser key "data":
  Does not validate against any of the Union subtypes
  Errors:
    - Problem with given class_path 'neurops.data.datamodule.OperatorDataModule':
        Parser key "batch_size":
          Expected a <class 'int'>. Got value: many
    - Expected a <class 'NoneType'>
  Given value: NestedArg(key='batch_size', val='many')"""
# a union with a generic type (``seeds: list[int] | None``): the list is named, not only null
GENERIC = """Parser key "model":
  Does not validate against any of the Union subtypes
  Subtypes: [<class 'neurops.tasks.base.Task'>, <class 'NoneType'>]
  Errors:
    - Problem with given class_path 'neurops.tasks.DynamicsTask':
        Parser key "seeds":
          Does not validate against any of the Union subtypes
          Subtypes: [list[int], <class 'NoneType'>]
          Errors:
            - Expected a <class 'int'>. Got value: True
            - Expected a <class 'NoneType'>
          Given value type: <class 'list'>
          Given value: [True, 2]
    - Expected a <class 'NoneType'>
  Given value type: <class 'jsonargparse._util.NestedArg'>
  Given value: NestedArg(key='seeds', val=[True, 2])"""
NOT_ACCEPTED = """Parser key "model":
  Errors:
    - Problem with given class_path 'neurops.tasks.OperatorTask':
        Option 'los' is not accepted
    - Expected a <class 'NoneType'>"""


@pytest.mark.parametrize("message, line", [
    ('Parser key "n_steps":\n  Expected a <class \'int\'>. Got value: x', "argument --steps: invalid int value: 'x'"),
    (UNION, "argument --trainer.max_epochs: invalid int or null value: 'x'"),
    (NESTED, "argument --data.batch_size: invalid int value: 'many'"),
    (GENERIC, "argument --model.seeds: invalid list[int] or null value: '[True, 2]'"),
    ('Parser key "method":\n  Expected a typing.Literal[\'rk4\', \'euler\']. Got value: rk5',
     "argument --method: invalid choice: 'rk5' (choose from 'rk4', 'euler')"),
    (NOT_ACCEPTED, "unrecognized option --model.los: neurops.tasks.OperatorTask has no option 'los'; did you mean "
                   "--model.loss? Valid: ['compile', 'loss', "),
    ("unrecognized arguments: --stpes 3", "unrecognized option --stpes; did you mean --steps?"),
    ("the following arguments are required: src, out", "the following arguments are required: src, --out"),
])
def test_one_line_words_every_jsonargparse_report_alike(message, line):
    parser = parser_for(Command(solve, positional=["src"], rename={"n_steps": "steps"}), "neurops solve")
    assert one_line(message, parser).startswith(line)
