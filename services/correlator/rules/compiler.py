"""Compiles a pySigma detection rule into a predicate over one event, plus what indexes it.

The condition tree pySigma resolves (identifiers, `1 of`/`all of`, precedence already
applied) maps node for node onto the nodes of rules/codegen.py, which writes it as one Python
function (`codegen.listing(rule.matches)` shows its source). Alongside, `index_keys` holds what any match
must have (an equality value such as `verb: create` in an AND, or a substring), so the
index can skip the rule for events without it (rules/requirements.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.modifiers import SigmaWideModifier, modifier_mapping
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaCasedString,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
)

from services.correlator.rules import codegen
from services.correlator.rules.config import RulesConfig
from services.correlator.rules.fields import read_fields
from services.correlator.rules.requirements import Requirement, requirement
from services.correlator.rules.values import compiled_regex, string_match, value_test
from services.correlator.suppression import duration_seconds
from services.shared.alert import RuleRef
from services.shared.envelope import FieldReader
from services.shared.errors import RuleError
from services.shared.event import LogSource

# The specification names UTF-16LE `utf16le` with `wide` as its alias; pySigma 2.0 knows only `wide`.
modifier_mapping.setdefault("utf16le", SigmaWideModifier)

Predicate = Callable[[FieldReader], bool]

KEYWORD_FIELD = "message"  # keyword (field-less) detections search the text line


@dataclass(frozen=True)
class CompiledRule:
    ref: RuleRef
    name: str | None
    logsource: LogSource
    matches: Predicate
    location: str
    index_keys: Requirement | None = None  # a match has one of these (see rules/requirements.py)
    attributes: dict[str, Any] = field(default_factory=dict)  # custom keys of the rule, e.g. `tests`
    suppress_seconds: float | None = None
    fields: frozenset[str] = frozenset()  # the names it may read (rules/fields.py): stage 1 decodes those of raw

    def applies_to(self, logsource: LogSource) -> bool:
        """Sigma logsource routing: every attribute the rule names must equal the event's."""
        wanted = self.logsource
        return (
            (wanted.product is None or wanted.product == logsource.product)
            and (wanted.service is None or wanted.service == logsource.service)
            and (wanted.category is None or wanted.category == logsource.category)
        )


def compile_rule(rule: SigmaRule, location: str, config: RulesConfig) -> CompiledRule:
    logsource = LogSource(
        product=rule.logsource.product, service=rule.logsource.service, category=rule.logsource.category
    )
    compiler = _Compiler(config.aliases_for(logsource), config.placeholders)
    conditions = rule.detection.parsed_condition
    try:
        trees = [condition.parsed for condition in conditions]
        predicates = [compiler.predicate(tree) for tree in trees]
    except RuleError as exc:
        raise RuleError(location, exc.reason) from None
    except Exception as exc:  # pySigma raises its own errors while resolving a condition
        raise RuleError(location, f"condition: {exc}") from None
    # Several conditions in one rule are alternatives (Sigma: a list of conditions is OR-ed).
    matches = predicates[0] if len(predicates) == 1 else (lambda reader: any(p(reader) for p in predicates))
    keys = [requirement(tree, compiler.field) for tree in trees]
    return CompiledRule(
        ref=rule_ref(rule),
        name=rule.name,
        logsource=logsource,
        matches=matches,
        location=location,
        index_keys=frozenset().union(*keys) if all(k is not None for k in keys) else None,  # type: ignore[arg-type]
        attributes=dict(rule.custom_attributes or {}),
        suppress_seconds=suppress_seconds(rule.custom_attributes or {}, location),
        fields=frozenset().union(*(read_fields(tree, compiler.field) for tree in trees)),
    )


def suppress_seconds(attributes: dict[str, Any], location: str) -> float | None:
    """The rule's own `suppress: 10m`, if it has one."""
    value = attributes.get("suppress")
    return None if value is None else duration_seconds(str(value), location)


def rule_ref(rule: Any) -> RuleRef:
    return RuleRef(
        id=str(rule.id),
        title=rule.title,
        level=rule.level.name.lower() if rule.level else "medium",
        tags=[f"{t.namespace}.{t.name}" for t in rule.tags],
        description=rule.description,
        runbook=runbook(getattr(rule, "custom_attributes", None) or {}),
    )


def runbook(attributes: dict[str, Any]) -> str | None:
    """The rule's `runbook:` text (a custom attribute), what the alert tells an analyst to do first."""
    value = attributes.get("runbook")
    return str(value).strip() if value else None


