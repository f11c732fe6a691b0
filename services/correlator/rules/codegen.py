"""Writes a rule's condition, as the compiler resolved it, as the source of one Python function.

A tree of closures costs a Python call per node and per value test on every evaluation; one
generated function evaluates the same tree with inline `and`/`or`/`not`, each field read into a
local, and the common value tests (a `str` against a set of folded strings, a regex search)
written out. What it computes is what the closures computed (the property test in
tests/correlator/rules/test_codegen.py holds it to a reference evaluator):

- a field is read where evaluation first reaches it, in short-circuit order, as before: a read
  may decode the raw payload and raise `InvalidEnvelope`, so reading up front would change which
  events dead-letter. A read is `reader[name]` (a dict subscript, resolved at the event's first
  read of the name; None for a missing field, as `get` gives). The local is reused only where that
  first read dominates (it ran on every path to the use); elsewhere the subscript reads the cache.
- a field holding a list matches when any element does, and an empty list tests None.
- `exists` is `reader.has(name) is wanted`; a keyword tests the `message` field's value as is.

No rule text is ever written into the source: field names, strings, patterns and tests are
passed in as constants of the function's namespace (`_f0`, `_c1`, `_t2` …), and the source is
made only of names this module chooses, so no value in a rule (quotes, newlines,
`__import__(…)`) can become code. The namespace has no builtins either.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from services.correlator.rules.values import StringMatch, ValueTest
from services.shared.envelope import FieldReader

Predicate = Callable[[FieldReader], bool]

# Deeper subtrees become functions of their own: CPython's parser refuses ~200 nested parentheses.
MAX_DEPTH = 40
# The classes a number test reads as they are (`as_number` in rules/values.py); bool is not one of them.
_NUMBERS = frozenset({int, float})

Operator = Literal["==", "<", "<=", ">", ">="]  # Python's own, written into the source as they are


@dataclass(frozen=True)
class All:
    parts: list[Node]


@dataclass(frozen=True)
class AnyOf:
    parts: list[Node]


@dataclass(frozen=True)
class Not:
    part: Node


@dataclass(frozen=True)
class Exists:
    field: str
    wanted: bool


@dataclass(frozen=True)
class Test:
    """One value test of a field. `each`: a list matches when any element does (not for keywords).

    `strings` or `regex`, when set, say what `test` does with a `str` value, and `number` (an operator
    and a number) what it does with an `int` or `float`, so that case can be written inline.
    """

    field: str
    test: ValueTest
    label: str  # what the test is, for the listing
    each: bool = True
    strings: StringMatch | None = None
    regex: re.Pattern[str] | None = None
    number: tuple[Operator, float] | None = None


Node = All | AnyOf | Not | Exists | Test


def compiled(node: Node) -> Predicate:
    """The node as one function of a `FieldReader`; its listing (source and constants) is its `__doc__`."""
    writer = _Writer()
    body, _ = writer.expr(node, frozenset(), 0)
    source = f"def condition(reader):\n    return {body}\n"
    # The constants are the closure of the function, so rules of one shape share one compiled factory
    # (compiling is most of a rule's load time) and each reads its own constants as fast locals.
    factory = _factory(", ".join(writer.constants), body)
    function: Predicate = factory(**writer.constants)
    legend = "".join(f"#   {name} = {label}\n" for name, label in writer.labels.items())
    function.__doc__ = f"{source}# where\n{legend}"
    function.__dict__[_PURE_IN] = frozenset(writer.fields) if writer.pure else None
    return function


def pure_in(predicate: object) -> frozenset[str] | None:
    """The fields whose values alone decide the condition's answer, or None when something else may.

    A condition qualifies when it reads fields only by subscript (`reader[name]`: null and missing
    alike) and tests them only with the value tests written out inline (strings, a regex, a number),
    whose full test, for the other classes of value, looks at the value alone: no `exists` (which
    tells null from missing), no `fieldref` or other test handed the reader, no nested function.
    Given equal values of those fields (of equal classes), it gives the same answer, so the rule
    index may decide it once for a combination of values (rules/index.py).
    """
    found: frozenset[str] | None = getattr(predicate, "__dict__", {}).get(_PURE_IN)
    return found


@functools.lru_cache(maxsize=4096)
def _factory(parameters: str, body: str) -> Callable[..., Predicate]:
    """A function taking the constants and returning the condition function over them."""
    source = (
        f"def condition_of({parameters}):\n    def condition(reader):\n        return {body}\n    return condition\n"
    )
    namespace: dict[str, Any] = {"__builtins__": {}, "str": str, "_numbers": _NUMBERS}
    # Safe to exec: the source holds only names chosen in this module (see its docstring), never rule text.
    exec(compile(source, "<sigma condition>", "exec"), namespace)  # noqa: S102  # nosec B102
    factory: Callable[..., Predicate] = namespace["condition_of"]
    return factory


def listing(predicate: Predicate) -> str:
    """The generated source of a compiled condition and what its constants hold, for a detection engineer."""
    return predicate.__doc__ or ""


class _Writer:
    def __init__(self) -> None:
        self.constants: dict[str, Any] = {}
        self.labels: dict[str, str] = {}
        self.fields: dict[str, int] = {}  # field name -> number of its local `v<n>` and constant `_f<n>`
        self.pure = True  # see `pure_in`: cleared by anything but a subscript and an inline value test

    def constant(self, prefix: str, value: Any, label: str) -> str:
        name = f"_{prefix}{len(self.constants)}"
        self.constants[name] = value
        self.labels[name] = label
        return name

    def expr(self, node: Node, bound: frozenset[str], depth: int) -> tuple[str, frozenset[str]]:
        """Source for `node`, given the fields whose locals are set on every path here; and those set after it."""
        if depth > MAX_DEPTH:
            self.pure = False
            inner = compiled(node)
            return f"{self.constant('p', inner, 'a nested condition, its listing is its __doc__')}(reader)", bound
        if isinstance(node, All | AnyOf):
            joiner = " and " if isinstance(node, All) else " or "
            if depth == 0:  # one top-level term a line, for the listing
                joiner = f"\n       {joiner}"
            parts: list[str] = []
            after = first = bound
            for part in node.parts:
                # Each part runs only once the ones before it have: their reads are set for it.
                code, after = self.expr(part, after, depth + 1)
                parts.append(code)
                if len(parts) == 1:
                    first = after  # only the first part runs on every path through the chain
            return f"({joiner.join(parts)})", first
        if isinstance(node, Not):
            code, after = self.expr(node.part, bound, depth + 1)
            return f"(not {code})", after
        if isinstance(node, Exists):
            self.pure = False
            name = self._field_constant(node.field)
            return f"(reader.has({name}) is {bool(node.wanted)})", bound
        return self._test(node, bound)

    def _field_constant(self, field: str) -> str:
        if field not in self.fields:
            self.fields[field] = len(self.constants)
            self.constants[f"_f{len(self.constants)}"] = field
            self.labels[f"_f{self.fields[field]}"] = repr(field)
        return f"_f{self.fields[field]}"

    def _test(self, node: Test, bound: frozenset[str]) -> tuple[str, frozenset[str]]:
        constant = self._field_constant(node.field)
        local = f"v{constant[2:]}"
        read = local if node.field in bound else f"({local} := reader[{constant}])"
        after = bound | {node.field}
        inline = self._inline(node, local)
        if inline is None:
            self.pure = False
        if inline is None and not node.each:
            return f"{self.constant('t', node.test, node.label)}({read}, reader)", after
        other = self.constant("t", _each(node.test) if node.each else node.test, node.label)
        other = f"{other}({local}, reader)"
        if inline is None:  # the test itself, called directly for a str, which is never a list
            inline = f"{self.constant('t', node.test, node.label)}({local}, reader)", _IS_STR
        else:  # a string, regex or number test is false for a missing or null field
            other = f"{local} is not None and {other}"
        code, guard = inline
        # The common class (a str, or a number) is tested here; anything else (None, a list …) by the full test.
        return f"({code} if {guard.format(read=read)} else {other})", after

    def _inline(self, node: Test, local: str) -> tuple[str, str] | None:
        """What `node.test` does with a value of the common class, as an expression, and the test for that class."""
        if node.number is not None:
            operator, number = node.number
            return f"{local} {operator} {self.constant('n', number, repr(number))}", _IS_NUMBER
        if node.regex is not None:
            return f"{self._scan(node.regex, 'search')}({local}) is not None", _IS_STR
        match = node.strings
        if match is None:
            return None
        terms = []
        if match.plain:
            plain = self.constant("c", match.plain, repr(sorted(match.plain)))
            terms.append(f"{local} in {plain}" if match.cased else f"{local}.casefold() in {plain}")
        for pattern, method in ((match.anywhere, "search"), (match.whole, "fullmatch")):
            if pattern is not None:
                terms.append(f"{self._scan(pattern, method)}({local}) is not None")
        return " or ".join(terms), _IS_STR

    def _scan(self, pattern: re.Pattern[str], method: str) -> str:
        """A constant holding the pattern's bound `search` or `fullmatch`."""
        label = f"re.compile({pattern.pattern!r}, {pattern.flags}).{method}"
        return self.constant("s", getattr(pattern, method), label)


_PURE_IN = "pure_in"  # where a generated function keeps `pure_in`'s answer
_IS_STR = "{read}.__class__ is str"
_IS_NUMBER = "{read}.__class__ in _numbers"


def _each(test: ValueTest) -> ValueTest:
    """`test` over a field's value as Sigma reads it: a list matches when any element does, an empty one tests None."""

    def each(value: Any, reader: FieldReader) -> bool:
        if isinstance(value, list):
            return any(test(v, reader) for v in value) if value else test(None, reader)
        return test(value, reader)

    return each
