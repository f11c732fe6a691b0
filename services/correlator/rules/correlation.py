"""Sigma correlation rules, compiled: what a window counts, over which group, and when it fires.

pySigma parses and validates the rule; we read the condition ourselves because the
specification allows ranges (`gt: 10` with `lte: 100`), which pySigma's parser refuses.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sigma.correlations import SigmaCorrelationRule

from services.correlator.rules.compiler import suppress_seconds
from services.shared.alert import RuleRef
from services.shared.errors import RuleError

TYPES = (
    "event_count",
    "value_count",
    "temporal",
    "temporal_ordered",
    "value_sum",
    "value_avg",
    "value_median",
    "value_percentile",
)
METRIC_TYPES = frozenset({"value_count", "value_sum", "value_avg", "value_median", "value_percentile"})
_SIGMA_KEYS = frozenset(
    {
        "title",
        "id",
        "name",
        "status",
        "description",
        "author",
        "date",
        "modified",
        "references",
        "tags",
        "correlation",
        "falsepositives",
        "level",
        "generate",
        "fields",
        "license",
        "related",
        "taxonomy",
        "scope",
    }
)
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
    "neq": operator.ne,
}


@dataclass(frozen=True)
class Condition:
    """Every operator given must hold (a range is two of them)."""

    bounds: tuple[tuple[str, float], ...]

    def holds(self, value: float) -> bool:
        # A loop, not all() over a generator: this runs per hit in stage 2, and the generator cost 5x.
        for op, bound in self.bounds:
            if not _OPERATORS[op](value, bound):
                return False
        return True

    def __str__(self) -> str:
        return " and ".join(f"{op} {bound:g}" for op, bound in self.bounds)


@dataclass(frozen=True)
class CorrelationRule:
    ref: RuleRef
    name: str | None
    type: str
    rules: tuple[str, ...]  # ids of the referenced rules, resolved, in the order given
    group_by: tuple[str, ...]
    timespan_seconds: float
    condition: Condition
    location: str
    value_field: str | None = None
    percentile: float = 50.0
    generate: bool = False
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)  # alias -> rule id -> field
    suppress_seconds: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)  # the document's own keys, e.g. `tests`

    def group_field(self, group_name: str, rule_id: str) -> str:
        """The event field that holds `group_name` for hits of `rule_id` (aliases rename it per rule)."""
        return self.aliases.get(group_name, {}).get(rule_id, group_name)


def sanitised_for_pysigma(document: dict[str, Any]) -> dict[str, Any]:
    """The document with a range condition cut to its first operator, which is all pySigma accepts."""
    correlation = dict(document.get("correlation") or {})
    condition = correlation.get("condition")
    if isinstance(condition, dict):
        ops = [k for k in condition if k in _OPERATORS]
        if len(ops) > 1:
            correlation["condition"] = {k: v for k, v in condition.items() if k not in ops[1:]}
    return {**document, "correlation": correlation}


def compile_correlation(
    rule: SigmaCorrelationRule,
    document: dict[str, Any],
    location: str,
    resolve: Callable[[str], str],
    ref: RuleRef,
) -> CorrelationRule:
    """`resolve` turns a reference (id or name) into a rule id, raising RuleError when unknown."""
    spec = document.get("correlation") or {}
    kind = str(spec.get("type", ""))
    if kind not in TYPES:
        raise RuleError(location, f"correlation type {kind!r} is not one of {', '.join(TYPES)}")
    references = tuple(resolve(str(r)) for r in spec.get("rules") or [])
    if not references:
        raise RuleError(location, "a correlation needs at least one rule in `rules`")
    raw_condition = spec.get("condition")
    condition, value_field, percentile = _condition(kind, raw_condition, len(references), location)
    aliases: dict[str, dict[str, str]] = {}
    for alias, mapping in (spec.get("aliases") or {}).items():
        if not isinstance(mapping, dict):
            raise RuleError(location, f"alias {alias!r} must map rule names to fields")
        aliases[str(alias)] = {resolve(str(r)): str(f) for r, f in mapping.items()}
    return CorrelationRule(
        ref=ref,
        name=rule.name,
        type=kind,
        rules=references,
        group_by=tuple(str(g) for g in rule.group_by or ()),
        timespan_seconds=float(rule.timespan.seconds),
        condition=condition,
        location=location,
        value_field=value_field,
        percentile=percentile,
        generate=_generate(document, spec, location),
        aliases=aliases,
        suppress_seconds=suppress_seconds(document, location),
        attributes={k: v for k, v in document.items() if k not in _SIGMA_KEYS},
    )


def _generate(document: dict[str, Any], spec: dict[str, Any], location: str) -> bool:
    """`generate` at the top level (the specification's schema) or inside `correlation` (pySigma's reading)."""
    value = document.get("generate", spec.get("generate", False))
    if not isinstance(value, bool):
        raise RuleError(location, f"generate must be true or false, not {value!r}")
    return value


def _condition(kind: str, raw: Any, rule_count: int, location: str) -> tuple[Condition, str | None, float]:
    if raw is None:
        if kind in ("temporal", "temporal_ordered"):
            return Condition((("gte", float(rule_count)),)), None, 50.0  # default: every rule seen
        raise RuleError(location, f"a {kind} correlation needs a condition")
    if not isinstance(raw, dict):
        raise RuleError(location, "the correlation condition must be a mapping such as {gte: 10}")
    bounds = tuple((op, float(raw[op])) for op in _OPERATORS if op in raw)
    if not bounds:
        raise RuleError(location, f"the correlation condition needs one of {', '.join(_OPERATORS)}")
    value_field = raw.get("field")
    if kind in METRIC_TYPES and not value_field:
        raise RuleError(location, f"a {kind} correlation needs `field` in its condition")
    percentile = float(raw.get("percentile", 50))
    if not 0 <= percentile <= 100:
        raise RuleError(location, "percentile must be between 0 and 100")
    return Condition(bounds), str(value_field) if value_field else None, percentile
