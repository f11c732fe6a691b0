"""Stage 1: the detection engine tries the rules the index finds and isolates a rule that raises."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY

from services.correlator.engine import DetectionEngine
from services.correlator.hunt import hunt_query
from services.correlator.rules.compiler import CompiledRule
from services.correlator.rules.loader import LoadedRules
from services.correlator.ruleset import RuleSet
from services.shared.alert import Alert, RuleRef, alert_id
from services.shared.envelope import Envelope, FieldReader, InvalidEnvelope, decode
from services.shared.event import Event, LogSource

T0 = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)


def _hand_rule(rule_id: str, matches: Any, product: str = "linux") -> CompiledRule:
    ref = RuleRef(id=rule_id, title=rule_id)
    return CompiledRule(ref, None, LogSource(product=product), matches, f"{rule_id}.yml:1")


def _engine(*rules: CompiledRule) -> DetectionEngine:
    return DetectionEngine(RuleSet(LoadedRules(rules=list(rules))))


def _event(raw: Any = None) -> Event:
    return Event(id="e1", time=T0, ingested=T0, raw=raw, logsource=LogSource(product="linux"))


def test_engine_isolates_a_raising_rule() -> None:
    """A rule whose predicate raises is counted and skipped; the other rules still alert."""

    def broken(_: FieldReader) -> bool:
        raise KeyError("boom")

    engine = _engine(_hand_rule("broken", broken), _hand_rule("good", lambda _: True))
    labels = {"stage": "correlator", "error_type": "rule_failed"}
    before = REGISTRY.get_sample_value("siem_errors_total", labels) or 0.0
    alerts = engine.evaluate(Envelope.of(_event({"a": 1}))).alerts
    assert [a.rule.id for a in alerts] == ["good"]
    assert alerts[0].event_ids == ["e1"] and alerts[0].count == 1
    assert REGISTRY.get_sample_value("siem_errors_total", labels) == before + 1


def test_engine_skips_rules_for_other_logsources() -> None:
    """The engine does not evaluate, nor alert on, a rule whose logsource the event does not answer to."""
    called: list[str] = []

    def spy(_: FieldReader) -> bool:
        called.append("windows")
        return True

    engine = _engine(_hand_rule("win", spy, product="windows"), _hand_rule("lin", lambda _: True))
    assert [a.rule.id for a in engine.evaluate(Envelope.of(_event())).alerts] == ["lin"]
    assert called == []


def test_per_rule_metrics_are_counted_once_per_batch() -> None:
    """Evaluations and matches per rule reach Prometheus when the batch flushes them."""
    engine = _engine(_hand_rule("counted", lambda _: True))
    labels = {"rule_id": "counted"}
    before = REGISTRY.get_sample_value("siem_rule_matches_total", labels) or 0.0
    for _ in range(3):
        engine.evaluate(Envelope.of(_event()))
    assert (REGISTRY.get_sample_value("siem_rule_matches_total", labels) or 0.0) == before
    engine.flush_metrics()
    assert REGISTRY.get_sample_value("siem_rule_matches_total", labels) == before + 3
    assert REGISTRY.get_sample_value("siem_rule_evaluations_total", labels) == before + 3


def test_alerts_are_counted_by_level_once_per_batch() -> None:
    """siem_alerts_total counts stage 1's alerts by rule level when the batch flushes, like the rule counters."""
    ref = RuleRef(id="counted-alert", title="counted", level="critical")
    engine = _engine(CompiledRule(ref, None, LogSource(product="linux"), lambda _: True, "counted.yml:1"))
    before = REGISTRY.get_sample_value("siem_alerts_total", {"level": "critical"}) or 0.0
    for _ in range(2):
        engine.evaluate(Envelope.of(_event()))
    engine.flush_metrics()
    assert REGISTRY.get_sample_value("siem_alerts_total", {"level": "critical"}) == before + 2


