"""jsonargparse's errors as one line, in the same words for every command (built or LightningCLI).

:func:`one_line` words a report of jsonargparse (possibly multi-line, nested in the sections of a
config); :func:`command_line_error` makes it the :class:`~neurops.errors.ConfigError` of a command;
:func:`closest_option` gives the "did you mean" of an unknown option; :func:`import_class` the class
a config names by ``class_path``.
"""

from __future__ import annotations

import difflib
import importlib
import re
from pathlib import Path
from typing import Any

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
    option = re.search(r"Option '([^']+)' is not accepted", message)
    class_path = re.search(r"class_path '([^']+)'", message)
    if key and option and class_path:
        from neurops.utils.signature import init_parameters  # neurops.utils imports torch

        valid = init_parameters(import_class(class_path.group(1), Path("config")))
        close = difflib.get_close_matches(option.group(1), valid, n=1)
        hint = f"; did you mean --{key}.{close[0]}?" if close else ""
        return (f"unrecognized option --{key}.{option.group(1)}: {class_path.group(1)} has no option "
                f"{option.group(1)!r}{hint} Valid: {sorted(valid)}.")
    inner = re.search(r"Expected a (.*?)\. Got value: (.*)", message, re.S)  # a section's own key
    union = re.search(r"^\s*Subtypes: \[(.*)\]$", message, re.M)  # all types of the union, not only those tried
    expected = ([inner.group(1)] if inner else re.findall(r"typing\.Literal\[.*?\]|<class '[^']+'>", union.group(1))
                if union else re.findall(r"Expected a (.*?)\.?$", message, re.M))
    given = inner or re.search(r"Given value: (.*)", message)
    if key and expected and given:
        flag, value = _flag(parser, key), given.groups()[-1].strip().splitlines()[0]
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


__all__ = ["closest_option", "command_line_error", "import_class", "one_line"]
