"""The public API: every name a package's ``__all__`` lists imports, and every ``neurops.x.y`` the
documentation names exists; ``import neurops`` stays light (the subpackages load on first use)."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import neurops

ROOT = Path(neurops.__file__).parent.parent
PACKAGES = ["neurops"] + sorted(m.name for m in pkgutil.walk_packages(neurops.__path__, "neurops.") if m.ispkg)
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "datasets").rglob("*.md")])


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_in_all_imports(package: str) -> None:
    module = importlib.import_module(package)
    missing = [name for name in getattr(module, "__all__", []) if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names {missing}, which do not import"


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            if not hasattr(obj, part):
                return False
            obj = getattr(obj, part)
        return True
    return False


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_name_the_docs_give_exists(doc: Path) -> None:
    names = set(re.findall(r"(?<![\w/.-])neurops(?:\.[A-Za-z_]\w*)+", doc.read_text()))
    names = {n for n in names if "triton" not in n or importlib.util.find_spec("triton")}
    assert not sorted(n for n in names if not _resolves(n))


def test_import_neurops_loads_neither_torch_nor_lightning() -> None:
    code = "import sys, neurops; neurops.PARTS; print(sorted({'torch', 'lightning'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
