"""The command-line builder: options from signatures, their help and defaults, one error line per mistake."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path
from typing import Literal

import pytest

from neurops.cli.builder import Command, Group, parameter_docs, parse, parser_for, run
from neurops.errors import ConfigError


def solve(src: Path, out: Path, *, n_steps: int = 10, method: Literal["rk4", "euler"] = "rk4",
          sizes: tuple[int, ...] = (3, 5), pairs: list[tuple[str, str]] = (), rate: float | None = None,
          overwrite: bool = False, progress: bool = True) -> dict:
    """Solve something.

    Parameters
    ----------
    src : the input file.
    out : the output file.
    n_steps : time steps; the second line
        of this help.
    method, rate : the integrator and its rate.
    sizes : sizes.
    pairs : file pairs.
    overwrite : replace ``out``.
    progress : show a bar.
    """
    return dict(src=src, out=out, n_steps=n_steps, method=method, sizes=sizes, pairs=pairs, rate=rate,
                overwrite=overwrite, progress=progress)


def test_numpydoc_lines_are_the_help():
    docs = parameter_docs(solve)
    assert docs["n_steps"] == "time steps; the second line of this help."
    assert docs["method"] == docs["rate"] == "the integrator and its rate."
    assert docs["overwrite"] == "replace 'out'."


def test_numpydoc_entries_without_a_colon_are_read_too():
    def fit(alpha: float = 0.1, n_bins: int = 30) -> None:
        """Fit.

        Parameters
        ----------
        alpha
            forcing strength,
            on two lines.
        n_bins : bins per dimension.
        """

    assert parameter_docs(fit) == {"alpha": "forcing strength, on two lines.", "n_bins": "bins per dimension."}


def test_a_class_takes_the_help_of_the_fields_it_inherits():
    @dataclasses.dataclass
    class Base:
        """Base options.

        Parameters
        ----------
        n_steps : time steps.
        dt : the base's interval.
        """

        n_steps: int = 1
        dt: float = 0.1

    @dataclasses.dataclass
    class Child(Base):
        """Child options.

        Parameters
        ----------
        dt : the child's interval.
        rho : a parameter.
        """

        rho: float = 28.0

    assert parameter_docs(Child) == {"n_steps": "time steps.", "dt": "the child's interval.", "rho": "a parameter."}
    assert parameter_docs(Base)["dt"] == "the base's interval."


def _leaf_commands(node, prog):
    if isinstance(node, Command):
        yield prog, node
    else:
        for name, child in node.children().items():
            yield from _leaf_commands(child, f"{prog} {name}")


def test_every_option_of_every_command_has_its_own_help():
    """No option of a `neurops` command is helped only by its own name, and no two options of one command share
    one sentence (a docstring entry ``a, b : text`` gave both flags the same help)."""
    from neurops.cli import COMMANDS, command

    checked = 0
    for name in COMMANDS:
        for prog, leaf in _leaf_commands(command(name), f"neurops {name}"):
            parser = parser_for(leaf, prog)
            helps: dict[str, list[str]] = {}
            for action in parser._actions:
                if not action.option_strings or action.help in (None, argparse.SUPPRESS) or action.dest == "help":
                    continue
                flag = max(action.option_strings, key=len)
                text = " ".join(str(action.help).split())
                assert text.lower() != action.dest.replace("_", " "), f"{prog} {flag} has no help of its own"
                helps.setdefault(text, []).append(flag)
                checked += 1
            shared = {text: flags for text, flags in helps.items() if len(flags) > 1}
            assert not shared, f"{prog}: options share one help text: {shared}"
    assert checked > 200


def test_each_parameter_becomes_the_option_its_type_asks_for(tmp_path):
    command = Command(solve, positional=["src"], rename={"n_steps": "steps"})
    parser = parser_for(command, "neurops solve")
    values = parse(parser, ["in.h5", "--out", "o.h5", "--steps", "3", "--method", "euler", "--sizes", "7", "8",
                            "--pairs", "a", "b", "--pairs", "c", "d", "--rate", "0.5", "--overwrite",
                            "--no-progress"], "neurops solve")
    assert values == dict(src=Path("in.h5"), out=Path("o.h5"), n_steps=3, method="euler", sizes=[7, 8],
                          pairs=[["a", "b"], ["c", "d"]], rate=0.5, overwrite=True, progress=False)
    defaults = parse(parser, ["in.h5", "--out", "o.h5"], "neurops solve")
    assert (defaults["n_steps"], defaults["sizes"], defaults["rate"], defaults["progress"]) == (10, [3, 5], None, True)
    help_text = " ".join(parser.format_help().split())
    assert "--steps STEPS time steps; the second line of this help (default: 10)" in help_text
    assert "--method {rk4,euler}" in help_text and "--out OUT the output file (required)" in help_text
    recipe = tmp_path / "r.yaml"
    recipe.write_text("out: from_file.h5\nn_steps: 4\nsizes: [1]\n")
    from_file = parse(parser, ["in.h5", "--config", str(recipe), "--sizes", "2"], "neurops solve")
    assert (from_file["out"], from_file["n_steps"], from_file["sizes"]) == (Path("from_file.h5"), 4, [2])


@pytest.mark.parametrize("argv, message", [
    (["in.h5", "--out", "o", "--stpes", "3"], "neurops solve: unrecognized option --stpes; did you mean --steps? See"),
    (["in.h5", "--out", "o", "--steps", "x"], "argument --steps: invalid int value: 'x'"),
    (["in.h5", "--out", "o", "--method", "rk5"], "argument --method: invalid choice: 'rk5' (choose from 'rk4', "
                                                 "'euler')"),
    (["in.h5"], "the following arguments are required: --out"),
    ([], "the following arguments are required: src, --out"),
])
def test_a_mistake_is_one_config_error_line(argv, message):
    parser = parser_for(Command(solve, positional=["src"], rename={"n_steps": "steps"}), "neurops solve")
    with pytest.raises(ConfigError) as info:
        parse(parser, argv, "neurops solve")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_groups_select_subcommands_by_name_refuse_a_retired_option_and_name_a_sibling_option(capsys):
    def first(a: int = 1) -> int:
        print("first", a)

    def second(b: int = 2) -> int:
        print("second", b)
        return 3

    tree = Group("two tools", {"first": Command(first, help="the first"), "second": Command(second)},
                 retired={"--tool": "TOOL"})
    assert run(tree, ["first", "--a", "5"], "neurops x") == 0 and capsys.readouterr().out == "first 5\n"
    assert run(tree, ["second", "--b", "4"], "neurops x") == 3
    assert capsys.readouterr().out == "second 4\n"
    for argv in (["--b", "4", "--tool", "second"], ["second", "--tool=second"]):
        with pytest.raises(ConfigError) as info:
            run(tree, argv, "neurops x")
        assert str(info.value) == ("neurops x: --tool is gone; use `neurops x TOOL ...` with TOOL one of first, "
                                   "second; see `neurops x --help`.")
    assert capsys.readouterr().out == ""
    with pytest.raises(ConfigError, match="invalid choice: 'frist'; did you mean 'first'?"):
        run(tree, ["frist"], "neurops x")
    with pytest.raises(ConfigError, match=r"first has no option\(s\) \['b'\] \(it is an option of `neurops x "
                                          r"second`\)"):
        run(tree, ["first", "--b", "1"], "neurops x")
    assert run(tree, ["--help"], "neurops x") == 0
    assert " ".join(capsys.readouterr().out.split()) == (
        "usage: neurops x {first,second} ... two tools commands: first the first second See `neurops x COMMAND "
        "--help` for the options of a command.")


@pytest.mark.parametrize("argv", [["dsr", "evaluate"], ["data", "generate", "darcy"], ["invert", "pde"]])
def test_an_invalid_yaml_config_is_one_line_naming_the_file_and_place(argv, tmp_path, capsys):
    from neurops.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("model_kwargs: {modes: [4, 4], width: [8\n")
    assert main([*argv, "--config", str(bad)]) == 2
    assert capsys.readouterr().err == (
        f"neurops: error: neurops {' '.join(argv)}: {bad} line 1, column 38: while parsing a flow sequence, "
        "expected ',' or ']', but got '<stream end>' at line 2, column 1; fix the YAML.\n")


def _leaves(node: Command | Group, prog: str):
    if isinstance(node, Group):
        yield prog, node
        for name, child in node.children().items():
            yield from _leaves(child, f"{prog} {name}")
    else:
        yield prog, node


def test_no_help_shows_a_docstring_role_or_a_bare_role_target():
    """A Sphinx role (:data:`CONFIGS`) in a docstring behind --help is shown without its markup; one naming a
    bare name, not a dotted path of the API reference, is a placeholder a user cannot look up."""
    import inspect
    import re

    from neurops.cli import COMMANDS, command
    from neurops.cli.builder import group_help
    from neurops.cli.quickstart import CONFIGS

    for name in COMMANDS:
        for prog, node in _leaves(command(name), f"neurops {name}"):
            if isinstance(node, Group):
                text = group_help(node, prog)
                sources = []
            else:
                text = parser_for(node, prog).format_help()
                sources = [o for s in (list(node.signature) or [node.run])
                           for o in (s.__mro__[:-1] if isinstance(s, type) else [s])]
                sources += [type("D", (), {"__doc__": node.description or ""})]
            assert not re.search(r":\w+:`", text), (prog, text)
            for source in sources:
                for target in re.findall(r":\w+:`~?([^`.]+)`", inspect.getdoc(source) or ""):
                    assert not re.search(rf"\b{target}\b", text), (prog, target)
            if prog == "neurops quickstart":
                assert all(config in " ".join(text.split()) for config in CONFIGS.values())


def shift(values: list[float] = (), offset: float = 0.0, label: str = "", overwrite: bool = False) -> dict:
    """Shift values.

    Parameters
    ----------
    values : the values.
    offset : added to each.
    label : a name.
    overwrite : replace.
    """
    return dict(values=values, offset=offset, label=label, overwrite=overwrite)


@pytest.mark.parametrize("word, value", [("-1e-3", -1e-3), ("-1E3", -1e3), ("-2.5e+4", -2.5e4), ("-.5e-1", -0.05),
                                         ("-1.", -1.0), ("-1.e2", -100.0), ("-1_000.5", -1000.5), ("-7", -7.0),
                                         ("-.5", -0.5)])
def test_a_negative_number_in_any_spelling_is_a_value_not_an_option(word, value):
    """`--offset -1e-3` was "argument --offset: expected one argument" (Python 3.11's argparse takes only -1 and -.5
    for numbers); every spelling float() reads is now the value, as `--offset=-1e-3` always was, in lists too."""
    parser = parser_for(Command(shift), "neurops shift")
    assert parse(parser, ["--offset", word], "neurops shift")["offset"] == value
    assert parse(parser, [f"--offset={word}"], "neurops shift")["offset"] == value
    got = parse(parser, ["--values", word, "2", word, "--offset", word, "--overwrite"], "neurops shift")
    assert got == dict(values=[value, 2.0, value], offset=value, label="", overwrite=True)  # the flag is still one
    assert parse(parser, ["--label", word], "neurops shift")["label"] == word  # a str option takes the word as it is


@pytest.mark.parametrize("argv, message", [
    (["--offset", "-inf"], "argument --offset: invalid float value: '-inf'"),  # as --offset=-inf: not a silent inf
    (["--offset", "-nan"], "argument --offset: invalid float value: '-nan'"),
    (["--offset", "-1e-3e"], "argument --offset: expected one argument"),      # no number: an option word, as before
    (["--offset", "--overwrite"], "argument --offset: expected one argument"),  # a real option is still an option
    (["--offset", "-1e-3", "--ovrwrite"], "unrecognized option --ovrwrite; did you mean --overwrite?"),
])
def test_options_and_words_that_are_no_number_are_read_as_before(argv, message):
    parser = parser_for(Command(shift), "neurops shift")
    with pytest.raises(ConfigError) as info:
        parse(parser, argv, "neurops shift")
    assert message in str(info.value)
    if argv[1] in ("-inf", "-nan"):  # the same refusal as the `=` form
        with pytest.raises(ConfigError) as joined:
            parse(parser, [f"{argv[0]}={argv[1]}"], "neurops shift")
        assert str(joined.value) == str(info.value)


def test_every_float_option_of_every_command_takes_a_negative_number_in_scientific_notation():
    """Every builder command (data generate NAME, convert FORMAT, invert ..., dsr ..., predict, quickstart) reads
    `--opt -1e-3` as a value: what the command then says of it is its own range check, never "expected one
    argument"."""
    from neurops.cli import COMMANDS, command

    checked = 0
    for name in COMMANDS:
        for prog, leaf in _leaf_commands(command(name), f"neurops {name}"):
            parser = parser_for(leaf, prog)
            for action in parser._actions:
                hint = getattr(action, "_typehint", action.type)  # jsonargparse keeps the type hint there
                if action.option_strings and float in (hint, *typing.get_args(hint)):
                    flag = max(action.option_strings, key=len)
                    try:
                        parse(parser, [flag, "-1e-3"], prog)
                    except ConfigError as exc:  # a required option missing, not this one misread
                        assert "expected one argument" not in str(exc) and "-1e-3" not in str(exc), (prog, exc)
                    checked += 1
    assert checked > 30


def test_a_negative_viscosity_in_scientific_notation_gets_the_generators_range_error(tmp_path, capsys):
    from neurops.cli import main

    out = tmp_path / "b.h5"
    argv = ["data", "generate", "burgers", "--n-train", "2", "--n-val", "0", "--n-test", "0", "--resolution", "32",
            "--solver-resolution", "32", "--out", str(out)]
    for given in (["--nu", "-1e-3"], ["--nu=-1e-3"]):
        assert main([*argv, *given]) == 2
        assert capsys.readouterr().err.splitlines() == ["neurops: error: nu must be > 0 (viscous Burgers), got -0.001."]
    assert list(tmp_path.iterdir()) == []
