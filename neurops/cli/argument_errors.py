"""jsonargparse's errors as one line, in the same words for every command (built or LightningCLI).

:func:`one_line` words a report of jsonargparse (possibly multi-line, nested in the sections of a
config); :func:`command_line_error` makes it the :class:`~neurops.errors.ConfigError` of a command;
:func:`closest_option` gives the "did you mean" of an unknown option; :func:`import_class` the class
a config names by ``class_path``; :func:`yaml_problem` words a config file's YAML error and
:func:`check_config_files` finds the config file of a command line that holds one.
"""

from __future__ import annotations

import difflib
import importlib
import re
from pathlib import Path
from typing import Any

import yaml

from neurops.errors import ConfigError


def command_line_error(message: str, parser: Any, prog: str) -> ConfigError:
    """The ``ConfigError`` of a command line ``parser`` refused with jsonargparse's ``message``."""
    text = one_line(message, parser)
    text = text.rstrip(".")
    if text.startswith("unrecognized option"):  # after its "did you mean --x?" or as a sentence of its own
        end = f" See `{prog} --help`." if text.endswith("?") else f". See `{prog} --help`."
    else:
        end = f"; see `{prog} --help`."
    return ConfigError(f"{prog}: {text}{end}")


def _flag(parser: Any, dest: str) -> str:
    """The option string of ``dest`` (``--n-train``), ``dest`` itself for a positional, ``--dest`` without one."""
    for action in getattr(parser, "_actions", ()):
        if action.dest == dest:
            return action.option_strings[0] if action.option_strings else dest
    return f"--{dest}"


def closest_option(flag: str, parser: Any) -> str:
    """``"; did you mean --x?"`` for the long option of ``parser`` closest to ``flag``, or ``""``."""
    options = [s for action in parser._actions for s in action.option_strings if s.startswith("--")]
    close = difflib.get_close_matches(flag, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def import_class(class_path: str, where: Path) -> type:
    """The class a config names by ``class_path``; a ``ConfigError`` naming ``where`` if it cannot be imported."""
    module_name, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"{where}: class_path {class_path!r} cannot be imported ({exc}).") from exc


#: lines of jsonargparse's report on a union type that say nothing about the mistake
_UNION_NOISE = ("Does not validate against any of the Union subtypes", "Subtypes:", "Errors:", "Given value type:")


def one_line(message: str, parser: Any = None) -> str:
    """jsonargparse's (possibly multi-line, nested) error ``message`` as one line in argparse's words.

    The one wording of every command: an unknown option with the closest option of ``parser``
    ("did you mean"), missing arguments by their flags, a value of the wrong type or not one of the
    choices, an option a configured class (``class_path``) does not take with its valid ones.
    ``parser`` (``None``: not known) gives the flags of parameters.
    """
    unknown = re.match(r"unrecognized arguments: (.*)", message)
    if unknown:
        extras = unknown.group(1).split()
        flags = [e.split("=", 1)[0] for e in extras if e.startswith("-")]
        if not flags:
            return f"unrecognized argument(s) {' '.join(extras)}"
        return f"unrecognized option {flags[0]}" + (closest_option(flags[0], parser) if parser else "")
    required = re.match(r"the following arguments are required: (.*)", message)
    if required:
        names = [_flag(parser, name.strip()) for name in required.group(1).split(",")]
        return f"the following arguments are required: {', '.join(names)}"
    key = ".".join(dict.fromkeys(re.findall(r'Parser key "([^"]+)"', message)))  # nested sections: data.batch_size
    option = re.search(r"Option '([^']+)' is not accepted.*", message)
    if key and option and re.search(r"class_path[= ]'", message[:option.end()]):
        return _not_accepted(message, option)
    block = _innermost(message)
    union = re.search(r"^\s*Subtypes: \[(.*)\]$", block, re.M)  # all types of the union, not only those tried
    expected = _top_level(union.group(1)) if union else re.findall(
        r"Expected a (typing\.Literal\[.*?\]|<class '[^']+'>)", block)
    expected = [name for name in expected if "'torch." not in name] or expected  # a tensor is no command line value
    given = re.search(r"Given value: (.*)", block) or re.search(r"Got value: (.*)", block)
    if key and expected and given:
        flag, value = _flag(parser, key), given.group(1).split(". Got value: ")[0].strip()
        literals = [m.group(1) for name in expected if (m := re.match(r"typing\.Literal\[(.*)\]$", name))]
        nullable = "<class 'NoneType'>" in expected
        if literals and len(literals) + nullable == len(expected):
            listed = ", ".join(literals + ["null"] * nullable)
            return f"argument {flag}: invalid choice: {value!r} (choose from {listed})"
        wanted = " or ".join(dict.fromkeys(re.sub(r"<class '(?:\w+\.)*(\w+)'>", r"\1", name).replace("NoneType", "null")
                                           for name in expected))
        return f"argument {flag}: invalid {wanted} value: {value!r}"
    lines = [line.strip().lstrip("- ").strip() for line in message.splitlines()]
    text = "; ".join(line for line in lines if line and not line.startswith(_UNION_NOISE))
    return text if len(text) <= 400 else text[:397] + "..."


