"""The one command-line builder: every non-Lightning command from the signature of the function it calls.

A :class:`Command` names the Python API functions (or config dataclasses) whose parameters are its
options and the function that runs it; :func:`parser_for` turns those parameters into a jsonargparse
parser: a parameter ``n_train: int = 1000`` becomes ``--n-train N_TRAIN`` (default shown in ``--help``,
help text from the numpydoc ``Parameters`` section or the dataclass field's ``help``), a ``bool`` a flag
(``--overwrite``; ``--no-progress`` for one that defaults to true), a sequence ``--splits A B ...``, a
``Literal`` a choice; every command also reads its options from ``--config FILE.yaml`` (keys are the
parameter names, e.g. a dataset recipe). A :class:`Group` holds subcommands (``neurops data generate
darcy``); only the module of the command that runs is imported.

Every mistake is one :class:`~neurops.errors.ConfigError` line: an unknown option with the closest valid
one ("did you mean"), a value of the wrong type, a choice that is not one, a missing argument.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import inspect
import os
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from neurops.cli.argument_errors import check_config_files, command_line_error
from neurops.errors import ConfigError

_SEQUENCES = (list, tuple, Sequence, typing.Sequence, set, frozenset)


@dataclass(frozen=True)
class Command:
    """A leaf command.

    Parameters
    ----------
    run : called with the parsed options as keyword arguments; returns the exit status (``None``: 0).
    signature : the functions or dataclasses whose parameters are the options (default: ``run``'s);
        the first one's docstring gives the description.
    help : the line ``--help`` of the parent group shows.
    positional : parameters given as positional arguments.
    skip : parameters that are not options (``run`` supplies them).
    rename : parameter -> the name of its option (without ``--``) or positional argument where the command
        line keeps another name than the function.
    types : parameter -> the type its option is parsed as, where the function's hint is not one a command
        line gives (e.g. ``list[Path]`` for a path-or-list-of-paths parameter).
    description : shown by ``--help`` (default: the first paragraph of the first signature's docstring).
    """

    run: Callable[..., int | None]
    signature: Sequence[Callable[..., Any]] = ()
    help: str = ""
    positional: Sequence[str] = ()
    skip: Sequence[str] = ()
    rename: Mapping[str, str] = field(default_factory=dict)
    types: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None


@dataclass(frozen=True)
class Group:
    """Subcommands by name; ``commands`` may be a function returning them (called only when needed).

    ``retired`` maps an option that once named the subcommand (``"--from"``) to the subcommand's name in
    the usage (``"FORMAT"``): the option is refused with one line naming the subcommand form instead.
    """

    help: str
    commands: Mapping[str, Command | Group] | Callable[[], Mapping[str, Command | Group]]
    description: str | None = None
    retired: Mapping[str, str] = field(default_factory=dict)

    def children(self) -> Mapping[str, Command | Group]:
        return self.commands() if callable(self.commands) else self.commands


# parameters -> options ------------------------------------------------------------------------
@dataclass(frozen=True)
class Parameter:
    """One option of a command: its name, type hint, default (``inspect.Parameter.empty``: required), help."""

    name: str
    hint: Any
    default: Any
    help: str = ""


def parameters(obj: Callable[..., Any]) -> list[Parameter]:
    """The keyword parameters of a function, or the fields of a dataclass, with types, defaults and help."""
    hints = typing.get_type_hints(obj)
    docs = parameter_docs(obj)
    if dataclasses.is_dataclass(obj):
        out = []
        for f in dataclasses.fields(obj):
            default = (f.default if f.default is not dataclasses.MISSING
                       else f.default_factory() if f.default_factory is not dataclasses.MISSING
                       else inspect.Parameter.empty)
            out.append(Parameter(f.name, hints[f.name], default, f.metadata.get("help") or docs.get(f.name, "")))
        return out
    return [Parameter(p.name, hints.get(p.name, Any), p.default, docs.get(p.name, ""))
            for p in inspect.signature(obj).parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"]


def parameter_docs(obj: Any) -> dict[str, str]:
    """``name -> text`` of the numpydoc ``Parameters`` section (``name : text`` or ``name : type`` + text).

    A class also takes the entries of its base classes' docstrings (its own win): the fields a
    dataclass inherits keep their help.
    """
    if isinstance(obj, type):
        docs: dict[str, str] = {}
        for cls in reversed(obj.__mro__[:-1]):  # object has no Parameters
            docs.update(_own_parameter_docs(cls.__doc__ or ""))
        return docs
    return _own_parameter_docs(inspect.getdoc(obj) or "")


def _own_parameter_docs(doc: str) -> dict[str, str]:
    doc = inspect.cleandoc(doc)
    section = re.search(r"^Parameters\n-+\n(.*?)(?:^\S[^\n]*\n-+\n|\Z)", doc, flags=re.S | re.M)
    if not section:
        return {}
    docs: dict[str, str] = {}
    names: list[str] = []
    for line in section.group(1).splitlines():
        # "name : text" (our style) or numpydoc's "name" alone with the text indented below it
        entry = re.match(r"^(\w[\w, ]*?)\s*:\s*(.*)$", line) or re.match(r"^(\w[\w, ]*?)()\s*$", line)
        if entry and not line.startswith(" "):
            names = [n.strip() for n in entry.group(1).split(",")]
            for name in names:
                docs[name] = entry.group(2).strip()
        elif line.strip() and names:
            for name in names:
                docs[name] = f"{docs[name]} {line.strip()}".strip()
    return {k: _sentence(v) for k, v in docs.items()}


def _sentence(text: str) -> str:
    """A docstring fragment as help text: no RST roles or double backquotes."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", text)
    return text.replace('``"', "'").replace('"``', "'").replace("``", "'")


def _optional(hint: Any) -> tuple[Any, bool]:
    """``(inner, True)`` for ``X | None``; ``(hint, False)`` otherwise."""
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) < len(get_args(hint)):
            return (args[0] if len(args) == 1 else Union[tuple(args)]), True  # noqa: UP007 - a runtime union
    return hint, False


