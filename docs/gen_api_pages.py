"""Write docs/api/<subpackage>.md: one mkdocstrings block per public module.

Run after adding a module: ``python docs/gen_api_pages.py`` (the pages are committed).
"""

from __future__ import annotations

import pkgutil
from pathlib import Path

import neurops

SUBPACKAGES = ["kernels", "solvers", "layers", "models", "physics", "data", "metrics", "dynamics", "inverse",
               "tasks", "viz", "cli", "utils"]
#: modules directly under neurops/ (one page, "neurops"; neurops.errors has its own in troubleshooting.md)
TOP_LEVEL = ["neurops", "neurops.checkpoints", "neurops.inference", "neurops.registry", "neurops.systems"]
API_DIR = Path(__file__).parent / "api"


def modules(sub: str) -> list[str]:
    pkg = Path(neurops.__file__).parent / sub
    names = [f"neurops.{sub}"]
    for info in sorted(pkgutil.walk_packages([str(pkg)], prefix=f"neurops.{sub}."), key=lambda m: m.name):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def page(title: str, names: list[str]) -> str:
    body = [f"# {title}\n"]
    for name in names:
        body.append(f"::: {name}\n    options:\n      show_submodules: false\n")
    return "\n".join(body)


def main() -> None:
    API_DIR.mkdir(exist_ok=True)
    (API_DIR / "neurops.md").write_text(page("neurops", TOP_LEVEL))
    for sub in SUBPACKAGES:
        (API_DIR / f"{sub}.md").write_text(page(f"neurops.{sub}", modules(sub)))
    print("\n".join(f"    - {sub}: api/{sub}.md" for sub in ["neurops", *SUBPACKAGES]))


if __name__ == "__main__":
    main()
