"""Write docs/api/<subpackage>.md: one mkdocstrings block per public module.

Run after adding a module: ``python docs/gen_api_pages.py`` (the pages are committed).
"""

from __future__ import annotations

import pkgutil
from pathlib import Path

import neurops

SUBPACKAGES = ["kernels", "solvers", "layers", "models", "physics", "data", "metrics", "dynamics", "inverse",
               "tasks", "viz", "cli", "utils"]
API_DIR = Path(__file__).parent / "api"


def modules(sub: str) -> list[str]:
    pkg = Path(neurops.__file__).parent / sub
    names = [f"neurops.{sub}"]
    for info in sorted(pkgutil.walk_packages([str(pkg)], prefix=f"neurops.{sub}."), key=lambda m: m.name):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def main() -> None:
    API_DIR.mkdir(exist_ok=True)
    for sub in SUBPACKAGES:
        body = [f"# neurops.{sub}\n"]
        for name in modules(sub):
            body.append(f"::: {name}\n    options:\n      show_submodules: false\n")
        (API_DIR / f"{sub}.md").write_text("\n".join(body))
    print("\n".join(f"      - {sub}: api/{sub}.md" for sub in SUBPACKAGES))


if __name__ == "__main__":
    main()
