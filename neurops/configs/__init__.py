"""Config files for the shipped benchmark problems, resolvable by short name."""

from __future__ import annotations

from pathlib import Path

from neurops.errors import ConfigError

CONFIG_DIR = Path(__file__).parent


def available_configs() -> list[str]:
    """Short names of the shipped config files."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def resolve_config(name_or_path: str) -> Path:
    """A config path: an existing file, or the short name of a shipped config (``darcy_fno``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = CONFIG_DIR / f"{name_or_path.removesuffix('.yaml')}.yaml"
    if shipped.is_file():
        return shipped
    raise ConfigError(f"config {name_or_path!r} is neither a file nor a shipped config; "
                      f"shipped configs: {available_configs()}.")
