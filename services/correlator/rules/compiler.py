"""Compiles a pySigma rule into a plain Python predicate over one event.

The condition tree pySigma resolves (identifiers, `1 of`, `all of` already expanded) maps
node for node onto closures; value types we do not evaluate yet are refused at load time
with the rule's location, never silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import SigmaBool, SigmaCasedString, SigmaExpansion, SigmaNull, SigmaNumber, SigmaString, SpecialChars

from services.shared.alert import RuleRef
from services.shared.errors import RuleError
from services.shared.event import FieldReader, LogSource

Predicate = Callable[[FieldReader], bool]
ValueTest = Callable[[Any], bool]

KEYWORD_FIELD = "message"  # keyword (field-less) detections search the text line


@dataclass(frozen=True)
class CompiledRule:
    ref: RuleRef
    logsource: LogSource
    matches: Predicate
    location: str

    def applies_to(self, logsource: LogSource) -> bool:
        """Sigma logsource routing: every attribute the rule names must equal the event's."""
        wanted = self.logsource
        return (
            (wanted.product is None or wanted.product == logsource.product)
            and (wanted.service is None or wanted.service == logsource.service)
            and (wanted.category is None or wanted.category == logsource.category)
        )


def compile_rule(rule: SigmaRule, location: str) -> CompiledRule:
    conditions = rule.detection.parsed_condition
    if len(conditions) != 1:
        raise RuleError(location, "exactly one condition is supported")
    try:
        predicate = _compile(conditions[0].parsed)
    except RuleError as exc:
        raise RuleError(location, exc.reason) from None
    except Exception as exc:  # pySigma raises its own errors while resolving the condition
        raise RuleError(location, str(exc)) from None
    return CompiledRule(
        ref=RuleRef(
            id=str(rule.id),
            title=rule.title,
            level=rule.level.name.lower() if rule.level else "medium",
            tags=[f"{t.namespace}.{t.name}" for t in rule.tags],
            description=rule.description,
        ),
        logsource=LogSource(
            product=rule.logsource.product, service=rule.logsource.service, category=rule.logsource.category
        ),
        matches=predicate,
        location=location,
    )


def _compile(node: Any) -> Predicate:
    if isinstance(node, ConditionAND):
        parts = [_compile(arg) for arg in node.args]
        return lambda reader: all(p(reader) for p in parts)
    if isinstance(node, ConditionOR):
        parts = [_compile(arg) for arg in node.args]
        return lambda reader: any(p(reader) for p in parts)
    if isinstance(node, ConditionNOT):
        inner = _compile(node.args[0])
        return lambda reader: not inner(reader)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _field_predicate(node.field, _value_test(node.value))
    if isinstance(node, ConditionValueExpression):
        return _keyword_predicate(_value_test(node.value, contains=True))
    raise RuleError("", f"condition element {type(node).__name__} is not supported yet")


def _field_predicate(field: str, test: ValueTest) -> Predicate:
    def predicate(reader: FieldReader) -> bool:
        value = reader.get(field)
        if isinstance(value, list):  # a multi-valued field matches when any element does
            return any(test(v) for v in value) if value else test(None)
        return test(value)

    return predicate


def _keyword_predicate(test: ValueTest) -> Predicate:
    return lambda reader: test(reader.get(KEYWORD_FIELD))


def _value_test(value: Any, *, contains: bool = False) -> ValueTest:
    if isinstance(value, SigmaNull):
        return lambda v: v is None or v == ""
    if isinstance(value, SigmaBool):
        wanted = value.boolean
        return lambda v: v is wanted or (isinstance(v, str) and v.lower() == str(wanted).lower())
    if isinstance(value, SigmaNumber):
        number = value.number
        return lambda v: v is not None and not isinstance(v, bool) and _number_equals(v, number)
    if isinstance(value, SigmaString):
        return _string_test(value, cased=isinstance(value, SigmaCasedString), contains=contains)
    if isinstance(value, SigmaExpansion):
        tests = [_value_test(v, contains=contains) for v in value.values]
        return lambda v: any(t(v) for t in tests)
    raise RuleError("", f"value type {type(value).__name__} (its modifier) is not supported yet")


def _number_equals(value: Any, number: int | float) -> bool:
    if isinstance(value, (int, float)):
        return value == number
    try:
        return float(str(value)) == number
    except ValueError:
        return False


def _string_test(value: SigmaString, *, cased: bool, contains: bool) -> ValueTest:
    parts = list(value.s)
    if contains:
        parts = [SpecialChars.WILDCARD_MULTI, *parts, SpecialChars.WILDCARD_MULTI]
    if any(not isinstance(p, (str, SpecialChars)) for p in parts):
        raise RuleError("", "placeholders (%name%) need the expand modifier, which is not supported yet")
    if not any(isinstance(p, SpecialChars) for p in parts):
        plain = "".join(str(p) for p in parts)
        if cased:
            return lambda v: v is not None and _text(v) == plain
        folded = plain.casefold()
        return lambda v: v is not None and _text(v).casefold() == folded
    pattern = "".join(
        ".*" if p is SpecialChars.WILDCARD_MULTI else "." if p is SpecialChars.WILDCARD_SINGLE else re.escape(str(p))
        for p in parts
    )
    regex = re.compile(pattern, re.DOTALL if cased else re.DOTALL | re.IGNORECASE)
    return lambda v: v is not None and regex.fullmatch(_text(v)) is not None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
