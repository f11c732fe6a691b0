"""The rule index: which rules can possibly match an event, found without trying them all.

Rules are grouped by the logsource they name (an event reaches at most 8 groups: each
attribute either named or left open); inside a group, by what every match must have
(rules/requirements.py): an equality value or a number, found with one dict lookup per field,
or a substring, found for all rules at once by one Aho-Corasick pass (pyahocorasick) over the
field's case-folded text. Only rules with no such requirement are tried on every event of
their logsource, so the cost per event grows with the rules that could match, not with all.

An event's groups are looked up as one: at a logsource's first event, the tables of the groups
it reaches are merged into one plan (`_Plan`), so each field is read and folded once and runs
one automaton. With the plan comes the projection of `raw` the event's reader decodes: the raw
paths the rules of those groups read, and the correlations they feed (services/shared/projection.py).
Both are remembered by logsource (a `Route`).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import product
from operator import itemgetter
from typing import Any

import ahocorasick
import orjson

from services.correlator.rules.codegen import Predicate, pure_in
from services.correlator.rules.compiler import CompiledRule
from services.correlator.rules.values import as_number
from services.shared.envelope import EnvelopeLogSource, FieldReader, RawProjection, projection_of

_LogSourceKey = tuple[str | None, str | None, str | None]
_Indexed = tuple[int, CompiledRule]
_Found = dict[int, CompiledRule]  # candidates by rule position
_Remembered = dict[tuple["_Plan", bytes], tuple[CompiledRule, ...]]  # candidates by plan and field values (JSON)
_NO_RULES: _Found = {}  # what a key no rule wants gives (never written to)
_MAX_REMEMBERED_LOGSOURCES = 1024
_MAX_MERGED_PLANS = 1024
_MAX_REMEMBERED_VALUES = 4096  # combinations of field values whose candidates the plans of an index remember
_MAX_REMEMBERED_KEY = 1024  # bytes of such a combination written as JSON: long texts are not kept


class _Group:
    """The rules of one logsource as their rules name it, by what each match must have."""

    def __init__(self) -> None:
        self.always: list[_Indexed] = []
        self.by_value: dict[str, dict[str, list[_Indexed]]] = defaultdict(lambda: defaultdict(list))
        self.by_number: dict[str, dict[float, list[_Indexed]]] = defaultdict(lambda: defaultdict(list))
        self.by_substring: dict[str, dict[str, list[_Indexed]]] = defaultdict(lambda: defaultdict(list))
        self.fields: set[str] = set()  # every name its rules, or what they feed, may read


class _Plan:
    """The tables of some groups merged, for an event answering to all of them: each field read and folded once.

    An event reaches up to 8 groups, and walking each group's tables read the same fields again
    and ran one automaton per group and field. Merged, a field is one entry: its values, its
    numbers, and one automaton over every group's literals, which gives the rules themselves.

    Without an automaton, what the plan finds is a function of the values of its few fields, and
    most events repeat a handful of them (a verb, a resource, a status code): the answer, sorted,
    is remembered by those values, so a repeated combination costs one dict lookup instead of
    folding, looking up and merging each field and sorting the rules. Free text (a field matched
    by substring) seldom repeats, so a plan with an automaton remembers nothing. The plans of an
    index share what they remember (`remembered`, keyed by plan and values), and its bound.
    """

    __slots__ = ("_decided", "_matched", "_read", "_remembered", "always", "fields", "names")

    def __init__(self, groups: list[_Group], remembered: _Remembered) -> None:
        self.always: _Found = dict(sorted(pair for group in groups for pair in group.always))
        by_value = _merged(group.by_value for group in groups)
        by_number = _merged(group.by_number for group in groups)
        by_substring = _merged(group.by_substring for group in groups)
        self.fields = [
            (
                name,
                name in by_value or name in by_substring,  # whether the field's texts are folded
                by_value.get(name),
                by_number.get(name),
                _automaton(by_substring[name]) if name in by_substring else None,
            )
            for name in {**by_value, **by_number, **by_substring}  # in a fixed order: the tables' own
        ]
        self.names = [name for name, *_ in self.fields]
        # The fields' values in one call, the subscripts (`reader[name]`, resolving a name at its first read) done in C.
        self._read = itemgetter(*self.names) if self.names else None
        self._remembered = None if by_substring else remembered
        # The conditions these fields' values alone decide (codegen.pure_in): decided once for a remembered
        # combination, so a rule whose answer is known to be no is not among its candidates, and one known
        # to be yes is there as a twin whose condition answers at once (most of a Kubernetes audit event's matches).
        rules = dict(self.always)
        for table in (*by_value.values(), *by_number.values()):
            for found in table.values():
                rules.update(found)
        self._decided = {
            position: rule.matches
            for position, rule in rules.items()
            if (fields := pure_in(getattr(rule, "matches", None))) is not None and fields <= set(self.names)
        }
        self._matched: _Found = {}  # by position, the twins of rules a combination decided true

    def candidates(self, reader: FieldReader) -> tuple[CompiledRule, ...]:
        """The rules of these groups whose requirements the event's fields meet, each once, in rule order."""
        # Every field is read, in order, remembered or not: a read may dead-letter the event.
        values = self._read(reader) if self._read is not None else ()
        if len(self.names) == 1:
            values = (values,)
        remembered = self._remembered
        if remembered is None:
            return _in_order(self.found(values))
        # Keyed by the values as JSON, which tells apart what Python holds equal and the index does not
        # (True, 1 and 1.0 find different rules; 0.0 and -0.0 are written differently). JSON has neither
        # NaN nor infinity (orjson would write them as null): msgspec refuses both when it decodes an event.
        try:
            key = (self, orjson.dumps(values))
        except TypeError:  # an integer past 64 bits: not remembered
            return _in_order(self.found(values))
        rules = remembered.get(key)
        if rules is None:
            found = self.found(values)
            for position in self._decided.keys() & found.keys():
                answer = _answer(self._decided[position], reader)
                if answer is False:
                    del found[position]
                elif answer:  # its condition is not run again for the combination: its twin matches outright
                    found[position] = self._matched.get(position) or self._twin(position, found[position])
            rules = _in_order(found)
            if len(key[1]) <= _MAX_REMEMBERED_KEY:  # bounded: senders choose the values
                if len(remembered) >= _MAX_REMEMBERED_VALUES:
                    remembered.clear()
                remembered[key] = rules
        return rules

    def _twin(self, position: int, rule: CompiledRule) -> CompiledRule:
        """The rule as a candidate known to match (its condition answers True at once), made once per rule."""
        twin = self._matched[position] = dataclasses.replace(rule, matches=_always)
        return twin

    def found(self, values: Sequence[Any]) -> _Found:
        """The rules found for the values of the plan's fields (in the order of `names`), by position."""
        found = dict(self.always)
        for (_, folds, by_value, by_number, automaton), value in zip(self.fields, values, strict=True):
            if value is None:
                continue
            texts: list[str] | tuple[str, ...] = ()
            if folds:  # most fields hold one text: it is folded without building a list
                texts = (value.casefold(),) if type(value) is str else _folded_values(value)
            if by_value is not None:
                for text in texts:
                    found.update(by_value.get(text, _NO_RULES))
            if by_number is not None:
                if value.__class__ is int or value.__class__ is float:  # as_number's answer, without the call
                    found.update(by_number.get(value, _NO_RULES))
                else:
                    for number in _numbers(value):
                        found.update(by_number.get(number, _NO_RULES))
            if automaton is not None:
                for text in texts:
                    for _, rules in automaton.iter(text):
                        found.update(rules)
        return found


