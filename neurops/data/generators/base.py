"""Registry of data generators; their config dataclasses become CLI options.

A generator is a function ``fn(config, out: Path, *, workers: int = 2, progress: bool = True)
-> Path`` registered with :func:`register_generator`. ``neurops data generate NAME`` turns
every field of ``config_cls`` into a ``--kebab-case`` option.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurops.errors import ConfigError
from neurops.utils.io import atomic_path

GeneratorFn = Callable[..., Path]


@dataclass(frozen=True)
class GeneratorSpec:
    """A registered generator: its name, config dataclass and function."""

    name: str
    config_cls: type
    fn: GeneratorFn

    @property
    def description(self) -> str:
        doc = (self.fn.__doc__ or self.config_cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else self.name

    def make_config(self, **values: Any) -> Any:
        """Build the config, naming unknown keys clearly."""
        names = {f.name for f in dataclasses.fields(self.config_cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"generator {self.name!r} has no option(s) {unknown}; valid: {sorted(names)}.")
        return self.config_cls(**values)

    def generate(self, config: Any, out: str | os.PathLike, *, workers: int = 2, progress: bool = True,
                 overwrite: bool = False) -> Path:
        """Run the generator into a fresh temporary file that replaces ``out`` only on success."""
        with atomic_path(out, overwrite=overwrite) as tmp:
            tmp.unlink()  # generators write a new file (and refuse to overwrite one)
            self.fn(config, tmp, workers=workers, progress=progress)
        return Path(out)


GENERATORS: dict[str, GeneratorSpec] = {}


def register_generator(name: str, config_cls: type) -> Callable[[GeneratorFn], GeneratorFn]:
    """Decorator registering ``fn`` as the generator ``name`` configured by dataclass ``config_cls``."""
    if not dataclasses.is_dataclass(config_cls):
        raise TypeError(f"config_cls for generator {name!r} must be a dataclass")

    def deco(fn: GeneratorFn) -> GeneratorFn:
        if name in GENERATORS and GENERATORS[name].fn is not fn:
            raise ValueError(f"generator {name!r} is registered twice")
        GENERATORS[name] = GeneratorSpec(name, config_cls, fn)
        return fn

    return deco


def get_generator(name: str) -> GeneratorSpec:
    """Look up a generator by name, with the list of known ones in the error."""
    if name not in GENERATORS:
        raise ConfigError(f"unknown data generator {name!r}; available: {sorted(GENERATORS)}.")
    return GENERATORS[name]
