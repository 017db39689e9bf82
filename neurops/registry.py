"""One registry of named things: models, data generators, converters, kernel paths, losses, activations.

A :class:`Registry` maps names (and aliases) to objects. Looking up an unknown name raises the
registry's own :class:`~neurops.errors.NeuropsError` subclass with one message that names the
thing, the closest known names ("did you mean") and the full list, e.g.

>>> from neurops.registry import Registry
>>> colours = Registry("colour")
>>> colours.add("red", 0xFF0000, aliases=("rouge",))
16711680
>>> colours.get("rouge") == colours.get("red")
True
>>> colours.get("redd")
Traceback (most recent call last):
...
neurops.errors.ConfigError: unknown colour 'redd'. Did you mean 'red'? Choose one of ['red'].

This module imports nothing heavy (``neurops --help`` stays fast).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from neurops.errors import ConfigError, NeuropsError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names (and aliases) -> objects, with one clear error for an unknown name.

    Parameters
    ----------
    kind : what the names name, as the error message says it (``"model"``, ``"loss"``, ...).
    error : the :class:`~neurops.errors.NeuropsError` subclass raised for an unknown name.
    hint : a sentence appended to that error (e.g. how to add a new entry).
    """

    def __init__(self, kind: str, error: type[NeuropsError] = ConfigError, hint: str = "") -> None:
        self.kind = kind
        self.error = error
        self.hint = hint
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    # registration ---------------------------------------------------------------------------
    def add(self, name: str, value: T, *, aliases: Iterable[str] = ()) -> T:
        """Register ``value`` as ``name`` (and under ``aliases``); returns ``value``.

        Registering another object under a taken name is a programming error (``ValueError``).
        """
        for key in (name, *aliases):
            taken = self._entries.get(self._aliases.get(key, key))
            if taken is not None and taken is not value and taken != value:
                raise ValueError(f"{self.kind} name {key!r} is already registered")
        self._entries[name] = value
        self._aliases.update({alias: name for alias in aliases})
        return value

    def register(self, name: str, *, aliases: Iterable[str] = ()) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""
        return lambda value: self.add(name, value, aliases=aliases)

    # look-up --------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """The registered names (not the aliases), sorted."""
        return sorted(self._entries)

    def canonical(self, name: str) -> str:
        """The registered name ``name`` stands for (itself or the name of an alias)."""
        key = self._aliases.get(name, name)
        if key not in self._entries:
            raise self.unknown(name)
        return key

    def get(self, name: str) -> T:
        """The object registered as ``name`` (or an alias of it); :attr:`error` for an unknown name."""
        return self._entries[self.canonical(name)]

    def suggestion(self, name: str) -> str:
        """``" Did you mean 'x'?"`` for the closest names and aliases, or ``""``."""
        close = difflib.get_close_matches(str(name), [*self._entries, *self._aliases], n=3)
        close = list(dict.fromkeys(self._aliases.get(c, c) for c in close))
        return f" Did you mean {', '.join(map(repr, close))}?" if close else ""

    def unknown(self, name: str, what: str | None = None) -> NeuropsError:
        """The error for an unknown ``name``; ``what`` replaces ``"unknown <kind> 'name'"`` at its start."""
        what = what or f"unknown {self.kind} {name!r}"
        hint = f" {self.hint}" if self.hint else ""
        return self.error(f"{what}.{self.suggestion(name)} Choose one of {self.names()}.{hint}")

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def items(self) -> list[tuple[str, T]]:
        """``(name, object)`` pairs, sorted by name."""
        return [(name, self._entries[name]) for name in self.names()]

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


__all__ = ["Registry"]
