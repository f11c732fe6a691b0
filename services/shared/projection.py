"""Reads dotted paths in an envelope's `raw`: walking the decoded payload, or decoding only the paths a rule set reads.

Decoding a Kubernetes audit event's whole `raw` into dicts was most of what stage 1 spent on it,
and its rules read a handful of paths, known when they load. A `Projection` is a msgspec Struct
type holding exactly those paths (nested Structs; every other key is skipped in C, its syntax
already checked), so one decode of `raw` replaces both the full decode and the walks.

`dotted` is the meaning of a path; a projection must read what it reads, whatever the shape:
- a key that holds dots is tried whole first (`a.b` before `a` → `b`): each node of the
  projection holds every key a path could be split into, and is read in `dotted`'s order;
- a key some path reads whole is decoded whole (`Any`), and longer paths go on in its value
  with `dotted`; so does a path that meets a list (its values flattened) or any other JSON value.
Every JSON value fits a node's type, so the projection never refuses a shape; a value it decodes
that msgspec cannot (a number no double holds) raises, and the caller reads the full payload,
which names it.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import count
from typing import Any, ClassVar

import msgspec

MISSING: Any = object()  # a path the value does not have (JSON null is a value: None)


def dotted(value: Any, path: str, default: Any = None) -> Any:
    """`a.b.c` into nested dicts; a key that itself contains dots is tried whole first.

    Through a list of objects the path goes on in each element, and the values found come back
    as a list, which a rule matches when any element does (`spec.containers.image`).
    """
    if isinstance(value, list):
        found = [dotted(item, path, MISSING) for item in value]
        values = [v for item in found if item is not MISSING for v in (item if isinstance(item, list) else [item])]
        return values if values else default
    if not isinstance(value, dict):
        return default
    if path in value:
        return value[path]
    head, dot, rest = path.partition(".")
    while dot:
        if head in value:
            found = dotted(value[head], rest, MISSING)
            if found is not MISSING:
                return found
        more, dot, rest = rest.partition(".")
        head = f"{head}.{more}"
    return default


class _Node(msgspec.Struct):
    """A JSON object of which only some keys are decoded; `_plan` says which to try for a path, in order."""

    # path -> ((attribute, rest or None), ...), set on each node type through `namespace`
    _plan: ClassVar[dict[str, tuple[tuple[str, str | None], ...]]]


class Projection:
    """The raw paths one logsource's rules read, and the decoder reading only those."""

    __slots__ = ("_decoder", "paths")

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = frozenset(paths)
        names = count()
        self._decoder = msgspec.json.Decoder(_node_type(_trie(self.paths), names))

    def decode(self, raw: msgspec.Raw) -> Any:
        """The projected payload; raises msgspec.DecodeError for a value it cannot decode (1e999)."""
        return self._decoder.decode(raw)

    @staticmethod
    def read(projected: Any, path: str, default: Any = None) -> Any:
        """What `dotted(payload, path, default)` gives, read from the projected payload (`path` one of `paths`)."""
        found = _walk(projected, path)
        return default if found is MISSING else found


def _walk(value: Any, path: str) -> Any:
    if isinstance(value, _Node):
        for attribute, rest in value._plan[path]:
            child = getattr(value, attribute)
            if child is msgspec.UNSET:  # the key is not in the object
                continue
            if rest is None:
                return child
            found = _walk(child, rest)
            if found is not MISSING:
                return found
        return MISSING
    return dotted(value, path, MISSING)  # decoded whole: a list, a value some path reads whole, a scalar


class _Trie:
    """The keys of one object that some path reaches, with the paths asked of it."""

    __slots__ = ("children", "paths", "whole")

    def __init__(self) -> None:
        self.paths: set[str] = set()  # the paths read from this object
        self.whole: set[str] = set()  # its keys some path reads as a value
        self.children: dict[str, _Trie] = {}  # its keys some path goes on from


def _trie(paths: Iterable[str]) -> _Trie:
    root = _Trie()
    pending = [(root, path) for path in paths]
    while pending:
        node, path = pending.pop()
        if path in node.paths:
            continue
        node.paths.add(path)
        node.whole.add(path)
        segments = path.split(".")
        for cut in range(1, len(segments)):  # every way `dotted` may split the path here
            head, rest = ".".join(segments[:cut]), ".".join(segments[cut:])
            pending.append((node.children.setdefault(head, _Trie()), rest))
    return root


def _node_type(trie: _Trie, names: count[int]) -> Any:
    """The type decoding an object as `trie` reads it, or any other JSON value (decoded only if small)."""
    keys = sorted(trie.whole | trie.children.keys())
    attribute = {key: f"f{n}" for n, key in enumerate(keys)}  # JSON keys need not be identifiers
    fields = []
    for key in keys:
        # A key read whole is decoded whole; one only gone through is itself a projection.
        kind = Any if key in trie.whole else _node_type(trie.children[key], names)
        fields.append((attribute[key], kind, msgspec.UNSET))
    plan = {path: _plan(path, attribute) for path in trie.paths}
    node = msgspec.defstruct(
        f"Projected{next(names)}",
        fields,
        bases=(_Node,),
        rename={name: key for key, name in attribute.items()},
        namespace={"_plan": plan},
    )
    return node | list[Any] | str | int | float | bool | None


def _plan(path: str, attribute: dict[str, str]) -> tuple[tuple[str, str | None], ...]:
    """The keys `dotted` tries for `path`, in its order: the whole path, then ever longer heads."""
    steps: list[tuple[str, str | None]] = [(attribute[path], None)]
    segments = path.split(".")
    for cut in range(1, len(segments)):
        head = ".".join(segments[:cut])
        steps.append((attribute[head], ".".join(segments[cut:])))
    return tuple(steps)
