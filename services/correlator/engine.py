"""Stage 1, detection: every rule that applies to an event's logsource is tried; each match is an alert."""

from __future__ import annotations

import structlog

from services.correlator.hunt import hunt_query
from services.correlator.rules.compiler import CompiledRule
from services.shared.alert import Alert, alert_id
from services.shared.event import Event, FieldReader
from services.shared.metrics import ALERTS, ERRORS

log = structlog.get_logger()


class DetectionEngine:
    def __init__(self, rules: list[CompiledRule]) -> None:
        self.rules = rules

    def evaluate(self, event: Event) -> list[Alert]:
        reader = FieldReader(event)
        alerts: list[Alert] = []
        for rule in self.rules:
            if not rule.applies_to(event.logsource):
                continue
            try:
                matched = rule.matches(reader)
            except Exception as exc:  # one broken rule must not stop the others
                ERRORS.labels("correlator", "rule_failed").inc()
                log.error("rule_failed", rule_id=rule.ref.id, event_id=event.id, error=type(exc).__name__)
                continue
            if matched:
                alerts.append(_alert(rule, event))
                ALERTS.labels(rule.ref.level).inc()
        return alerts


def _alert(rule: CompiledRule, event: Event) -> Alert:
    return Alert(
        id=alert_id(rule.ref.id, {}, [event.id]),
        rule=rule.ref,
        group={},
        count=1,
        first_seen=event.time,
        last_seen=event.time,
        event_ids=[event.id],
        hunt=hunt_query(event.event.module, [event.id]),
    )
