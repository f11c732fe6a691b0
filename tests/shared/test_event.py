"""The event envelope: how rules read fields, UTC times, and the JSON round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from benchmarks.recorded import corpus_events
from services.shared.event import Endpoint, Event, EventInfo, FieldReader, Http, HttpResponse, LogSource, User

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _event(raw: Any = None, **fields: Any) -> Event:
    return Event(id="e-1", time=T0, ingested=T0, raw=raw, **fields)


def test_ecs_name_reads_the_normalised_value() -> None:
    """An ECS name (user.name) reads the normalised field, not what the raw payload says."""
    reader = FieldReader(_event(raw={"user": {"name": "from-raw"}}, user=User(name="alice")))
    assert reader.get("user.name") == "alice"


def test_nested_ecs_fields_and_id_are_readable() -> None:
    """Deeper ECS names, logsource, labels and the envelope id read from the normalised event."""
    event = _event(
        http=Http(response=HttpResponse(status_code=403)),
        logsource=LogSource(product="linux", service="sshd"),
        labels={"env": "prod"},
        event=EventInfo(module="system", action="login", outcome="failure"),
    )
    reader = FieldReader(event)
    assert reader.get("http.response.status_code") == 403
    assert reader.get("logsource.service") == "sshd"
    assert reader.get("labels.env") == "prod"
    assert reader.get("event.outcome") == "failure"
    assert reader.get("id") == "e-1"


def test_ecs_name_the_source_did_not_normalise_falls_back_to_raw() -> None:
    """An ECS name absent from the normalised fields reads the same path in raw (ECS-shaped generic JSON)."""
    reader = FieldReader(_event(raw={"source": {"ip": "203.0.113.7"}}))
    assert reader.get("source.ip") == "203.0.113.7"


def test_other_names_are_dotted_paths_into_raw() -> None:
    """A non-ECS name such as objectRef.resource walks nested dicts of the raw payload."""
    raw = {"objectRef": {"resource": "secrets", "namespace": "kube-system"}, "verb": "get"}
    reader = FieldReader(_event(raw=raw))
    assert reader.get("objectRef.resource") == "secrets"
    assert reader.get("verb") == "get"


def test_keys_that_contain_dots_are_found() -> None:
    """Raw keys with dots in them (k8s annotations, flat dotted keys) are matched whole."""
    raw = {
        "annotations": {"authorization.k8s.io/decision": "allow"},
        "kubernetes.io.flat": "yes",
        "a.b": {"c": 1},
    }
    reader = FieldReader(_event(raw=raw))
    assert reader.get("annotations.authorization.k8s.io/decision") == "allow"
    assert reader.get("kubernetes.io.flat") == "yes"
    assert reader.get("a.b.c") == 1


def test_falsy_values_are_not_mistaken_for_missing() -> None:
    """A raw value of 0, False or "" is returned as such, not as None."""
    reader = FieldReader(_event(raw={"a": {"zero": 0, "no": False, "empty": ""}}))
    assert (reader.get("a.zero"), reader.get("a.no"), reader.get("a.empty")) == (0, False, "")


@pytest.mark.parametrize("name", ["missing", "objectRef.missing", "user.name", "labels.env", "verb.deeper"])
def test_missing_fields_read_as_none(name: str) -> None:
    """A field neither normalised nor present in raw reads as None."""
    reader = FieldReader(_event(raw={"objectRef": {"resource": "pods"}, "verb": "get"}))
    assert reader.get(name) is None


def test_raw_that_is_not_an_object_gives_none() -> None:
    """When raw is a string (or absent), non-ECS names read as None rather than raising."""
    assert FieldReader(_event(raw="a text line")).get("objectRef.resource") is None
    assert FieldReader(_event()).get("anything") is None


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


def test_reader_answers_what_the_flattened_event_holds_for_every_corpus_event(corpus: Path) -> None:
    """Over real events of every kind, each normalised name reads its flattened value; a set's name reads raw."""
    events = [event for kind in corpus_events(corpus).values() for event in kind[:300]]
    assert len(events) > 300
    for event in events:
        flat = event.normalised()
        reader = FieldReader(event)
        for name, value in flat.items():
            assert reader.get(name) == value, name
        bare = FieldReader(Event(id=event.id, time=event.time, ingested=event.ingested, raw=event.raw))
        for name in {n.rsplit(".", 1)[0] for n in flat if "." in n} - set(flat):
            # a field set itself (`user`) is no normalised value: the raw payload's same path answers
            assert reader.get(name, "absent") == bare.get(name, "absent"), name


def test_from_json_reads_what_pydantic_reads_and_refuses_what_it_refuses() -> None:
    """The fast decode gives the same event, keeps integers past 64 bits, and gives the same reasons for bad input."""
    event = _event(raw={"big": 2**70, "nested": [{"a": 1.5}]}, user=User(name="alice"))
    data = event.model_dump_json().encode()
    assert Event.from_json(data) == Event.model_validate_json(data) == event
    for bad in (b'{"id": "e-1"', b'{"id": "", "time": "2024-05-01T12:00:00Z", "ingested": "2024-05-01T12:00:00Z"}'):
        with pytest.raises(ValidationError) as fast:
            Event.from_json(bad)
        with pytest.raises(ValidationError) as slow:
            Event.model_validate_json(bad)
        assert fast.value.errors()[0]["msg"] == slow.value.errors()[0]["msg"]
