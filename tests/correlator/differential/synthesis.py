"""Events synthesised from a rule's own detection values: its selections satisfied alone and together, and near misses.

For every combination of the rule's search identifiers, an event satisfies each of them (so
`selection and not filter` gets events with and without the filter), cycling through the
alternatives of lists. Wildcards are filled three ways (`*` as text, as nothing; `?` as one
character and as two, which is a near miss). Each event of the first filling is then mutated:
case swapped, one value changed by a character, cut, padded on either side, its field
dropped, a number written as text. Which of these match is for the implementations to say.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sigma.conditions import ConditionAND
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaType,
    SpecialChars,
)

from tests.correlator.differential.samples import Sample

ABSENT = object()  # the field must not be in the event (`|exists: false`)
MAX_SUBSET_DETECTIONS = 4  # up to this many search identifiers, every combination of them is tried


@dataclass(frozen=True)
class Fill:
    multi: str  # what `*` becomes
    single: str  # what `?` becomes


FILLS = (Fill("x", "q"), Fill("", "qq"), Fill("Mid Part/", "Q"))


@dataclass
class Assignment:
    """Field values and keyword texts that together satisfy part of a detection."""

    fields: dict[str, Any] = field(default_factory=dict)
    keywords: list[str] = field(default_factory=list)

    def merged(self, other: Assignment) -> Assignment:
        fields = {**other.fields, **self.fields}  # the first assignment wins a field both set
        return Assignment(fields, [*self.keywords, *other.keywords])


def synthesize(rule: SigmaRule) -> list[Sample]:
    """Positive and near-miss events for this rule, without duplicates, in a stable order."""
    detections = rule.detection.detections
    names = list(detections)
    base: list[Sample] = [Sample("empty", {})]
    for number, fill in enumerate(FILLS):
        alternatives = {name: _detection(detections[name], fill) for name in names}
        for subset in _subsets(names):
            options = [alternatives[name] for name in subset if alternatives[name]]
            width = max((len(o) for o in options), default=0)
            for k in range(width):
                assignment = Assignment()
                for option in options:
                    assignment = assignment.merged(option[k % len(option)])
                base.append(_sample(f"{'+'.join(subset)}#{k}/fill{number}", assignment))
    mutated = [m for sample in base if sample.origin.endswith("/fill0") for m in _mutations(sample)]
    return _unique([*base, *mutated])


def _subsets(names: list[str]) -> Iterator[tuple[str, ...]]:
    if len(names) <= MAX_SUBSET_DETECTIONS:
        for size in range(1, len(names) + 1):
            yield from itertools.combinations(names, size)
        return
    yield from ((name,) for name in names)
    yield from itertools.combinations(names, len(names) - 1)
    yield tuple(names)


def _detection(detection: SigmaDetection, fill: Fill) -> list[Assignment]:
    children = [
        _item(item, fill) if isinstance(item, SigmaDetectionItem) else _detection(item, fill)
        for item in detection.detection_items
    ]
    children = [c for c in children if c]
    if detection.item_linking is not ConditionAND or len(children) == 1:
        return [a for child in children for a in child]
    width = max((len(c) for c in children), default=0)
    combined: list[Assignment] = []
    for k in range(width):
        assignment = Assignment()
        for child in children:
            assignment = assignment.merged(child[k % len(child)])
        combined.append(assignment)
    return combined


def _item(item: SigmaDetectionItem, fill: Fill) -> list[Assignment]:
    rendered = [value for v in item.value for value in _render(v, fill)]
    if item.negated:  # `neq`: a value that is none of the listed ones
        return [Assignment({item.field: "differential-other-value"})] if item.field else []
    if item.value_linking is ConditionAND and len(rendered) > 1:
        together = " ".join(str(v) for v in rendered)  # one text holding every value (`|all`)
        return [Assignment({item.field: together})] if item.field else [Assignment(keywords=[together])]
    if item.field is None:
        return [Assignment(keywords=[str(v)]) for v in rendered]
    return [Assignment({item.field: v}) for v in rendered]


def _render(value: SigmaType, fill: Fill) -> list[Any]:
    """Event values that the rule value is meant to match (for regular expressions: the pattern's text)."""
    if isinstance(value, SigmaExpansion):
        return [r for v in value.values for r in _render(v, fill)]
    if isinstance(value, SigmaString):
        return [_text(value, fill)]
    if isinstance(value, SigmaNumber):
        return [value.number]
    if isinstance(value, SigmaBool):
        return [value.boolean]
    if isinstance(value, SigmaNull):
        return [None]
    if isinstance(value, SigmaExists):
        return ["present" if value.exists else ABSENT]
    if isinstance(value, SigmaCompareExpression):
        bound = value.number.number
        step = {CompareOperators.LT: -1, CompareOperators.GT: 1}.get(value.op, 0)
        return [bound + step]
    if isinstance(value, SigmaCIDRExpression):
        return [str(next(value.network.hosts(), value.network.network_address))]
    if isinstance(value, SigmaRegularExpression):
        return [value.regexp.original]
    return [str(value)]


def _text(value: SigmaString, fill: Fill) -> str:
    return "".join(
        fill.multi
        if part is SpecialChars.WILDCARD_MULTI
        else fill.single
        if part is SpecialChars.WILDCARD_SINGLE
        else str(part)
        for part in value.s
    )


def _sample(origin: str, assignment: Assignment) -> Sample:
    raw: dict[str, Any] = {}
    for name, value in assignment.fields.items():
        if value is not ABSENT:
            _put(raw, name, value)
    return Sample(origin, raw, " | ".join(assignment.keywords) if assignment.keywords else None)


def _put(raw: dict[str, Any], name: str, value: Any) -> None:
    """A dotted name becomes nested objects, as sources send them (`objectRef.resource`)."""
    *parents, leaf = name.split(".")
    target = raw
    for parent in parents:
        child = target.setdefault(parent, {})
        if not isinstance(child, dict):  # a scalar already holds that name: keep the dotted key whole
            raw[name] = value
            return
        target = child
    target[leaf] = value


def _mutations(sample: Sample) -> Iterator[Sample]:
    raw = sample.raw or {}
    yield Sample(f"{sample.origin} swapcase", _map_strings(raw, str.swapcase), _swap(sample.message))
    if sample.message is not None:
        for label, text in _text_variants(sample.message):
            yield Sample(f"{sample.origin} message {label}", raw, text)
        yield Sample(f"{sample.origin} message embedded", raw, f"[{sample.message}]")
    for keys, value in _leaves(raw):
        path = ".".join(keys)
        yield Sample(f"{sample.origin} drop {path}", _replaced(raw, keys, ABSENT), sample.message)
        for label, variant in _value_variants(value):
            yield Sample(f"{sample.origin} {path} {label}", _replaced(raw, keys, variant), sample.message)


def _value_variants(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, bool):
        yield "negated", not value
        yield "as-text", str(value).lower()
    elif isinstance(value, (int, float)):
        yield "plus-one", value + 1
        yield "as-text", str(value)
    elif isinstance(value, str):
        yield from _text_variants(value)


def _text_variants(text: str) -> Iterator[tuple[str, str]]:
    if text:
        last = text[-1]
        yield "last-char-changed", text[:-1] + ("b" if last.lower() == "a" else "a")
        yield "first-char-dropped", text[1:]
    yield "prefixed", "Z" + text
    yield "suffixed", text + "Z"


def _leaves(raw: dict[str, Any], keys: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for key, value in raw.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, (*keys, key))
        else:
            yield (*keys, key), value


def _replaced(raw: dict[str, Any], keys: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of `raw` with the leaf under `keys` replaced or, for ABSENT, removed."""
    copy: dict[str, Any] = json.loads(json.dumps(raw))
    target = copy
    for key in keys[:-1]:
        target = target[key]
    if value is ABSENT:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return copy


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        return {k: _map_strings(v, change) for k, v in value.items()}
    if isinstance(value, str):
        return change(value)
    return value


def _swap(text: str | None) -> str | None:
    return None if text is None else text.swapcase()


def _unique(samples: list[Sample]) -> list[Sample]:
    seen: set[str] = set()
    unique: list[Sample] = []
    for sample in samples:
        key = json.dumps([sample.raw, sample.message], sort_keys=True)
        if key not in seen:
            seen.add(key)
            unique.append(sample)
    return unique