def test_an_alert_built_without_revalidation_is_a_valid_alert() -> None:
    """Stage 1 constructs alerts from validated parts; each one passes the Alert schema as it goes out."""
    ref = RuleRef(id="tagged", title="tagged", level="high", tags=["attack.t1110.001", "attack.credential-access"])
    engine = _engine(CompiledRule(ref, None, LogSource(product="linux"), lambda _: True, "tagged.yml:1"))
    [alert] = engine.evaluate(Envelope.of(_event(raw={"message": "x"}))).alerts
    assert Alert.model_validate_json(alert.model_dump_json()) == alert
    assert (alert.severity, alert.risk_score, [t.id for t in alert.attack]) == ("high", 73, ["T1110.001"])


def test_each_alert_of_a_rule_carries_its_own_event() -> None:
    """A rule's later alerts (copies of its first) hold their own event's id, time and hunt; the first is untouched."""
    engine = _engine(_hand_rule("repeat", lambda _: True))
    later = T0.replace(microsecond=250000)
    events = [
        _event(),
        Event(id="k8s.audit-2", time=later, ingested=later, logsource=LogSource(product="linux")),
    ]
    first, second = (engine.evaluate(Envelope.of(event)).alerts[0] for event in events)
    assert (first.event_ids, first.first_seen, first.last_seen) == (["e1"], T0, T0)
    assert (second.event_ids, second.first_seen, second.last_seen) == (["k8s.audit-2"], later, later)
    assert second.id == alert_id("repeat", {}, ["k8s.audit-2"]) != first.id
    assert second.hunt == hunt_query([events[1].event.module], ["k8s.audit-2"])
    assert second.to_json() == second.__pydantic_serializer__.to_json(second)
    assert second.model_fields_set == first.model_fields_set


def test_alerts_after_a_reload_carry_the_reloaded_rule() -> None:
    """A rule reloaded under the same id raises alerts with its new title, not the old one's."""
    engine = _engine(_hand_rule("reloaded", lambda _: True))
    engine.evaluate(Envelope.of(_event()))
    new_ref = RuleRef(id="reloaded", title="new title", level="high")
    engine.replace_rules(
        RuleSet(LoadedRules(rules=[CompiledRule(new_ref, None, LogSource(product="linux"), lambda _: True, "r.yml:1")]))
    )
    [alert] = engine.evaluate(Envelope.of(_event())).alerts
    assert alert.rule is new_ref and (alert.severity, alert.risk_score) == ("high", 73)


def _counted(rule_id: str) -> tuple[float, float]:
    labels = {"rule_id": rule_id}
    return (
        REGISTRY.get_sample_value("siem_rule_evaluations_total", labels) or 0.0,
        REGISTRY.get_sample_value("siem_rule_matches_total", labels) or 0.0,
    )


def test_evaluations_are_those_of_each_rule_tried_timed_untimed_or_given_up() -> None:
    """Every rule tried on an event counts one evaluation, however the engine adds them up.

    An event given up at a field that cannot be read counts the rules tried before, not that rule nor the ones after.
    """

    def reads_raw(reader: FieldReader) -> bool:
        return reader["size"] is not None

    engine = _engine(
        _hand_rule("tally-a", lambda _: True),
        _hand_rule("tally-raw", reads_raw),
        _hand_rule("tally-c", lambda _: False),
    )
    before = {rule_id: _counted(rule_id) for rule_id in ("tally-a", "tally-raw", "tally-c")}
    for n in range(40):  # across timed and untimed events, and past one flush
        engine.evaluate(Envelope.of(_event({"size": n})))
        if n == 20:
            engine.flush_metrics()
    unreadable = decode(
        b'{"id":"e2","time":"2026-11-26T06:00:00Z","ingested":"2026-11-26T06:00:00Z",'
        b'"logsource":{"product":"linux"},"raw":{"size":1e999}}'
    )
    with pytest.raises(InvalidEnvelope):
        engine.evaluate(unreadable)
    engine.flush_metrics()
    after = {rule_id: _counted(rule_id) for rule_id in before}
    assert after["tally-a"] == (before["tally-a"][0] + 41, before["tally-a"][1] + 41)
    assert after["tally-raw"] == (before["tally-raw"][0] + 40, before["tally-raw"][1] + 40)
    assert after["tally-c"] == (before["tally-c"][0] + 40, before["tally-c"][1])
