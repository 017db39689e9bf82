"""Registry of data generators; their config dataclasses become CLI options.

A generator is a function ``fn(config, out: Path, *, workers: int = 2, progress: bool = True,
overwrite: bool = False) -> Path`` that writes ``out`` atomically (through
:class:`~neurops.data.writer.H5Writer`), registered with :func:`register_generator`.
``neurops data generate NAME`` turns every field of ``config_cls`` into a ``--kebab-case``
option. A generator that also takes ``shard`` (a :class:`~neurops.data.shards.Shard`) can
write one shard of a run (``--shard I/N``): the samples an unsharded run writes in that part.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurops.data.shards import Shard
from neurops.errors import ConfigError
from neurops.registry import Registry
from neurops.utils.io import check_output_path
from neurops.utils.seeding import check_seed

GeneratorFn = Callable[..., Path]


@dataclass(frozen=True)
class GeneratorSpec:
    """A registered generator: its name, config dataclass and function."""

    name: str
    config_cls: type
    fn: GeneratorFn

    @property
    def description(self) -> str:
        """The first paragraph of the generator's docstring, on one line (its help text)."""
        doc = inspect.cleandoc(self.fn.__doc__ or self.config_cls.__doc__ or "")
        return " ".join(doc.split("\n\n", 1)[0].split()) if doc else self.name

    @property
    def shardable(self) -> bool:
        """Whether the generator can write one shard of a run (its function takes ``shard``)."""
        return "shard" in inspect.signature(self.fn).parameters

    def make_config(self, **values: Any) -> Any:
        """Build the config, naming unknown keys and an unusable seed clearly."""
        names = {f.name for f in dataclasses.fields(self.config_cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"generator {self.name!r} has no option(s) {unknown}; valid: {sorted(names)}.")
        seed = values.get("seed")
        if seed is not None:
            check_seed(seed)
        return self.config_cls(**values)

    def generate(self, config: Any, out: str | os.PathLike, *, workers: int = 2, progress: bool = True,
                 overwrite: bool = False, shard: Shard | None = None) -> Path:
        """Run the generator; ``out`` is checked before any work and written atomically.

        Parameters
        ----------
        config : the generator's config dataclass.
        out : the file to write (refused at once if it is a directory, or exists without ``overwrite``).
        workers : worker processes computing the samples (1: in this process).
        progress : show the progress: a bar on a terminal, plain lines when stderr is not one (a log, a pipe).
        overwrite : replace an existing ``out``.
        shard : write only this shard of the run, ``I/N`` on the command line (shard I, 0-based, of N: the
            samples an unsharded run writes in that part; generators whose function takes ``shard``).
        """
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"workers must be a whole number >= 1 (1: in this process), got {workers!r}.")
        out = check_output_path(out, overwrite=overwrite, hdf5=True)
        extra = {}
        if shard is not None:
            if not self.shardable:
                shardable = [name for name, spec in GENERATORS.items() if spec.shardable]
                raise ConfigError(f"generator {self.name!r} cannot write shards (its samples depend on each other, "
                                  f"e.g. through statistics of the whole split); generate it in one run. "
                                  f"Generators with --shard: {shardable}.")
            extra["shard"] = shard
        return Path(self.fn(config, out, workers=workers, progress=progress, overwrite=overwrite, **extra))


def check_test_resolutions(resolution: int, test_resolutions: Sequence[int] | None, n_test: int) -> tuple[int, ...]:
    """The extra test resolutions of a grid generator (``test@R`` splits: the test samples again at ``R``) as ints,
    checked: they need test samples, and each must differ from ``resolution`` (the ``test`` split is stored there)
    and from the others (a ``test@R`` split is stored once). Every grid generator's config calls it."""
    extra = tuple(int(r) for r in (test_resolutions or ()))
    if extra and n_test < 1:
        raise ConfigError(f"test_resolutions {list(extra)} were given but n_test is {n_test}; pass --n-test N > 0 or "
                          "drop them.")
    if int(resolution) in extra:
        raise ConfigError(f"test_resolutions {list(extra)} repeat the resolution {resolution}: the test split is "
                          f"already stored at {resolution}; drop {resolution} from --test-resolutions.")
    twice = sorted({r for r in extra if extra.count(r) > 1})
    if twice:
        raise ConfigError(f"test_resolutions {list(extra)} give {', '.join(map(str, twice))} more than once: each "
                          "test@R split is stored once; give each resolution once in --test-resolutions.")
    return extra


#: every registered generator, by name
GENERATORS: Registry[GeneratorSpec] = Registry("data generator", ConfigError)


def register_generator(name: str, config_cls: type) -> Callable[[GeneratorFn], GeneratorFn]:
    """Decorator registering ``fn`` as the generator ``name`` configured by dataclass ``config_cls``."""
    if not dataclasses.is_dataclass(config_cls):
        raise TypeError(f"config_cls for generator {name!r} must be a dataclass")

    def deco(fn: GeneratorFn) -> GeneratorFn:
        GENERATORS.add(name, GeneratorSpec(name, config_cls, fn))
        return fn

    return deco


def get_generator(name: str) -> GeneratorSpec:
    """Look up a generator by name, with the list of known ones in the error."""
    return GENERATORS.get(name)