class Route:
    """What an event of one logsource goes through: the projection of `raw` to decode, and the plans to look up.

    `candidates(reader)`: the rules that may match, each once, in rule order (so results do not
    depend on the index). With one plan, as nearly every route has, it is that plan's own method.
    """

    __slots__ = ("candidates", "plans", "projection")

    def __init__(self, plans: list[_Plan], projection: RawProjection | None) -> None:
        self.plans = plans  # one, but past the bounds on what is remembered
        self.projection = projection
        self.candidates: Callable[[FieldReader], Sequence[CompiledRule]] = (
            plans[0].candidates if len(plans) == 1 else self._merged
        )

    def _merged(self, reader: FieldReader) -> Sequence[CompiledRule]:
        found: _Found = {}
        for plan in self.plans:
            found.update(plan.found([reader[name] for name in plan.names]))
        return _in_order(found)


def _answer(condition: Predicate, reader: FieldReader) -> bool | None:
    """The condition's answer for the event; None when it raises, left to the engine, which reports it."""
    try:
        return bool(condition(reader))
    except Exception:  # noqa: BLE001  # the engine tries the rule again, isolates and counts the failure
        return None


def _always(_: FieldReader) -> bool:
    return True


def _in_order(found: _Found) -> tuple[CompiledRule, ...]:
    if len(found) < 2:
        return tuple(found.values())
    return tuple([found[position] for position in sorted(found)])


