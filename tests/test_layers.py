"""The layer rules of docs/architecture.md, checked on the source (every import, lazy ones included).

* each part of the package imports only the parts listed below it (data flows down the list,
  imports go up it): nothing below ``viz`` imports ``viz``, nothing below ``tasks`` imports ``tasks``;
* ``layers/`` and ``models/`` never import Lightning;
* inside ``solvers/``, ``linear`` imports none of its siblings, ``pde`` and ``learned`` import only
  ``linear``, ``timestepping`` none;
* no import cycles between the modules of ``kernels/`` or of ``solvers/``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import neurops

ROOT = Path(neurops.__file__).parent

#: the parts of the package from the bottom up; a part may import its own level and the ones before it
LAYERS: list[set[str]] = [
    {"neurops", "errors", "registry", "systems", "configs"},
    {"utils"},
    {"kernels"},
    {"solvers"},
    {"layers"},
    {"models"},
    {"physics"},
    {"data"},
    {"metrics"},
    {"checkpoints"},  # reads checkpoint records; builds a task class by name only at run time
    {"dynamics"},
    {"inverse"},
    {"tasks"},
    {"inference"},
    {"viz"},
    {"cli", "__main__"},
]
LEVEL = {part: i for i, parts in enumerate(LAYERS) for part in parts}
SOLVER_PARTS = {"linear": set(), "pde": {"linear"}, "learned": {"linear"}, "timestepping": set()}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside functions (``from a import b`` counts ``a.b``
    when ``a.b`` is a module of the package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub.startswith("neurops.") and _is_module(sub):
                    found.add(sub)
    return found


def _is_module(name: str) -> bool:
    path = ROOT.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


SOURCES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
IMPORTS = {name: _imports(path) for name, path in SOURCES.items()}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "neurops"


def test_every_part_of_the_package_has_a_level() -> None:
    assert {_part(m) for m in SOURCES} <= set(LEVEL)


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_imports_only_go_up_the_layers(module: str) -> None:
    level = LEVEL[_part(module)]
    upward = sorted(m for m in IMPORTS[module] if m.startswith("neurops") and LEVEL[_part(m)] > level)
    assert not upward, f"{module} (layer {_part(module)}) imports {upward}, which sit above it"


@pytest.mark.parametrize("part", ["layers", "models"])
def test_layers_and_models_never_import_lightning(part: str) -> None:
    offenders = {m: sorted(i for i in imps if i.split(".")[0] in ("lightning", "pytorch_lightning"))
                 for m, imps in IMPORTS.items() if _part(m) == part}
    assert not {m: i for m, i in offenders.items() if i}


def test_solver_folders_import_only_the_folders_below_them() -> None:
    for module, imps in IMPORTS.items():
        parts = module.split(".")
        if parts[:2] != ["neurops", "solvers"] or len(parts) < 4:
            continue
        own = parts[2]
        used = {m.split(".")[2] for m in imps if m.startswith("neurops.solvers.") and m.count(".") >= 2}
        assert used - {own} <= SOLVER_PARTS[own], f"{module} imports solvers folders {sorted(used - {own})}"


@pytest.mark.parametrize("package", ["neurops.kernels", "neurops.solvers"])
def test_no_import_cycles_between_modules(package: str) -> None:
    modules = {m for m in SOURCES if m.startswith(package + ".")}
    graph = {m: {i for i in IMPORTS[m] if i in modules and i != m} for m in modules}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        path = path + [m]
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(path[path.index(n):] + [n])}")
            if n not in state:
                visit(n, path)
        state[m] = 2

    for m in sorted(modules):
        if m not in state:
            visit(m, [])
