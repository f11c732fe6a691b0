"""One loaded rule set, as both stages use it: the detection index and who feeds which correlation.

It is immutable: a reload builds a new RuleSet and swaps it in whole.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from services.correlator.rules.compiler import CompiledRule
from services.correlator.rules.config import RulesConfig
from services.correlator.rules.correlation import CorrelationRule
from services.correlator.rules.index import RuleIndex
from services.correlator.rules.loader import LoadedRules, load_rules
from services.shared.errors import RuleError


class RuleSet:
    def __init__(self, loaded: LoadedRules) -> None:
        self.detections = loaded.rules
        self.correlations = {c.ref.id: c for c in loaded.correlations}
        self.errors: list[RuleError] = loaded.errors
        self.files = loaded.files
        self.feeds: dict[str, list[CorrelationRule]] = defaultdict(list)
        for correlation in loaded.correlations:
            for rule_id in dict.fromkeys(correlation.rules):
                self.feeds[rule_id].append(correlation)
        fed = {rule_id: _fed_fields(rule_id, users) for rule_id, users in self.feeds.items()}
        self.index = RuleIndex(loaded.rules, fed)
        # A rule referenced by correlations alerts on its own only if one of them says `generate: true`.
        self.silenced = frozenset(
            rule_id for rule_id, users in self.feeds.items() if not any(c.generate for c in users)
        )
        self.longest_timespan_seconds = max((c.timespan_seconds for c in loaded.correlations), default=0.0)
        self.suppress_seconds: dict[str, float] = {}
        everything: list[CompiledRule | CorrelationRule] = [*loaded.rules, *loaded.correlations]
        for rule in everything:
            if rule.suppress_seconds is not None:
                self.suppress_seconds[rule.ref.id] = rule.suppress_seconds

    @classmethod
    def load(cls, dirs: list[Path], config: RulesConfig | None = None) -> RuleSet:
        return cls(load_rules(dirs, config))

    def __len__(self) -> int:
        return len(self.detections) + len(self.correlations)


def _fed_fields(rule_id: str, correlations: list[CorrelationRule]) -> frozenset[str]:
    """The names a match of the rule reads for the correlations it feeds: group-by values, the metric's field."""
    names = {c.group_field(name, rule_id) for c in correlations for name in c.group_by}
    names.update(c.value_field for c in correlations if c.value_field)
    return frozenset(names)
