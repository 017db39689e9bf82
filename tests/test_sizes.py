"""Size rules of docs/architecture.md, checked on the source: no module of ``neurops/`` over 400 lines,
no function over 60 lines of code (its docstring not counted).

A module that grows past the limit holds two ideas: split it by idea (as ``data/datamodule/``);
a function past the limit does several steps: give each a name. Both limits come from issue 21.
"""

from __future__ import annotations

import ast
from pathlib import Path

import neurops

ROOT = Path(neurops.__file__).parent
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

#: functions allowed past the limit, each with the reason it is one step (empty: none needed)
FUNCTION_ALLOW_LIST: dict[str, str] = {}


def function_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function from its ``def`` to its end (decorators not counted), less its docstring."""
    lines = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        lines -= first.end_lineno - first.lineno + 1
    return lines


def _functions() -> dict[str, int]:
    """``module:qualified.name -> lines`` of every function and method of the package."""
    found: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str, module: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    found[f"{module}:{name}"] = function_lines(child)
                visit(child, f"{name}.", module)

    for path in sorted(ROOT.rglob("*.py")):
        visit(ast.parse(path.read_text(), str(path)), "", str(path.relative_to(ROOT.parent)))
    return found


def test_no_module_is_longer_than_400_lines():
    long = {str(p.relative_to(ROOT.parent)): n for p in sorted(ROOT.rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"split these modules by idea: {long}"


def test_no_function_is_longer_than_60_lines_of_code():
    long = {name: n for name, n in _functions().items() if n > MAX_FUNCTION_LINES and name not in FUNCTION_ALLOW_LIST}
    assert long == {}, f"split these functions into named steps: {long}"
    stale = [name for name in FUNCTION_ALLOW_LIST if _functions().get(name, 0) <= MAX_FUNCTION_LINES]
    assert stale == [], f"no longer over the limit: remove them from the allow-list: {stale}"


def test_the_counts_skip_the_docstring_and_the_decorators():
    source = ('import functools\n\n@functools.cache\ndef f(x):\n    """Doc.\n\n    More.\n    """\n'
              '    y = x\n\n    return y\n')
    node = ast.parse(source).body[1]
    assert function_lines(node) == 4  # def, y = x, the blank line, return
