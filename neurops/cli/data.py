"""``neurops data generate|check|info|merge|import-series|convert``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from neurops.data.check import check_file
from neurops.data.info import summarize


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="generate, check, inspect, import and convert HDF5 data files")
    data_sub = p.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)

    gen = data_sub.add_parser("generate", help="generate a dataset with a registered generator")
    gen_sub = gen.add_subparsers(dest="generator", metavar="GENERATOR", required=True)
    from neurops.data.generators import GENERATORS

    for name, spec in sorted(GENERATORS.items()):
        g = gen_sub.add_parser(name, help=spec.description, description=spec.description,
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        add_dataclass_arguments(g, spec.config_cls)
        own = {f.name for f in dataclasses.fields(spec.config_cls)}
        common = [("--out", {"required": True, "type": Path, "help": "output HDF5 file"}),
                  ("--workers", {"type": int, "default": 2, "help": "worker processes"}),
                  ("--overwrite", {"action": "store_true", "help": "replace --out if it exists"}),
                  ("--no-progress", {"action": "store_true", "help": "hide the progress bar"}),
                  ("--shard", {"default": None, "metavar": "I/N",
                               "help": "write only shard I (0-based) of N: the samples an unsharded run writes in "
                                       "that part (assemble with `neurops data merge`)"
                                       + ("" if spec.shardable else "; not supported by this generator")})]
        for opt, kwargs in common:
            if opt[2:].replace("-", "_") not in own:
                g.add_argument(opt, **kwargs)
        g.set_defaults(func=_generate, _config_cls=spec.config_cls)

    chk = data_sub.add_parser("check", help="validate a file (or a data set of several files) against the neurops "
                              "schema; exit 0 only if valid")
    chk.add_argument("file", type=Path, nargs="+", help="a file, a folder of files, or several files of one data set")
    chk.set_defaults(func=_check)

    merge = data_sub.add_parser("merge", help="assemble the files of one data set (e.g. shards) into one file",
                                description="Assemble shards (or other files of one data set) into one file: an "
                                "HDF5 virtual data set naming the sources by paths relative to --out (they must lie "
                                "in its folder or below), or with --copy a self-contained copy.")
    merge.add_argument("sources", type=Path, nargs="+", help="a folder of files, or the files, of one data set")
    merge.add_argument("--out", type=Path, required=True, help="the merged file")
    merge.add_argument("--copy", action="store_true", help="copy the samples instead of referring to the sources")
    merge.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    merge.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    merge.set_defaults(func=_merge)

    info = data_sub.add_parser("info", help="summarize a file: fields, shapes, splits, parameters, ranges")
    info.add_argument("file", type=Path)
    info.set_defaults(func=_info)

    imp = data_sub.add_parser("import-series", help="import a measured time series (.npy or .csv, [T, N])",
                              description="Write a [T, N] series as a trajectory file cut into contiguous blocks "
                              "in time: train, then val (checkpoint selection), then test (final evaluation).",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    imp.add_argument("file", type=Path)
    imp.add_argument("--dt", type=float, required=True, help="sampling interval")
    imp.add_argument("--out", type=Path, required=True)
    imp.add_argument("--name", default=None, help="dataset name (default: the file stem)")
    imp.add_argument("--standardize", action="store_true", help="z-score every variable by the train block")
    imp.add_argument("--val-fraction", type=float, default=0.1,
                     help="fraction of the series after the train block as split val (0: none)")
    imp.add_argument("--test-fraction", type=float, default=0.1,
                     help="last fraction of the series as split test (0: none)")
    imp.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    imp.set_defaults(func=_import_series)

    conv = data_sub.add_parser(
        "convert", help="convert PDEBench / The Well / FNO .mat files or numpy/torch arrays to the neurops schema",
        description="Convert external data into a neurops file. Options a format does not take are refused "
        "with the list of those it does (see docs/external-data.md).")
    conv.add_argument("src", type=Path, help="the source file (arrays: the file of the inputs)")
    conv.add_argument("--from", dest="fmt", required=True, choices=["pdebench", "the_well", "fno-mat", "arrays"])
    conv.add_argument("--out", type=Path, required=True)
    conv.add_argument("--layout", default=None, help="force a source layout (default: detected)")
    conv.add_argument("--n-train", type=int, default=None)
    conv.add_argument("--n-val", type=int, default=None)
    conv.add_argument("--n-test", type=int, default=None)
    conv.add_argument("--test-fraction", type=float, default=None)
    conv.add_argument("--space-stride", type=int, default=None, help="keep every k-th grid point")
    conv.add_argument("--time-stride", type=int, default=None, help="keep every k-th time step")
    conv.add_argument("--test-space-strides", type=int, nargs="+", default=None, metavar="K",
                      help="store the test samples again at these strides of the source grid, as test@R")
    conv.add_argument("--test-src", type=Path, default=None, help="second file holding the test samples")
    conv.add_argument("--fields", nargs="*", default=None, help="fields to keep (the_well)")
    conv.add_argument("--input-key", default=None, help="array of the inputs (fno-mat custom layout, arrays)")
    conv.add_argument("--output-key", default=None, help="array of the outputs (fno-mat custom layout, arrays)")
    conv.add_argument("--state-key", default=None, help="array of the trajectories (fno-mat custom layout)")
    conv.add_argument("--outputs", type=Path, default=None, help="arrays: the file of the outputs (default: src)")
    conv.add_argument("--test-outputs", type=Path, default=None,
                      help="arrays: the file of the test outputs (default: --test-src)")
    conv.add_argument("--extra-test", type=Path, nargs=2, action="append", default=None,
                      metavar=("INPUTS", "OUTPUTS"),
                      help="arrays: files holding the same test samples on another grid, stored as test@R "
                           "(repeat for more)")
    conv.add_argument("--boundary", default=None, help="boundary condition of every axis (arrays: periodic gives "
                      "the grid j/n, others linspace(0, 1, n))")
    conv.add_argument("--name", default=None, help="dataset name (default: the source's stem)")
    conv.add_argument("--include-initial", action="store_true", default=None)
    conv.add_argument("--compression", choices=["none", "gzip", "lzf"], default=None)
    conv.add_argument("--overwrite", action="store_true", default=None)
    conv.add_argument("--no-progress", dest="progress", action="store_false", default=None)
    conv.set_defaults(func=_convert)


# dataclass -> argparse --------------------------------------------------------------------
def add_dataclass_arguments(parser: argparse.ArgumentParser, config_cls: type) -> None:
    """Add one ``--kebab-case`` option per field of ``config_cls`` (types from annotations)."""
    hints = typing.get_type_hints(config_cls)
    for field in dataclasses.fields(config_cls):
        opt = "--" + field.name.replace("_", "-")
        kwargs: dict[str, Any] = {"dest": field.name, "help": field.metadata.get("help", " ")}
        default = (field.default if field.default is not dataclasses.MISSING
                   else field.default_factory() if field.default_factory is not dataclasses.MISSING  # type: ignore
                   else None)
        if default is None and field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            kwargs["required"] = True
        else:
            kwargs["default"] = default
        kwargs.update(_type_kwargs(hints[field.name]))
        parser.add_argument(opt, **kwargs)


def _type_kwargs(tp: Any) -> dict[str, Any]:
    origin, args = get_origin(tp), get_args(tp)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        inner = [a for a in args if a is not type(None)]
        return _type_kwargs(inner[0]) if len(inner) == 1 else {"type": str}
    if tp is bool:
        return {"action": argparse.BooleanOptionalAction}
    if origin is Literal:
        return {"choices": list(args), "type": type(args[0])}
    if origin in (list, tuple, typing.Sequence) or tp in (list, tuple):
        elem = args[0] if args else str
        return {"nargs": "*", "type": elem}
    if tp in (int, float, str):
        return {"type": tp}
    return {"type": str}


# commands ---------------------------------------------------------------------------------
def _generate(args: argparse.Namespace) -> int:
    from neurops.data.generators import get_generator
    from neurops.data.shards import Shard

    spec = get_generator(args.generator)
    names = {f.name for f in dataclasses.fields(args._config_cls)}
    values = {k: v for k, v in vars(args).items() if k in names}
    for f in dataclasses.fields(args._config_cls):  # tuples stay tuples
        if isinstance(values.get(f.name), list) and isinstance(f.default, tuple):
            values[f.name] = tuple(values[f.name])
    config = spec.make_config(**values)
    shard = Shard.parse(args.shard) if args.shard is not None else None
    spec.generate(config, args.out, workers=args.workers, progress=not args.no_progress, overwrite=args.overwrite,
                  shard=shard)
    print(f"wrote {args.out}" + (f" (shard {shard.index} of {shard.count})" if shard else ""))
    return 0


def _data_path(paths: list[Path]) -> Path | list[Path]:
    """One positional path as itself (a file or folder), several as a list of files."""
    return paths[0] if len(paths) == 1 else paths


def _check(args: argparse.Namespace) -> int:
    path = _data_path(args.file)
    problems = check_file(path)
    name = path if len(args.file) == 1 else f"{len(args.file)} files"
    if problems:
        print(f"{name}: {len(problems)} problem(s)", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    single_file = len(args.file) == 1 and args.file[0].is_file()
    print(f"{name}: valid neurops {'file' if single_file else 'data set'}")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from neurops.data.merge import merge_files

    out = merge_files(_data_path(args.sources), args.out, copy=args.copy, overwrite=args.overwrite,
                      progress=not args.no_progress)
    print(f"wrote {out}" + (" (a copy)" if args.copy else " (virtual data set over the sources)"))
    return 0


def _info(args: argparse.Namespace) -> int:
    print(summarize(args.file))
    return 0


def _import_series(args: argparse.Namespace) -> int:
    from neurops.data.series_import import import_series

    out = import_series(args.file, dt=args.dt, out=args.out, name=args.name, standardize=args.standardize,
                        val_fraction=args.val_fraction, test_fraction=args.test_fraction, overwrite=args.overwrite)
    print(f"wrote {out}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    from neurops.data.external import convert

    options = {k: getattr(args, k) for k in ("layout", "n_train", "n_val", "n_test", "test_fraction", "space_stride",
                                              "time_stride", "test_space_strides", "test_src", "fields",
                                              "input_key", "output_key", "state_key", "outputs", "test_outputs",
                                              "extra_test", "boundary", "name", "include_initial", "compression",
                                              "overwrite", "progress")}
    out = convert(args.src, args.fmt, args.out, **options)
    print(f"wrote {out}")
    return 0