class RuleIndex:
    def __init__(self, rules: list[CompiledRule], also_read: Mapping[str, frozenset[str]] | None = None) -> None:
        """`also_read`: by rule id, the names read when the rule matches (its correlations' group-by fields)."""
        self.rules = rules
        self._groups: dict[_LogSourceKey, _Group] = defaultdict(_Group)
        for position, rule in enumerate(rules):
            group = self._groups[(rule.logsource.product, rule.logsource.service, rule.logsource.category)]
            group.fields.update(rule.fields, (also_read or {}).get(rule.ref.id, ()))
            if not rule.index_keys:
                group.always.append((position, rule))
                continue
            for kind, field_name, key in rule.index_keys:
                table = {"eq": group.by_value, "num": group.by_number, "sub": group.by_substring}[kind]
                table[field_name][key].append((position, rule))  # type: ignore[index]
        # Each group alone, for the logsources past the bounds below: looked up one after the other, as before merging.
        self._remembered: _Remembered = {}
        self._plan_of = {key: _Plan([group], self._remembered) for key, group in self._groups.items()}
        self._merged: dict[tuple[_LogSourceKey, ...], list[_Plan]] = {}  # logsources reaching the same groups share one
        self._routes: dict[_LogSourceKey, Route] = {}
        # Logsources reading the same paths share one projection.
        self._projections: dict[frozenset[str], RawProjection | None] = {}

    def route(self, logsource: EnvelopeLogSource) -> Route:
        """The route of an event of this logsource; made at the logsource's first event and remembered.

        Senders choose logsources, so what is remembered is bounded: past the bound, a route is made
        for each event, with the groups' own plans looked up one by one and `raw` decoded whole.
        """
        key = (logsource.product, logsource.service, logsource.category)
        route = self._routes.get(key)
        if route is None:
            wanted = set(product((key[0], None), (key[1], None), (key[2], None)))
            groups = tuple(k for k in self._groups if k in wanted)  # in a fixed order, as merged plans are shared
            if len(self._routes) >= _MAX_REMEMBERED_LOGSOURCES:
                return Route([self._plan_of[k] for k in groups], None)
            names = frozenset().union(*(self._groups[k].fields for k in groups))
            if names not in self._projections:
                self._projections[names] = projection_of(names)
            route = self._routes[key] = Route(self._plans(groups), self._projections[names])
        return route

    def _plans(self, groups: tuple[_LogSourceKey, ...]) -> list[_Plan]:
        if len(groups) < 2:
            return [self._plan_of[k] for k in groups]
        plans = self._merged.get(groups)
        if plans is None:
            if len(self._merged) >= _MAX_MERGED_PLANS:  # bounded by the rules' logsources, yet a set may name many
                return [self._plan_of[k] for k in groups]
            plans = self._merged[groups] = [_Plan([self._groups[k] for k in groups], self._remembered)]
        return plans

    def projection(self, logsource: EnvelopeLogSource) -> RawProjection | None:
        """What to decode of `raw` for an event of this logsource: the raw paths its candidate rules may read.

        None past the bound on remembered logsources (the reader decodes the full payload, as for
        a name outside any projection).
        """
        return self.route(logsource).projection

    def candidates(self, logsource: EnvelopeLogSource, reader: FieldReader) -> Sequence[CompiledRule]:
        """Rules that may match, each once, in rule order (so results do not depend on the index)."""
        return self.route(logsource).candidates(reader)


def _merged(tables: Iterable[dict[str, dict[Any, list[_Indexed]]]]) -> dict[str, dict[Any, _Found]]:
    """Tables by field and key, one per group, as one: a key's rules are those of every group.

    A key's rules are a dict by position, as `found` is: adding them is a merge of dicts, done
    in C, where adding a list of pairs checked each pair (the commonest line of an event's lookup).
    """
    merged: dict[str, dict[Any, _Found]] = defaultdict(lambda: defaultdict(dict))
    for table in tables:
        for name, keys in table.items():
            for key, rules in keys.items():
                merged[name][key].update(rules)
    return {name: dict(keys) for name, keys in merged.items()}


def _automaton(literals: dict[str, _Found]) -> ahocorasick.Automaton:
    """Finds every literal in a text in one pass, each found giving its rules."""
    automaton = ahocorasick.Automaton()
    for literal, rules in literals.items():
        automaton.add_word(literal, rules)
    automaton.make_automaton()
    return automaton


def _folded_values(value: object) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [_text(item).casefold() for item in items if item is not None]


def _numbers(value: object) -> list[float]:
    # A number is one dict key however it was written: 401 == 401.0, and they hash alike.
    items = value if isinstance(value, list) else [value]
    return [number for item in items if (number := as_number(item)) is not None]


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
