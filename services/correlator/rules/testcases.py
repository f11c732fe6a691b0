"""`siem rules test`: the test events a rule carries, run through the real engines.

A rule carries its tests as a `tests` list (a Sigma custom attribute):

    tests:
      - name: failed root login from one address    # optional
        match: true                                  # must raise this rule's alert
        events:                                      # or `event:` for just one
          - {"user": {"name": "root"}, "source": {"ip": "203.0.113.7"}, "event": {"outcome": "failure"}}
      - match: false
        event: {"user": {"name": "alice"}}

Each event is generic JSON, as POST /v1/events takes it; without its own `logsource` it
answers to the rule's. For a correlation, the events go through both stages in order and
the case passes when the correlation's own alert appears (or not).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.correlator.pipeline import InProcessPipeline
from services.correlator.ruleset import RuleSet
from services.ingest.sources.generic import to_event
from services.shared.event import LogSource


@dataclass
class CaseResult:
    rule_id: str
    title: str
    location: str
    name: str
    passed: bool
    reason: str = ""


@dataclass
class TestReport:
    results: list[CaseResult] = field(default_factory=list)
    untested: list[tuple[str, str]] = field(default_factory=list)  # (location, title)

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]


def run_rule_tests(rules: RuleSet) -> TestReport:
    report = TestReport()
    owners: list[tuple[str, str, str, LogSource | None, Any]] = [
        (r.ref.id, r.ref.title, r.location, r.logsource, r.attributes.get("tests")) for r in rules.detections
    ]
    owners += [
        (c.ref.id, c.ref.title, c.location, _first_logsource(rules, c.ref.id), c.attributes.get("tests"))
        for c in rules.correlations.values()
    ]
    for rule_id, title, location, logsource, cases in owners:
        if not cases:
            report.untested.append((location, title))
            continue
        if not isinstance(cases, list):
            report.results.append(CaseResult(rule_id, title, location, "tests", False, "`tests` must be a list"))
            continue
        for number, case in enumerate(cases, start=1):
            report.results.append(_run_case(rules, rule_id, title, location, logsource, number, case))
    return report


def _first_logsource(rules: RuleSet, rule_id: str) -> LogSource | None:
    """A correlation's test events answer to the logsource of the first detection it stands on."""
    detections = {r.ref.id: r for r in rules.detections}
    while rule_id not in detections:
        correlation = rules.correlations.get(rule_id)
        if correlation is None:
            return None
        rule_id = correlation.rules[0]
    return detections[rule_id].logsource


def _run_case(
    rules: RuleSet, rule_id: str, title: str, location: str, logsource: LogSource | None, number: int, case: Any
) -> CaseResult:
    name = str(case.get("name", f"case {number}")) if isinstance(case, dict) else f"case {number}"
    if not isinstance(case, dict) or "match" not in case or not ("event" in case or "events" in case):
        return CaseResult(rule_id, title, location, name, False, "a case needs `match` and `event` or `events`")
    raw_events = case["events"] if "events" in case else [case["event"]]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    pipeline = InProcessPipeline(rules, lateness_seconds=float("inf"), emit_silenced=True)
    raised = False
    try:
        for position, raw in enumerate(raw_events):
            item = dict(raw)
            if logsource is not None and "logsource" not in item:
                item["logsource"] = logsource.model_dump(exclude_none=True)
            # Events without their own time are one second apart, in the order written.
            event = to_event(item, start + timedelta(seconds=position))
            raised |= any(alert.rule.id == rule_id for alert in pipeline.feed(event))
        raised |= any(alert.rule.id == rule_id for alert in pipeline.finish())
    except (ValueError, TypeError) as exc:
        return CaseResult(rule_id, title, location, name, False, f"bad test event: {exc}")
    expected = bool(case["match"])
    if raised == expected:
        return CaseResult(rule_id, title, location, name, True)
    return CaseResult(
        rule_id, title, location, name, False, "expected an alert, got none" if expected else "alerted, expected none"
    )
