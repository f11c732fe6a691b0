"""The rule index: which rules can possibly match an event, found without trying them all.

Rules are grouped by the logsource they name (an event reaches at most 8 groups: each
attribute either named or left open), and inside a group by the equality values every
match must have (`index_keys`). Only rules without such a key are tried on every event
of their logsource, so the cost per event grows with the matching rules, not with all.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import product

from services.correlator.rules.compiler import CompiledRule
from services.shared.event import FieldReader, LogSource

_LogSourceKey = tuple[str | None, str | None, str | None]


class _Group:
    def __init__(self) -> None:
        self.always: list[tuple[int, CompiledRule]] = []
        self.by_value: dict[str, dict[str, list[tuple[int, CompiledRule]]]] = defaultdict(lambda: defaultdict(list))


class RuleIndex:
    def __init__(self, rules: list[CompiledRule]) -> None:
        self.rules = rules
        self._groups: dict[_LogSourceKey, _Group] = defaultdict(_Group)
        for position, rule in enumerate(rules):
            group = self._groups[(rule.logsource.product, rule.logsource.service, rule.logsource.category)]
            if rule.index_keys:
                for field_name, value in rule.index_keys:
                    group.by_value[field_name][value].append((position, rule))
            else:
                group.always.append((position, rule))

    def candidates(self, logsource: LogSource, reader: FieldReader) -> list[CompiledRule]:
        """Rules that may match, each once, in rule order (so results do not depend on the index)."""
        found: dict[int, CompiledRule] = {}
        for key in set(product((logsource.product, None), (logsource.service, None), (logsource.category, None))):
            group = self._groups.get(key)
            if group is None:
                continue
            found.update(group.always)
            for field_name, values in group.by_value.items():
                for value in _folded_values(reader.get(field_name)):
                    found.update(values.get(value, ()))
        return [found[position] for position in sorted(found)]


def _folded_values(value: object) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [_text(item).casefold() for item in items if item is not None]


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
