"""The rule index: which rules can possibly match an event, found without trying them all.

Rules are grouped by the logsource they name (an event reaches at most 8 groups: each
attribute either named or left open); inside a group, by what every match must have
(rules/requirements.py): an equality value or a number, found with one dict lookup per field,
or a substring, found for all rules at once by one Aho-Corasick pass (pyahocorasick) over the
field's case-folded text. Only rules with no such requirement are tried on every event of
their logsource, so the cost per event grows with the rules that could match, not with all.

With an event's groups comes the projection of `raw` its reader decodes: the raw paths the
rules of those groups read, and the correlations they feed (services/shared/projection.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from itertools import product

import ahocorasick

from services.correlator.rules.compiler import CompiledRule
from services.correlator.rules.values import as_number
from services.shared.envelope import EnvelopeLogSource, FieldReader, projection_of
from services.shared.projection import Projection

_LogSourceKey = tuple[str | None, str | None, str | None]
_Indexed = tuple[int, CompiledRule]
_MAX_REMEMBERED_LOGSOURCES = 1024


class _Group:
    def __init__(self) -> None:
        self.always: list[_Indexed] = []
        self.by_value: dict[str, dict[str, list[_Indexed]]] = defaultdict(lambda: defaultdict(list))
        self.by_number: dict[str, dict[float, list[_Indexed]]] = defaultdict(lambda: defaultdict(list))
        self.by_substring: dict[str, dict[str, list[_Indexed]]] = defaultdict(lambda: defaultdict(list))
        self.automata: dict[str, ahocorasick.Automaton] = {}
        self.fields: set[str] = set()  # every name its rules, or what they feed, may read

    def seal(self) -> None:
        for field_name, literals in self.by_substring.items():
            automaton = ahocorasick.Automaton()
            for literal in literals:
                automaton.add_word(literal, literal)
            automaton.make_automaton()
            self.automata[field_name] = automaton


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
        for group in self._groups.values():
            group.seal()
        self._groups_of: dict[_LogSourceKey, list[_Group]] = {}
        self._projection_of: dict[_LogSourceKey, Projection | None] = {}
        self._projections: dict[frozenset[str], Projection | None] = {}  # logsources reading the same paths share one

    def _groups_for(self, logsource: EnvelopeLogSource) -> list[_Group]:
        """The groups whose logsource the event's answers to; remembered, as events share a few logsources."""
        key = (logsource.product, logsource.service, logsource.category)
        groups = self._groups_of.get(key)
        if groups is None:
            wanted = set(product((key[0], None), (key[1], None), (key[2], None)))
            groups = [group for k, group in self._groups.items() if k in wanted]
            if len(self._groups_of) < _MAX_REMEMBERED_LOGSOURCES:  # senders choose logsources: stay bounded
                self._groups_of[key] = groups
        return groups

    def projection(self, logsource: EnvelopeLogSource) -> Projection | None:
        """What to decode of `raw` for an event of this logsource: the raw paths its candidate rules may read.

        Made at the logsource's first event and remembered with its groups; past that bound, None
        (the reader decodes the full payload, as for a name outside any projection).
        """
        key = (logsource.product, logsource.service, logsource.category)
        try:
            return self._projection_of[key]
        except KeyError:
            pass
        if len(self._projection_of) >= _MAX_REMEMBERED_LOGSOURCES:
            return None
        names = frozenset().union(*(group.fields for group in self._groups_for(logsource)))
        if names not in self._projections:
            self._projections[names] = projection_of(names)
        projection = self._projection_of[key] = self._projections[names]
        return projection

    def candidates(self, logsource: EnvelopeLogSource, reader: FieldReader) -> list[CompiledRule]:
        """Rules that may match, each once, in rule order (so results do not depend on the index).

        A field holding one text (most do) is folded and looked up without building a list of its
        values: with the rules' own work down to a few candidates, this loop is much of an event's cost.
        """
        found: dict[int, CompiledRule] = {}
        get = reader.get
        for group in self._groups_for(logsource):
            if group.always:
                found.update(group.always)
            for field_name, values in group.by_value.items():
                value = get(field_name)
                if type(value) is str:
                    found.update(values.get(value.casefold(), ()))
                elif value is not None:
                    for folded in _folded_values(value):
                        found.update(values.get(folded, ()))
            for field_name, numbers in group.by_number.items():
                for number in _numbers(get(field_name)):
                    found.update(numbers.get(number, ()))
            for field_name, automaton in group.automata.items():
                value = get(field_name)
                if value is None:
                    continue
                literals = group.by_substring[field_name]
                for text in (value.casefold(),) if type(value) is str else _folded_values(value):
                    for _, literal in automaton.iter(text):
                        found.update(literals[literal])
        if len(found) < 2:
            return list(found.values())
        return [found[position] for position in sorted(found)]


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
