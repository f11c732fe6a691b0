"""The event model sources build: UTC times, the default logsource, and the JSON round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from services.shared.event import Endpoint, Event, EventInfo, LogSource, User

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _event(raw: Any = None, **fields: Any) -> Event:
    return Event(id="e-1", time=T0, ingested=T0, raw=raw, **fields)


def test_times_are_normalised_to_utc() -> None:
    """Times with an offset are stored as the same instant in UTC."""
    plus_two = timezone(timedelta(hours=2))
    event = Event.model_validate(
        {"id": "e", "time": datetime(2024, 5, 1, 14, 0, tzinfo=plus_two), "ingested": "2024-05-01T09:00:00-03:00"}
    )
    assert event.time == T0 and event.time.utcoffset() == timedelta(0)
    assert event.ingested == T0 and event.ingested.utcoffset() == timedelta(0)
    assert event.model_dump(mode="json")["time"].endswith("Z")


def test_naive_time_is_refused() -> None:
    """A time without a zone is ambiguous and refused."""
    with pytest.raises(ValidationError):
        Event(id="e", time=datetime(2024, 5, 1, 12, 0), ingested=T0)


def test_json_round_trip_keeps_everything() -> None:
    """model_validate_json(model_dump_json()) gives back an equal event, extras and raw included."""
    event = Event(
        id="rt-1",
        time=T0,
        ingested=T0 + timedelta(seconds=1),
        event=EventInfo(module="kubernetes", dataset="audit", action="get", outcome="success", category=["iam"]),
        logsource=LogSource(product="kubernetes", service="audit"),
        message="get secrets",
        user=User(name="system:serviceaccount:default:x", roles=["admin"]),  # type: ignore[call-arg]
        source=Endpoint(ip="203.0.113.7", port=443),
        labels={"cluster": "c1"},
        raw={"objectRef": {"resource": "secrets"}, "list": [1, 2.5, None, True], "unicode": "é✓"},
    )
    again = Event.model_validate_json(event.model_dump_json())
    assert again == event
    assert again.user is not None and again.user.model_extra == {"roles": ["admin"]}


def test_default_logsource_is_generic() -> None:
    """An event built without a logsource answers to {product: generic}."""
    assert _event().logsource == LogSource(product="generic")


def test_time_that_cannot_be_expressed_in_utc_is_a_validation_error() -> None:
    """A time at the edge of the calendar whose UTC instant is out of range is refused as invalid, not crashing."""
    with pytest.raises(ValidationError):
        Event.model_validate({"id": "e", "time": "0001-01-01T00:00:00+05:00", "ingested": T0})
