"""The table of alerts the Alertmanager sink re-posts: endsAt, repeats, the resolved window and its bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.correlator.sinks.alert_table import AlertTable
from services.shared.alert import rfc3339_utc

T0 = datetime(2026, 11, 26, 6, 0, 0, tzinfo=UTC)


def _payload(rule: str, **annotations: str) -> dict[str, Any]:
    return {"labels": {"alertname": rule, "rule_id": rule, "severity": "high"}, "annotations": annotations}


def _table(**changes: Any) -> AlertTable:
    return AlertTable(**{"max_alerts": 100, "active_seconds": 600, "resolved_seconds": 300, **changes})


def test_a_tracked_alert_is_posted_with_its_end() -> None:
    """A new alert is posted with startsAt = its first event and endsAt = now + the active period."""
    posted = _table().track(_payload("a"), T0 - timedelta(minutes=1), T0)
    assert posted["startsAt"] == "2026-11-26T05:59:00Z"
    assert posted["endsAt"] == "2026-11-26T06:10:00Z"


def test_starts_at_is_never_after_now() -> None:
    """An event time ahead of the clock (a skewed source) is clamped: Alertmanager refuses startsAt > endsAt."""
    posted = _table().track(_payload("a"), T0 + timedelta(hours=2), T0)
    assert posted["startsAt"] == "2026-11-26T06:00:00Z"


def test_a_repeat_extends_the_alert_and_keeps_its_start() -> None:
    """The same label set again while active moves endsAt on, keeps the first startsAt, takes new annotations."""
    table = _table()
    table.track(_payload("a", count="1"), T0, T0)
    posted = table.track(_payload("a", count="2"), T0 + timedelta(minutes=5), T0 + timedelta(minutes=5))
    assert (posted["startsAt"], posted["endsAt"], posted["annotations"]) == (
        "2026-11-26T06:00:00Z",
        "2026-11-26T06:15:00Z",
        {"count": "2"},
    )
    assert len(table) == 1


def test_resent_while_active_then_as_resolved_for_the_window_then_forgotten() -> None:
    """Due: active alerts, then resolved ones (endsAt in the past) for 5 minutes, then nothing."""
    table = _table()
    table.track(_payload("a"), T0, T0)
    assert [p["endsAt"] for p in table.due(T0 + timedelta(minutes=9))] == ["2026-11-26T06:10:00Z"]
    assert [p["endsAt"] for p in table.due(T0 + timedelta(minutes=14))] == ["2026-11-26T06:10:00Z"]
    assert table.due(T0 + timedelta(minutes=15, seconds=1)) == []
    assert len(table) == 0


def test_a_repeat_after_resolution_starts_a_new_firing() -> None:
    """The same label set after its end is a new firing: startsAt is the new first event."""
    table = _table()
    table.track(_payload("a"), T0, T0)
    later = T0 + timedelta(minutes=12)
    assert table.track(_payload("a"), later, later)["startsAt"] == "2026-11-26T06:12:00Z"


def test_the_table_is_bounded_and_drops_the_alert_due_to_end_first() -> None:
    """Past max_alerts, the alert that resolves soonest is forgotten, the newest kept."""
    table = _table(max_alerts=2)
    table.track(_payload("old"), T0, T0)
    table.track(_payload("mid"), T0, T0 + timedelta(minutes=1))
    table.track(_payload("new"), T0, T0 + timedelta(minutes=2))
    assert sorted(p["labels"]["alertname"] for p in table.due(T0 + timedelta(minutes=2))) == ["mid", "new"]


def test_an_alert_holds_until_its_window_or_suppression_ends_when_that_is_longer() -> None:
    """`hold` (the event time left until the window closes or suppression ends) outlasts the default hold."""
    posted = _table().track(_payload("a"), T0, T0, hold=timedelta(hours=3))
    assert posted["endsAt"] == rfc3339_utc(T0 + timedelta(hours=3))
    shorter = _table().track(_payload("b"), T0, T0, hold=timedelta(seconds=1))
    assert shorter["endsAt"] != rfc3339_utc(T0 + timedelta(seconds=1))
