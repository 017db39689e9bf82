"""``neurops data generate|check|info|import-series|convert``."""

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
                  ("--no-progress", {"action": "store_true", "help": "hide the progress bar"})]
        for opt, kwargs in common:
            if opt[2:].replace("-", "_") not in own:
                g.add_argument(opt, **kwargs)
        g.set_defaults(func=_generate, _config_cls=spec.config_cls)

    chk = data_sub.add_parser("check", help="validate a file against the neurops schema; exit 0 only if valid")
    chk.add_argument("file", type=Path)
    chk.set_defaults(func=_check)

    info = data_sub.add_parser("info", help="summarize a file: fields, shapes, splits, parameters, ranges")
    info.add_argument("file", type=Path)
    info.set_defaults(func=_info)

    imp = data_sub.add_parser("import-series", help="import a measured time series (.npy or .csv, [T, N])")
    imp.add_argument("file", type=Path)
    imp.add_argument("--dt", type=float, required=True, help="sampling interval")
    imp.add_argument("--out", type=Path, required=True)
    imp.add_argument("--name", default=None)
    imp.add_argument("--standardize", action="store_true", help="z-score every variable")
    imp.add_argument("--test-fraction", type=float, default=0.0, help="last fraction of the series as test split")
    imp.set_defaults(func=_import_series)

    conv = data_sub.add_parser("convert", help="convert PDEBench / The Well / FNO .mat files to the neurops schema")
    conv.add_argument("src", type=Path)
    conv.add_argument("--from", dest="fmt", required=True, choices=["pdebench", "the_well", "fno-mat"])
    conv.add_argument("--out", type=Path, required=True)
    conv.add_argument("--layout", default=None, help="force a source layout (default: detected)")
    conv.add_argument("--n-train", type=int, default=None)
    conv.add_argument("--n-val", type=int, default=None)
    conv.add_argument("--n-test", type=int, default=None)
    conv.add_argument("--test-fraction", type=float, default=None)
    conv.add_argument("--space-stride", type=int, default=None, help="keep every k-th grid point")
    conv.add_argument("--time-stride", type=int, default=None, help="keep every k-th time step")
    conv.add_argument("--test-src", type=Path, default=None, help="second file holding the test samples")
    conv.add_argument("--fields", nargs="*", default=None, help="fields to keep")
    conv.add_argument("--include-initial", action="store_true", default=None)
    conv.add_argument("--compression", choices=["none", "gzip", "lzf"], default=None)
    conv.add_argument("--overwrite", action="store_true", default=None)
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

    spec = get_generator(args.generator)
    names = {f.name for f in dataclasses.fields(args._config_cls)}
    values = {k: v for k, v in vars(args).items() if k in names}
    for f in dataclasses.fields(args._config_cls):  # tuples stay tuples
        if isinstance(values.get(f.name), list) and isinstance(f.default, tuple):
            values[f.name] = tuple(values[f.name])
    config = spec.make_config(**values)
    spec.generate(config, args.out, workers=args.workers, progress=not args.no_progress, overwrite=args.overwrite)
    print(f"wrote {args.out}")
    return 0


def _check(args: argparse.Namespace) -> int:
    problems = check_file(args.file)
    if problems:
        print(f"{args.file}: {len(problems)} problem(s)", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print(f"{args.file}: valid neurops file")
    return 0


def _info(args: argparse.Namespace) -> int:
    print(summarize(args.file))
    return 0


def _import_series(args: argparse.Namespace) -> int:
    from neurops.data.series_import import import_series

    out = import_series(args.file, dt=args.dt, out=args.out, name=args.name, standardize=args.standardize,
                        test_fraction=args.test_fraction)
    print(f"wrote {out}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    from neurops.data.external import convert

    options = {k: getattr(args, k) for k in ("layout", "n_train", "n_val", "n_test", "test_fraction", "space_stride",
                                              "time_stride", "test_src", "fields", "include_initial", "compression",
                                              "overwrite")}
    out = convert(args.src, args.fmt, args.out, **options)
    print(f"wrote {out}")
    return 0