def _scalar(hint: Any) -> Any:
    """The type an option's text is parsed as: ``Path`` for path-like hints, the hint itself otherwise."""
    if hint in (os.PathLike, Path) or (get_origin(hint) in (Union, types.UnionType)
                                       and any(a in (os.PathLike, Path) for a in get_args(hint))):
        return Path
    return hint


def _argument(p: Parameter, flag: str | None, default: Any) -> tuple[list[str], dict[str, Any]]:
    """``add_argument``'s flags and keyword arguments for parameter ``p`` (``flag=None``: positional)."""
    from jsonargparse import ActionYesNo

    hint, _ = _optional(p.hint)
    required = default is inspect.Parameter.empty
    kwargs: dict[str, Any] = {"help": p.help or p.name.replace("_", " ")}
    if not required:
        kwargs["default"] = default
    origin, args = get_origin(hint), get_args(hint)
    if hint is bool and flag is not None:
        kwargs["action"] = ActionYesNo(no_prefix="no-") if default is True else ActionYesNo(no_prefix=None)
    elif (origin in _SEQUENCES or hint in _SEQUENCES) and args and get_origin(args[0]) is tuple:
        kwargs.update(nargs=len(get_args(args[0])), action="append", default=None,
                      metavar=tuple(f"{p.name.upper()}_{i}" for i in range(len(get_args(args[0])))))
    elif origin in _SEQUENCES or hint in _SEQUENCES:
        kwargs.update(type=_scalar(args[0]) if args else str, nargs="+" if required else "*")
        if not required and default is not None:
            kwargs["default"] = list(default)
    else:
        kwargs["type"] = _scalar(hint)
    if flag is None:
        return [p.name], kwargs
    if required:
        kwargs["required"] = True
    if "action" not in kwargs and get_origin(hint) is not typing.Literal:
        kwargs["metavar"] = flag.upper().replace("-", "_")
    kwargs["dest"] = p.name
    return [f"--{flag}"], kwargs


