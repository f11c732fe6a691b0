"""Which event fields a compiled rule can read, found from the pySigma condition tree it was compiled from.

Stage 1 decodes from each event's `raw` only the paths the rules of its logsource read
(services/shared/projection.py). A name left out here costs only speed: the reader falls back
to the full payload for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionValueExpression
from sigma.types import SigmaExpansion, SigmaFieldReference

KEYWORD_FIELD = "message"  # keyword (field-less) detections search the text line, as the compiler has it


def read_fields(node: Any, field_of: Callable[[str], str]) -> frozenset[str]:
    """The names a predicate compiled from `node` may ask the reader for (`field_of`: the compiler's aliases)."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return frozenset({field_of(node.field)}) | _referenced(node.value)
    if isinstance(node, ConditionValueExpression):
        return frozenset({KEYWORD_FIELD})
    args = getattr(node, "args", None) or ()  # AND, OR, NOT
    return frozenset().union(*(read_fields(arg, field_of) for arg in args))


def _referenced(value: Any) -> frozenset[str]:
    """The fields a `fieldref` value compares with: read by their own name, as rules/values.py reads them."""
    if isinstance(value, SigmaFieldReference):
        return frozenset({value.field})
    if isinstance(value, SigmaExpansion):
        return frozenset().union(*(_referenced(v) for v in value.values))
    return frozenset()
