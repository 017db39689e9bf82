"""The metadata of a neurops data set: its root attributes as one typed, validated object.

:class:`DatasetMeta` is what the writer stores (:class:`~neurops.data.writer.H5Writer`), what the
reader returns (:func:`neurops.data.reader.read_meta`), what the checker validates (:meth:`DatasetMeta.problems`),
what ``neurops data info`` prints, what the converters of external formats build, and what
boundary-aware layers read their boundary conditions from (:meth:`DatasetMeta.boundary_modes`).
On disk nothing changes: the attributes of schema v1 (``docs/data-format.md``), with ``dims``,
``boundary``, ``parameters``, ``generator`` and ``shard`` as strict JSON strings (a non-finite number as ``null``,
listed in ``json_nonfinite``: :func:`neurops.data.schema.write_attrs`, :func:`~neurops.data.schema.decode_attrs`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from neurops.data.schema import BOUNDARY_TYPES, KINDS, SCHEMA_VERSION, SUPPORTED_VERSIONS
from neurops.errors import SchemaError


@dataclass(frozen=True)
class DatasetMeta:
    """Root attributes of a neurops file (schema v1).

    Parameters
    ----------
    kind : ``"operator"`` (input -> output pairs), ``"input_only"`` or ``"trajectory"``.
    name : dataset name.
    dims : spatial axis names, e.g. ``("x", "y")``; ``("component",)`` for ODE states.
    boundary : boundary condition per dim (``dirichlet``, ``periodic``, ``neumann``, ``none``);
        empty: ``none`` for every dim.
    parameters : physical parameters.
    generator : the full configuration of what made the data (a generator, a converter, a model).
    seed : the seed the data was generated with (``None``: none).
    shard : the record of a file holding one shard of a generation run
        (:meth:`neurops.data.shards.Shard.record`).
    schema_version : version of the schema the file follows.
    neurops_version : the version of neurops that wrote it (empty: this one, when writing).

    Raises
    ------
    SchemaError
        for an unknown kind, schema version or boundary condition, or a boundary of a dim not in ``dims``.

    Examples
    --------
    >>> meta = DatasetMeta(kind="operator", name="darcy", dims=["x", "y"], boundary={"x": "dirichlet"})
    >>> meta.boundary, meta.boundary_modes()
    ({'x': 'dirichlet'}, ('dirichlet', 'dirichlet'))
    >>> DatasetMeta.from_attrs(meta.attrs()).dims
    ('x', 'y')
    """

    kind: str
    name: str
    dims: tuple[str, ...]
    boundary: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    generator: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    shard: Mapping[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION
    neurops_version: str = ""

    def __post_init__(self) -> None:
        dims = tuple(str(d) for d in self.dims)
        object.__setattr__(self, "dims", dims)
        object.__setattr__(self, "boundary", dict(self.boundary or {d: "none" for d in dims}))
        object.__setattr__(self, "parameters", dict(self.parameters or {}))
        object.__setattr__(self, "generator", dict(self.generator or {}))
        object.__setattr__(self, "shard", None if self.shard is None else dict(self.shard))
        object.__setattr__(self, "seed", None if self.seed is None or int(self.seed) < 0 else int(self.seed))
        problems = self.problems(self.attrs())
        if problems:
            raise SchemaError("; ".join(problems) + ".")

    # the schema's rules, for objects and for the attributes of a file --------------------------------
    @staticmethod
    def problems(attrs: Mapping[str, Any]) -> list[str]:
        """Every problem of decoded root attributes (``kind``, ``schema_version``, ``dims``, ``boundary``);
        ``neurops data check`` reports them all, the constructor raises them."""
        problems = []
        version = attrs.get("schema_version")
        if version is not None and int(version) not in SUPPORTED_VERSIONS:
            problems.append(f"unknown schema_version {int(version)} (supported: {list(SUPPORTED_VERSIONS)})")
        if "kind" in attrs and attrs["kind"] not in KINDS:
            problems.append(f"unknown kind {attrs['kind']!r}; choose one of {', '.join(KINDS)}")
        dims = attrs.get("dims")
        if "dims" in attrs and dims is not None and not (
                isinstance(dims, (list, tuple)) and dims and all(isinstance(d, str) for d in dims)):
            problems.append(f"root attribute 'dims' must be a non-empty list of axis names, got {dims!r}")
            dims = []
        boundary = attrs.get("boundary") or {}
        if isinstance(boundary, Mapping):
            for d, bc in boundary.items():
                if d not in (dims or []):
                    problems.append(f"boundary names dim {d!r} which is not in dims {list(dims or [])}")
                if bc not in BOUNDARY_TYPES:
                    problems.append(f"boundary {bc!r} for dim {d!r} is not one of {BOUNDARY_TYPES}")
        return problems

    # attributes <-> object -----------------------------------------------------------------------
    def attrs(self) -> dict[str, Any]:
        """The root attributes as the file stores them, before JSON encoding (``seed`` -1: none)."""
        attrs = asdict(self)
        attrs["dims"] = list(self.dims)
        attrs["seed"] = -1 if self.seed is None else self.seed
        if not attrs["neurops_version"]:
            from neurops import __version__

            attrs["neurops_version"] = __version__
        if attrs["shard"] is None:
            del attrs["shard"]
        return attrs

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> DatasetMeta:
        """The metadata of decoded root attributes (:func:`neurops.data.reader.read_attrs`); JSON strings
        are decoded too. Missing required attributes raise :class:`SchemaError`."""
        values = {k: json.loads(v) if k in ("dims", "boundary", "parameters", "generator", "shard")
                  and isinstance(v, str) else v for k, v in attrs.items()}
        missing = [k for k in ("kind", "name", "dims") if k not in values]
        if missing:
            raise SchemaError(f"the file's root attributes have no {missing}; it does not follow the neurops "
                              "schema (see docs/data-format.md).")
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})

    def boundary_modes(self) -> tuple[str, ...]:
        """One canonical mode per dim, in order (``dirichlet``, ``periodic``, ``neumann``; an axis without a
        condition and ``none`` are zero padding, Dirichlet), as boundary-aware layers take them."""
        from neurops.layers.boundary import resolve_boundary

        return resolve_boundary({d: self.boundary.get(d, "none") for d in self.dims}, len(self.dims), self.dims)


__all__ = ["DatasetMeta"]
