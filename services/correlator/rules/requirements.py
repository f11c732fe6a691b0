"""What every match of a rule must have, so the index can skip the rule for events without it.

A requirement is a set of alternatives; a matching event has at least one of them:
`("eq", field, text)` — the field equals `text` (case-folded), `("num", field, number)` — the
field holds that number (`as_number` in rules/values.py), or `("sub", field, text)` — the
field's case-folded text contains `text`. Equality comes from plain values and numbers,
substrings from the literal runs of `contains`, `startswith`, `endswith`, other wildcards and
keyword searches. None means nothing is required that the index could use: the rule is always tried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import SigmaExpansion, SigmaNumber, SigmaString, SigmaTimestampPart, SpecialChars

Key = tuple[str, str, str | float]  # (kind, field, case-folded text or number)
Requirement = frozenset[Key]

MIN_SUBSTRING = 3  # shorter literals are in too many values to narrow anything down
KEYWORD_FIELD = "message"


def requirement(node: Any, field_of: Callable[[str], str]) -> Requirement | None:
    if isinstance(node, ConditionAND):
        found = [r for r in (requirement(arg, field_of) for arg in node.args) if r is not None]
        return min(found, key=_cost) if found else None
    if isinstance(node, ConditionOR):
        parts = [requirement(arg, field_of) for arg in node.args]
        return frozenset().union(*parts) if parts and all(p is not None for p in parts) else None  # type: ignore[arg-type]
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _value_requirement(field_of(node.field), node.value, keyword=False)
    if isinstance(node, ConditionValueExpression):
        return _value_requirement(KEYWORD_FIELD, node.value, keyword=True)
    return None  # NOT and anything else: a match need not have any particular value


def _value_requirement(field: str, value: Any, *, keyword: bool) -> Requirement | None:
    if isinstance(value, SigmaExpansion):
        each = [_value_requirement(field, v, keyword=keyword) for v in value.values]
        return frozenset().union(*each) if each and all(r is not None for r in each) else None  # type: ignore[arg-type]
    if isinstance(value, SigmaNumber) and not isinstance(value, SigmaTimestampPart) and not keyword:
        return frozenset({("num", field, value.number)})
    if not isinstance(value, SigmaString) or value.contains_placeholder():
        return None
    parts = list(value.s)
    if not keyword and all(isinstance(p, str) for p in parts):
        # Equal, case-sensitively or not, implies equal once both sides are case-folded.
        return frozenset({("eq", field, "".join(parts).casefold())})  # type: ignore[arg-type]
    runs = "".join(p if isinstance(p, str) else "\0" for p in parts if isinstance(p, (str, SpecialChars))).split("\0")
    longest = max(runs, key=len, default="")
    return frozenset({("sub", field, longest.casefold())}) if len(longest) >= MIN_SUBSTRING else None


def _cost(requirement: Requirement) -> tuple[int, int, int]:
    """Prefer equality over substrings, then fewer alternatives, then longer substrings."""
    substrings = [str(text) for kind, _, text in requirement if kind == "sub"]
    return (1 if substrings else 0, len(requirement), -min((len(t) for t in substrings), default=0))
