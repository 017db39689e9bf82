"""``neurops data generate|check|info|merge|import-series|convert``.

Every subcommand's options are the parameters of the function it calls (:mod:`neurops.cli.builder`):
``generate NAME`` the fields of the generator's config dataclass and :meth:`GeneratorSpec.generate
<neurops.data.generators.base.GeneratorSpec.generate>`'s options (``--config RECIPE.yaml`` reads a
dataset recipe), ``convert FORMAT`` the converter's (:data:`neurops.data.external.CONVERTERS`).
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

from neurops.cli.builder import Command, Group
from neurops.data.check import check_file
from neurops.data.info import summarize
from neurops.data.shards import data_path


# generate ---------------------------------------------------------------------------------------
def _generators() -> dict[str, Command]:
    from neurops.data.generators import GENERATORS
    from neurops.data.generators.base import GeneratorSpec

    return {name: Command(_generate(spec),
                          signature=[spec.config_cls, GeneratorSpec.generate], skip=["config"],
                          help=spec.description, description=spec.description, types={"shard": str | None})
            for name, spec in GENERATORS.items()}


def _generate(spec: Any) -> Any:
    def run(out: Path, workers: int, progress: bool, overwrite: bool, shard: str | None, **config: Any) -> int:
        from neurops.data.shards import Shard

        part = Shard.parse(shard) if shard is not None else None
        spec.generate(spec.make_config(**config), out, workers=workers, progress=progress, overwrite=overwrite,
                      shard=part)
        print(f"wrote {out}" + (f" (shard {part.index} of {part.count})" if part else ""))
        return 0

    return run


# check, info, merge, import-series --------------------------------------------------------------
def check(files: list[Path]) -> int:
    """Validate a file (or a data set of several files) against the neurops schema; exit 0 only if valid.

    Parameters
    ----------
    files : a file, a folder of files, or several files of one data set.
    """
    path = data_path(files[0] if len(files) == 1 else files)
    problems = check_file(path)
    name = path if len(files) == 1 else f"{len(files)} files"
    if problems:
        print(f"{name}: {len(problems)} problem(s)", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    single_file = len(files) == 1 and files[0].is_file()
    print(f"{name}: valid neurops {'file' if single_file else 'data set'}")
    return 0


def _info(path: Path) -> int:
    print(summarize(path))
    return 0


def _merge(sources: list[Path], **options: Any) -> int:
    from neurops.data.merge import merge_files

    out = merge_files(data_path(sources[0] if len(sources) == 1 else sources), **options)
    print(f"wrote {out}" + (" (a copy)" if options["copy"] else " (virtual data set over the sources)"))
    return 0


def _import_series(**options: Any) -> int:
    from neurops.data.series_import import import_series

    print(f"wrote {import_series(**options)}")
    return 0


def _tools() -> dict[str, Command]:
    from neurops.data.merge import merge_files
    from neurops.data.series_import import import_series

    return {
        "check": Command(check, positional=["files"], help="validate a file (or a data set of several files) "
                         "against the neurops schema; exit 0 only if valid"),
        "info": Command(_info, signature=[summarize], positional=["path"], rename={"path": "file"},
                        help="summarize a file: fields, shapes, splits, parameters, ranges"),
        "merge": Command(_merge, signature=[merge_files], positional=["sources"],
                         types={"sources": list[Path]},
                         help="assemble the files of one data set (e.g. shards) into one file"),
        "import-series": Command(_import_series, signature=[import_series],
                                 positional=["src"], rename={"src": "file"},
                                 help="import a measured time series (.npy or .csv, [T, N])"),
    }


# convert ----------------------------------------------------------------------------------------
def _converters() -> dict[str, Command]:
    from neurops.data.external import CONVERTERS

    return {name: Command(_convert(name), signature=[converter], positional=["src"],
                          help=" ".join(inspect.cleandoc(converter.__doc__ or name).split("\n\n", 1)[0].split()))
            for name, converter in CONVERTERS.items()}


def _convert(fmt: str) -> Any:
    def run(src: Path, out: Path, **options: Any) -> int:
        from neurops.data.external import convert

        print(f"wrote {convert(src, fmt, out, **options)}")
        return 0

    return run


def _commands() -> dict[str, Command | Group]:
    return {"generate": Group("generate a dataset with a registered generator (options or --config RECIPE.yaml)",
                              _generators),
            **_tools(),
            "convert": Group("convert PDEBench / The Well / FNO .mat files or numpy/torch arrays to the neurops "
                             "schema", _converters,
                             description="Convert external data into a neurops file: neurops data convert FORMAT "
                             "SRC --out FILE.h5 (see docs/external-data.md).",
                             retired={"--from": "FORMAT"}),
            }


COMMAND = Group("generate, check, summarize (info), merge, import and convert HDF5 data files", _commands)