#: a command-line word that is a negative number, never an option: argparse's own ``-1`` and ``-.5`` (all that
#: Python 3.11 knows), plus exponents (``-1e-3``, ``-2.5E+4``, ``-1.e3``), digit separators (``-1_000``) and the
#: spellings of infinity and NaN float() reads (``-inf``, ``-Infinity``, ``-nan``)
NEGATIVE_NUMBER = re.compile(r"^-(?:(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:e[-+]?\d[\d_]*)?|inf(?:inity)?|nan)$",
                             re.IGNORECASE)


def accept_negative_numbers(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``parser``, reading ``--nu -1e-3`` as the value ``-1e-3`` (as ``--nu=-1e-3`` is read) instead of a second option.

    argparse takes a word that starts with ``-`` for an option unless it matches the parser's private
    ``_negative_number_matcher`` (in Python 3.11 only ``-1`` and ``-.5`` forms), so ``--nu -1e-3`` was "expected
    one argument". The matcher is widened to :data:`NEGATIVE_NUMBER` on the parsers of every builder command and of
    ``neurops fit|validate|test``. It is only consulted for a word that names no option of the parser (real options
    keep winning), and argparse still treats such words as options if an option itself looks like a negative number.
    A Python without that attribute is left as it is (``--nu=-1e-3`` works everywhere; tests/cli/test_builder.py fails
    if the option form stops working).
    """
    if isinstance(getattr(parser, "_negative_number_matcher", None), re.Pattern):
        parser._negative_number_matcher = NEGATIVE_NUMBER  # type: ignore[attr-defined]
    return parser


def parser_for(command: Command, prog: str) -> Any:
    """The jsonargparse parser of ``command``: one option per parameter of its signature(s), plus ``--config``."""
    from jsonargparse import ActionConfigFile, ArgumentParser

    sources = list(command.signature) or [command.run]
    description = _sentence(command.description or _first_paragraph(sources[0]) or command.help)
    parser = accept_negative_numbers(ArgumentParser(prog=prog, description=description, exit_on_error=False,
                                                    allow_abbrev=False, formatter_class=_help_formatter()))
    parser.add_argument("--config", action=ActionConfigFile,
                        help="YAML file of options, keys as the parameters are named (e.g. n_train: 10); "
                             "options after it replace its values")
    for action in parser._actions:
        if action.dest == "print_config":  # jsonargparse's, kept working but not listed
            action.help = argparse.SUPPRESS
    seen: set[str] = set()
    for source in sources:
        for p in parameters(source):
            if p.name in seen or p.name in command.skip:
                continue
            seen.add(p.name)
            if p.name in command.types:
                p = dataclasses.replace(p, hint=command.types[p.name])
            flag = None if p.name in command.positional else command.rename.get(p.name, p.name).replace("_", "-")
            if flag is None and p.name in command.rename:
                p = dataclasses.replace(p, name=command.rename[p.name])
            flags, kwargs = _argument(p, flag, p.default)
            parser.add_argument(*flags, **kwargs)
    missing = set(command.positional) - seen
    if missing:
        raise TypeError(f"positional parameters {sorted(missing)} are not parameters of {sources}")
    return parser


def _first_paragraph(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return _sentence(doc.split("\n\n", 1)[0].replace("\n", " ")) if doc else ""


def _help_formatter() -> type:
    """jsonargparse's help formatter, showing each option's default (or that it is required), not its type."""
    from jsonargparse import DefaultHelpFormatter

    class HelpFormatter(DefaultHelpFormatter):
        def _get_help_string(self, action: Any) -> str:
            text = (action.help or "").strip().rstrip(".")
            if action.dest == "help":
                return super()._get_help_string(action)
            if action.required:
                return f"{text} (required)".strip()
            default = action.default
            if default is None or default is False or default == argparse.SUPPRESS or action.dest == "config":
                return text
            if isinstance(default, (list, tuple)):
                default = " ".join(map(str, default)) or "none"
            return f"{text} (default: {default})".strip()

    return HelpFormatter


# running ----------------------------------------------------------------------------------------
def run(tree: Command | Group, argv: Sequence[str], prog: str = "neurops") -> int:
    """Find the command ``argv`` names in ``tree``, parse its options and run it; returns the exit status."""
    node: Command | Group = tree
    argv = list(argv)
    siblings: Mapping[str, Command | Group] = {}
    while isinstance(node, Group):
        children = node.children()
        _refuse_retired(node, argv, prog)
        if not argv or argv[0] in ("-h", "--help"):
            print(group_help(node, prog))
            return 0 if argv else 2
        name = argv.pop(0)
        if name not in children:
            close = difflib.get_close_matches(name, list(children), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{prog}: invalid choice: {name!r}{hint} Choose from {', '.join(children)}; "
                              f"see `{prog} --help`.")
        siblings = {k: v for k, v in children.items() if k != name}
        node, prog = children[name], f"{prog} {name}"
    parser = parser_for(node, prog)
    try:
        values = parse(parser, argv, prog)
    except ConfigError as exc:
        raise _sibling_option(exc, argv, prog, siblings) from None
    back = {new: name for name, new in node.rename.items()}
    return int(node.run(**{back.get(k, k): v for k, v in values.items()}) or 0)


def _refuse_retired(group: Group, argv: Sequence[str], prog: str) -> None:
    """One ``ConfigError`` line for an option that once named a subcommand of ``group`` (``--from FORMAT``)."""
    for flag, name in group.retired.items():
        if any(arg == flag or arg.startswith(f"{flag}=") for arg in argv):
            raise ConfigError(f"{prog}: {flag} is gone; use `{prog} {name} ...` with {name} one of "
                              f"{', '.join(group.children())}; see `{prog} --help`.")


def _sibling_option(exc: ConfigError, argv: Sequence[str], prog: str,
                    siblings: Mapping[str, Command | Group]) -> ConfigError:
    """``exc``, or for an option that only another subcommand of the same group takes, the error that says so."""
    unknown = re.search(r"unrecognized option (\S+?)[;. ]", str(exc))
    if not unknown:
        return exc
    flag = unknown.group(1)
    parent, name = prog.rsplit(" ", 1)
    takers, dest = [], flag.lstrip("-").replace("-", "_")
    for other, sibling in siblings.items():
        if isinstance(sibling, Command):
            actions = [a for a in parser_for(sibling, f"{parent} {other}")._actions if flag in a.option_strings]
            if actions:
                takers.append(f"`{parent} {other}`")
                dest = actions[0].dest
    if not takers:
        return exc
    return ConfigError(f"{prog}: unrecognized option {flag}: {name} has no option(s) {[dest]} (it is an option of "
                       f"{', '.join(takers)}); see `{prog} --help`.")


def parse(parser: Any, argv: Sequence[str], prog: str) -> dict[str, Any]:
    """The options ``argv`` gives ``parser``, as keyword arguments; one ``ConfigError`` line for a mistake."""
    from jsonargparse import ArgumentError

    try:
        namespace = parser.parse_args(list(argv))
    except ArgumentError as exc:
        try:
            check_config_files(list(argv))  # jsonargparse's "Problems parsing config" names neither file nor fix
        except ConfigError as bad:
            raise ConfigError(f"{prog}: {bad}") from None
        raise command_line_error(str(exc), parser, prog) from None
    values = namespace.as_dict()
    values.pop("config", None)
    values.pop("__path__", None)
    return values


def group_help(group: Group, prog: str) -> str:
    """The help of a group: its description and one line per subcommand."""
    children = group.children()
    width = max((len(n) for n in children), default=0) + 2
    lines = [f"usage: {prog} {{{','.join(children)}}} ...", "", group.description or group.help, "", "commands:"]
    lines += [f"  {name:<{width}}{_sentence(child.help)}" for name, child in children.items()]
    lines += ["", f"See `{prog} COMMAND --help` for the options of a command."]
    return "\n".join(lines)


__all__ = ["NEGATIVE_NUMBER", "Command", "Group", "Parameter", "accept_negative_numbers", "parameter_docs",
           "parameters", "parser_for", "run"]
