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

from collections.abc import Callable, Iterable
from functools import partial
from itertools import count
from typing import Any

import msgspec

MISSING: Any = object()  # a path the value does not have (JSON null is a value: None); a key not in an object


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


class Projection:
    """The raw paths one logsource's rules read, and the decoder reading only those."""

    __slots__ = ("_decoder", "paths", "readers")

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = frozenset(paths)
        root = _Builder(self.paths).node(None)
        self._decoder = msgspec.json.Decoder(_any_value(root.type))
        # One function per path, made now: a read is a few attribute loads, no walk of plans.
        self.readers: dict[str, Callable[[Any], Any]] = {path: root.reader(path) for path in self.paths}

    def decode(self, raw: msgspec.Raw) -> Any:
        """The projected payload; raises msgspec.DecodeError for a value it cannot decode (1e999)."""
        return self._decoder.decode(raw)

    def read(self, projected: Any, path: str, default: Any = None) -> Any:
        """What `dotted(payload, path, default)` gives, read from the projected payload (`path` one of `paths`)."""
        found = self.readers[path](projected)
        return default if found is MISSING else found


class _Builder:
    """The Struct types of a projection, one per object some path reaches.

    An object is known by the text of the path up to it: `a.b` then `c`, and `a` then `b.c`,
    both reach an object at `a.b.c`, which must hold the same keys whichever way it was
    reached. So a path of n keys, splittable 2^(n-1) ways, needs only n types.
    """

    def __init__(self, paths: frozenset[str]) -> None:
        self.paths = paths
        self.nodes: dict[str | None, _Node] = {}  # by the path to the object, None for raw itself
        self.names = count()

    def node(self, prefix: str | None) -> _Node:
        found = self.nodes.get(prefix)
        if found is None:
            found = self.nodes[prefix] = self._made(prefix)
        return found

    def _made(self, prefix: str | None) -> _Node:
        # The paths asked of this object: the rest of each path going through it.
        asked = (
            self.paths if prefix is None else {p[len(prefix) + 1 :] for p in self.paths if p.startswith(prefix + ".")}
        )
        heads = {head for path in asked for head, _ in _splits(path)}
        keys = sorted(asked | heads)
        attribute = {key: f"f{n}" for n, key in enumerate(keys)}  # JSON keys need not be identifiers
        # A key some path reads whole is decoded whole; one only gone through is itself a projection.
        children = {key: self.node(key if prefix is None else f"{prefix}.{key}") for key in heads - asked}
        fields = [(attribute[key], _any_value(children[key].type) if key in children else Any, MISSING) for key in keys]
        rename = {name: key for key, name in attribute.items()}
        return _Node(msgspec.defstruct(f"Projected{next(self.names)}", fields, rename=rename), attribute, children)


def _splits(path: str) -> list[tuple[str, str]]:
    """Every (key, rest) `dotted` may split the path into, in its order: ever longer keys."""
    segments = path.split(".")
    return [(".".join(segments[:cut]), ".".join(segments[cut:])) for cut in range(1, len(segments))]


class _Node:
    """One object of the projection: the Struct type decoding it and what its keys hold."""

    def __init__(self, struct: type[msgspec.Struct], attribute: dict[str, str], children: dict[str, _Node]) -> None:
        self.type = struct
        self.attribute = attribute  # JSON key -> Struct attribute
        self.children = children  # the keys decoded as projections themselves (not read whole)
        self._readers: dict[str, Callable[[Any], Any]] = {}  # nodes are shared: so are their readers

    def reader(self, path: str) -> Callable[[Any], Any]:
        """A function giving what `dotted(value, path, MISSING)` gives, for a value this node's type decoded."""
        read = self._readers.get(path)
        if read is None:
            read = self._readers[path] = self._reader(path)
        return read

    def _reader(self, path: str) -> Callable[[Any], Any]:
        steps: list[tuple[str, Callable[[Any], Any] | None]] = [(self.attribute[path], None)]  # the whole key first
        for head, rest in _splits(path):
            child = self.children.get(head)
            # A key read whole by some path holds a decoded value: the rest of the path is walked in it.
            inner = child.reader(rest) if child else partial(dotted, path=rest, default=MISSING)
            steps.append((self.attribute[head], inner))
        struct = self.type
        if len(steps) == 1:  # the common case: one key, nothing to split
            (attribute, _), *_ = steps

            def read_key(value: Any) -> Any:
                return getattr(value, attribute) if type(value) is struct else dotted(value, path, MISSING)

            return read_key

        if len(steps) == 2:  # `a.b`: the key `a.b` (seldom there), else `b` in `a`
            (whole, _), (head, then) = steps
            # `b` read in `a` here, without calling its reader, when `a` is an object as most events have it.
            first, rest = _splits(path)[0]
            node = self.children.get(first)
            inner_type, inner_key = (node.type, node.attribute[rest]) if node is not None else (None, "")

            def read_pair(value: Any) -> Any:
                if type(value) is not struct:
                    return dotted(value, path, MISSING)
                found = getattr(value, whole)
                if found is MISSING:
                    found = getattr(value, head)
                    if type(found) is inner_type:
                        return getattr(found, inner_key)
                    return found if found is MISSING or then is None else then(found)
                return found

            return read_pair

        def read(value: Any) -> Any:
            if type(value) is not struct:  # a list, a scalar: decoded as it is
                return dotted(value, path, MISSING)
            for attribute, then in steps:
                found = getattr(value, attribute)  # MISSING: not a key of the object
                if found is not MISSING and then is not None:
                    found = then(found)
                if found is not MISSING:
                    return found
            return MISSING

        return read


def _any_value(struct: type[msgspec.Struct]) -> Any:
    """An object decoded by `struct`, or any other JSON value decoded as it is: no shape is refused."""
    return struct | list[Any] | str | int | float | bool | None