class _Compiler:
    def __init__(self, aliases: dict[str, str], placeholders: dict[str, list[str]]) -> None:
        self._aliases = aliases
        self._placeholders = placeholders

    def field(self, name: str) -> str:
        return self._aliases.get(name, name)

    def predicate(self, node: Any) -> Predicate:
        """The condition tree as one generated function (rules/codegen.py); its `__doc__` shows the source."""
        return codegen.compiled(self.node(node))

    def node(self, node: Any) -> codegen.Node:
        """pySigma's resolved condition, node for node, with each field named as the event names it."""
        if isinstance(node, ConditionAND):
            return _single_or(codegen.All([self.node(arg) for arg in node.args]))
        if isinstance(node, ConditionOR):
            return _single_or(codegen.AnyOf(self._merged_or(node.args)))
        if isinstance(node, ConditionNOT):
            return codegen.Not(self.node(node.args[0]))
        if isinstance(node, ConditionFieldEqualsValueExpression):
            name = self.field(node.field)
            if isinstance(node.value, SigmaExists):  # presence, whatever the value, null included
                return codegen.Exists(name, node.value.exists)
            return _test(name, self._expand(node.value))
        if isinstance(node, ConditionValueExpression):
            return _test(KEYWORD_FIELD, self._expand(node.value), keyword=True)
        raise RuleError("", f"condition element {type(node).__name__} is not supported")

    def _merged_or(self, args: list[Any]) -> list[codegen.Node]:
        """The terms of an OR, with the plain strings on one field (a value list, a keyword list) as one test."""
        strings: dict[tuple[str | None, bool], list[SigmaString]] = {}  # (field or None for keywords, cased)
        rest: list[codegen.Node] = []
        for arg in args:
            value = getattr(arg, "value", None)
            if (
                isinstance(value, SigmaString)
                and not value.contains_placeholder()
                and isinstance(arg, ConditionFieldEqualsValueExpression | ConditionValueExpression)
            ):
                name = self.field(arg.field) if isinstance(arg, ConditionFieldEqualsValueExpression) else None
                strings.setdefault((name, isinstance(value, SigmaCasedString)), []).append(value)
            else:
                rest.append(self.node(arg))
        merged: list[codegen.Node] = [
            _strings(name or KEYWORD_FIELD, values, cased=cased, keyword=name is None)
            for (name, cased), values in strings.items()
        ]
        return merged + rest

    def _expand(self, value: Any) -> Any:
        """`expand` placeholders become the configured values (an OR of them)."""
        if not (isinstance(value, SigmaString) and value.contains_placeholder()):
            return value

        def replacements(placeholder: Placeholder) -> Any:
            if placeholder.name not in self._placeholders:
                raise RuleError("", f"placeholder %{placeholder.name}% has no values in the rules config")
            return iter(SigmaString(v) for v in self._placeholders[placeholder.name])

        return SigmaExpansion(list[SigmaType](value.replace_placeholders(replacements)))


_OPERATORS: dict[CompareOperators, codegen.Operator] = {
    CompareOperators.LT: "<",
    CompareOperators.LTE: "<=",
    CompareOperators.GT: ">",
    CompareOperators.GTE: ">=",
}


def _single_or(node: codegen.All | codegen.AnyOf) -> codegen.Node:
    """An AND or OR of one term is that term."""
    return node.parts[0] if len(node.parts) == 1 else node


def _test(name: str, value: Any, *, keyword: bool = False) -> codegen.Node:
    """The test of one (expanded) value on a field, or on the keyword field's text."""
    if isinstance(value, SigmaString):
        return _strings(name, [value], cased=isinstance(value, SigmaCasedString), keyword=keyword)
    strings = [v for v in value.values if isinstance(v, SigmaString)] if isinstance(value, SigmaExpansion) else []
    if strings and len(strings) == len(value.values):
        cased = {isinstance(v, SigmaCasedString) for v in strings}
        if len(cased) == 1:  # an expansion of strings is an OR of them, which one match does at once
            return _strings(name, strings, cased=cased.pop(), keyword=keyword)
    test = value_test(value, contains=keyword)
    label = f"{type(value).__name__} {str(value)!r}"
    if isinstance(value, SigmaRegularExpression):
        return codegen.Test(name, test, label, each=not keyword, regex=compiled_regex(value))
    if isinstance(value, SigmaNumber) and not isinstance(value, SigmaTimestampPart):
        return codegen.Test(name, test, label, each=not keyword, number=("==", value.number))
    if isinstance(value, SigmaCompareExpression):
        number = (_OPERATORS[value.op], value.number.number)
        return codegen.Test(name, test, label, each=not keyword, number=number)
    return codegen.Test(name, test, label, each=not keyword)


def _strings(name: str, values: list[SigmaString], *, cased: bool, keyword: bool) -> codegen.Test:
    match = string_match(values, cased=cased, contains=keyword)
    label = f"any of {[str(v) for v in values]!r}{' (cased)' if cased else ''}{' anywhere' if keyword else ''}"
    return codegen.Test(name, match.test, label, each=not keyword, strings=match)