def _top_level(items: str) -> list[str]:
    """The comma-separated items of ``items`` outside brackets: a union's subtypes, generic ones included
    (``list[int], <class 'NoneType'>``: the list type of ``seeds: list[int] | None`` too, not only null)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(items):
        depth += (char == "[") - (char == "]")
        if char == "," and depth == 0:
            parts.append(items[start:i])
            start = i + 1
    return [part.strip() for part in [*parts, items[start:]] if part.strip()]


def _innermost(message: str) -> str:
    """The lines of a nested jsonargparse report about its innermost ``Parser key "x":`` (that line's rest and
    the lines indented below it), without the reports of the sections around it; the whole report if none."""
    keys = list(re.finditer(r'Parser key "[^"]+":', message))
    if not keys:
        return message
    line = message[message.rfind("\n", 0, keys[-1].start()) + 1:]
    indent = len(line) - len(line.lstrip(" "))
    first, *rest = message[keys[-1].end():].split("\n")
    block = [first]
    for line in rest:
        if line.strip() and len(line) - len(line.lstrip(" ")) <= indent:
            break
        block.append(line)
    return "\n".join(block)


def _not_accepted(message: str, option: re.Match[str]) -> str:
    """An option the innermost configured class (the optimizer of a task, ...) does not take, with its valid ones:
    the class is the last ``class_path`` named up to the end of the line that refuses the option."""
    from neurops.utils.signature import init_parameters  # neurops.utils imports torch

    name = option.group(1)
    key = ".".join(dict.fromkeys(re.findall(r'Parser key "([^"]+)"', message[:option.start()])))
    class_path = re.findall(r"class_path[= ]'([^']+)'", message[:option.end()])[-1]
    valid = init_parameters(import_class(class_path, Path("config")))
    line = message[message.rfind("\n", 0, option.start()) + 1:option.start()]
    if "expects a function or a callable class" in line:  # a callable (optimizer, scheduler): the task gives the
        valid = valid[1:]  # first argument (the parameters, the optimizer)
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"; did you mean --{key}.{close[0]}?" if close else ""
    return f"unrecognized option --{key}.{name}: {class_path} has no option {name!r}{hint} Valid: {sorted(valid)}."


def yaml_problem(path: str | Path, exc: yaml.YAMLError) -> str:
    """``FILE line L, column C: <the parser's words>; fix the YAML``: PyYAML's multi-line report as one line,
    at the construct it was reading (an unclosed ``[``) and, if elsewhere, where it found the problem."""
    context, problem = getattr(exc, "context_mark", None), getattr(exc, "problem_mark", None)
    words = ", ".join(w for w in (getattr(exc, "context", None), getattr(exc, "problem", None)) if w)
    if not words or not (context or problem):
        return f"{path} is not valid YAML: {' '.join(str(exc).split())}; fix the YAML."
    at = context or problem
    text = f"{path} line {at.line + 1}, column {at.column + 1}: {words}"
    if context and problem and (problem.line, problem.column) != (context.line, context.column):
        text += f" at line {problem.line + 1}, column {problem.column + 1}"
    return f"{text}; fix the YAML."


def check_config_files(argv: list[str]) -> None:
    """Raise a ``ConfigError`` (:func:`yaml_problem`) for the first ``--config FILE`` of ``argv`` that is no valid
    YAML; the files that are, and values that name no file, are left to the parser."""
    files = [b for a, b in zip(argv, argv[1:]) if a in ("--config", "-c")]
    files += [a.split("=", 1)[1] for a in argv if a.startswith("--config=")]
    for name in files:
        if Path(name).is_file():
            try:
                yaml.safe_load(Path(name).read_text())
            except yaml.YAMLError as exc:
                raise ConfigError(yaml_problem(name, exc)) from None


__all__ = ["check_config_files", "closest_option", "command_line_error", "import_class", "one_line",
           "yaml_problem"]
